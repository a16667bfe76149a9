//! The working set: the profiles this host is merging into, in memory, written behind.
//!
//! A viewer's profile is loaded from the store the first time the host sees the viewer (a key
//! lookup), merged into here batch after batch, and marked due for a write: within
//! `store.flush_interval_ms` when its status, media session or ad changed, or when its events
//! came from a source that cannot deliver them again (HTTP ingest), else within
//! `store.progress_flush_interval_ms`. Until a write covers it, the entry keeps the events
//! merged since the last write, so that losing a conditional write to another host is repaired
//! by merging them again onto that host's profile.
//!
//! Batches are numbered in the order they are merged; a batch is durable once no entry still
//! holds an unwritten change of it ([`Working::durable_seq`]). Sources commit offsets, and
//! ingest answers, only up to there.

use super::merge::{merge_viewer, Event};
use crate::message::Origin;
use crate::profile::state::Position;
use crate::profile::{Bounds, ProfileState};
use crate::store::{HistoryRow, Stored, Write};
use liveviewer_wire::outcome::Apply;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

/// An event merged into an entry and not yet covered by a write.
#[derive(Debug, Clone)]
pub struct Pending {
    pub apply: Apply,
    pub watermark: Option<Position>,
    pub origin: Origin,
    /// The batch it came in.
    pub seq: u64,
}

#[derive(Debug)]
pub struct Entry {
    pub state: ProfileState,
    /// The stored revision a write must match (0: not stored yet).
    pub stored_rev: u64,
    pub pending: Vec<Pending>,
    /// Status changes not yet written.
    pub history: Vec<HistoryRow>,
    /// When the entry must be written; `None`: nothing unwritten.
    pub due: Option<Instant>,
    last_used: Instant,
}

impl Entry {
    fn new(state: ProfileState, stored_rev: u64) -> Entry {
        Entry { state, stored_rev, pending: Vec::new(), history: Vec::new(), due: None, last_used: Instant::now() }
    }

    pub fn dirty(&self) -> bool {
        self.due.is_some()
    }

    fn first_seq(&self) -> Option<u64> {
        self.pending.first().map(|p| p.seq)
    }
}

/// When changes must reach the store.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub flush_interval: Duration,
    pub progress_interval: Duration,
}

/// What merging one viewer's events did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Merged {
    pub applied: usize,
    pub duplicates: usize,
    pub dropped_deltas: usize,
    /// Events taken as new although at an offset already passed: the partition's log
    /// started again (a re-created topic).
    pub new_logs: usize,
    /// Whether the profile changed at all (and so is published).
    pub changed: bool,
}

/// A write taken from the working set, and what it covers.
pub struct Job {
    pub write: Write,
    pub meta: JobMeta,
}

/// What a write covered, to settle the entry once the store has answered.
pub struct JobMeta {
    pub viewer: String,
    pub expected_rev: u64,
    pub history: Vec<HistoryRow>,
    /// How many of the entry's pending events the write covers.
    covered: usize,
}

#[derive(Default)]
pub struct Working {
    entries: HashMap<String, Entry>,
    /// How many dirty entries hold an unwritten change of each batch (by the first one).
    unwritten: BTreeMap<u64, usize>,
    /// The latest batch merged.
    merged_seq: u64,
    /// Counts the times entries were dropped (evicted, forgotten): a profile read from the
    /// store while its viewer was missing is still the one to merge onto if nothing was dropped
    /// since (see [`Working::generation`]).
    generation: u64,
}

/// What stands for "the same" profile when deciding how soon it must be written: every state
/// field's current value (the status), the media session the viewer is in, and the ad.
fn significance(state: &ProfileState) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for (name, window) in &state.states {
        name.hash(&mut h);
        window.current().map(|(v, _)| v).hash(&mut h);
    }
    state.current_session().map(|(id, _)| id).hash(&mut h);
    state.cells.fields.get("ad").map(|r| r.value.as_str()).hash(&mut h);
    h.finish()
}

/// Events an entry keeps unwritten at most: past it, the entry is written at once, so that a
/// viewer sending many events between writes does not hold them all in memory.
pub const MAX_PENDING: usize = 64;

/// The most an event can add to a profile's encoded size: every delta a new entry, every
/// value at its full length (measured without writing it out).
fn growth_bound(apply: &Apply) -> usize {
    use liveviewer_wire::Delta;
    apply
        .deltas
        .iter()
        .map(|d| {
            let text = match d {
                Delta::State { field, value } => field.len() + value.len(),
                Delta::Set { field, value, session } => field.len() + json_len(value) + session.as_ref().map_or(0, String::len),
                Delta::Max { field, session, .. } => field.len() + session.as_ref().map_or(0, String::len),
                Delta::Add { field, session, .. } => field.len() + session.as_ref().map_or(0, String::len),
            };
            // Keys, lengths, a window slot, a kept dedupe key, a new session's record.
            text + 96
        })
        .sum::<usize>()
        + apply.event.len()
        + 32
}

/// At least the length of `v` written as JSON.
fn json_len(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => 24,
        // Escapes can double a string at most... and \u escapes make six of one byte.
        Value::String(s) => 2 + 6 * s.len(),
        Value::Array(a) => 2 + a.iter().map(|x| json_len(x) + 1).sum::<usize>(),
        Value::Object(o) => 2 + o.iter().map(|(k, x)| 6 * k.len() + 4 + json_len(x)).sum::<usize>(),
    }
}

impl Working {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn dirty(&self) -> usize {
        self.unwritten.values().sum()
    }

    /// The viewers among `viewers` that must be loaded first.
    pub fn missing<'a>(&self, viewers: impl Iterator<Item = &'a String>) -> Vec<String> {
        viewers.filter(|v| !self.entries.contains_key(*v)).cloned().collect()
    }

    /// Changes whenever entries are dropped. A viewer missing when the generation was `g` and
    /// missing still at `g` was not in the set in between, so this host did not write it
    /// meanwhile and a profile read from the store then is still the one to merge onto (another
    /// host's write in between is caught by the revision condition, as always).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Adds a loaded profile, or a new one for a viewer the store does not know.
    pub fn insert(&mut self, viewer: &str, stored: Option<Stored>) {
        let entry = match stored {
            Some(s) => Entry::new(s.state, s.rev),
            None => Entry::new(ProfileState::new(viewer), 0),
        };
        self.entries.insert(viewer.to_owned(), entry);
    }

    pub fn get(&self, viewer: &str) -> Option<&Entry> {
        self.entries.get(viewer)
    }

    /// The next batch's number.
    pub fn next_seq(&mut self) -> u64 {
        self.merged_seq += 1;
        self.merged_seq
    }

    pub fn merged_seq(&self) -> u64 {
        self.merged_seq
    }

    /// The latest batch all of whose changes are written.
    pub fn durable_seq(&self) -> u64 {
        match self.unwritten.keys().next() {
            Some(first) => first - 1,
            None => self.merged_seq,
        }
    }

    /// Whether merging `events` would take the viewer's profile past `max_bytes`: exactly
    /// checked (a trial merge, encoded) only when the cheap bound says it might.
    pub fn would_exceed(&self, viewer: &str, events: &[(usize, &Apply)], max_bytes: usize, version: &str, bounds: &Bounds) -> bool {
        let Some(entry) = self.entries.get(viewer) else { return false };
        let bound = entry.state.size_hint() + events.iter().map(|(_, a)| growth_bound(a)).sum::<usize>();
        if bound <= max_bytes {
            return false;
        }
        let trial: Vec<Event<'_>> = events.iter().map(|(i, a)| Event { index: *i, apply: a, watermark: None }).collect();
        merge_viewer(entry.state.clone(), &trial, version, bounds).state.encode().len() > max_bytes
    }

    /// Merges one viewer's events of batch `seq` and schedules the write.
    #[allow(clippy::too_many_arguments)]
    pub fn merge(
        &mut self,
        viewer: &str,
        events: Vec<(Apply, Option<Position>, Origin)>,
        seq: u64,
        urgent: bool,
        version: &str,
        bounds: &Bounds,
        policy: &Policy,
    ) -> Merged {
        let entry = self.entries.get_mut(viewer).expect("loaded before merging");
        entry.last_used = Instant::now();
        let refs: Vec<Event<'_>> = events.iter().enumerate().map(|(i, (a, w, _))| Event { index: i, apply: a, watermark: w.clone() }).collect();
        let before = significance(&entry.state);
        let m = merge_viewer(std::mem::take(&mut entry.state), &refs, version, bounds);
        let applied_positions: Vec<usize> = m.applied_positions.clone();
        entry.state = m.state;
        let out = Merged { applied: m.applied, duplicates: m.duplicates, dropped_deltas: m.dropped_deltas, new_logs: m.new_logs, changed: m.applied > 0 };
        if m.applied == 0 {
            return out;
        }
        entry.history.extend(m.history);
        let was_dirty = entry.first_seq();
        let mut events: Vec<Option<(Apply, Option<Position>, Origin)>> = events.into_iter().map(Some).collect();
        for i in applied_positions {
            let (apply, watermark, origin) = events[i].take().expect("each event once");
            entry.pending.push(Pending { apply, watermark, origin, seq });
        }
        let significant = urgent || entry.pending.len() >= MAX_PENDING || significance(&entry.state) != before;
        let wait = if significant { policy.flush_interval } else { policy.progress_interval };
        let due = Instant::now() + wait;
        entry.due = Some(entry.due.map_or(due, |d| d.min(due)));
        if was_dirty.is_none() {
            *self.unwritten.entry(seq).or_insert(0) += 1;
        }
        out
    }

    /// Takes the writes that are due at `now` (every dirty entry when `all`), at most `max`,
    /// those due longest first: each profile encoded once, with the history rows to write
    /// before it.
    pub fn take_due(&mut self, now: Instant, all: bool, max: usize) -> Vec<Job> {
        let mut due: Vec<(Instant, &String)> =
            self.entries.iter().filter_map(|(k, e)| e.due.filter(|d| all || *d <= now).map(|d| (d, k))).collect();
        if due.len() > max {
            due.select_nth_unstable(max);
            due.truncate(max);
        }
        let viewers: Vec<String> = due.into_iter().map(|(_, k)| k.clone()).collect();
        let mut jobs = Vec::with_capacity(viewers.len());
        for viewer in viewers {
            let entry = self.entries.get_mut(&viewer).expect("listed above");
            let write = Write::new(&entry.state, entry.stored_rev);
            let meta = JobMeta { viewer, expected_rev: entry.stored_rev, history: std::mem::take(&mut entry.history), covered: entry.pending.len() };
            jobs.push(Job { write, meta });
        }
        jobs
    }

    /// The write landed: the events it covered are settled (and handed back, for the caller
    /// to drop once it has let go of the working set: freeing thousands of outcomes under the
    /// lock held the batch behind waiting); what was merged since stays due.
    pub fn written(&mut self, job: JobMeta) -> Vec<Pending> {
        let Some(entry) = self.entries.get_mut(&job.viewer) else { return Vec::new() };
        let first_before = entry.first_seq();
        entry.stored_rev = job.expected_rev + 1;
        let settled: Vec<Pending> = entry.pending.drain(..job.covered.min(entry.pending.len())).collect();
        if entry.pending.is_empty() {
            entry.due = None;
        }
        let first_after = entry.first_seq();
        self.move_unwritten(first_before, first_after);
        settled
    }

    /// Another writer got there first: `stored` is its profile; this host's unwritten events
    /// are merged onto it again and the entry is due at once. The merge's history rows are
    /// written again too (they are idempotent).
    pub fn rebase(&mut self, viewer: &str, stored: Option<Stored>, version: &str, bounds: &Bounds, history: Vec<HistoryRow>) {
        let Some(entry) = self.entries.get_mut(viewer) else { return };
        let (state, rev) = match stored {
            Some(s) => (s.state, s.rev),
            None => (ProfileState::new(viewer), 0),
        };
        let refs: Vec<Event<'_>> = entry.pending.iter().enumerate().map(|(i, p)| Event { index: i, apply: &p.apply, watermark: p.watermark.clone() }).collect();
        let m = merge_viewer(state, &refs, version, bounds);
        entry.state = m.state;
        entry.stored_rev = rev;
        entry.history.extend(history);
        entry.history.extend(m.history);
        entry.due = Some(Instant::now());
    }

    /// The write will not be made (the store refused the profile for good): the entry goes,
    /// and its unwritten events are returned for the dead letters. The next event of the
    /// viewer loads the stored profile again.
    pub fn refused(&mut self, viewer: &str) -> Vec<Pending> {
        let Some(entry) = self.entries.remove(viewer) else { return Vec::new() };
        let first = entry.first_seq();
        self.move_unwritten(first, None);
        entry.pending
    }

    /// A write to be tried again later (throttled): its history rows go back.
    pub fn retry_later(&mut self, job: JobMeta) {
        if let Some(entry) = self.entries.get_mut(&job.viewer) {
            let mut history = job.history;
            history.append(&mut entry.history);
            entry.history = history;
        }
    }

    fn move_unwritten(&mut self, from: Option<u64>, to: Option<u64>) {
        if from == to {
            return;
        }
        if let Some(f) = from {
            if let Some(n) = self.unwritten.get_mut(&f) {
                *n -= 1;
                if *n == 0 {
                    self.unwritten.remove(&f);
                }
            }
        }
        if let Some(t) = to {
            *self.unwritten.entry(t).or_insert(0) += 1;
        }
    }

    /// Drops written entries, least recently used first, until at most `keep` remain (dirty
    /// entries cannot go before they are written).
    pub fn evict(&mut self, keep: usize) {
        if self.entries.len() <= keep {
            return;
        }
        // A tenth of headroom, so that a full set does not sort on every batch.
        let target = keep - keep / 10;
        let mut clean: Vec<(Instant, String)> =
            self.entries.iter().filter(|(_, e)| !e.dirty()).map(|(k, e)| (e.last_used, k.clone())).collect();
        clean.sort_unstable();
        let excess = self.entries.len().saturating_sub(target);
        for (_, k) in clean.into_iter().take(excess) {
            self.entries.remove(&k);
        }
        self.generation += 1;
    }

    /// Forgets every written entry: after a rebalance, another host may have written them.
    pub fn forget_written(&mut self) {
        self.entries.retain(|_, e| e.dirty());
        self.generation += 1;
    }

    /// When the next entry is due.
    pub fn next_due(&self) -> Option<Instant> {
        self.entries.values().filter_map(|e| e.due).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liveviewer_wire::{Delta, OrderKey};
    use serde_json::json;

    const POLICY: Policy = Policy { flush_interval: Duration::from_millis(100), progress_interval: Duration::from_secs(60) };

    fn event(ts: i64, status: &str, position: f64) -> (Apply, Option<Position>, Origin) {
        let apply = Apply {
            viewer: "v".into(),
            event: "ping_event".into(),
            at: OrderKey { ts, rank: 30, id: format!("e{ts}") },
            deltas: vec![
                Delta::State { field: "status".into(), value: status.into() },
                Delta::Set { field: "media".into(), value: json!({"current_time": position}), session: None },
            ],
        };
        let at = Position { source: "t/0".into(), offset: ts, timestamp: Some(ts) };
        (apply, Some(at), Origin::Kafka { topic: "t".into(), partition: 0, offset: ts, timestamp: Some(ts) })
    }

    /// Viewer `v{i}`, new, with one event merged (unwritten).
    fn add_viewer(w: &mut Working, i: i64) {
        let v = format!("v{i}");
        w.insert(&v, None);
        let seq = w.next_seq();
        let (mut a, wm, o) = event(i, "W", 1.0);
        a.viewer = v.clone();
        w.merge(&v, vec![(a, wm, o)], seq, false, "m", &Bounds::default(), &POLICY);
    }

    fn working() -> Working {
        let mut w = Working::default();
        w.insert("v", None);
        w
    }

    #[test]
    fn a_status_change_is_due_soon_and_progress_waits() {
        let mut w = working();
        let seq = w.next_seq();
        w.merge("v", vec![event(1, "WATCHING", 1.0)], seq, false, "m", &Bounds::default(), &POLICY);
        let due = w.get("v").unwrap().due.unwrap();
        assert!(due <= Instant::now() + POLICY.flush_interval);
        // Written; then a ping that only moves the position.
        let jobs = w.take_due(Instant::now() + Duration::from_secs(1), false, usize::MAX);
        assert_eq!(jobs.len(), 1);
        w.written(jobs.into_iter().next().unwrap().meta);
        let seq = w.next_seq();
        w.merge("v", vec![event(2, "WATCHING", 2.0)], seq, false, "m", &Bounds::default(), &POLICY);
        let due = w.get("v").unwrap().due.unwrap();
        assert!(due > Instant::now() + Duration::from_secs(30), "progress only: written within the longer interval");
        assert!(w.take_due(Instant::now() + Duration::from_secs(1), false, usize::MAX).is_empty());
        // The same ping from an ingest request (no redelivery) is due at once.
        let seq = w.next_seq();
        w.merge("v", vec![event(3, "WATCHING", 3.0)], seq, true, "m", &Bounds::default(), &POLICY);
        assert_eq!(w.take_due(Instant::now() + Duration::from_secs(1), false, usize::MAX).len(), 1);
    }

    #[test]
    fn a_round_takes_at_most_its_share_those_due_longest_first() {
        let mut w = working();
        for i in 1..=4 {
            add_viewer(&mut w, i);
            std::thread::sleep(Duration::from_millis(2));
        }
        let late = Instant::now() + Duration::from_secs(60);
        let first = w.take_due(late, false, 2);
        let mut names: Vec<&str> = first.iter().map(|j| j.meta.viewer.as_str()).collect();
        names.sort();
        assert_eq!(names, ["v1", "v2"]);
        for j in first {
            w.written(j.meta);
        }
        let mut rest: Vec<String> = w.take_due(late, false, 10).into_iter().map(|j| j.meta.viewer).collect();
        rest.sort();
        assert_eq!(rest, ["v3", "v4"]);
    }

    #[test]
    fn a_batch_is_durable_once_every_change_of_it_is_written() {
        let mut w = working();
        w.insert("u", None);
        let s1 = w.next_seq();
        w.merge("v", vec![event(1, "W", 1.0)], s1, false, "m", &Bounds::default(), &POLICY);
        assert_eq!(w.durable_seq(), 0);
        let jobs = w.take_due(Instant::now(), true, usize::MAX);
        // Merged while the write was in flight: the write does not cover it.
        let s2 = w.next_seq();
        w.merge("v", vec![event(2, "P", 1.0)], s2, false, "m", &Bounds::default(), &POLICY);
        for j in jobs {
            w.written(j.meta);
        }
        assert_eq!(w.durable_seq(), s1, "batch 1 written, batch 2 not yet");
        assert_eq!(w.get("v").unwrap().pending.len(), 1);
        for j in w.take_due(Instant::now(), true, usize::MAX) {
            w.written(j.meta);
        }
        assert_eq!(w.durable_seq(), s2);
        assert_eq!(w.dirty(), 0);
        // A batch that changed nothing is durable at once.
        let s3 = w.next_seq();
        assert_eq!(w.durable_seq(), s3);
    }

    #[test]
    fn a_lost_conditional_write_is_repaired_by_merging_the_unwritten_events_again() {
        let mut w = working();
        let s1 = w.next_seq();
        w.merge("v", vec![event(5, "W", 5.0)], s1, false, "m", &Bounds::default(), &POLICY);
        let job = w.take_due(Instant::now(), true, usize::MAX).pop().unwrap();
        // Another host stored a profile with an older event of its own.
        let mut theirs = ProfileState::new("v");
        let (a, _, _) = event(1, "P", 1.0);
        theirs.apply(&a, &Bounds::default());
        w.rebase("v", Some(Stored { state: theirs, rev: 7 }), "m", &Bounds::default(), job.meta.history);
        let e = w.get("v").unwrap();
        assert_eq!(e.stored_rev, 7);
        assert_eq!(e.state.revision, 2, "their event and ours");
        assert_eq!(e.state.states["status"].current().unwrap().0, "W", "ours is newer");
        let job = w.take_due(Instant::now(), false, usize::MAX).pop().expect("due at once");
        assert_eq!(job.write.expected_rev, 7);
        w.written(job.meta);
        assert_eq!(w.durable_seq(), s1);
    }

    #[test]
    fn only_written_entries_are_evicted() {
        let mut w = Working::default();
        for i in 0..200 {
            add_viewer(&mut w, i);
            if i < 150 {
                for j in w.take_due(Instant::now(), true, usize::MAX) {
                    w.written(j.meta);
                }
            }
        }
        w.evict(100);
        assert!(w.len() <= 100, "{}", w.len());
        assert_eq!(w.dirty(), 50, "the 50 unwritten stay");
    }

    /// A profile read ahead of a batch's turn is merged onto only while the generation holds:
    /// adding and merging keep it, any dropped entry changes it.
    #[test]
    fn the_generation_changes_exactly_when_entries_are_dropped() {
        let mut w = Working::default();
        let g0 = w.generation();
        for i in 0..20 {
            add_viewer(&mut w, i);
        }
        for j in w.take_due(Instant::now(), true, usize::MAX) {
            w.written(j.meta);
        }
        w.evict(100);
        assert_eq!(w.generation(), g0, "inserts, merges, writes and an eviction under the cap drop nothing");
        assert_eq!(w.missing([&"v3".to_owned(), &"new".to_owned()].into_iter()), vec!["new".to_owned()]);
        w.evict(10);
        let g1 = w.generation();
        assert_ne!(g1, g0, "evicted");
        assert!(w.len() <= 10);
        w.forget_written();
        assert_ne!(w.generation(), g1, "forgotten after a rebalance");
        assert_eq!(w.len(), 0);
    }
}
