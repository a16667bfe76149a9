//! Assembling a host from its configuration: the store, the dead-letter sink, the checked
//! module, the live index and the pipeline. Every subcommand that processes events or reads
//! profiles starts here, so they all honour the same configuration.

use crate::config::{Config, SourceKind, StoreKind};
use crate::dead_letter::DeadLetterSink;
use crate::lifecycle::candidate::{self, Deployer};
use crate::lifecycle::{Deployed, Lifecycle};
use crate::live::Live;
use crate::metrics::Metrics;
use crate::module::BUILTIN_WASM;
use crate::pipeline::Pipeline;
use crate::pipeline::publish::Publisher;
use crate::store::{DynamoStore, EmbeddedStore, Store};
use crate::vectors::VectorSet;
use crate::windows::{Local, Windows};
use anyhow::Context;
use std::sync::Arc;
use tokio::sync::watch;

pub struct App {
    pub config: Config,
    pub store: Store,
    pub pipeline: Arc<Pipeline>,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
    pub lifecycle: Arc<Lifecycle>,
    pub deployer: Arc<Deployer>,
    pub vectors: Arc<VectorSet>,
    /// The fleet generation this host has applied (0 without a fleet).
    pub fleet_generation: Arc<std::sync::atomic::AtomicU64>,
    /// The windowed metrics.
    pub windows: Arc<Windows>,
    shutdown: watch::Sender<bool>,
}

/// What the host keeps of its active module, so that a restart resumes with it.
pub fn kept_modules_dir(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("modules")
}

impl App {
    /// `serving`: a long-running host, which keeps its active module in the data directory.
    pub async fn build(config: Config, serving: bool) -> anyhow::Result<App> {
        Self::build_with(config, serving, None).await
    }

    /// `fleet_module`: the module the fleet runs (with Kafka), preferred over the one a
    /// previous run kept and the built-in one, so that a new host runs what the others run.
    pub async fn build_with(config: Config, serving: bool, fleet_module: Option<Vec<u8>>) -> anyhow::Result<App> {
        let store = open_store(&config).await?;
        let vectors = Arc::new(match &config.module.vectors_dir {
            Some(dir) => VectorSet::from_dir(dir).map_err(anyhow::Error::msg)?,
            None => VectorSet::embedded(),
        });
        let deployed = load_initial_module(&config, &vectors, fleet_module).await?;
        tracing::info!(
            module = %deployed.module.version().short(),
            origin = %deployed.origin,
            vectors = deployed.vectors_passed,
            "module ready"
        );
        let metrics = Arc::new(Metrics::default());
        let dead_letters = DeadLetterSink::open(&config, metrics.clone())?;
        let live = Live::new(config.active.window_s, config.active.clock, config.pipeline.max_tracked_viewers);
        // Where merged profiles are published: a serving Kafka host publishes to the
        // changelog, which every host (itself included) reads into its view; otherwise this
        // process's view is the only one.
        let settings = crate::windows::Settings::from_config(&config.windows);
        let figures = crate::windows::Figures::new();
        let (publisher, windows) = if serving && config.source.kind == SourceKind::Kafka {
            let changelog = crate::changelog::ChangelogPublisher::new(&config.source.kafka)?;
            // The windows are counted from the changelog by the fleet (server.rs starts it).
            (Publisher::Changelog { changelog: Arc::new(changelog), live: live.clone() }, Windows { figures, settings, local: None })
        } else {
            let embedded = match &store {
                Store::Embedded(e) => Some(e.clone()),
                Store::Dynamo(_) => None,
            };
            let local = Local::open(settings, figures.clone(), embedded).map_err(|e| anyhow::anyhow!("{e}"))?;
            let interval = std::time::Duration::from_millis(config.windows.checkpoint_interval_ms);
            tokio::spawn(local.clone().run(live.clone(), interval, metrics.clone()));
            (Publisher::InProcess { live: live.clone(), windows: Some(local.clone()) }, Windows { figures, settings, local: Some(local) })
        };
        if let (Store::Embedded(_), Publisher::InProcess { .. }) = (&store, &publisher) {
            // This host is the embedded store's only writer: the viewers it saw recently are
            // its whole live picture (an index range, not a read of every profile).
            let since = crate::clock::wall_ms() - live.active_window_ms - 60_000;
            let recent = store.recent(since, config.pipeline.max_tracked_viewers).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            live.apply_states(&recent);
        }
        if let Publisher::InProcess { .. } = publisher {
            live.set_complete();
        }
        let keep = serving.then(|| kept_modules_dir(&config));
        let lifecycle = Lifecycle::new(deployed, config.module.health.clone(), metrics.clone(), keep);
        let deployer = Deployer::new(lifecycle.clone(), config.module.limits.clone(), vectors.clone());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let pipeline = Pipeline::new(
            store.clone(),
            dead_letters,
            lifecycle.clone(),
            live.clone(),
            metrics.clone(),
            publisher,
            config.pipeline.clone(),
            &config.store,
            shutdown_rx,
        );
        tokio::spawn(crate::pipeline::flush::run(pipeline.clone()));
        let fleet_generation = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let windows = Arc::new(windows);
        Ok(App { config, store, pipeline, live, metrics, lifecycle, deployer, vectors, fleet_generation, windows, shutdown })
    }

    /// Tells waiting retries to give up (the in-flight batch is then not committed).
    pub fn begin_shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }
}

pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Ok(match config.store.kind {
        StoreKind::Embedded => {
            let dir = config.data_dir.clone();
            let store = tokio::task::spawn_blocking(move || EmbeddedStore::open(&dir))
                .await?
                .map_err(|e| anyhow::anyhow!("{e} (is another liveviewer using this data directory?)"))?;
            Store::Embedded(Arc::new(store))
        }
        StoreKind::Dynamodb => {
            let store = DynamoStore::connect(&config.store.dynamodb).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            Store::Dynamo(Arc::new(store))
        }
    })
}

/// The configured module file; else the fleet's module; else the module a previous run kept;
/// else the built-in one. Whichever it is must pass the checks and the vectors.
async fn load_initial_module(config: &Config, vectors: &Arc<VectorSet>, fleet_module: Option<Vec<u8>>) -> anyhow::Result<Arc<Deployed>> {
    let mut candidates: Vec<(Vec<u8>, String)> = Vec::new();
    match &config.module.path {
        Some(path) => candidates.push((
            std::fs::read(path).with_context(|| format!("reading module {}", path.display()))?,
            path.display().to_string(),
        )),
        None => {
            if let Some(bytes) = fleet_module {
                candidates.push((bytes, "fleet".to_string()));
            }
            if let Some(kept) = Lifecycle::kept(&kept_modules_dir(config)) {
                candidates.push((kept, "kept from the last run".to_string()));
            }
            candidates.push((BUILTIN_WASM.to_vec(), "built-in".to_string()));
        }
    }
    let limits = config.module.limits.clone();
    let vectors = vectors.clone();
    tokio::task::spawn_blocking(move || {
        let mut refused = Vec::new();
        for (bytes, origin) in candidates {
            match candidate::check(&bytes, &limits, &vectors, &origin) {
                Ok(d) => {
                    if !refused.is_empty() {
                        tracing::warn!(refused = ?refused, "using {origin} instead");
                    }
                    return Ok(d);
                }
                Err(r) => refused.push(format!("{}: refused at step `{}`: {}", r.origin, r.step, r.reason)),
            }
        }
        anyhow::bail!("no usable module: {}", refused.join("; "))
    })
    .await?
}
