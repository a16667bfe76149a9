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
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Samples waiting for a round: past this many (the store refusing writes for long), the
/// oldest go unlogged; their counts stand, a restart only rebuilds fewer sessions.
const MAX_PENDING: usize = 1_000_000;

/// One logged take: the samples of one viewer's events merged together.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEntry {
    pub record_ts: i64,
    pub viewer: String,
    pub samples: Vec<Sample>,
}

pub struct Local {
    settings: Settings,
    partition: Mutex<Partition>,
    pending: Mutex<Vec<(i64, LogEntry)>>,
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
                for (seq, bytes) in log {
                    let Ok(entry) = serde_json::from_slice::<LogEntry>(&bytes) else { continue };
                    if seq < ck.through && entry.record_ts >= from {
                        partition.take(&entry.viewer, &entry.samples, seq, entry.record_ts);
                        replayed += 1;
                    }
                }
                partition.seek(ck.through);
                tracing::info!(replayed, through = ck.through, "window counts resumed");
            }
        }
        figures.set_complete();
        Ok(Arc::new(Local { settings, partition: Mutex::new(partition), pending: Mutex::new(Vec::new()), figures, store }))
    }

    /// Takes the samples of one viewer's events as they are merged.
    pub fn take(&self, viewer: &str, samples: Vec<Sample>) {
        if samples.is_empty() {
            return;
        }
        let record_ts = wall_ms();
        let seq = {
            let mut p = self.partition.lock().expect("window partition");
            let seq = p.next_position();
            p.take(viewer, &samples, seq, record_ts);
            seq
        };
        if self.store.is_some() {
            let mut pending = self.pending.lock().expect("window log");
            if pending.len() >= MAX_PENDING {
                pending.remove(0);
            }
            pending.push((seq, LogEntry { record_ts, viewer: viewer.to_owned(), samples }));
        }
    }

    /// Writes what changed since the last round (and a concurrency point when a minute
    /// began); the figures move once it is written.
    pub async fn round(&self, live: &Live, last_sampled: &mut Option<i64>) -> Result<(), StoreError> {
        let round = self.partition.lock().expect("window partition").round(wall_ms());
        let pending = std::mem::take(&mut *self.pending.lock().expect("window log"));
        let mut records: Vec<Record> = round.minutes.into_iter().map(Record::Minute).collect();
        records.push(Record::Checkpoint(round.checkpoint.clone()));
        if let Some(point) = concurrency::due(live, last_sampled) {
            records.push(Record::Concurrency(point));
        }
        if let Some(store) = &self.store {
            let encoded: Vec<(String, Vec<u8>)> = records.iter().map(|r| (r.key(), r.encode())).collect();
            let log: Vec<(i64, Vec<u8>)> =
                pending.iter().map(|(seq, e)| (*seq, serde_json::to_vec(e).expect("log entries serialize"))).collect();
            // The log keeps what a restart replays: from before the checkpoint's watermark by
            // the lateness and the clock skew, with a minute to spare.
            let keep_from = Partition::replay_from_ms(&self.settings, &round.checkpoint).saturating_sub(60_000);
            let s = store.clone();
            tokio::task::spawn_blocking(move || s.windows_write(&encoded, &log, keep_from))
                .await
                .map_err(|e| StoreError::Transient(format!("window write: {e}")))??;
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
