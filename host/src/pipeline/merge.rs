//! Merging one batch's events into one viewer's profile: redeliveries recognised by their
//! watermark are left out, every other event's deltas are merged (the CRDT makes the order
//! irrelevant), and the status changes among them become history rows.

use crate::profile::key::Key;
use crate::profile::state::{Position, Seen};
use crate::profile::{Bounds, ProfileState};
use crate::store::HistoryRow;
use liveviewer_wire::outcome::Apply;
use liveviewer_wire::Delta;

/// One event of a viewer in this batch.
pub struct Event<'a> {
    /// Position in the batch, to report back what became of it.
    pub index: usize,
    pub apply: &'a Apply,
    /// Where the record was read, for redelivering sources.
    pub watermark: Option<Position>,
}

pub struct Merged {
    pub state: ProfileState,
    pub history: Vec<HistoryRow>,
    pub applied: usize,
    /// The `index` of each event applied (the others were redeliveries).
    pub applied_positions: Vec<usize>,
    /// Events already merged on an earlier delivery.
    pub duplicates: usize,
    /// Deltas a profile bound dropped.
    pub dropped_deltas: usize,
    /// Events at offsets already passed whose partition's log started again.
    pub new_logs: usize,
}

pub fn merge_viewer(mut state: ProfileState, events: &[Event<'_>], module_version: &str, bounds: &Bounds) -> Merged {
    let mut applied = Vec::with_capacity(events.len());
    let mut applied_positions = Vec::with_capacity(events.len());
    let mut duplicates = 0;
    let mut new_logs = 0;
    let mut dropped_deltas = 0;
    let mut history = Vec::new();
    for e in events {
        if let Some(at) = &e.watermark {
            match state.position(at) {
                Seen::Merged => {
                    duplicates += 1;
                    continue;
                }
                Seen::NewLog => new_logs += 1,
                Seen::New => {}
            }
        }
        dropped_deltas += state.apply(e.apply, bounds);
        if let Some(at) = &e.watermark {
            state.record_position(at);
        }
        // Judged as each event merges, not once per batch: a long batch would otherwise push
        // its early changes out of the bounded window before they were seen, and the history
        // would depend on how the events were batched.
        history.extend(status_change(&state, e.apply, module_version));
        applied.push(e.apply);
        applied_positions.push(e.index);
    }
    if !applied.is_empty() {
        state.module_version = module_version.to_owned();
    }
    Merged { state, history, applied: applied.len(), applied_positions, duplicates, dropped_deltas, new_logs }
}

/// The history row of `a`, just merged, when it begins a new status in the merged timeline.
fn status_change(state: &ProfileState, a: &Apply, module_version: &str) -> Option<HistoryRow> {
    let window = state.states.get("status")?;
    {
        let status = a.deltas.iter().find_map(|d| match d {
            Delta::State { field, value } if field == "status" => Some(value),
            _ => None,
        })?;
        let key = Key::from(&a.at);
        let i = window.events.binary_search_by(|(k, _)| k.cmp(&key)).ok()?;
        let changed = i == 0 || window.events[i - 1].1 != *status;
        if changed && window.events[i].1 == *status {
            return Some(HistoryRow {
                viewer_id: a.viewer.clone(),
                ts: key.ts,
                event_hash: key.id,
                status: status.clone(),
                event: a.event.clone(),
                media_label: set_value(a, "media", "label"),
                media_session_id: set_value(a, "media", "session_id"),
                ad_id: set_value(a, "ad", "ad_id"),
                module_version: module_version.to_owned(),
            });
        }
    }
    None
}

fn set_value(a: &Apply, field: &str, member: &str) -> Option<String> {
    a.deltas.iter().find_map(|d| match d {
        Delta::Set { field: f, value, session: None } if f == field => value.get(member)?.as_str().map(str::to_owned),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use liveviewer_wire::OrderKey;
    use serde_json::json;

    fn apply(ts: i64, status: &str) -> Apply {
        Apply {
            viewer: "v".into(),
            event: "e".into(),
            at: OrderKey { ts, rank: 30, id: format!("id{ts}") },
            deltas: vec![
                Delta::State { field: "status".into(), value: status.into() },
                Delta::Set { field: "media".into(), value: json!({"label": "L"}), session: None },
            ],
        }
    }

    #[test]
    fn the_history_does_not_depend_on_how_events_were_batched() {
        // More status changes than the state window keeps: one batch must record the early
        // ones too, as batches of one do.
        let events: Vec<Apply> = (0..80).map(|i| apply(i, if i % 2 == 0 { "W" } else { "P" })).collect();
        let refs: Vec<Event<'_>> = events.iter().enumerate().map(|(i, a)| Event { index: i, apply: a, watermark: None }).collect();
        let one_batch = merge_viewer(ProfileState::new("v"), &refs, "m", &Bounds::default());
        let mut state = ProfileState::new("v");
        let mut one_by_one = Vec::new();
        for e in &refs {
            let m = merge_viewer(state, std::slice::from_ref(e), "m", &Bounds::default());
            one_by_one.extend(m.history);
            state = m.state;
        }
        assert_eq!(one_batch.history.len(), 80, "every change recorded");
        assert_eq!(one_batch.history, one_by_one);
    }

    #[test]
    fn redeliveries_are_not_merged_twice_and_changes_become_history() {
        let (a, b, c) = (apply(1, "W"), apply(2, "W"), apply(3, "P"));
        let wm = |o| Some(Position { source: "t/0".to_string(), offset: o, timestamp: Some(o) });
        let events = [
            Event { index: 0, apply: &a, watermark: wm(10) },
            Event { index: 1, apply: &b, watermark: wm(11) },
            Event { index: 2, apply: &c, watermark: wm(12) },
        ];
        let m = merge_viewer(ProfileState::new("v"), &events, "m1", &Bounds::default());
        assert_eq!((m.applied, m.duplicates), (3, 0));
        let rows: Vec<(i64, &str)> = m.history.iter().map(|r| (r.ts, r.status.as_str())).collect();
        assert_eq!(rows, [(1, "W"), (3, "P")]);
        assert_eq!(m.history[0].media_label.as_deref(), Some("L"));
        // The same three again (a redelivery after a crash): nothing changes.
        let again = merge_viewer(m.state.clone(), &events, "m1", &Bounds::default());
        assert_eq!((again.applied, again.duplicates), (0, 3));
        assert_eq!(again.state, m.state);
        assert!(again.history.is_empty());
    }
}
