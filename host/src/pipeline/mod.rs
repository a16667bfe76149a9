//! The pipeline, stage by stage, for one batch of raw messages:
//!
//! 1. [`route::split_oversized`]: messages over the size limit are dead letters at once;
//! 2. [`workers`]: the active module (and the shadow) runs the batch, faults contained;
//! 3. [`route::route`]: outcomes become each viewer's events, dead letters and counts;
//! 4. the profiles of viewers not in memory are read from the store, while the batch before
//!    is still merging ([`Pipeline::prefetch`]);
//! 5. [`turn`]: batches merge in the order their source handed them over;
//! 6. [`working`] + [`merge`]: each viewer's events merge into its profile in memory, and the
//!    profile is due for a write;
//! 7. [`publish`]: the changed profiles go to every host's live view (the changelog);
//! 8. dead letters are written;
//! 9. [`flush`]: in the background, due profiles are written to the store, each on a
//!    condition on the revision it was read at, losers merged again; a batch is durable once
//!    every change of it is written, and only then may its source commit it ([`Accepted`]).

pub mod flush;
pub mod in_flight;
pub mod merge;
pub mod publish;
mod read;
mod retry;
pub mod route;
pub mod turn;
pub mod workers;
pub mod working;

use crate::config::{PipelineConfig, StoreConfig};
use crate::dead_letter::{DeadLetter, DeadLetterSink, Kind};
use crate::lifecycle::Lifecycle;
use crate::live::{wall_ms, Live};
use crate::message::{Message, Origin};
use crate::metrics::Metrics;
use crate::profile::Bounds;
use crate::store::{Store, StoreError};
use crate::windows::sample::Sample;
use publish::Publisher;
use read::Prefetched;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use working::{Policy, Working};

/// What became of one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub events: usize,
    pub applied: usize,
    pub skipped: usize,
    pub rejected: usize,
    pub dead_lettered: usize,
    pub duplicates: usize,
    pub module_faults: usize,
    pub module_version: String,
}

impl BatchReport {
    pub fn add(&mut self, other: &BatchReport) {
        self.events += other.events;
        self.applied += other.applied;
        self.skipped += other.skipped;
        self.rejected += other.rejected;
        self.dead_lettered += other.dead_lettered;
        self.duplicates += other.duplicates;
        self.module_faults += other.module_faults;
    }
}

/// A batch merged and published: durable once [`Pipeline::wait_durable`] says so.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub report: BatchReport,
    pub seq: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store cannot work as configured: stop the host.
    #[error(transparent)]
    Store(StoreError),
    /// Shutdown came while the batch waited on a store that is down; nothing was committed, so
    /// the source will deliver the batch again.
    #[error("shutting down before the batch was durable")]
    ShuttingDown,
    /// The batch was refused because an earlier batch in flight with it failed to merge or
    /// write; its source delivers it again (not a shutdown: the source goes on).
    #[error("refused: an earlier batch in flight failed")]
    Refused,
}

/// How far the background writes have got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durable {
    /// Every batch up to this one is durable.
    pub seq: u64,
    /// The writer stopped for good (a misconfigured store).
    pub failed: Option<String>,
}

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

    /// Puts the profiles of the viewers the working set lacks into it (read ahead, or read
    /// again when the working set dropped entries since), merges each viewer's events,
    /// sends the changed profiles; returns the batch's number and the publication under way.
    #[allow(clippy::too_many_arguments)]
    async fn merge_and_publish(
        &self,
        batch: &[Message],
        mut by_viewer: BTreeMap<String, route::ViewerEvents>,
        prefetched: Prefetched,
        version: &str,
        urgent: bool,
        report: &mut BatchReport,
        letters: &mut Vec<DeadLetter>,
        now: i64,
    ) -> Result<(u64, publish::Publication), PipelineError> {
        let (missing, loaded) = self.missing_profiles(by_viewer.keys(), prefetched).await?;
        if !missing.is_empty() {
            for (viewer, reason) in &loaded.unreadable {
                // One unreadable item stops nothing else: its viewer's events wait in the
                // dead letters, with the reason and the item's key, for the operator.
                tracing::error!(%viewer, %reason, "stored profile cannot be read; its events are dead-lettered (repair: liveviewer profiles --delete)");
                self.metrics.inc("liveviewer_unreadable_profiles_total", &[], 1);
                for (i, _) in by_viewer.remove(viewer).unwrap_or_default() {
                    let m = &batch[i];
                    let why = format!("the stored profile of viewer {viewer:?} cannot be read: {reason}");
                    letters.push(DeadLetter::new(Kind::StoreRefused, why, version, m.origin.clone(), &m.payload, now));
                }
            }
            let mut working = self.working.lock().expect("working set");
            let mut found = loaded.found;
            for viewer in missing.iter().filter(|v| by_viewer.contains_key(*v)) {
                working.insert(viewer, found.remove(viewer));
            }
        }
        let mut changed: Vec<publish::Rendered> = Vec::new();
        let ctx = self.publisher.render_context();
        // What the windowed metrics count of each changed profile's events, published with it.
        let mut samples: Vec<Vec<Sample>> = Vec::new();
        let seq = {
            let mut working = self.working.lock().expect("working set");
            let seq = working.next_seq();
            for (viewer, events) in by_viewer {
                let refs: Vec<(usize, &liveviewer_wire::outcome::Apply)> = events.iter().map(|(i, a)| (*i, a)).collect();
                if working.would_exceed(&viewer, &refs, self.config.max_profile_bytes, version, &self.bounds) {
                    tracing::warn!(%viewer, "profile would pass its size limit; its events are dead-lettered");
                    for (i, _) in &events {
                        let m = &batch[*i];
                        let reason = format!("the viewer's profile would grow past {} bytes", self.config.max_profile_bytes);
                        letters.push(DeadLetter::new(Kind::ProfileTooLarge, reason, version, m.origin.clone(), &m.payload, now));
                    }
                    continue;
                }
                let viewer_samples: Vec<Sample> = events.iter().map(|(_, a)| Sample::of(a)).collect();
                let events: Vec<_> = events.into_iter().map(|(i, a)| (a, batch[i].origin.watermark(), batch[i].origin.clone())).collect();
                let m = working.merge(&viewer, events, seq, urgent, version, &self.bounds, &self.policy);
                if m.duplicates > 0 {
                    tracing::debug!(%viewer, duplicates = m.duplicates, "redelivered events not merged again");
                }
                self.metrics.inc("liveviewer_deltas_dropped_total", &[], m.dropped_deltas as u64);
                if m.new_logs > 0 {
                    tracing::warn!(%viewer, events = m.new_logs, "events below the partition's watermark but newer than its log: the log started again (a re-created topic?); merged as new");
                    self.metrics.inc("liveviewer_new_log_events_total", &[], m.new_logs as u64);
                }
                report.applied += m.applied;
                report.duplicates += m.duplicates;
                if m.changed {
                    // Rendered here, once: no copy of the profile leaves the working set.
                    changed.push(publish::Rendered::of(&working.get(&viewer).expect("just merged").state, &ctx));
                    samples.push(viewer_samples);
                }
            }
            working.evict(self.config.max_cached_profiles);
            self.metrics.set("liveviewer_working_profiles", &[], working.len() as f64);
            self.metrics.set("liveviewer_unwritten_profiles", &[], working.dirty() as f64);
            seq
        };
        let sending = self.publisher.send(&changed, &samples);
        let publication = publish::Publication { changed, samples, sending };
        // A batch that changed nothing is durable as soon as it is merged.
        self.announce_durable();
        // Too many unwritten profiles: write them all before taking more.
        if self.working.lock().expect("working set").dirty() > self.config.max_cached_profiles {
            self.flush_all().await?;
        }
        Ok((seq, publication))
    }

    /// Waits until batch `seq` is durable.
    pub async fn wait_durable(&self, seq: u64) -> Result<(), PipelineError> {
        let mut rx = self.durable.subscribe();
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            d = rx.wait_for(|d| d.seq >= seq || d.failed.is_some()) => {
                let d = d.map_err(|_| PipelineError::ShuttingDown)?;
                match &d.failed {
                    Some(reason) if d.seq < seq => Err(PipelineError::Store(StoreError::Fatal(reason.clone()))),
                    _ => Ok(()),
                }
            }
            _ = shutdown.wait_for(|s| *s) => Err(PipelineError::ShuttingDown),
        }
    }

    /// How far the writes have got, for a source that commits as batches become durable.
    pub fn durable(&self) -> watch::Receiver<Durable> {
        self.durable.subscribe()
    }

    fn announce_durable(&self) {
        let seq = self.working.lock().expect("working set").durable_seq();
        self.durable.send_if_modified(|d| {
            if d.seq < seq {
                d.seq = seq;
                true
            } else {
                false
            }
        });
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
