//! The subcommands, one file each; `main.rs` parses arguments and calls in here.

pub mod fleet;
pub mod healthcheck;
pub mod history;
pub mod module_push;
pub mod profiles;
pub mod replay;
pub mod simulate;
pub mod test_vectors;

/// Logs to stderr: `LIVEVIEWER_LOG` or `RUST_LOG` filters (default: info, without the
/// runtime's own per-call logs).
pub fn init_logging() {
    let filter = std::env::var("LIVEVIEWER_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info,extism=off,aws_config=warn,aws_smithy_runtime=warn".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
