use clap::{Parser, Subcommand};
use liveviewer::commands;
use liveviewer::config::Config;
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Live viewer profiles from Snowplow media events; the logic is a hot-swappable wasm module.
#[derive(Parser)]
#[command(name = "liveviewer", version)]
struct Cli {
    /// A TOML configuration file (see the README for every key).
    #[arg(long, global = true, env = "LIVEVIEWER_CONFIG")]
    config: Option<PathBuf>,
    /// Where the embedded store and its dead-letter file live (overrides `data_dir`).
    #[arg(long, global = true, env = "LIVEVIEWER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The live demo: simulated viewers, the embedded store, the dashboard; prints its URL.
    Demo {
        /// Address to serve on (default 127.0.0.1:8686; port 0 picks a free port).
        #[arg(long)]
        listen: Option<String>,
        /// Simulated viewers watching at once (0: none; events only through /ingest/snowbridge).
        #[arg(long, default_value_t = 40)]
        viewers: usize,
        /// Simulated seconds per real second.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Seconds after their last event that viewers stop counting as active.
        #[arg(long)]
        active_window_s: Option<u64>,
    },
    /// Runs the host as configured (Kafka or another source; DynamoDB or the embedded store).
    Run {
        /// Address to serve on (overrides http.listen).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Processes files of enriched TSV or Snowbridge JSON lines (`-` for stdin), then prints a summary.
    Replay {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Prints the stored profiles as a JSON array.
    Profiles {
        /// Only this viewer.
        #[arg(long, conflicts_with = "delete")]
        viewer: Option<String>,
        /// Delete this viewer's stored profile (e.g. an item the host cannot read).
        #[arg(long)]
        delete: Option<String>,
    },
    /// A viewer's status history, newest first, as JSON: from a running host (--host) or the
    /// configured store.
    History {
        viewer: String,
        /// Rows per page (at most 200).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Older than this: the `next` cursor of the previous page.
        #[arg(long)]
        before: Option<String>,
        /// A running host's base URL (its embedded store is locked while it runs).
        #[arg(long)]
        host: Option<String>,
    },
    /// Writes simulated viewers' events (enriched TSV) to a file, stdout or a Kafka topic.
    Simulate {
        #[arg(long, default_value_t = 100)]
        viewers: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 10)]
        ping_interval_s: u32,
        /// How many events to write.
        #[arg(long, default_value_t = 10_000)]
        events: u64,
        /// Time of the first event (RFC 3339); default: such that the last event is now.
        #[arg(long)]
        start: Option<String>,
        /// File to write (`-` or absent: stdout).
        #[arg(long, conflicts_with = "topic")]
        out: Option<PathBuf>,
        /// Kafka brokers, with --topic: produce instead of writing a file.
        #[arg(long, requires = "topic")]
        brokers: Option<String>,
        #[arg(long, requires = "brokers")]
        topic: Option<String>,
    },
    /// The module's authoring loop.
    #[command(subcommand)]
    Module(ModuleCommand),
    /// The fleet of hosts sharing a Kafka topic.
    #[command(subcommand)]
    Fleet(FleetCommand),
    /// Exits 0 when the host's health endpoint answers (for container health checks).
    Healthcheck {
        #[arg(default_value = "http://127.0.0.1:8686/healthz")]
        url: String,
    },
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

#[derive(Subcommand)]
enum FleetCommand {
    /// Every host, its module, health, partitions, events/s and lag, as one host sees them;
    /// exits 1 when some host does not run the fleet's module.
    Status {
        /// Any host's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8686")]
        host: String,
        /// Admin token (default: LIVEVIEWER_ADMIN_TOKEN).
        #[arg(long)]
        token: Option<String>,
    },
}

#[derive(Subcommand)]
enum ModuleCommand {
    /// Builds a plugin directory to wasm (or takes a .wasm), runs the test vectors locally,
    /// uploads it to a running host and prints the answer.
    Push {
        /// The host's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8686")]
        host: String,
        /// Admin token (default: LIVEVIEWER_ADMIN_TOKEN).
        #[arg(long)]
        token: Option<String>,
        /// Run it in shadow beside the active module instead of swapping it in.
        #[arg(long)]
        shadow: bool,
        /// Test vectors to check it against (default: ./test-vectors, else the built-in ones).
        #[arg(long)]
        vectors: Option<PathBuf>,
        /// A plugin crate directory or a .wasm file.
        #[arg(default_value = "plugin")]
        path: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    commands::init_logging();
    let result = match cli.command {
        Command::TestVectors { module, native, dir } => {
            commands::test_vectors::run(commands::test_vectors::Args { module, native, dir })
        }
        Command::Simulate { viewers, seed, ping_interval_s, events, start, out, brokers, topic } => {
            start_time(start).and_then(|start_ms| {
                let kafka = brokers.zip(topic);
                let args = commands::simulate::Args { viewers, seed, ping_interval_s, events, start_ms, out, kafka };
                commands::simulate::run(args).map(|()| true)
            })
        }
        Command::Module(ModuleCommand::Push { host, token, shadow, vectors, path }) => tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(commands::module_push::run(commands::module_push::Args { host, token, shadow, vectors, path }))),
        Command::Fleet(FleetCommand::Status { host, token }) => tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(commands::fleet::status(&host, token))),
        Command::History { viewer, limit, before, host: Some(host) } => tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|rt| {
                let args = commands::history::Args { viewer, limit, before, host: Some(host) };
                rt.block_on(commands::history::run(None, args))
            })
            .map(|()| true),
        Command::Healthcheck { url } => {
            tokio::runtime::Runtime::new().map_err(anyhow::Error::from).and_then(|rt| rt.block_on(commands::healthcheck::run(url)))
        }
        command => load_config(cli.config, cli.data_dir).and_then(|config| {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async move {
                match command {
                    Command::Demo { listen, viewers, speed, seed, active_window_s } => {
                        let mut config = config;
                        config.source.kind = liveviewer::config::SourceKind::Simulator;
                        config.source.simulator.viewers = viewers;
                        config.source.simulator.speed = speed;
                        config.source.simulator.seed = seed;
                        if let Some(l) = listen {
                            config.http.listen = l;
                        }
                        if let Some(w) = active_window_s {
                            config.active.window_s = w;
                        }
                        config.validate().map_err(anyhow::Error::msg)?;
                        liveviewer::server::run(config).await
                    }
                    Command::Run { listen } => {
                        let mut config = config;
                        if let Some(l) = listen {
                            config.http.listen = l;
                            config.validate().map_err(anyhow::Error::msg)?;
                        }
                        liveviewer::server::run(config).await
                    }
                    Command::Replay { files } => commands::replay::run(config, files).await,
                    Command::Profiles { viewer, delete } => commands::profiles::run(config, viewer, delete).await,
                    Command::History { viewer, limit, before, host } => {
                        commands::history::run(Some(config), commands::history::Args { viewer, limit, before, host }).await
                    }
                    Command::TestVectors { .. }
                    | Command::Simulate { .. }
                    | Command::Healthcheck { .. }
                    | Command::Module(_)
                    | Command::Fleet(_) => {
                        unreachable!("handled above")
                    }
                }
            })
            .map(|()| true)
        }),
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

fn load_config(file: Option<PathBuf>, data_dir: Option<PathBuf>) -> anyhow::Result<Config> {
    let mut config = Config::load(file.as_deref())?;
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    config.validate().map_err(anyhow::Error::msg)?;
    Ok(config)
}

fn start_time(start: Option<String>) -> anyhow::Result<Option<i64>> {
    match start {
        None => Ok(None),
        Some(s) => liveviewer_wire::time::parse_millis(&s)
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("--start {s:?} is not an RFC 3339 time")),
    }
}
