//! The profile's JSON (docs/profile.md) written straight from the state, for the hot path: every
//! merged batch publishes each changed profile. [`crate::render()`] builds the same document as
//! `serde_json::Value`s, which parses every register's JSON text into a tree and prints it
//! again; here a register's text is copied as it is, and only an object that takes a child
//! (`ad` with `ad.quartile`) is parsed. The text is the one serde prints for the rendered
//! profile with its revision first (a test holds the two equal), so readers of the changelog
//! and of the API see no difference.

use super::render::{num, total_sums, RenderContext, SESSION_COUNTERS};
use super::state::{Cells, ProfileState};
use liveviewer_wire::time::format_millis;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// A member's value, written into the document when it is printed: no string of its own.
enum Part<'a> {
    /// JSON text, as it is.
    Json(Cow<'a, str>),
    /// A string, to escape.
    Str(Cow<'a, str>),
    /// A number, as [`num`] prints it.
    Num(f64),
}

/// An object's members, printed in key order as serde_json prints a map.
type Members<'a> = BTreeMap<Cow<'a, str>, Part<'a>>;

/// A profile written as JSON, with the parts the live view's lists read.
pub struct Written<'a> {
    /// `{"revision":N,` then the profile's fields: what the changelog carries.
    pub json: String,
    /// The members of the `media` object the live view reads ([`crate::media::MEDIA_MEMBERS`];
    /// null when the module wrote none).
    pub media: Value,
    session: Members<'a>,
}

impl Written<'_> {
    /// A number of the current media session (its counters), if it has one by that name.
    pub fn session_number(&self, name: &str) -> Option<f64> {
        match self.session.get(name)? {
            Part::Num(v) => Some(*v),
            Part::Json(text) => text.parse::<f64>().ok(),
            Part::Str(_) => None,
        }
        .filter(|v| v.is_finite())
    }
}

/// The profile with its revision as JSON.
pub fn write<'a>(state: &'a ProfileState, ctx: &RenderContext) -> Written<'a> {
    let mut top = objects(&state.cells);
    let media = top.remove("media");
    let ad = top.remove("ad");
    let mut extra = top;
    for (name, window) in &state.states {
        if name == "status" {
            continue;
        }
        if let Some((value, since)) = window.current() {
            extra.insert(Cow::Borrowed(name.as_str()), Part::Str(value.into()));
            extra.insert(format!("{name}_at").into(), Part::Str(format_millis(since.ts).into()));
        }
    }
    for (name, v) in state.cells.numbers() {
        extra.insert(name.into(), Part::Num(v));
    }
    let session = session(state);
    let status = state.states.get("status").and_then(|w| w.current());
    let time = |t: Option<i64>| t.map_or(Part::Json("null".into()), |t| Part::Str(format_millis(t).into()));

    let mut out = Vec::with_capacity(2048);
    out.extend_from_slice(b"{\"revision\":");
    out.extend_from_slice(state.revision.to_string().as_bytes());
    let member = |out: &mut Vec<u8>, key: &str, part: &Part<'_>| {
        out.push(b',');
        put_str(out, key);
        out.push(b':');
        put(out, part);
    };
    member(&mut out, "viewer_id", &Part::Str(state.viewer_id.as_str().into()));
    member(&mut out, "status", &status.map_or(Part::Json("null".into()), |(v, _)| Part::Str(v.into())));
    member(&mut out, "status_at", &time(status.map(|(_, since)| since.ts)));
    member(&mut out, "first_seen", &time(state.first_seen));
    member(&mut out, "last_seen", &time(state.last_seen));
    member(&mut out, "active", &Part::Json(if ctx.is_active(state.last_seen) { "true" } else { "false" }.into()));
    member(&mut out, "media", media.as_ref().unwrap_or(&Part::Json("null".into())));
    member(&mut out, "ad", ad.as_ref().unwrap_or(&Part::Json("null".into())));
    out.extend_from_slice(b",\"session\":");
    match &session {
        Some(s) => object(&mut out, s),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"totals\":");
    object(&mut out, &totals(state));
    member(&mut out, "module_version", &Part::Str(state.module_version.as_str().into()));
    for (key, part) in &extra {
        member(&mut out, key, part);
    }
    out.push(b'}');
    let media = match media {
        Some(Part::Json(text)) => crate::media::picked(&text),
        _ => Value::Null,
    };
    let json = String::from_utf8(out).expect("JSON written from strings is UTF-8");
    Written { json, media, session: session.unwrap_or_default() }
}

/// The registers as JSON texts, each `parent.child` laid over its parent object.
fn objects(cells: &Cells) -> Members<'_> {
    let mut out = Members::new();
    let mut children: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (field, reg) in &cells.fields {
        match field.split_once('.') {
            Some((parent, child)) => children.entry(parent).or_default().push((child, &reg.value)),
            None => {
                out.insert(Cow::Borrowed(field.as_str()), Part::Json(valid(&reg.value)));
            }
        }
    }
    for (parent, children) in children {
        let Some(Part::Json(text)) = out.get_mut(parent) else { continue };
        let Ok(Value::Object(mut obj)) = serde_json::from_str::<Value>(text) else { continue };
        for (child, value) in children {
            obj.insert(child.to_owned(), serde_json::from_str(value).unwrap_or(Value::Null));
        }
        *text = Cow::Owned(Value::Object(obj).to_string());
    }
    out
}

fn session(state: &ProfileState) -> Option<Members<'_>> {
    let (id, record) = state.current_session()?;
    let mut m = Members::new();
    m.insert("session_id".into(), Part::Str(id.into()));
    for name in SESSION_COUNTERS {
        m.insert(name.into(), Part::Json("0".into()));
    }
    m.insert("avg_playback_rate".into(), Part::Json("null".into()));
    m.extend(objects(&record.cells));
    for (name, v) in record.cells.numbers() {
        m.insert(name.into(), Part::Num(v));
    }
    m.insert("last_event_at".into(), Part::Str(format_millis(record.last.ts).into()));
    Some(m)
}

fn totals(state: &ProfileState) -> Members<'_> {
    let (media_sessions, sums) = total_sums(state);
    let mut m = Members::new();
    m.insert("media_sessions".into(), Part::Num(media_sessions));
    for (name, v) in sums {
        m.insert(name.into(), Part::Num(v));
    }
    m
}

/// A register's text as it is when it is JSON (it always is, unless the store was tampered
/// with): null otherwise, as the parse in [`crate::render()`] gives.
fn valid(text: &str) -> Cow<'_, str> {
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() {
        Cow::Borrowed(text)
    } else {
        Cow::Borrowed("null")
    }
}

fn object(out: &mut Vec<u8>, members: &Members<'_>) {
    out.push(b'{');
    for (i, (key, part)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        put_str(out, key);
        out.push(b':');
        put(out, part);
    }
    out.push(b'}');
}

fn put(out: &mut Vec<u8>, part: &Part<'_>) {
    match part {
        Part::Json(text) => out.extend_from_slice(text.as_bytes()),
        Part::Str(s) => put_str(out, s),
        Part::Num(v) => serde_json::to_writer(out, &num(*v)).expect("numbers serialize"),
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(out, s).expect("strings serialize");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::render;
    use crate::Bounds;
    use liveviewer_wire::outcome::Apply;
    use liveviewer_wire::{Delta, OrderKey};
    use serde_json::json;

    /// What the changelog carried before: the rendered profile after its revision, printed by serde.
    fn serde_text(state: &ProfileState, ctx: &RenderContext) -> String {
        #[derive(serde::Serialize)]
        struct Record {
            revision: u64,
            #[serde(flatten)]
            profile: crate::render::ProfileV1,
        }
        serde_json::to_string(&Record { revision: state.revision, profile: render(state, ctx) }).unwrap()
    }

    fn apply(ts: i64, deltas: Vec<Delta>) -> Apply {
        Apply { viewer: "v\"1".into(), event: "e".into(), at: OrderKey { ts, rank: 30, id: format!("e{ts}") }, deltas }
    }

    #[test]
    fn the_text_is_the_one_serde_prints_for_the_rendered_profile() {
        let ctx = RenderContext { now_ms: 10_000, active_window_ms: 5_000 };
        let mut s = ProfileState::new("v\"1");
        let set = |f: &str, v| Delta::Set { field: f.into(), value: v, session: None };
        let sset = |f: &str, v, sid: &str| Delta::Set { field: f.into(), value: v, session: Some(sid.into()) };
        let max = |f: &str, v, sid: &str| Delta::Max { field: f.into(), value: v, session: Some(sid.into()) };
        let state = |f: &str, v: &str| Delta::State { field: f.into(), value: v.into() };
        let b = Bounds::default();
        assert_eq!(write(&s, &ctx).json, serde_text(&s, &ctx));
        s.apply(&apply(1, vec![set("media", json!({"id": "m", "label": "A \u{1} film", "current_time": 1.5})), set("media.percent", json!(3))]), &b);
        s.apply(&apply(2, vec![set("ad", json!({"ad_id": "1"})), set("ad.quartile", json!(2)), set("zz", json!([1, {"b": null}]))]), &b);
        s.apply(&apply(3, vec![state("status", "WATCHING_VIDEO"), state("mood", "calm"), max("time_played", 10.5, "a"), sset("rate", json!(1.25), "a")]), &b);
        s.apply(&apply(4, vec![max("ads", 2.0, "b"), max("time_played", 0.1 + 0.2, "b"), set("orphan.child", json!(1))]), &b);
        let w = write(&s, &ctx);
        assert_eq!(w.json, serde_text(&s, &ctx));
        assert_eq!(w.media["percent"], json!(3));
        assert_eq!(w.session_number("ads"), Some(2.0));
        assert_eq!(w.session_number("ads_clicked"), Some(0.0));
        assert_eq!(w.session_number("session_id"), None);
    }
}
