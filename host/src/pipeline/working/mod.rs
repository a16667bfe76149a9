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
//!
//! Here: the entries, merging into them, packing and dropping them; `held`: a profile as a tree
//! or packed; `writes`: taking the writes that are due and settling entries by the store's
//! answer; `size`: the bound on a profile's growth.

mod held;
mod size;
mod writes;
use held::Held;
pub use writes::{Job, JobMeta};

use super::merge::{merge_viewer, Event};
use crate::message::Origin;
use crate::profile::state::Position;
use crate::profile::{Bounds, ProfileState};
use crate::store::{HistoryRow, Stored};
use liveviewer_wire::outcome::Apply;
use std::borrow::Cow;
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
    held: Held,
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
        Entry { held: Held::Tree(Box::new(state)), stored_rev, pending: Vec::new(), history: Vec::new(), due: None, last_used: Instant::now() }
    }

    /// The profile (decoded, when it is packed).
    pub fn state(&self) -> Cow<'_, ProfileState> {
        self.held.state()
    }

    pub fn packed(&self) -> bool {
        self.held.is_packed()
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
        let state = entry.held.tree();
        let before = significance(state);
        let m = merge_viewer(std::mem::take(state), &refs, version, bounds);
        let applied_positions: Vec<usize> = m.applied_positions.clone();
        *state = m.state;
        let status_changed = m.applied > 0 && significance(state) != before;
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
        let significant = urgent || entry.pending.len() >= MAX_PENDING || status_changed;
        let wait = if significant { policy.flush_interval } else { policy.progress_interval };
        let due = Instant::now() + wait;
        entry.due = Some(entry.due.map_or(due, |d| d.min(due)));
        if was_dirty.is_none() {
            *self.unwritten.entry(seq).or_insert(0) += 1;
        }
        out
    }

    /// Packs the profiles of written entries last used before `idle_since` (see `held`), at
    /// most `max` of them (each is encoded under the caller's lock); returns how many entries
    /// hold their profile packed now.
    pub fn pack_idle(&mut self, idle_since: Instant, max: usize) -> usize {
        let (mut packed, mut held) = (0, 0);
        for entry in self.entries.values_mut() {
            if packed < max && !entry.dirty() && entry.last_used < idle_since && entry.held.pack() {
                packed += 1;
            }
            held += usize::from(entry.packed());
        }
        held
    }

    /// How many entries hold their profile packed.
    #[cfg(test)]
    pub fn packed(&self) -> usize {
        self.entries.values().filter(|e| e.packed()).count()
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
}

#[cfg(test)]
pub(super) mod fixtures {
    //! What the working set's tests build their cases from.
    use super::*;
    use liveviewer_wire::{Delta, OrderKey};
    use serde_json::json;

    pub const POLICY: Policy = Policy { flush_interval: Duration::from_millis(100), progress_interval: Duration::from_secs(60) };

    pub fn event(ts: i64, status: &str, position: f64) -> (Apply, Option<Position>, Origin) {
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
    pub fn add_viewer(w: &mut Working, i: i64) {
        let v = format!("v{i}");
        w.insert(&v, None);
        let seq = w.next_seq();
        let (mut a, wm, o) = event(i, "W", 1.0);
        a.viewer = v.clone();
        w.merge(&v, vec![(a, wm, o)], seq, false, "m", &Bounds::default(), &POLICY);
    }

    pub fn working() -> Working {
        let mut w = Working::default();
        w.insert("v", None);
        w
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

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

    /// Only written profiles of idle viewers are packed, and a packed profile merges as the
    /// tree it was: the next event finds it exactly as it was left.
    #[test]
    fn idle_written_profiles_are_packed_and_merge_as_before() {
        let (mut packed, mut trees) = (Working::default(), Working::default());
        for w in [&mut packed, &mut trees] {
            for i in 0..3 {
                add_viewer(w, i);
            }
            // Two written, one not.
            for j in w.take_due(Instant::now(), true, 2) {
                w.written(j.meta);
            }
        }
        assert_eq!(packed.pack_idle(Instant::now() - Duration::from_secs(1), usize::MAX), 0, "not idle long enough");
        assert_eq!(packed.pack_idle(Instant::now(), 1), 1, "at most max");
        assert_eq!(packed.pack_idle(Instant::now() + Duration::from_millis(1), usize::MAX), 2, "and the other written one");
        assert_eq!(packed.packed(), 2);
        assert_eq!(packed.dirty(), 1, "the unwritten one is not packed");
        for i in 0..3 {
            let v = format!("v{i}");
            assert_eq!(packed.get(&v).unwrap().state(), trees.get(&v).unwrap().state(), "{v} reads the same packed");
        }
        for w in [&mut packed, &mut trees] {
            for i in 0..3 {
                let v = format!("v{i}");
                let seq = w.next_seq();
                let (mut a, wm, o) = event(100 + i, "PAUSED", 9.0);
                a.viewer = v.clone();
                let m = w.merge(&v, vec![(a, wm, o)], seq, false, "m", &Bounds::default(), &POLICY);
                assert_eq!(m.applied, 1);
            }
        }
        assert_eq!(packed.packed(), 0, "unpacked by their events");
        for i in 0..3 {
            let v = format!("v{i}");
            let (p, t) = (packed.get(&v).unwrap(), trees.get(&v).unwrap());
            assert_eq!(p.state(), t.state(), "{v} merged the same");
            assert_eq!(p.state().revision, 2);
            assert_eq!((p.stored_rev, p.pending.len(), p.dirty()), (t.stored_rev, t.pending.len(), t.dirty()));
        }
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
