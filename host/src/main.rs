use clap::{Parser, Subcommand};
use liveviewer::commands;
use std::path::PathBuf;
use std::process::ExitCode;

/// Live viewer profiles from Snowplow media events; the logic is a hot-swappable wasm module.
#[derive(Parser)]
#[command(name = "liveviewer", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the test vectors through a module and prints a table; exits 1 if any fails.
    TestVectors {
        /// The wasm module to check (default: the one built into this binary).
        #[arg(long)]
        module: Option<PathBuf>,
        /// Run the native build of the built-in logic instead.
        #[arg(long, conflicts_with = "module")]
        native: bool,
        /// A directory of vectors (default: the ones built into this binary).
        dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::TestVectors { module, native, dir } => {
            commands::test_vectors::run(commands::test_vectors::Args { module, native, dir })
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
