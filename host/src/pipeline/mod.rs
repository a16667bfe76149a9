//! The pipeline, stage by stage, for one batch of raw messages:
//!
//! 1. [`route::split_oversized`]: messages over the size limit are dead letters at once;
//! 2. [`workers`]: the active module (and the shadow) runs the batch, faults contained;
//! 3. [`route::route`]: outcomes become each viewer's events, dead letters and counts;
//! 4. the profiles of viewers not in memory are read from the store, while the batch before
//!    is still merging (`Pipeline::prefetch`, in read.rs);
//! 5. [`turn`]: batches merge in the order their source handed them over;
//! 6. [`merge_turn`], with [`working`] + [`merge`]: each viewer's events merge into its
//!    profile in memory, and the profile is due for a write;
//! 7. [`publish`]: the changed profiles go to every host's live view (the changelog);
//! 8. dead letters are written;
//! 9. [`flush`]: in the background, due profiles are written to the store, each on a
//!    condition on the revision it was read at, losers merged again; a batch is durable once
//!    every change of it is written ([`durable`]), and only then may its source commit it
//!    ([`Accepted`]).
//!
//! [`report`] holds what a batch's caller gets back.

pub mod durable;
pub mod flush;
pub mod in_flight;
pub mod merge;
pub mod merge_turn;
pub mod publish;
mod read;
pub mod report;
mod retry;
pub mod route;
pub mod turn;
pub mod workers;
pub mod working;

use crate::config::{PipelineConfig, StoreConfig};
use crate::dead_letter::{DeadLetter, DeadLetterSink};
use crate::lifecycle::Lifecycle;
use crate::live::{wall_ms, Live};
use crate::message::{Message, Origin};
use crate::metrics::Metrics;
use crate::profile::Bounds;
use crate::store::Store;
use publish::Publisher;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use working::{Policy, Working};

pub use durable::Durable;
pub use report::{Accepted, BatchReport, PipelineError};

pub struct Pipeline {
    pub store: Store,
    dead_letters: DeadLetterSink,
    pub lifecycle: Arc<Lifecycle>,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
    publisher: Publisher,
    config: PipelineConfig,
    policy: Policy,
    bounds: Bounds,
    workers: workers::Workers,
    working: Mutex<Working>,
    /// Batches merge in the order they were handed over (see [`turn`]).
    turns: turn::Turns,
    durable: watch::Sender<Durable>,
    /// Wakes the writer: a batch wants its writes now, or everything must be written.
    wake_writer: Notify,
    /// One write round at a time.
    writing: tokio::sync::Mutex<()>,
    last_merge: Mutex<Instant>,
    shutdown: watch::Receiver<bool>,
    /// Retried operations under way, for readiness (see [`retry`]).
    progress: retry::Progress,
}

impl Pipeline {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        dead_letters: DeadLetterSink,
        lifecycle: Arc<Lifecycle>,
        live: Arc<Live>,
        metrics: Arc<Metrics>,
        publisher: Publisher,
        config: PipelineConfig,
        store_config: &StoreConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let policy = Policy {
            flush_interval: Duration::from_millis(store_config.flush_interval_ms),
            progress_interval: Duration::from_millis(store_config.progress_flush_interval_ms),
        };
        let workers = workers::Workers::new(config.module_workers());
        Arc::new(Pipeline {
            store,
            dead_letters,
            lifecycle,
            live,
            metrics,
            publisher,
            config,
            policy,
            bounds: Bounds::default(),
            workers,
            working: Mutex::new(Working::default()),
            turns: turn::Turns::default(),
            durable: watch::channel(Durable::default()).0,
            wake_writer: Notify::new(),
            writing: tokio::sync::Mutex::new(()),
            last_merge: Mutex::new(Instant::now()),
            shutdown,
            progress: retry::Progress::default(),
        })
    }

    pub fn dead_letters(&self) -> &DeadLetterSink {
        &self.dead_letters
    }

    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Processes one batch; concurrent calls merge in the order they were made.
    pub async fn process(&self, batch: Vec<Message>) -> Result<Accepted, PipelineError> {
        let turn = self.turns.ticket();
        self.process_in_turn(batch, turn).await
    }

    /// A place in the merge order, for a source that starts batches as tasks: the ticket is
    /// taken before the task, whichever task the runtime then runs first.
    pub fn ticket(&self) -> turn::Turn {
        self.turns.ticket()
    }

    pub async fn process_in_turn(&self, batch: Vec<Message>, turn: turn::Turn) -> Result<Accepted, PipelineError> {
        let version = self.lifecycle.active().module.version().0.clone();
        let mut report = BatchReport { events: batch.len(), module_version: version.clone(), ..Default::default() };
        let now = wall_ms();
        let started = Instant::now();
        // Events that no source can deliver again are written at the next round, not later.
        let urgent = batch.iter().any(|m| matches!(m.origin, Origin::Http { .. }));

        let (batch, mut letters) = route::split_oversized(batch, self.config.max_message_bytes, &version, now);
        let (batch, ran) = if batch.is_empty() {
            (batch, None)
        } else {
            let (batch, ran) = self.workers.run(&self.lifecycle, &self.metrics, batch).await;
            (batch, Some(ran))
        };
        let mut by_viewer = BTreeMap::new();
        let mut deployed = None;
        if let Some(ran) = ran {
            let version = ran.deployed.module.version().0.clone();
            report.module_version = version.clone();
            if let Some((shadow, shadow_results)) = &ran.shadow {
                let origins: Vec<&Origin> = batch.iter().map(|m| &m.origin).collect();
                let differing = shadow.compare(&origins, &ran.results, shadow_results);
                let l = [("module_version", shadow.deployed.module.version().0.as_str())];
                self.metrics.inc("liveviewer_shadow_events_total", &l, ran.results.len() as u64);
                self.metrics.inc("liveviewer_shadow_differences_total", &l, differing);
            }
            let routed = route::route(&batch, ran.results, &version, now, self.config.max_future_s);
            report.skipped = routed.skipped;
            report.rejected = routed.rejected;
            report.module_faults = routed.faults.len();
            for kind in &routed.faults {
                self.metrics.inc("liveviewer_module_faults_total", &[("module_version", &version), ("kind", kind)], 1);
            }
            letters.extend(routed.letters);
            by_viewer = routed.by_viewer;
            deployed = Some(ran.deployed);
        }

        let ran_at = Instant::now();
        // The profiles the working set lacks are read before the batch's turn: the store's
        // read latency then overlaps the merge of the batch before, instead of holding up
        // every batch behind this one (merges go one at a time, in turn).
        let prefetched = match self.prefetch(by_viewer.keys()).await {
            Ok(p) => p,
            Err(e) => {
                // Batches behind this one must not merge past it (their watermarks would make
                // its events look like repeats when they come again): refuse them, as a
                // failed merge does.
                if turn.wait().await.is_ok() {
                    turn.finish(false);
                }
                return Err(e);
            }
        };
        let prefetched_at = Instant::now();
        turn.wait().await?;
        let turn_at = Instant::now();
        let version = report.module_version.clone();
        let merged = self.merge_and_publish(&batch, by_viewer, prefetched, &version, urgent, &mut report, &mut letters, now).await;
        let (seq, publication) = match merged {
            Ok(merged) => merged,
            Err(e) => {
                turn.finish(false);
                return Err(e);
            }
        };
        report.dead_lettered = letters.len();
        let written = retry::forever(self, "dead-letter write", || self.dead_letters.write(&letters)).await;
        turn.finish(written.is_ok());
        written?;
        let merged_at = Instant::now();
        // After the turn: the next batch merges while the broker acknowledges this one's.
        self.acknowledged(publication).await?;
        *self.last_merge.lock().expect("last merge") = Instant::now();
        if urgent || self.policy.flush_interval.is_zero() {
            self.wake_writer.notify_one();
        }
        if let Some(d) = deployed {
            d.record(report.events as u64, report.module_faults as u64);
        }
        self.record_metrics(&report, &letters);
        self.lifecycle.check_health();
        let ms = |a: Instant, b: Instant| b.saturating_duration_since(a).as_secs_f64() * 1e3;
        let done = Instant::now();
        tracing::debug!(?report, seq, module_ms = ms(started, ran_at), read_ms = ms(ran_at, prefetched_at), turn_ms = ms(prefetched_at, turn_at),
            merge_ms = ms(turn_at, merged_at), published_ms = ms(merged_at, done), "batch merged");
        // Without write-behind, a batch is done when it is written.
        if self.policy.flush_interval.is_zero() {
            self.wait_durable(seq).await?;
        }
        Ok(Accepted { report, seq })
    }

    /// Forgets profiles already written: after a rebalance another host may have changed them.
    pub fn forget_written(&self) {
        self.working.lock().expect("working set").forget_written();
    }

    fn record_metrics(&self, r: &BatchReport, letters: &[DeadLetter]) {
        let l = [("module_version", r.module_version.as_str())];
        let m = &self.metrics;
        m.inc("liveviewer_batches_total", &[], 1);
        m.inc("liveviewer_events_total", &l, r.events as u64);
        m.inc("liveviewer_applied_total", &l, r.applied as u64);
        m.inc("liveviewer_skipped_total", &l, r.skipped as u64);
        m.inc("liveviewer_rejected_total", &l, r.rejected as u64);
        m.inc("liveviewer_duplicates_total", &l, r.duplicates as u64);
        for d in letters {
            m.inc("liveviewer_dead_letters_total", &[("module_version", &r.module_version), ("reason", d.kind.label())], 1);
        }
    }
}
