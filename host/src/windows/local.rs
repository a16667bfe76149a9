//! The windowed metrics of a host alone (no Kafka: the demo, ingest-only hosts, `replay`):
//! one partition, fed the samples of every merged event directly by the pipeline, written to
//! the embedded store every round together with the samples themselves (kept for as long as a
//! restart needs them to rebuild the open sessions), so a restarted host carries on from where
//! its last round left off.

use super::concurrency;
use super::figures::Figures;
use super::partition::{Partition, Settings};
use super::records::Record;
use super::sample::Sample;
use crate::live::{wall_ms, Live};
use crate::store::{EmbeddedStore, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Samples waiting for a round: past this many (the store refusing writes for long), the
/// oldest go unlogged; their counts stand, a restart only rebuilds fewer sessions.
const MAX_PENDING: usize = 1_000_000;

/// One logged take: the samples of one viewer's events merged together, in batch `batch`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEntry {
    pub record_ts: i64,
    #[serde(default)]
    pub batch: Option<u64>,
    pub viewer: String,
    pub samples: Vec<Sample>,
}

pub struct Local {
    settings: Settings,
    partition: Mutex<Partition>,
    batches: AtomicU64,
    /// (position, newest event time of its samples, entry).
    pending: Mutex<Vec<(i64, i64, LogEntry)>>,
    figures: Arc<Figures>,
    store: Option<Arc<EmbeddedStore>>,
}

impl Local {
    /// Resumes from the store's records and log (none without an embedded store: then the
    /// figures last as long as the process).
    pub fn open(settings: Settings, figures: Arc<Figures>, store: Option<Arc<EmbeddedStore>>) -> Result<Arc<Local>, StoreError> {
        let mut partition = Partition::new(0, settings);
        if let Some(s) = &store {
            let (records, log) = s.windows_load()?;
            for (key, value) in records {
                match Record::decode(&key, &value) {
                    Ok(r) => figures.apply(r),
                    Err(e) => tracing::warn!(error = %e, "window record left out"),
                }
            }
            let resume = figures.resume(0);
            if let Some(ck) = resume.checkpoint.clone() {
                let from = Partition::replay_from_ms(&settings, &ck);
                partition = Partition::resume(0, settings, resume);
                let mut replayed = 0;
                for (seq, newest, bytes) in log {
                    if seq >= ck.through || from.is_none_or(|f| newest < f) {
                        continue;
                    }
                    let Ok(entry) = serde_json::from_slice::<LogEntry>(&bytes) else { continue };
                    partition.take(&entry.viewer, &entry.samples, seq, entry.record_ts, entry.batch);
                    replayed += 1;
                }
                partition.seek(ck.through);
                tracing::info!(replayed, through = ck.through, "window counts resumed");
            }
        }
        figures.set_complete();
        let batches = super::sample::batch_numbers();
        Ok(Arc::new(Local { settings, partition: Mutex::new(partition), batches, pending: Mutex::new(Vec::new()), figures, store }))
    }

    /// Takes the samples of one batch's events as they are merged, viewer by viewer.
    pub fn take_batch<'a>(&self, takes: impl Iterator<Item = (&'a str, &'a Vec<Sample>)>) {
        let batch = Some(self.batches.fetch_add(1, Ordering::Relaxed));
        let record_ts = wall_ms();
        let mut logged = Vec::new();
        {
            let mut p = self.partition.lock().expect("window partition");
            for (viewer, samples) in takes.filter(|(_, s)| !s.is_empty()) {
                let seq = p.next_position();
                p.take(viewer, samples, seq, record_ts, batch);
                if self.store.is_some() {
                    let newest = samples.iter().map(|s| s.ts).max().unwrap_or(i64::MIN);
                    logged.push((seq, newest, LogEntry { record_ts, batch, viewer: viewer.to_owned(), samples: samples.clone() }));
                }
            }
        }
        if !logged.is_empty() {
            let mut pending = self.pending.lock().expect("window log");
            let over = (pending.len() + logged.len()).saturating_sub(MAX_PENDING).min(pending.len());
            pending.drain(..over);
            pending.extend(logged);
        }
    }

    /// Writes what changed since the last round (and a concurrency point when a minute
    /// began); the figures move once it is written.
    pub async fn round(&self, live: &Live, last_sampled: &mut Option<i64>) -> Result<(), StoreError> {
        let round = self.partition.lock().expect("window partition").round(wall_ms());
        let pending = std::mem::take(&mut *self.pending.lock().expect("window log"));
        let mut records: Vec<Record> = round.minutes.into_iter().map(Record::Minute).collect();
        records.push(Record::Checkpoint(round.checkpoint.clone()));
        let sampled_before = *last_sampled;
        if let Some(point) = concurrency::due(live, last_sampled) {
            records.push(Record::Concurrency(point));
        }
        if let Some(store) = &self.store {
            let encoded: Vec<(String, Vec<u8>)> = records.iter().map(|r| (r.key(), r.encode())).collect();
            let log: Vec<(i64, i64, Vec<u8>)> =
                pending.iter().map(|(seq, newest, e)| (*seq, *newest, serde_json::to_vec(e).expect("log entries serialize"))).collect();
            // The log keeps what a restart replays: the samples from before the checkpoint's
            // watermark by the lateness and the clock skew, with a minute to spare.
            let keep_from = Partition::replay_from_ms(&self.settings, &round.checkpoint).map_or(i64::MIN, |f| f.saturating_sub(60_000));
            let s = store.clone();
            let written = tokio::task::spawn_blocking(move || s.windows_write(&encoded, &log, keep_from))
                .await
                .map_err(|e| StoreError::Transient(format!("window write: {e}")))
                .and_then(|r| r);
            if let Err(e) = written {
                // Nothing of the round is lost: its minutes and samples go with the next one.
                let minutes = records.iter().filter_map(|r| match r {
                    Record::Minute(m) => Some(m.minute),
                    _ => None,
                });
                self.partition.lock().expect("window partition").redirty(minutes);
                let mut p = self.pending.lock().expect("window log");
                let newer = std::mem::replace(&mut *p, pending);
                p.extend(newer);
                let over = p.len().saturating_sub(MAX_PENDING);
                p.drain(..over);
                *last_sampled = sampled_before;
                return Err(e);
            }
        }
        for r in records {
            self.figures.apply(r);
        }
        Ok(())
    }

    /// Writes rounds every `interval` for as long as the host runs.
    pub async fn run(self: Arc<Self>, live: Arc<Live>, interval: Duration, metrics: Arc<crate::metrics::Metrics>) {
        let mut last_sampled = self.figures.last_concurrency();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.round(&live, &mut last_sampled).await {
                tracing::warn!(error = %e, "window counts not written; trying again next round");
            }
            let p = self.partition.lock().expect("window partition");
            metrics.set("liveviewer_window_late_samples", &[], p.late() as f64);
            metrics.set("liveviewer_window_sessions", &[], p.sessions() as f64);
        }
    }
}
