//! The pipeline: a batch of raw messages -> the active module (one call, faults contained) ->
//! deltas merged per viewer (one conditional write each) -> dead letters -> durable. Only when
//! `process` returns Ok may a source commit the batch's offsets.

pub mod merge;
mod retry;
pub mod turn;
pub mod in_flight;

use crate::config::PipelineConfig;
use crate::dead_letter::{DeadLetter, DeadLetterSink, Kind};
use crate::lifecycle::Lifecycle;
use crate::live::{wall_ms, Live};
use crate::metrics::Metrics;
use crate::module::{ModuleFault, ModuleInstance};
use crate::profile::{Bounds, ProfileState};
use crate::source::Message;
use crate::store::{Store, StoreError, Write};
use liveviewer_wire::Outcome;
use merge::{merge_viewer, Event};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

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

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The store cannot work as configured: stop the host.
    #[error(transparent)]
    Store(StoreError),
    /// Shutdown came while the batch waited on a store that is down; nothing was committed, so
    /// the source will deliver the batch again.
    #[error("shutting down before the batch was durable")]
    ShuttingDown,
}

#[derive(Default)]
struct Workers {
    /// One instance per module worker, all of the active module's version.
    active: Vec<Option<ModuleInstance>>,
    shadow: Option<ModuleInstance>,
}

/// Fewer events than this per worker are not worth a thread.
const MIN_EVENTS_PER_WORKER: usize = 32;

/// Runs `batch` through `instances`, split into contiguous parts side by side (scoped
/// threads), and joins the results in the batch's order.
fn run_parallel(instances: &mut [Option<ModuleInstance>], batch: &[Message]) -> Results {
    if instances.len() <= 1 {
        return run_module(&mut instances[0], batch);
    }
    let part = batch.len().div_ceil(instances.len());
    std::thread::scope(|scope| {
        let mut parts = batch.chunks(part).zip(instances.iter_mut());
        let (first, first_instance) = parts.next().expect("a non-empty batch");
        let handles: Vec<_> = parts.map(|(chunk, instance)| scope.spawn(move || run_module(instance, chunk))).collect();
        let mut results = run_module(first_instance, first);
        for h in handles {
            results.extend(h.join().expect("module worker panicked"));
        }
        results
    })
}

/// An instance of `module`, reusing `current` when it is of the same version.
fn instance_for(current: Option<ModuleInstance>, module: &crate::module::Module) -> Option<ModuleInstance> {
    match current {
        Some(i) if i.module().version() == module.version() => Some(i),
        _ => match module.instance() {
            Ok(i) => Some(i),
            Err(fault) => {
                tracing::error!(%fault, module = %module.version(), "cannot instantiate the module");
                None
            }
        },
    }
}

type Results = Vec<Result<Outcome, ModuleFault>>;

fn run_module(instance: &mut Option<ModuleInstance>, batch: &[Message]) -> Results {
    match instance {
        Some(i) => {
            let refs: Vec<&[u8]> = batch.iter().map(|m| m.payload.as_slice()).collect();
            i.transform_contained(&refs)
        }
        None => batch.iter().map(|_| Err(ModuleFault::Failed("module cannot be instantiated".into()))).collect(),
    }
}

pub struct Pipeline {
    pub store: Store,
    dead_letters: DeadLetterSink,
    pub lifecycle: Arc<Lifecycle>,
    pub live: Arc<Live>,
    pub metrics: Arc<Metrics>,
    config: PipelineConfig,
    bounds: Bounds,
    /// The module instances; one batch at a time runs the module.
    workers: tokio::sync::Mutex<Workers>,
    /// Batches write in the order they were handed over (see [`turn`]).
    turns: turn::Turns,
    shutdown: watch::Receiver<bool>,
    /// Retried operations under way, for readiness (see [`retry`]).
    progress: retry::Progress,
}

impl Pipeline {
    pub fn new(
        store: Store,
        dead_letters: DeadLetterSink,
        lifecycle: Arc<Lifecycle>,
        live: Arc<Live>,
        metrics: Arc<Metrics>,
        config: PipelineConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        Arc::new(Pipeline {
            store,
            dead_letters,
            lifecycle,
            live,
            metrics,
            config,
            bounds: Bounds::default(),
            workers: tokio::sync::Mutex::new(Workers::default()),
            turns: turn::Turns::default(),
            shutdown,
            progress: retry::Progress::default(),
        })
    }

    pub fn dead_letters(&self) -> &DeadLetterSink {
        &self.dead_letters
    }

    /// Processes one batch; concurrent calls write in the order they were made.
    pub async fn process(&self, batch: Vec<Message>) -> Result<BatchReport, PipelineError> {
        let turn = self.turns.ticket();
        self.process_in_turn(batch, turn).await
    }

    /// A place in the write order, for a source that starts batches as tasks: the ticket is
    /// taken before the task, whichever task the runtime then runs first.
    pub fn ticket(&self) -> turn::Turn {
        self.turns.ticket()
    }

    pub async fn process_in_turn(&self, batch: Vec<Message>, turn: turn::Turn) -> Result<BatchReport, PipelineError> {
        let mut workers = self.workers.lock().await;
        let deployed = self.lifecycle.active();
        let shadow = self.lifecycle.shadow();
        let version = deployed.module.version().0.clone();
        let mut report = BatchReport { events: batch.len(), module_version: version.clone(), ..Default::default() };
        if batch.is_empty() {
            return Ok(report);
        }
        let now = wall_ms();
        let mut letters = Vec::new();

        // Oversized messages never reach the module.
        let max = self.config.max_message_bytes;
        let (batch, too_large): (Vec<Message>, Vec<Message>) = batch.into_iter().partition(|m| m.payload.len() <= max);
        for m in too_large {
            let reason = format!("message is {} bytes; the limit is {max}", m.payload.len());
            letters.push(DeadLetter::new(Kind::TooLarge, reason, &version, m.origin, &m.payload, now));
        }

        let wanted = self.config.module_workers().min(batch.len().div_ceil(MIN_EVENTS_PER_WORKER)).max(1);
        let mut pool = std::mem::take(&mut workers.active);
        pool.resize_with(pool.len().max(wanted), || None);
        // Instances this batch does not need stay in the pool for the next large one.
        let idle = pool.split_off(wanted);
        let mut active: Vec<Option<ModuleInstance>> = pool.into_iter().map(|i| instance_for(i, &deployed.module)).collect();
        let mut shadowed = shadow.as_ref().and_then(|s| instance_for(workers.shadow.take(), &s.deployed.module));
        let started = Instant::now();
        let (active, shadowed, batch, results, shadow_results, elapsed) = tokio::task::spawn_blocking(move || {
            let results = run_parallel(&mut active, &batch);
            let elapsed = started.elapsed();
            // The shadow sees the same batch; its results are compared, never written.
            let shadow_results = if shadowed.is_some() { Some(run_module(&mut shadowed, &batch)) } else { None };
            (active, shadowed, batch, results, shadow_results, elapsed)
        })
        .await
        .expect("module worker panicked");
        workers.active = active;
        workers.shadow = shadowed;
        let labels = [("module_version", version.as_str())];
        self.metrics.observe("liveviewer_module_call_seconds", &labels, elapsed.as_secs_f64());
        let fuel: u64 = workers.active.iter().flatten().filter_map(crate::module::Transform::last_fuel).sum();
        if fuel > 0 {
            self.metrics.inc("liveviewer_module_fuel_total", &labels, fuel);
        }
        workers.active.extend(idle);
        // The next batch may run the module while this one is merged and written.
        drop(workers);
        if let (Some(shadow), Some(shadow_results)) = (&shadow, &shadow_results) {
            let origins: Vec<&crate::source::Origin> = batch.iter().map(|m| &m.origin).collect();
            let differing = shadow.compare(&origins, &results, shadow_results);
            let l = [("module_version", shadow.deployed.module.version().0.as_str())];
            self.metrics.inc("liveviewer_shadow_events_total", &l, results.len() as u64);
            self.metrics.inc("liveviewer_shadow_differences_total", &l, differing);
        }

        let mut by_viewer: BTreeMap<String, Vec<(usize, liveviewer_wire::outcome::Apply)>> = BTreeMap::new();
        let horizon = now + self.config.max_future_s as i64 * 1000;
        for (index, (message, result)) in batch.iter().zip(results).enumerate() {
            match result {
                Ok(Outcome::Apply(a)) if a.at.ts > horizon => {
                    let reason = format!(
                        "event time {} is more than {} s ahead of the host's clock",
                        liveviewer_wire::time::format_millis(a.at.ts),
                        self.config.max_future_s
                    );
                    letters.push(DeadLetter::new(Kind::TooFarAhead, reason, &version, message.origin.clone(), &message.payload, now));
                }
                Ok(Outcome::Apply(a)) => by_viewer.entry(a.viewer.clone()).or_default().push((index, a)),
                Ok(Outcome::Skip { reason }) => {
                    tracing::trace!(origin = ?message.origin, %reason, "skipped");
                    report.skipped += 1;
                }
                Ok(Outcome::Reject { reason }) => {
                    tracing::trace!(origin = ?message.origin, %reason, "rejected");
                    report.rejected += 1;
                    letters.push(DeadLetter::new(Kind::Rejected, reason, &version, message.origin.clone(), &message.payload, now));
                }
                Err(fault) => {
                    report.module_faults += 1;
                    self.metrics.inc("liveviewer_module_faults_total", &[("module_version", &version), ("kind", fault.kind())], 1);
                    letters.push(DeadLetter::new(Kind::ModuleFault, fault.to_string(), &version, message.origin.clone(), &message.payload, now));
                }
            }
        }

        turn.wait().await?;
        let written = async {
            let written = self.merge_and_write(&batch, &by_viewer, &version, &mut report, &mut letters, now).await?;
            report.dead_lettered = letters.len();
            retry::forever(self, "dead-letter write", || self.dead_letters.write(&letters)).await?;
            Ok::<_, PipelineError>(written)
        }
        .await;
        turn.finish(written.is_ok());
        let written = written?;
        self.live.publish(&written);

        deployed.record(report.events as u64, report.module_faults as u64);
        self.record_metrics(&report, &letters);
        self.lifecycle.check_health();
        tracing::debug!(?report, "batch durable");
        Ok(report)
    }

    async fn merge_and_write(
        &self,
        batch: &[Message],
        by_viewer: &BTreeMap<String, Vec<(usize, liveviewer_wire::outcome::Apply)>>,
        version: &str,
        report: &mut BatchReport,
        letters: &mut Vec<DeadLetter>,
        now: i64,
    ) -> Result<Vec<ProfileState>, PipelineError> {
        let events: HashMap<&str, Vec<Event<'_>>> = by_viewer
            .iter()
            .map(|(v, list)| {
                let evs = list
                    .iter()
                    .map(|(i, a)| Event { index: *i, apply: a, watermark: batch[*i].origin.watermark() })
                    .collect();
                (v.as_str(), evs)
            })
            .collect();
        let mut pending: Vec<String> = by_viewer.keys().cloned().collect();
        let mut counted: HashMap<String, (usize, usize)> = HashMap::new();
        let mut written = Vec::with_capacity(pending.len());
        let mut rounds = 0u32;
        while !pending.is_empty() {
            let mut loaded = retry::forever(self, "profile load", || self.store.load(&pending)).await?;
            let mut writes = Vec::with_capacity(pending.len());
            let mut history = Vec::new();
            for v in &pending {
                let (state, rev) = match loaded.remove(v) {
                    Some(s) => (s.state, s.rev),
                    None => (ProfileState::new(v), 0),
                };
                let m = merge_viewer(state, &events[v.as_str()], version, &self.bounds);
                if m.duplicates > 0 {
                    tracing::debug!(viewer = %v, duplicates = m.duplicates, rev, watermarks = ?m.state.watermarks, "redelivered events not merged again");
                }
                self.metrics.inc("liveviewer_deltas_dropped_total", &[], m.dropped_deltas as u64);
                if m.applied > 0 && m.state.encode().len() > self.config.max_profile_bytes {
                    tracing::warn!(viewer = %v, "profile would pass its size limit; its events are dead-lettered");
                    for e in &events[v.as_str()] {
                        let m = &batch[e.index];
                        let reason = format!("the viewer's profile would grow past {} bytes", self.config.max_profile_bytes);
                        letters.push(DeadLetter::new(Kind::ProfileTooLarge, reason, version, m.origin.clone(), &m.payload, now));
                    }
                    counted.insert(v.clone(), (0, 0));
                    continue;
                }
                // Counted on the first round: later rounds see this batch's own writes again.
                counted.entry(v.clone()).or_insert((m.applied, m.duplicates));
                if m.applied > 0 {
                    history.extend(m.history);
                    writes.push(Write { state: m.state, expected_rev: rev });
                }
            }
            let (writes, history) = (Arc::new(writes), Arc::new(history));
            let outcome = retry::forever(self, "profile write", || self.store.commit(writes.clone(), history.clone())).await?;
            let writes = Arc::try_unwrap(writes).unwrap_or_else(|shared| (*shared).clone());
            self.metrics.inc("liveviewer_store_conflicts_total", &[], outcome.conflicts.len() as u64);
            for (viewer, reason) in &outcome.refused {
                tracing::warn!(%viewer, %reason, "store refused the profile; its events are dead-lettered");
                for e in &events[viewer.as_str()] {
                    let m = &batch[e.index];
                    letters.push(DeadLetter::new(Kind::StoreRefused, format!("store refused: {reason}"), version, m.origin.clone(), &m.payload, now));
                }
                counted.insert(viewer.clone(), (0, 0));
            }
            let done = writes.into_iter().filter(|w| {
                !outcome.conflicts.contains(&w.state.viewer_id) && !outcome.refused.iter().any(|(v, _)| *v == w.state.viewer_id)
            });
            let done: Vec<ProfileState> = done.map(|w| w.state).collect();
            self.metrics.inc("liveviewer_store_writes_total", &[], done.len() as u64);
            written.extend(done);
            pending = outcome.conflicts;
            if !pending.is_empty() {
                rounds += 1;
                tracing::debug!(viewers = pending.len(), rounds, "write conflicts; merging again");
                retry::pause(self, rounds).await?;
            }
        }
        for (applied, duplicates) in counted.values() {
            report.applied += applied;
            report.duplicates += duplicates;
        }
        Ok(written)
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
