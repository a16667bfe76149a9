//! The write stage: due profiles from the working set to the store, in rounds, one round at a
//! time, in the background. Each profile is written on a condition on the revision it was read
//! at; a profile another host changed in between is loaded again and this host's unwritten
//! events are merged onto it (the merge is a CRDT, so the result is what one writer would have
//! made), then written in the next round. A throttled write is tried again alone; a profile
//! the store refuses for good sends its unwritten events to the dead letters.
//!
//! After each round the pipeline announces how far batches are durable; sources commit up to
//! there. When no batch has been merged for a while (the stream paused or ended), every
//! unwritten profile is written, so that a finished stream is committed promptly.

use super::retry;
use super::working::JobMeta;
use super::{Durable, Pipeline, PipelineError};
use crate::dead_letter::{DeadLetter, Kind};
use crate::live::wall_ms;
use crate::store::{HistoryRow, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest the writer sleeps between looks at the working set.
const MAX_NAP: Duration = Duration::from_millis(250);
/// The most profiles one round writes. A round is announced durable only when its slowest
/// write lands: ten thousand new viewers in one round (a host starting on a live stream) held
/// every offset back until the last of them was written, about a minute against a store that
/// serves a few hundred writes a second. The rest wait for the next round, longest due first.
const MAX_ROUND: usize = 1_000;
/// The most profiles one round packs: each is encoded under the working set's lock, which the
/// batches merging meanwhile wait for (a few milliseconds at most; rounds come every
/// [`MAX_NAP`] or sooner, so this packs thousands of idle profiles a second).
const MAX_PACK: usize = 2_000;

impl Pipeline {
    /// Writes what is due (everything, when `all`), then announces what is durable.
    pub async fn write_round(&self, all: bool) -> Result<(), PipelineError> {
        let _one = self.writing.lock().await;
        let jobs = self.working.lock().expect("working set").take_due(Instant::now(), all, MAX_ROUND);
        if !jobs.is_empty() {
            let (writes, metas): (Vec<Write>, Vec<JobMeta>) = jobs.into_iter().map(|j| (j.write, j.meta)).unzip();
            self.write_jobs(writes, metas).await?;
        }
        self.announce_durable();
        self.pack_idle();
        Ok(())
    }

    /// Packs the profiles of viewers idle for `pipeline.pack_idle_after_ms` (see
    /// `working::held`).
    fn pack_idle(&self) {
        if self.config.pack_idle_after_ms == 0 {
            return;
        }
        let Some(idle_since) = Instant::now().checked_sub(Duration::from_millis(self.config.pack_idle_after_ms)) else { return };
        let held = self.working.lock().expect("working set").pack_idle(idle_since, MAX_PACK);
        self.metrics.set("liveviewer_packed_profiles", &[], held as f64);
    }

    async fn write_jobs(&self, writes: Vec<Write>, metas: Vec<JobMeta>) -> Result<(), PipelineError> {
        let history: Vec<HistoryRow> = metas.iter().flat_map(|m| m.history.iter().cloned()).collect();
        let bytes: usize = writes.iter().map(|w| w.state.len()).sum();
        let (writes, history) = (Arc::new(writes), Arc::new(history));
        let outcome = retry::forever(self, "profile write", || self.store.commit(writes.clone(), history.clone())).await?;
        let m = &self.metrics;
        let not_written = outcome.conflicts.len() + outcome.refused.len() + outcome.retry.len();
        m.inc("liveviewer_store_writes_total", &[], (writes.len() - not_written) as u64);
        m.inc("liveviewer_store_written_bytes_total", &[], bytes as u64);
        m.inc("liveviewer_store_history_rows_total", &[], history.len() as u64);
        m.inc("liveviewer_store_conflicts_total", &[], outcome.conflicts.len() as u64);
        m.inc("liveviewer_store_write_retries_total", &[], outcome.retry.len() as u64);
        let version = self.lifecycle.active().module.version().0.clone();
        let mut rebase = Vec::new();
        let mut letters = Vec::new();
        let mut settled = Vec::new();
        {
            let mut working = self.working.lock().expect("working set");
            for meta in metas {
                let v = meta.viewer.as_str();
                if outcome.conflicts.iter().any(|c| c == v) {
                    rebase.push(meta);
                } else if let Some((_, reason)) = outcome.refused.iter().find(|(r, _)| r == v) {
                    tracing::warn!(viewer = %v, %reason, "store refused the profile; its unwritten events are dead-lettered");
                    for p in working.refused(v) {
                        // The raw message is no longer at hand: the letter carries the
                        // module's outcome and the event's coordinates, which find it.
                        let outcome = serde_json::to_vec(&p.apply).expect("outcomes serialize");
                        let why = format!("store refused the profile: {reason}");
                        letters.push(DeadLetter::new(Kind::StoreRefused, why, &version, p.origin, &outcome, wall_ms()));
                    }
                } else if outcome.retry.iter().any(|(r, _)| r == v) {
                    working.retry_later(meta);
                } else {
                    settled.push(working.written(meta));
                }
            }
        }
        // Freed here, with the working set free for the batches merging meanwhile.
        drop(settled);
        if !letters.is_empty() {
            retry::forever(self, "dead-letter write", || self.dead_letters.write(&letters)).await?;
            for d in &letters {
                self.metrics.inc("liveviewer_dead_letters_total", &[("module_version", &version), ("reason", d.kind.label())], 1);
            }
        }
        if !rebase.is_empty() {
            self.rebase(rebase, &version).await?;
        }
        if !outcome.retry.is_empty() {
            tracing::debug!(viewers = outcome.retry.len(), "writes throttled; retrying those alone");
            retry::pause(self, 1).await?;
        }
        Ok(())
    }

    /// Reloads the profiles another writer changed and merges this host's unwritten events
    /// onto them; they are due again at once, and their new state is published.
    async fn rebase(&self, metas: Vec<JobMeta>, version: &str) -> Result<(), PipelineError> {
        let viewers: Vec<String> = metas.iter().map(|m| m.viewer.clone()).collect();
        tracing::debug!(viewers = viewers.len(), "write conflicts; merging again onto the stored profiles");
        let mut loaded = retry::forever(self, "profile load", || self.store.load(&viewers)).await?;
        let mut changed: Vec<super::publish::Rendered> = Vec::new();
        let ctx = self.publisher.render_context();
        {
            let mut working = self.working.lock().expect("working set");
            for meta in metas {
                if loaded.unreadable.iter().any(|(v, _)| *v == meta.viewer) {
                    // Another writer left an item this host cannot read: keep ours.
                    working.retry_later(meta);
                    continue;
                }
                let stored = loaded.found.remove(&meta.viewer);
                working.rebase(&meta.viewer, stored, version, &self.bounds, meta.history);
                if let Some(e) = working.get(&meta.viewer) {
                    changed.push(super::publish::Rendered::of(&e.state(), &ctx));
                }
            }
        }
        retry::forever_publish(self, || self.publisher.publish(&changed, &[])).await?;
        Ok(())
    }

    /// Writes every unwritten profile; returns once everything merged so far is durable.
    pub async fn flush_all(&self) -> Result<(), PipelineError> {
        let target = self.working.lock().expect("working set").merged_seq();
        loop {
            self.write_round(true).await?;
            if self.working.lock().expect("working set").durable_seq() >= target {
                return Ok(());
            }
        }
    }

    /// Whether no batch has been merged for a while.
    fn idle(&self) -> bool {
        let quiet = self.policy.flush_interval.max(Duration::from_millis(500));
        self.last_merge.lock().expect("last merge").elapsed() >= quiet
    }
}

/// The background writer, for as long as the host runs. A misconfigured store ends it, and
/// every source waiting on durability hears why.
pub async fn run(p: Arc<Pipeline>) {
    let mut shutdown = p.shutdown.clone();
    loop {
        let nap = match p.working.lock().expect("working set").next_due() {
            Some(due) => due.saturating_duration_since(Instant::now()).min(MAX_NAP),
            None => MAX_NAP,
        };
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = p.wake_writer.notified() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let all = p.idle() && p.working.lock().expect("working set").dirty() > 0;
        match p.write_round(all).await {
            Ok(()) => {}
            Err(PipelineError::ShuttingDown) => return,
            Err(e) => {
                tracing::error!(error = %e, "profile writes stopped");
                p.durable.send_modify(|d: &mut Durable| d.failed = Some(e.to_string()));
                return;
            }
        }
    }
}
