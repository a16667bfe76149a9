//! Assembling a host from its configuration: the store, the dead-letter sink, the checked
//! module, the live index and the pipeline. Every subcommand that processes events or reads
//! profiles starts here, so they all honour the same configuration.

use crate::config::{Config, SourceKind, StoreKind};
use crate::dead_letter::{DeadLetterSink, KafkaSink};
use crate::lifecycle::{Deployed, Lifecycle};
use crate::live::{wall_ms, Live};
use crate::metrics::Metrics;
use crate::module::{Module, BUILTIN_WASM};
use crate::pipeline::Pipeline;
use crate::store::{DynamoStore, EmbeddedStore, Scan, Store};
use crate::vectors::{run_all, VectorSet};
use anyhow::{bail, Context};
use std::sync::Arc;
use tokio::sync::watch;

pub struct App {
    pub config: Config,
    pub store: Store,
    pub pipeline: Arc<Pipeline>,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
    pub lifecycle: Arc<Lifecycle>,
    pub vectors: Arc<VectorSet>,
    shutdown: watch::Sender<bool>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let store = open_store(&config).await?;
        let vectors = Arc::new(match &config.module.vectors_dir {
            Some(dir) => VectorSet::from_dir(dir).map_err(anyhow::Error::msg)?,
            None => VectorSet::embedded(),
        });
        let deployed = load_initial_module(&config, &vectors).await?;
        tracing::info!(
            module = %deployed.module.version().short(),
            origin = %deployed.origin,
            vectors = deployed.vectors_passed,
            "module ready"
        );
        let dead_letters = match config.source.kind {
            SourceKind::Kafka => {
                let producer = crate::source::kafka::producer(&config.source.kafka)?;
                DeadLetterSink::Kafka(Arc::new(KafkaSink::new(producer, config.source.kafka.dead_letter_topic())))
            }
            _ => DeadLetterSink::file(&config.data_dir).map_err(|e| anyhow::anyhow!("{e}"))?,
        };
        let live = Live::new(config.active.window_s, config.active.clock, config.pipeline.max_tracked_viewers);
        if let Store::Embedded(_) = store {
            // This host is the embedded store's only writer: its index knows every viewer.
            let states = store.scan(Scan::All).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            live.seed(&states);
        }
        let metrics = Arc::new(Metrics::default());
        let lifecycle = Lifecycle::new(deployed);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let pipeline = Pipeline::new(
            store.clone(),
            dead_letters,
            lifecycle.clone(),
            live.clone(),
            metrics.clone(),
            config.pipeline.clone(),
            shutdown_rx,
        );
        Ok(App { config, store, pipeline, live, metrics, lifecycle, vectors, shutdown })
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

/// The configured module file, or the built-in module; either must pass the vectors.
async fn load_initial_module(config: &Config, vectors: &Arc<VectorSet>) -> anyhow::Result<Arc<Deployed>> {
    let (bytes, origin) = match &config.module.path {
        Some(path) => {
            (std::fs::read(path).with_context(|| format!("reading module {}", path.display()))?, path.display().to_string())
        }
        None => (BUILTIN_WASM.to_vec(), "built-in".to_string()),
    };
    let limits = config.module.limits.clone();
    let vectors = vectors.clone();
    tokio::task::spawn_blocking(move || {
        let module = Module::load(&bytes, &limits)
            .map_err(|e| anyhow::anyhow!("module {origin} refused at step `{}`: {e}", e.step()))?;
        let passed = check_vectors(&module, &vectors)?;
        Ok(Deployed::new(module, &origin, passed, wall_ms()))
    })
    .await?
}

/// Runs every vector through the module; the number passed, or what failed.
pub fn check_vectors(module: &Module, vectors: &VectorSet) -> anyhow::Result<usize> {
    let cases = vectors.cases().map_err(anyhow::Error::msg)?;
    let mut instance = module.instance().map_err(|e| anyhow::anyhow!("{e}"))?;
    let reports = run_all(&cases, &mut instance);
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| !r.passed())
        .map(|r| format!("{}: {}", r.name, r.failures.first().map(String::as_str).unwrap_or("")))
        .collect();
    if !failed.is_empty() {
        bail!("{} of {} test vectors failed: {}", failed.len(), reports.len(), failed.join("; "));
    }
    Ok(reports.len())
}
