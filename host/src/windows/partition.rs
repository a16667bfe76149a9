//! The windowed counts of one changelog partition, computed by the one host that owns it: the
//! samples of its records, in record order, credited to the minute of their event time.
//!
//! - **Lateness**: the partition's watermark is the newest event time seen (capped at the
//!   record's own timestamp plus [`Settings::clock_skew_ms`], so one event stamped in the
//!   future cannot close every window); a sample older than the watermark by more than the
//!   allowed lateness is dropped and counted as late. The events of one batch arrived
//!   together and are judged against the watermark from before their batch, so how the
//!   pipeline grouped them (per viewer) does not make any of them late. Within the
//!   allowance, a sample is credited to its own minute, and an out-of-order one corrects its
//!   neighbours ([`super::session`]).
//! - **Repeats**: a sample whose event id the session already holds changes nothing, so the
//!   changelog's at-least-once delivery and a replay after a crash count each event once.
//! - **Taking over**: a host that takes the partition starts from the last checkpoint's
//!   minutes and replays the records before it only to rebuild the sessions ([`Resume`]).

use super::counts::{minute_of, Counts};
use super::records::{Checkpoint, MinuteRecord, OTHER_CONTENT};
use super::sample::Sample;
use super::session::{Credit, Origin, Session};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub allowed_lateness_ms: i64,
    pub clock_skew_ms: i64,
    /// A session with no event for this long is forgotten (a later event resumes it).
    pub session_idle_ms: i64,
    pub max_sessions: usize,
    /// Contents counted apart per minute; the rest are counted under [`OTHER_CONTENT`].
    pub max_contents: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { allowed_lateness_ms: 120_000, clock_skew_ms: 60_000, session_idle_ms: 30 * 60_000, max_sessions: 1_000_000, max_contents: 500 }
    }
}

#[derive(Debug, Clone, Default)]
struct Bucket {
    overall: Counts,
    content: HashMap<Arc<str>, Counts>,
}

/// Where a partition's counting resumes after another host (or a previous run) counted it.
#[derive(Debug, Clone, Default)]
pub struct Resume {
    pub checkpoint: Option<Checkpoint>,
    /// The partition's minute records, as last written.
    pub minutes: Vec<MinuteRecord>,
}

/// What one round of counting changed, to be written.
#[derive(Debug, Clone)]
pub struct Round {
    pub minutes: Vec<MinuteRecord>,
    pub checkpoint: Checkpoint,
}

pub struct Partition {
    pub id: i32,
    settings: Settings,
    watermark: i64,
    /// The batch being taken, and the newest event time in it so far: the watermark moves
    /// there when the next batch begins.
    batch: Option<u64>,
    batch_newest: i64,
    sessions: HashMap<Arc<str>, Session>,
    contents: HashSet<Arc<str>>,
    buckets: BTreeMap<i64, Bucket>,
    dirty: BTreeSet<i64>,
    /// Restored minutes: the records before this position are already in them.
    through: BTreeMap<i64, i64>,
    /// Records before this position are replayed to rebuild the sessions, never counted.
    replay_until: i64,
    /// The record being taken, and the next position to read.
    position: i64,
    next: i64,
    late: u64,
    /// The watermark of the checkpoint resumed from: a round written while the replay has not
    /// reached it yet says no less.
    resumed_watermark: i64,
}

impl Partition {
    pub fn new(id: i32, settings: Settings) -> Partition {
        Partition {
            id,
            settings,
            watermark: i64::MIN,
            batch: None,
            batch_newest: i64::MIN,
            sessions: HashMap::new(),
            contents: HashSet::new(),
            buckets: BTreeMap::new(),
            dirty: BTreeSet::new(),
            through: BTreeMap::new(),
            replay_until: i64::MIN,
            position: 0,
            next: 0,
            late: 0,
            resumed_watermark: i64::MIN,
        }
    }

    /// Continues from what was written: the open minutes' counts, and the position from which
    /// records count again. The caller replays records from a little before the checkpoint's
    /// watermark minus the allowed lateness (see [`Partition::replay_from_ms`]).
    pub fn resume(id: i32, settings: Settings, resume: Resume) -> Partition {
        let mut p = Partition::new(id, settings);
        let Some(ck) = resume.checkpoint else { return p };
        p.replay_until = ck.through;
        p.late = ck.late_samples;
        p.resumed_watermark = ck.watermark;
        let open_from = minute_of(ck.watermark.saturating_sub(settings.allowed_lateness_ms)).saturating_sub(60_000);
        for m in resume.minutes.into_iter().filter(|m| m.minute >= open_from) {
            let mut b = Bucket { overall: m.overall, content: HashMap::new() };
            for (k, c) in m.content {
                b.content.insert(Arc::from(k), c);
            }
            p.through.insert(m.minute, m.through);
            p.buckets.insert(m.minute, b);
        }
        p
    }

    /// Event time from which records must be replayed to resume after `checkpoint`; none when
    /// it had seen no event (then there is nothing to rebuild).
    pub fn replay_from_ms(settings: &Settings, checkpoint: &Checkpoint) -> Option<i64> {
        (checkpoint.watermark != i64::MIN).then(|| checkpoint.watermark.saturating_sub(settings.allowed_lateness_ms + settings.clock_skew_ms))
    }

    /// Whether records at this position are counted (not only replayed).
    pub fn counting(&self, position: i64) -> bool {
        position >= self.replay_until
    }

    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    pub fn late(&self) -> u64 {
        self.late
    }

    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Takes one changelog record's samples: `viewer` its key, `position` its offset,
    /// `record_ts` its timestamp (epoch ms), `batch` the pipeline batch they were merged in
    /// (none: a batch of their own).
    pub fn take(&mut self, viewer: &str, samples: &[Sample], position: i64, record_ts: i64, batch: Option<u64>) {
        if batch.is_none() || batch != self.batch {
            self.watermark = self.watermark.max(self.batch_newest);
            self.batch = batch;
        }
        self.position = position;
        self.next = self.next.max(position + 1);
        let cap = record_ts.saturating_add(self.settings.clock_skew_ms);
        for s in samples {
            if s.ts < self.watermark.saturating_sub(self.settings.allowed_lateness_ms) {
                if self.counting(position) {
                    self.late += 1;
                    tracing::trace!(partition = self.id, %viewer, event = %s.event_id, "sample later than the allowed lateness");
                }
                continue;
            }
            self.take_one(viewer, s);
            self.batch_newest = self.batch_newest.max(s.ts.min(cap));
        }
        if batch.is_none() {
            self.watermark = self.watermark.max(self.batch_newest);
        }
    }

    fn take_one(&mut self, viewer: &str, s: &Sample) {
        let key: Arc<str> = match &s.session {
            Some(id) => id.clone(),
            None => Arc::from(format!("viewer:{viewer}")),
        };
        let content = s.content.as_deref().map(|c| self.intern(c));
        let counting = self.counting(self.position);
        let (credits, content) = match self.sessions.get_mut(&key) {
            Some(session) => {
                if content.is_some() && s.ts >= session.last_ts {
                    session.content = content;
                }
                let credits = session.offer(s);
                (credits, session.content.clone())
            }
            None => {
                // A session whose tracker says it began well before its first event here was
                // counted before (or cannot be): its counters count from this event on.
                let began_before = s.started_at.is_some_and(|at| at < s.ts - self.settings.allowed_lateness_ms);
                let origin = if !counting || began_before { Origin::Resumed } else { Origin::New };
                let (session, credits) = Session::open(s, content.clone(), origin);
                self.sessions.insert(key, session);
                (credits, content)
            }
        };
        for c in credits {
            self.credit(c, content.as_ref());
        }
    }

    fn intern(&mut self, content: &str) -> Arc<str> {
        if let Some(c) = self.contents.get(content) {
            return c.clone();
        }
        let c: Arc<str> = Arc::from(content);
        // Past the bound, strings are not shared; the set is emptied at maintenance.
        if self.contents.len() < 100_000 {
            self.contents.insert(c.clone());
        }
        c
    }

    fn credit(&mut self, credit: Credit, content: Option<&Arc<str>>) {
        let minute = minute_of(credit.minute_ts);
        if !self.counting(self.position) || self.through.get(&minute).is_some_and(|t| self.position < *t) {
            return;
        }
        let max_contents = self.settings.max_contents;
        let b = self.buckets.entry(minute).or_default();
        b.overall.add(&credit.counts);
        if let Some(c) = content {
            let key = if b.content.contains_key(c) || b.content.len() < max_contents { c.clone() } else { Arc::from(OTHER_CONTENT) };
            b.content.entry(key).or_default().add(&credit.counts);
        }
        self.dirty.insert(minute);
    }

    /// Folds events older than the allowed lateness, forgets idle sessions (the least recently
    /// seen first past the bound).
    pub fn maintain(&mut self) {
        if self.watermark == i64::MIN {
            return;
        }
        let cutoff = self.watermark.saturating_sub(self.settings.allowed_lateness_ms);
        let idle = self.watermark.saturating_sub(self.settings.session_idle_ms);
        self.sessions.retain(|_, s| s.last_ts >= idle);
        for s in self.sessions.values_mut() {
            s.fold(cutoff);
        }
        if self.sessions.len() > self.settings.max_sessions {
            let mut by_age: Vec<(i64, Arc<str>)> = self.sessions.iter().map(|(k, s)| (s.last_ts, k.clone())).collect();
            by_age.sort_unstable();
            let drop = self.sessions.len() - self.settings.max_sessions;
            for (_, k) in by_age.into_iter().take(drop) {
                self.sessions.remove(&k);
            }
        }
        if self.contents.len() >= 100_000 {
            self.contents.clear();
        }
    }

    /// The minutes changed since the last round, and how far they go; closed minutes
    /// (older than the allowed lateness) are dropped from memory once written.
    pub fn round(&mut self, written_at: i64) -> Round {
        self.maintain();
        // A round during the replay claims no less than the checkpoint it resumed from.
        let through = self.next.max(self.replay_until);
        let minutes = std::mem::take(&mut self.dirty)
            .into_iter()
            .filter_map(|m| {
                let b = self.buckets.get(&m)?;
                Some(MinuteRecord {
                    partition: self.id,
                    minute: m,
                    through,
                    overall: b.overall,
                    content: b.content.iter().map(|(k, c)| (k.to_string(), *c)).collect(),
                })
            })
            .collect();
        if self.watermark != i64::MIN {
            let open_from = minute_of(self.watermark.saturating_sub(self.settings.allowed_lateness_ms)).saturating_sub(60_000);
            self.buckets.retain(|m, _| *m >= open_from);
            self.through.retain(|m, _| *m >= open_from);
        }
        Round {
            minutes,
            checkpoint: Checkpoint {
                partition: self.id,
                through,
                watermark: self.watermark.max(self.resumed_watermark),
                written_at,
                late_samples: self.late,
            },
        }
    }

    /// A record with no samples (from a host before samples, or unreadable): read past.
    pub fn skip(&mut self, position: i64) {
        self.next = self.next.max(position + 1);
    }

    /// Minutes whose write failed: written again with the next round.
    pub fn redirty(&mut self, minutes: impl IntoIterator<Item = i64>) {
        self.dirty.extend(minutes);
    }

    /// The next position to read.
    pub fn next_position(&self) -> i64 {
        self.next
    }

    /// Starts reading at `position` (a resumed partition replays from before its checkpoint).
    pub fn seek(&mut self, position: i64) {
        self.next = position;
    }
}

#[cfg(test)]
mod tests;
