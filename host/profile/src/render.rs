//! The profile as JSON, v1 (docs/profile.md). Fixed names first; whatever
//! else a module writes follows at the top level, so a new module's field shows up without a
//! host change.

use super::key::Key;
use super::state::{Cells, ProfileState};
use liveviewer_wire::time::format_millis;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Which "now" decides whether a viewer is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// The machine's clock: right for live traffic.
    #[default]
    Wall,
    /// The newest event time seen: right for replays of recorded traffic.
    Stream,
}

#[derive(Debug, Clone, Copy)]
pub struct RenderContext {
    pub now_ms: i64,
    pub active_window_ms: i64,
}

impl RenderContext {
    pub fn is_active(&self, last_seen: Option<i64>) -> bool {
        last_seen.is_some_and(|l| l >= self.now_ms - self.active_window_ms)
    }
}

/// The counters every session and every total shows, 0 when the tracker never sent them.
pub(crate) const SESSION_COUNTERS: [&str; 11] = [
    "time_played",
    "time_played_muted",
    "time_paused",
    "time_buffering",
    "time_spent_ads",
    "content_watched",
    "ads",
    "ads_completed",
    "ads_clicked",
    "ads_skipped",
    "ad_breaks",
];
const TOTALS: [&str; 6] = ["completed", "time_played", "ads", "ads_completed", "ads_skipped", "ads_clicked"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileV1 {
    pub viewer_id: String,
    pub status: Option<String>,
    pub status_at: Option<String>,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub active: bool,
    pub media: Value,
    pub ad: Value,
    pub session: Value,
    pub totals: Value,
    pub module_version: String,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

pub fn render(state: &ProfileState, ctx: &RenderContext) -> ProfileV1 {
    let status = state.states.get("status").and_then(|w| w.current());
    let mut top = objects(&state.cells);
    let media = top.remove("media").unwrap_or(Value::Null);
    let ad = top.remove("ad").unwrap_or(Value::Null);
    let mut extra: BTreeMap<String, Value> = top.into_iter().collect();
    for (name, window) in &state.states {
        if name == "status" {
            continue;
        }
        if let Some((value, since)) = window.current() {
            extra.insert(name.clone(), Value::String(value.to_owned()));
            extra.insert(format!("{name}_at"), Value::String(format_millis(since.ts)));
        }
    }
    for (name, v) in state.cells.numbers() {
        extra.insert(name.to_owned(), num(v));
    }
    ProfileV1 {
        viewer_id: state.viewer_id.clone(),
        status: status.map(|(v, _)| v.to_owned()),
        status_at: status.map(|(_, since)| format_millis(since.ts)),
        first_seen: state.first_seen.map(format_millis),
        last_seen: state.last_seen.map(format_millis),
        active: ctx.is_active(state.last_seen),
        media,
        ad,
        session: session(state),
        totals: totals(state),
        module_version: state.module_version.clone(),
        extra,
    }
}

/// The registers as JSON values, each `parent.child` laid over its parent object.
fn objects(cells: &Cells) -> Map<String, Value> {
    let mut out = Map::new();
    let mut children = Vec::new();
    for (field, reg) in &cells.fields {
        let value = serde_json::from_str(&reg.value).unwrap_or(Value::Null);
        match field.split_once('.') {
            Some((parent, child)) => children.push((parent, child, value)),
            None => {
                out.insert(field.clone(), value);
            }
        }
    }
    for (parent, child, value) in children {
        if let Some(Value::Object(obj)) = out.get_mut(parent) {
            obj.insert(child.to_owned(), value);
        }
    }
    out
}

fn session(state: &ProfileState) -> Value {
    let Some((id, record)) = state.current_session() else { return Value::Null };
    let mut m = Map::new();
    m.insert("session_id".into(), Value::String(id.to_owned()));
    for name in SESSION_COUNTERS {
        m.insert(name.into(), num(0.0));
    }
    m.insert("avg_playback_rate".into(), Value::Null);
    m.extend(objects(&record.cells));
    for (name, v) in record.cells.numbers() {
        m.insert(name.to_owned(), num(v));
    }
    m.insert("last_event_at".into(), Value::String(format_millis(record.last.ts)));
    Value::Object(m)
}

fn totals(state: &ProfileState) -> Value {
    let (media_sessions, sums) = total_sums(state);
    let mut m = Map::new();
    m.insert("media_sessions".into(), num(media_sessions));
    for (name, v) in sums {
        m.insert(name.to_owned(), num(v));
    }
    Value::Object(m)
}

/// The totals: media sessions ever, and every number summed over the retired sessions and the
/// kept ones (both renderings print these).
pub(crate) fn total_sums(state: &ProfileState) -> (f64, BTreeMap<&str, f64>) {
    let mut sums: BTreeMap<&str, f64> = TOTALS.iter().map(|n| (*n, 0.0)).collect();
    for (name, v) in &state.retired.numbers {
        *sums.entry(name.as_str()).or_insert(0.0) += v;
    }
    // Sessions in id order, so the float sum is the same whatever order they arrived in.
    for record in state.sessions.values() {
        for (name, v) in record.cells.numbers() {
            *sums.entry(name).or_insert(0.0) += v;
        }
    }
    ((state.sessions.len() as u64 + state.retired.sessions) as f64, sums)
}

/// A JSON number, integral when it is; rounded to a millionth so that sums of the same
/// numbers in a different order print the same.
pub fn num(v: f64) -> Value {
    let r = (v * 1e6).round() / 1e6;
    if r.fract() == 0.0 && r.abs() < 9e15 {
        Value::from(r as i64)
    } else {
        serde_json::Number::from_f64(r).map_or(Value::Null, Value::Number)
    }
}

/// The key of a state's current run, for callers that need more than the rendered text.
pub fn status_since(state: &ProfileState) -> Option<Key> {
    state.states.get("status").and_then(|w| w.current()).map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Bounds;
    use liveviewer_wire::outcome::Apply;
    use liveviewer_wire::{Delta, OrderKey};
    use serde_json::json;

    fn ctx() -> RenderContext {
        RenderContext { now_ms: 10_000, active_window_ms: 5_000 }
    }

    fn apply(ts: i64, deltas: Vec<Delta>) -> Apply {
        Apply { viewer: "v".into(), event: "e".into(), at: OrderKey { ts, rank: 30, id: format!("e{ts}") }, deltas }
    }

    #[test]
    fn children_overlay_their_parent_and_nulls_stay_null() {
        let mut s = ProfileState::new("v");
        let set = |f: &str, v| Delta::Set { field: f.into(), value: v, session: None };
        s.apply(&apply(1, vec![set("ad", json!({"ad_id": "1"})), set("ad.quartile", json!(2))]), &Bounds::default());
        let p = render(&s, &ctx());
        assert_eq!(p.ad, json!({"ad_id": "1", "quartile": 2}));
        s.apply(&apply(2, vec![set("ad", Value::Null)]), &Bounds::default());
        assert_eq!(render(&s, &ctx()).ad, Value::Null);
    }

    #[test]
    fn sessions_and_totals() {
        let mut s = ProfileState::new("v");
        let max = |f: &str, v, sid: &str| Delta::Max { field: f.into(), value: v, session: Some(sid.into()) };
        s.apply(&apply(1, vec![max("time_played", 10.5, "a"), max("completed", 1.0, "a")]), &Bounds::default());
        s.apply(&apply(2, vec![max("time_played", 2.25, "b")]), &Bounds::default());
        let p = render(&s, &ctx());
        assert_eq!(p.session["session_id"], "b");
        assert_eq!(p.session["time_played"], json!(2.25));
        assert_eq!(p.session["ads"], json!(0));
        assert_eq!(p.totals["media_sessions"], json!(2));
        assert_eq!(p.totals["time_played"], json!(12.75));
        assert_eq!(p.totals["completed"], json!(1));
        assert!(!p.active, "last event at 2 ms is outside the window");
    }

    #[test]
    fn numbers_print_integral_when_they_are() {
        assert_eq!(num(6.0), json!(6));
        assert_eq!(num(0.1 + 0.2), json!(0.3));
        assert_eq!(num(-1.5), json!(-1.5));
    }
}
