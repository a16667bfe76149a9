//! A running host: HTTP (dashboard, API, ingest, admin) beside one source feeding the
//! pipeline, until SIGINT/SIGTERM. On a signal the source finishes its in-flight batch and
//! commits; then the HTTP side stops, and the process exits 0.

use crate::app::App;
use crate::config::{Config, SourceKind};
use crate::http::{self, Shared};
use crate::source;
use rdkafka::consumer::Consumer as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long the source may take to finish its batch after a signal before retries are abandoned.
const DRAIN: Duration = Duration::from_secs(30);

pub async fn run(config: Config) -> anyhow::Result<()> {
    let addr = config.listen_addr().map_err(anyhow::Error::msg)?;
    // With Kafka, the host is one of a fleet: the fleet's control topic says which module it
    // runs from the start.
    let mut fleet_start = None;
    if config.source.kind == SourceKind::Kafka {
        kafka_ready(&config.source.kafka).await?;
        let k = config.source.kafka.clone();
        crate::kafka::topics::ensure(&k, &crate::kafka::topics::specs(&k)).await?;
        let snapshot = tokio::task::spawn_blocking(move || crate::fleet::agent::snapshot(&k, Duration::from_secs(60))).await??;
        fleet_start = Some(snapshot);
    }
    let fleet_module = fleet_start.as_ref().and_then(|(state, _)| {
        let d = state.desired.as_ref()?;
        state.modules.get(&d.active).cloned()
    });
    let app = Arc::new(App::build_with(config, true, fleet_module).await?);
    let fleet = match fleet_start {
        Some((state, next)) => {
            let k = &app.config.source.kafka;
            let fleet = Arc::new(crate::fleet::Fleet::new(k, crate::fleet::host_id(k))?);
            *fleet.state.lock().expect("fleet") = state;
            tokio::spawn(crate::changelog::reader::follow(k.clone(), app.live.clone(), app.metrics.clone()));
            tokio::spawn(crate::fleet::agent::follow(k.clone(), fleet.clone(), app.deployer.clone(), app.fleet_generation.clone(), next));
            Some(fleet)
        }
        None => None,
    };
    let kind = app.config.source.kind;
    let source_name = match kind {
        SourceKind::Kafka => "kafka",
        SourceKind::Simulator => "simulator",
        SourceKind::None => "none",
    };
    let shared = Shared::new(app.clone(), source_name, fleet.clone());
    let listener = TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    if !bound.ip().is_loopback() {
        tracing::warn!(%bound, "listening beyond loopback: put the admin endpoints behind a token and a firewall");
    }
    if app.config.http.admin_token.is_none() {
        tracing::info!("admin endpoints disabled: no admin token configured (http.admin_token or LIVEVIEWER_ADMIN_TOKEN)");
    }
    tracing::info!(source = source_name, store = app.store.kind(), dead_letters = %app.pipeline.dead_letters().describe(), "host ready");
    println!("liveviewer: dashboard at http://{bound}/");

    let (stop_http, http_stop_rx) = watch::channel(false);
    let (stop_source, source_stop_rx) = watch::channel(false);
    let http_task = tokio::spawn(http::serve(listener, shared.clone(), http_stop_rx));
    if let Some(path) = app.config.module.path.clone() {
        let deployer = app.deployer.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::lifecycle::watch::watch_module_file(path, deployer).await {
                tracing::warn!(error = %e, "cannot watch the module file; uploads still work");
            }
        });
    }
    let sampler = tokio::spawn(http::sample(shared.clone()));
    let packer = (app.config.pipeline.pack_idle_after_ms > 0).then(|| {
        let idle_after = Duration::from_millis(app.config.pipeline.pack_idle_after_ms);
        tokio::spawn(crate::live::pack_idle_viewers(app.live.clone(), idle_after, app.metrics.clone()))
    });
    let mut fleet_reporter: Option<tokio::task::JoinHandle<()>> = None;
    // With Kafka, the windows are counted by the fleet: this host reads every partition's
    // counts, and counts the changelog partitions the group gives it.
    let window_owner = (kind == SourceKind::Kafka).then(|| {
        let k = app.config.source.kafka.clone();
        let read = Arc::new(crate::windows::topic::ReadPosition::default());
        tokio::spawn(crate::windows::topic::follow(k.clone(), app.windows.figures.clone(), read.clone(), app.metrics.clone()));
        let owner = crate::windows::owner::Owner {
            cfg: k,
            settings: app.windows.settings,
            figures: app.windows.figures.clone(),
            read,
            live: app.live.clone(),
            metrics: app.metrics.clone(),
            interval: Duration::from_millis(app.config.windows.checkpoint_interval_ms),
        };
        tokio::spawn(owner.run(stop_http.subscribe()))
    });
    let pipeline = app.pipeline.clone();
    let p = &app.config.pipeline;
    let (batch_max, batch_wait) = (p.batch_max, Duration::from_millis(p.batch_wait_ms));
    let mut source_task = match kind {
        SourceKind::Kafka => {
            let consumer = source::kafka::consumer(&app.config.source.kafka)?;
            tokio::spawn(source::kafka::watch_lag(consumer.clone(), shared.consumer_lag.clone(), app.metrics.clone()));
            if let Some(fleet) = &fleet {
                let (c, s) = (consumer.clone(), shared.clone());
                let runtime = move || crate::fleet::agent::Runtime {
                    listen: bound.to_string(),
                    partitions: c.assignment().map(|t| t.elements().iter().map(|e| e.partition()).collect()).unwrap_or_default(),
                    events_per_s: s.events_per_s(),
                    lag: Some(s.consumer_lag.load(Ordering::Relaxed)).filter(|l| *l >= 0),
                };
                let report = crate::fleet::agent::report(fleet.clone(), app.lifecycle.clone(), app.fleet_generation.clone(), runtime, stop_http.subscribe());
                fleet_reporter = Some(tokio::spawn(report));
            }
            shared.source_ready.store(true, Ordering::Relaxed);
            tokio::spawn(source::kafka::run(consumer, pipeline, batch_max, batch_wait, source_stop_rx))
        }
        SourceKind::Simulator => {
            shared.source_ready.store(true, Ordering::Relaxed);
            let cfg = app.config.source.simulator.clone();
            tokio::spawn(source::simulated::run(pipeline, cfg, batch_max, batch_wait, source_stop_rx))
        }
        SourceKind::None => {
            shared.source_ready.store(true, Ordering::Relaxed);
            let mut rx = source_stop_rx;
            tokio::spawn(async move {
                let _ = rx.wait_for(|s| *s).await;
                Ok(())
            })
        }
    };

    let outcome = tokio::select! {
        r = &mut source_task => Some(r),
        _ = signal() => None,
    };
    let result = match outcome {
        Some(r) => r?,
        None => {
            tracing::info!("signal received: finishing the in-flight batch");
            let _ = stop_source.send(true);
            match tokio::time::timeout(DRAIN, &mut source_task).await {
                Ok(r) => r?,
                Err(_) => {
                    tracing::warn!("the store is not answering; giving up the in-flight batch (it will be redelivered)");
                    app.begin_shutdown();
                    source_task.await?
                }
            }
        }
    };
    // Sources without offsets to commit leave their merged profiles to be written now, and
    // their window counts.
    if kind != SourceKind::Kafka {
        if let Err(e) = tokio::time::timeout(DRAIN, app.pipeline.flush_all()).await.unwrap_or(Err(crate::pipeline::PipelineError::ShuttingDown)) {
            tracing::warn!(error = %e, "profiles not written at shutdown");
        }
        if let Some(w) = &app.windows.local {
            let mut sampled = app.windows.figures.last_concurrency();
            if let Err(e) = w.round(&app.live, &mut sampled).await {
                tracing::warn!(error = %e, "window counts not written at shutdown");
            }
        }
    }
    sampler.abort();
    if let Some(p) = packer {
        p.abort();
    }
    let _ = stop_http.send(true);
    // The window counts of this host's partitions are written once more for whoever takes them.
    if let Some(o) = window_owner {
        let _ = tokio::time::timeout(Duration::from_secs(5), o).await;
    }
    // The fleet hears that this host left.
    if let Some(r) = fleet_reporter {
        let _ = tokio::time::timeout(Duration::from_secs(5), r).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), http_task).await;
    tracing::info!("stopped");
    result
}

/// Waits until the Kafka cluster answers for the source topic; stops the host on a failure
/// that waiting cannot fix (credentials, certificates), naming it.
async fn kafka_ready(cfg: &crate::config::KafkaConfig) -> anyhow::Result<()> {
    let mut waited = false;
    loop {
        let c = cfg.clone();
        let checked = tokio::task::spawn_blocking(move || crate::kafka::preflight::check(&c, &c.topic, Duration::from_secs(10))).await?;
        match checked {
            Ok(()) => {
                if waited {
                    tracing::info!(brokers = %cfg.brokers, "Kafka answers");
                }
                return Ok(());
            }
            Err(e) if e.transient() => {
                tracing::warn!("{e}; trying again");
                waited = true;
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                    _ = signal() => anyhow::bail!("stopped while waiting for Kafka: {e}"),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
}

async fn signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
