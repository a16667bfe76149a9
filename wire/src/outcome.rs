//! The per-event result of the module, and the delta vocabulary with its merge semantics.
//!
//! The module says *what* changed; the host owns *how* it is merged. Every delta's semantics
//! make the merged profile independent of arrival order and of repeats:
//!
//! | op      | merge                                                        |
//! |---------|--------------------------------------------------------------|
//! | `state` | last-writer-wins by [`OrderKey`]; the host also keeps since when the value holds |
//! | `set`   | last-writer-wins by [`OrderKey`]                              |
//! | `max`   | maximum (the tracker's cumulative counters)                   |
//! | `add`   | sum, counted once per `dedupe` key                            |
//!
//! A delta with a `session` applies to that media session's record instead of the profile.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;
use std::sync::Arc;

/// One result per input event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    /// A media event for a viewer: merge these deltas into the viewer's profile.
    Apply(Apply),
    /// A well-formed event this logic has nothing to do with (page views, other events).
    Skip { reason: String },
    /// Bad input: the host dead-letters it with the reason.
    Reject { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Apply {
    /// The profile key: `user_id`, else `domain_userid`, else `network_userid`.
    pub viewer: String,
    /// The event's name (`play_event`, `ad_start_event`, ...), for metrics and history.
    pub event: String,
    /// Where the event stands in the viewer's timeline.
    pub at: OrderKey,
    pub deltas: Vec<Delta>,
}

/// Event order: event time, then a lifecycle rank for events stamped in the same millisecond
/// (an ad completes before the next one starts), then the event id so that the order is total.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderKey {
    /// Event time, epoch milliseconds.
    pub ts: i64,
    pub rank: u8,
    pub id: String,
}

impl Ord for OrderKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.ts, self.rank, &self.id).cmp(&(other.ts, other.rank, &other.id))
    }
}

impl PartialOrd for OrderKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A media session's id, as deltas scoped to it carry it. One event's deltas share one (an
/// event states its session once in ABI v2; the logic scopes a dozen deltas to it): a count,
/// not a copy per delta, where each copy was an allocation made, kept until the profile's
/// write and freed, on both sides of the module boundary.
pub type SessionId = Arc<str>;

/// Deserialized through a flat record (`DeltaWire`) rather than serde's internally tagged
/// enum, which buffers every delta into an intermediate tree first: the host decodes every
/// delta of every event, and that buffering was a third of its cost per event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Delta {
    /// The viewer's state (e.g. `status`): last-writer-wins, rendered with `<field>_at`, the
    /// event time since which the value holds.
    State { field: String, value: String },
    /// An attribute: last-writer-wins. A dotted field (`ad.quartile`) overlays a member of the
    /// object stored under its parent (`ad`).
    Set {
        field: String,
        value: Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
    },
    /// A cumulative counter: the maximum wins.
    Max {
        field: String,
        value: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
    },
    /// An additive counter, counted once per `dedupe` key.
    Add {
        field: String,
        value: f64,
        dedupe: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<SessionId>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum Op {
    State,
    Set,
    Max,
    Add,
}

/// Every key a delta may have; which ones an op allows is checked in [`Delta::deserialize`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeltaWire {
    op: Op,
    field: String,
    /// `Some(Value::Null)` for an explicit `null`, `None` when the key is absent.
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    dedupe: Option<String>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl<'de> Deserialize<'de> for Delta {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let w = DeltaWire::deserialize(d)?;
        let value = w.value.ok_or_else(|| D::Error::missing_field("value"))?;
        let number = |v: &Value| v.as_f64().ok_or_else(|| D::Error::custom(format!("`value` must be a number, not {v}")));
        let session = w.session.map(SessionId::from);
        let delta = match w.op {
            Op::State => {
                if session.is_some() {
                    return Err(D::Error::unknown_field("session", &["op", "field", "value"]));
                }
                match value {
                    Value::String(value) => Delta::State { field: w.field, value },
                    v => return Err(D::Error::custom(format!("`value` must be a string, not {v}"))),
                }
            }
            Op::Set => Delta::Set { field: w.field, value, session },
            Op::Max => Delta::Max { field: w.field, value: number(&value)?, session },
            Op::Add => {
                let dedupe = w.dedupe.ok_or_else(|| D::Error::missing_field("dedupe"))?;
                return Ok(Delta::Add { field: w.field, value: number(&value)?, dedupe, session });
            }
        };
        if w.dedupe.is_some() {
            return Err(D::Error::unknown_field("dedupe", &["op", "field", "value", "session"]));
        }
        Ok(delta)
    }
}

/// Cuts a reason to at most `max` bytes (on a character boundary) and marks the cut with an
/// ellipsis. Reasons quote the input, and the input may be hostile; the module cuts its own,
/// and the host cuts whatever any module sends.
pub fn cut_reason(reason: &mut String, max: usize) {
    if reason.len() > max {
        let mut end = max;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push('…');
    }
}

impl Delta {
    pub fn field(&self) -> &str {
        match self {
            Delta::State { field, .. }
            | Delta::Set { field, .. }
            | Delta::Max { field, .. }
            | Delta::Add { field, .. } => field,
        }
    }

    pub fn session(&self) -> Option<&str> {
        match self {
            Delta::State { .. } => None,
            Delta::Set { session, .. } | Delta::Max { session, .. } | Delta::Add { session, .. } => {
                session.as_deref()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_have_a_stable_json_shape() {
        let apply = Outcome::Apply(Apply {
            viewer: "v".into(),
            event: "play_event".into(),
            at: OrderKey { ts: 5, rank: 30, id: "e".into() },
            deltas: vec![
                Delta::State { field: "status".into(), value: "WATCHING_VIDEO".into() },
                Delta::Max { field: "ads".into(), value: 2.0, session: Some("s".into()) },
            ],
        });
        let json = serde_json::to_string(&apply).unwrap();
        assert_eq!(
            json,
            r#"{"apply":{"viewer":"v","event":"play_event","at":{"ts":5,"rank":30,"id":"e"},"deltas":[{"op":"state","field":"status","value":"WATCHING_VIDEO"},{"op":"max","field":"ads","value":2.0,"session":"s"}]}}"#
        );
        assert_eq!(serde_json::from_str::<Outcome>(&json).unwrap(), apply);
        let skip: Outcome = serde_json::from_str(r#"{"skip":{"reason":"page_view"}}"#).unwrap();
        assert_eq!(skip, Outcome::Skip { reason: "page_view".into() });
    }

    #[test]
    fn unknown_ops_and_fields_are_refused() {
        assert!(serde_json::from_str::<Delta>(r#"{"op":"mul","field":"x","value":2}"#).is_err());
        for bad in [
            r#"{"op":"state","field":"status","value":"X","session":"s"}"#,
            r#"{"op":"state","field":"status","value":3}"#,
            r#"{"op":"state","field":"status"}"#,
            r#"{"op":"set","field":"x","value":1,"dedupe":"d"}"#,
            r#"{"op":"set","field":"x","value":1,"extra":1}"#,
            r#"{"op":"max","field":"x","value":"1"}"#,
            r#"{"op":"max","field":"x","value":null}"#,
            r#"{"op":"add","field":"x","value":1}"#,
            r#"{"field":"x","value":1}"#,
            r#"{"op":"set","value":1}"#,
        ] {
            assert!(serde_json::from_str::<Delta>(bad).is_err(), "{bad}");
        }
        let set_null: Delta = serde_json::from_str(r#"{"op":"set","field":"ad","value":null}"#).unwrap();
        assert_eq!(set_null, Delta::Set { field: "ad".into(), value: Value::Null, session: None });
        let add: Delta = serde_json::from_str(r#"{"dedupe":"e","value":1,"session":"s","field":"n","op":"add"}"#).unwrap();
        assert_eq!(add, Delta::Add { field: "n".into(), value: 1.0, dedupe: "e".into(), session: Some("s".into()) });
        assert!(serde_json::from_str::<Outcome>(r#"{"skip":{"reason":"x","extra":1}}"#).is_err());
    }

    #[test]
    fn order_is_time_then_rank_then_id() {
        let k = |ts, rank, id: &str| OrderKey { ts, rank, id: id.into() };
        assert!(k(1, 50, "a") < k(2, 10, "a"));
        assert!(k(1, 10, "z") < k(1, 50, "a"));
        assert!(k(1, 10, "a") < k(1, 10, "b"));
    }
}
