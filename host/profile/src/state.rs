//! The stored form of a viewer profile: a state-based CRDT. Merging an event's deltas is
//! commutative, associative and idempotent, so the profile is the same whatever the arrival
//! order and however often an event is delivered. Every part is bounded.

pub use super::bounds::Bounds;
pub use super::cells::{Cells, Register};
pub use super::counter::{Counted, SumCell};
pub use super::window::StateWindow;
use super::key::{fnv1a, Key};
use liveviewer_wire::outcome::Apply;
use liveviewer_wire::Delta;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a record was read: its partition (`topic/partition`), offset, and the broker's
/// timestamp of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub source: String,
    pub offset: i64,
    pub timestamp: Option<i64>,
}

/// What a profile makes of a record's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Past everything merged from its partition.
    New,
    /// At or below the watermark: a redelivery, not merged again.
    Merged,
    /// At or below the watermark but newer than its log: the partition's log started again.
    NewLog,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub first: Key,
    pub last: Key,
    pub cells: Cells,
}

/// Sessions folded into the totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Retired {
    pub sessions: u64,
    pub numbers: BTreeMap<String, f64>,
    /// Hashes of the folded sessions' ids, oldest first.
    pub ids: Vec<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileState {
    pub viewer_id: String,
    /// Event time of the viewer's first and last applied events.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub states: BTreeMap<String, StateWindow>,
    pub cells: Cells,
    pub sessions: BTreeMap<String, SessionRecord>,
    pub retired: Retired,
    /// The module version of the latest write.
    pub module_version: String,
    /// Per source partition, the highest offset already merged: a redelivered event at or
    /// below it is not applied again.
    pub watermarks: BTreeMap<String, i64>,
    /// Per source partition, the latest record time (the broker's timestamp) merged from the
    /// log the watermark belongs to. A record at or below the watermark but stamped after this
    /// is not a redelivery: the log started again (a topic re-created, a group moved to another
    /// cluster), and its events are new.
    pub watermark_times: BTreeMap<String, i64>,
    /// How many events have been merged into this profile: it only grows, and the same
    /// events give the same number whatever the order and the batching, so a copy of the
    /// profile with a lower revision is older (the changelog's consumers drop it). Stored
    /// beside the postcard body, so that profiles stored before it existed still decode.
    #[serde(skip)]
    pub revision: u64,
}

impl ProfileState {
    pub fn new(viewer_id: &str) -> Self {
        ProfileState { viewer_id: viewer_id.to_owned(), ..Default::default() }
    }

    /// Merges one event's deltas; returns how many a bound dropped.
    pub fn apply(&mut self, apply: &Apply, bounds: &Bounds) -> usize {
        let at = Key::from(&apply.at);
        self.revision += 1;
        self.first_seen = Some(self.first_seen.map_or(at.ts, |f| f.min(at.ts)));
        self.last_seen = Some(self.last_seen.map_or(at.ts, |l| l.max(at.ts)));
        let mut dropped = 0;
        for delta in &apply.deltas {
            let merged = match (delta, delta.session()) {
                (Delta::State { field, value }, _) => {
                    // As for the cells: past the bound, the smallest names are kept.
                    let mut complete = true;
                    if self.states.len() >= bounds.fields && !self.states.contains_key(field) {
                        match self.states.last_key_value() {
                            Some((largest, _)) if field < largest => {
                                self.states.pop_last();
                                complete = false;
                            }
                            _ => {
                                dropped += 1;
                                continue;
                            }
                        }
                    }
                    self.states.entry(field.clone()).or_default().merge(at, value, bounds.state_window);
                    complete
                }
                (_, None) => self.cells.merge(at, delta, bounds, bounds.fields),
                (_, Some(session)) => {
                    if self.retired.ids.contains(&fnv1a(session.as_bytes())) {
                        continue;
                    }
                    let record = self
                        .sessions
                        .entry(session.to_owned())
                        .or_insert_with(|| SessionRecord { first: at, last: at, cells: Cells::default() });
                    record.first = record.first.min(at);
                    record.last = record.last.max(at);
                    record.cells.merge(at, delta, bounds, bounds.session_fields)
                }
            };
            dropped += usize::from(!merged);
        }
        self.retire(bounds);
        dropped
    }

    /// Folds old sessions into the totals: those past the horizon, then the oldest past the cap.
    fn retire(&mut self, bounds: &Bounds) {
        let Some(newest) = self.last_seen else { return };
        loop {
            let oldest = self.sessions.iter().min_by_key(|(_, r)| r.last).map(|(id, r)| (id.clone(), r.last));
            let Some((id, last)) = oldest else { return };
            let past_horizon = last.ts < newest.saturating_sub(bounds.session_horizon_ms);
            if !past_horizon && self.sessions.len() <= bounds.live_sessions {
                return;
            }
            let record = self.sessions.remove(&id).expect("just found");
            self.retired.sessions += 1;
            for (name, v) in record.cells.numbers() {
                *self.retired.numbers.entry(name.to_owned()).or_insert(0.0) += v;
            }
            self.retired.ids.push(fnv1a(id.as_bytes()));
            if self.retired.ids.len() > bounds.retired_ids {
                self.retired.ids.remove(0);
            }
        }
    }

    /// The media session the viewer is in now: the one with the latest event.
    pub fn current_session(&self) -> Option<(&str, &SessionRecord)> {
        self.sessions.iter().max_by_key(|(_, r)| r.last).map(|(id, r)| (id.as_str(), r))
    }

    /// At least the size [`ProfileState::encode`] would give, computed without encoding:
    /// cheap enough to check on every merge, and exact enough to rule out the profile size
    /// limit but for profiles near it.
    pub fn size_hint(&self) -> usize {
        use crate::cells::{KEY, VARINT};
        let strings = |m: &BTreeMap<String, i64>| -> usize { m.keys().map(|k| k.len() + 2 * VARINT).sum() };
        let states: usize = self
            .states
            .iter()
            .map(|(k, w)| k.len() + 2 * VARINT + w.events.iter().map(|(_, v)| KEY + VARINT + v.len()).sum::<usize>())
            .sum();
        let sessions: usize = self.sessions.iter().map(|(id, r)| id.len() + VARINT + 2 * KEY + r.cells.size_hint()).sum();
        let retired = 2 * VARINT + self.retired.numbers.keys().map(|k| k.len() + VARINT + 8).sum::<usize>() + self.retired.ids.len() * VARINT;
        1 + 2 * VARINT
            + self.viewer_id.len()
            + 2 * (VARINT + 1)
            + VARINT
            + states
            + self.cells.size_hint()
            + VARINT
            + sessions
            + retired
            + VARINT
            + self.module_version.len()
            + strings(&self.watermarks)
            + strings(&self.watermark_times)
    }

    /// Where a record stands against what was merged from its partition.
    pub fn position(&self, at: &Position) -> Seen {
        let Some(w) = self.watermarks.get(&at.source) else { return Seen::New };
        if at.offset > *w {
            return Seen::New;
        }
        match (at.timestamp, self.watermark_times.get(&at.source)) {
            // Later than anything merged from this partition's log, at an offset already
            // passed: the log itself is new.
            (Some(t), Some(latest)) if t > *latest => Seen::NewLog,
            _ => Seen::Merged,
        }
    }

    /// Remembers a merged record's position.
    pub fn record_position(&mut self, at: &Position) {
        let fresh_log = self.position(at) == Seen::NewLog;
        let w = self.watermarks.entry(at.source.clone()).or_insert(at.offset);
        if fresh_log {
            *w = at.offset;
            self.watermark_times.remove(&at.source);
        } else {
            *w = (*w).max(at.offset);
        }
        if let Some(t) = at.timestamp {
            let latest = self.watermark_times.entry(at.source.clone()).or_insert(t);
            *latest = (*latest).max(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liveviewer_wire::OrderKey;
    use serde_json::json;

    fn apply(ts: i64, id: &str, deltas: Vec<Delta>) -> Apply {
        Apply { viewer: "v".into(), event: "e".into(), at: OrderKey { ts, rank: 30, id: id.into() }, deltas }
    }

    fn set(field: &str, v: serde_json::Value) -> Delta {
        Delta::Set { field: field.into(), value: v, session: None }
    }

    fn state(field: &str, v: &str) -> Delta {
        Delta::State { field: field.into(), value: v.into() }
    }

    fn merged(events: &[Apply]) -> ProfileState {
        let mut s = ProfileState::new("v");
        for e in events {
            s.apply(e, &Bounds::default());
        }
        s
    }

    #[test]
    fn last_writer_wins_by_event_time_not_arrival() {
        let a = apply(1, "a", vec![set("label", json!("old"))]);
        let b = apply(2, "b", vec![set("label", json!("new"))]);
        assert_eq!(merged(&[a.clone(), b.clone()]), merged(&[b, a]));
        let s = merged(&[apply(2, "b", vec![set("label", json!("new"))]), apply(1, "a", vec![set("label", json!("old"))])]);
        assert_eq!(s.cells.fields["label"].value, "\"new\"");
    }

    #[test]
    fn equal_keys_resolve_the_same_way_in_any_order() {
        let a = apply(1, "same", vec![set("x", json!(1))]);
        let b = apply(1, "same", vec![set("x", json!(2))]);
        assert_eq!(merged(&[a.clone(), b.clone()]), merged(&[b, a]));
    }

    #[test]
    fn max_counters_and_repeats() {
        let m = |v| Delta::Max { field: "ads".into(), value: v, session: Some("s".into()) };
        let events = [apply(1, "a", vec![m(1.0)]), apply(3, "c", vec![m(3.0)]), apply(2, "b", vec![m(2.0)])];
        let s = merged(&[events[0].clone(), events[1].clone(), events[2].clone(), events[1].clone()]);
        assert_eq!(s.sessions["s"].cells.maxes["ads"], 3.0);
        assert_eq!(s.sessions["s"].first.ts, 1);
        assert_eq!(s.sessions["s"].last.ts, 3);
    }

    #[test]
    fn adds_count_once_per_dedupe_key() {
        let add = |k: &str| Delta::Add { field: "seeks".into(), value: 1.0, dedupe: k.into(), session: None };
        let s = merged(&[apply(1, "a", vec![add("a")]), apply(2, "b", vec![add("b")]), apply(1, "a", vec![add("a")])]);
        assert_eq!(s.cells.sums["seeks"].total, 2.0);
    }

    #[test]
    fn state_since_is_the_start_of_the_last_run() {
        let s = merged(&[
            apply(1, "a", vec![state("status", "W")]),
            apply(3, "c", vec![state("status", "P")]),
            apply(4, "d", vec![state("status", "P")]),
            apply(2, "b", vec![state("status", "P")]),
        ]);
        let (value, since) = s.states["status"].current().unwrap();
        assert_eq!((value, since.ts), ("P", 2));
    }

    #[test]
    fn state_window_is_bounded_and_order_free() {
        let bounds = Bounds { state_window: 4, ..Bounds::default() };
        let events: Vec<Apply> = (0..10)
            .map(|i| apply(i, &format!("e{i}"), vec![state("status", if i < 7 { "W" } else { "P" })]))
            .collect();
        let mut fwd = ProfileState::new("v");
        let mut rev = ProfileState::new("v");
        for e in &events {
            fwd.apply(e, &bounds);
        }
        for e in events.iter().rev() {
            rev.apply(e, &bounds);
        }
        assert_eq!(fwd, rev);
        assert_eq!(fwd.states["status"].events.len(), 4);
        assert_eq!(fwd.states["status"].current().unwrap().1.ts, 7);
    }

    #[test]
    fn old_sessions_fold_into_totals() {
        let bounds = Bounds { live_sessions: 2, ..Bounds::default() };
        let mut s = ProfileState::new("v");
        for (i, sid) in ["s1", "s2", "s3"].iter().enumerate() {
            let d = Delta::Max { field: "ads".into(), value: 2.0, session: Some((*sid).into()) };
            s.apply(&apply(i as i64, sid, vec![d]), &bounds);
        }
        assert_eq!(s.sessions.len(), 2);
        assert!(!s.sessions.contains_key("s1"));
        assert_eq!(s.retired.sessions, 1);
        assert_eq!(s.retired.numbers["ads"], 2.0);
        // A late event of the folded session is not counted again.
        let late = Delta::Max { field: "ads".into(), value: 5.0, session: Some("s1".into()) };
        s.apply(&apply(0, "late", vec![late]), &bounds);
        assert_eq!(s.sessions.len(), 2);
        assert_eq!(s.retired.numbers["ads"], 2.0);
    }

    #[test]
    fn fields_and_values_are_bounded() {
        let bounds = Bounds { fields: 3, value_bytes: 16, ..Bounds::default() };
        let mut s = ProfileState::new("v");
        let many: Vec<Delta> = (0..10).map(|i| set(&format!("f{i}"), json!(i))).collect();
        assert_eq!(s.apply(&apply(1, "a", many), &bounds), 7);
        assert_eq!(s.cells.fields.len(), 3);
        // A known field still updates; a value over the size bound is dropped.
        assert_eq!(s.apply(&apply(2, "b", vec![set("f0", json!("x"))]), &bounds), 0);
        assert_eq!(s.apply(&apply(3, "c", vec![set("f1", json!("y".repeat(20)))]), &bounds), 1);
        assert_eq!(s.cells.fields["f0"].value, "\"x\"");
    }

    #[test]
    fn the_size_hint_is_never_below_the_encoded_size() {
        let mut s = ProfileState::new("viewer-with-a-long-enough-id");
        let mut events = Vec::new();
        for i in 0..200 {
            let session = format!("session-{}", i % 20);
            let deltas = vec![
                state("status", if i % 3 == 0 { "WATCHING_VIDEO" } else { "PAUSED_VIDEO" }),
                set("media", json!({"label": format!("label {i}"), "current_time": i as f64 * 1.5})),
                Delta::Max { field: "time_played".into(), value: i as f64, session: Some(session.as_str().into()) },
                Delta::Add { field: "seeks".into(), value: 1.0, dedupe: format!("e{i}"), session: Some(session.into()) },
            ];
            events.push(apply(i * 1000, &format!("e{i}"), deltas));
        }
        for (i, e) in events.iter().enumerate() {
            s.apply(e, &Bounds::default());
            s.record_position(&Position { source: "t/0".into(), offset: i as i64, timestamp: Some(i as i64) });
            let exact = s.encode().len();
            assert!(s.size_hint() >= exact, "after {} events: hint {} < encoded {exact}", i + 1, s.size_hint());
            assert!(s.size_hint() < exact * 4 + 256, "and not wildly above: {} vs {exact}", s.size_hint());
        }
    }

    #[test]
    fn watermarks() {
        let mut s = merged(&[apply(1, "a", vec![set("x", json!({"a": [1, 2]}))])]);
        let at = |offset, timestamp| Position { source: "t/0".into(), offset, timestamp };
        s.record_position(&at(5, Some(500)));
        s.record_position(&at(3, Some(300)));
        assert_eq!(s.position(&at(5, Some(500))), Seen::Merged);
        assert_eq!(s.position(&at(4, None)), Seen::Merged);
        assert_eq!(s.position(&at(6, Some(600))), Seen::New);
        assert_eq!(s.position(&Position { source: "t/1".into(), offset: 0, timestamp: None }), Seen::New);
        // The topic was re-created: offset 0 again, stamped after everything merged.
        assert_eq!(s.position(&at(0, Some(700))), Seen::NewLog);
        s.record_position(&at(0, Some(700)));
        assert_eq!((s.watermarks["t/0"], s.watermark_times["t/0"]), (0, 700));
        assert_eq!(s.position(&at(0, Some(700))), Seen::Merged, "its redelivery is one");
        assert_eq!(s.position(&at(1, Some(710))), Seen::New);
    }

    #[test]
    fn revisions_count_merged_events_whatever_the_order() {
        let events: Vec<Apply> = (0..3).map(|i| apply(i, &format!("e{i}"), vec![set("x", json!(i))])).collect();
        let forward = merged(&events);
        let backward = merged(&events.iter().rev().cloned().collect::<Vec<_>>());
        assert_eq!((forward.revision, backward.revision), (3, 3));
    }
}
