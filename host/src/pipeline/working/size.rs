//! How much a merge may add to a profile: a cheap bound per event, and the exact check (a
//! trial merge, encoded) only where the bound says the profile might pass its limit.

use super::Working;
use super::super::merge::{merge_viewer, Event};
use crate::profile::Bounds;
use liveviewer_wire::outcome::Apply;

/// The most an event can add to a profile's encoded size: every delta a new entry, every
/// value at its full length (measured without writing it out).
fn growth_bound(apply: &Apply) -> usize {
    use liveviewer_wire::Delta;
    apply
        .deltas
        .iter()
        .map(|d| {
            let value = match d {
                Delta::State { value, .. } => value.len(),
                Delta::Set { value, .. } => json_len(value),
                Delta::Max { .. } | Delta::Add { .. } => 0,
            };
            let text = d.field().len() + d.session().map_or(0, str::len) + value;
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
    /// Whether merging `events` would take the viewer's profile past `max_bytes`: exactly
    /// checked (a trial merge, encoded) only when the cheap bound says it might.
    pub fn would_exceed(&self, viewer: &str, events: &[(usize, &Apply)], max_bytes: usize, version: &str, bounds: &Bounds) -> bool {
        let Some(entry) = self.entries.get(viewer) else { return false };
        let bound = entry.held.size_hint() + events.iter().map(|(_, a)| growth_bound(a)).sum::<usize>();
        if bound <= max_bytes {
            return false;
        }
        let trial: Vec<Event<'_>> = events.iter().map(|(i, a)| Event { index: *i, apply: a, watermark: None }).collect();
        merge_viewer(entry.state().into_owned(), &trial, version, bounds).state.encode().len() > max_bytes
    }
}
