//! A sample: what the windowed metrics need of one event, taken from the module's outcome when
//! the event is merged, and carried beside the viewer's profile on the changelog (a record
//! header, [`HEADER`]) or handed over in process. Everything in it comes from the event
//! itself, never from the profile it was merged into, so the same event always gives the same
//! sample whatever arrived before it.

use liveviewer_wire::outcome::Apply;
use liveviewer_wire::{Delta, SessionId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The changelog record header that carries the samples of the events merged into that copy
/// of the profile: `{"batch": "<hex>", "samples": [Sample, ...]}`, `batch` naming the pipeline
/// batch they were merged in (its events arrived together).
pub const HEADER: &str = "liveviewer-samples-v1";

/// Most samples one header carries (a copy merges at most one batch of one viewer's events).
pub const MAX_PER_RECORD: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub event_id: String,
    /// Event time, epoch milliseconds.
    pub ts: i64,
    pub event: String,
    /// The media session, when the event carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionId>,
    /// The media being watched: its id where the tracker has one, else its label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// When the media session started, as the tracker says (epoch ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// The tracker's cumulative counters of the session at this event, in seconds.
    #[serde(default)]
    pub time_played: f64,
    #[serde(default)]
    pub time_buffering: f64,
    /// The session had ended at this event.
    #[serde(default)]
    pub completed: bool,
}

/// What an event counts as, besides the counters it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    AdStart,
    AdComplete,
    AdSkip,
    AdClick,
    Other,
}

impl Kind {
    pub fn of(event: &str) -> Kind {
        match event {
            "ad_start_event" => Kind::AdStart,
            "ad_complete_event" => Kind::AdComplete,
            "ad_skip_event" => Kind::AdSkip,
            "ad_click_event" => Kind::AdClick,
            _ => Kind::Other,
        }
    }
}

/// The content key of a `media` value: the same rule as the live view's.
pub fn content_key(media: &Value) -> Option<String> {
    let text = |k: &str| media.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    text("id").or_else(|| text("media_id")).or_else(|| text("label"))
}

impl Sample {
    /// The sample of one module outcome. The names it reads are the built-in module's
    /// (docs/metrics.md lists them); a module that writes others gives samples with zeros.
    pub fn of(apply: &Apply) -> Sample {
        let mut s = Sample {
            event_id: apply.at.id.clone(),
            ts: apply.at.ts,
            event: apply.event.clone(),
            session: None,
            content: None,
            started_at: None,
            time_played: 0.0,
            time_buffering: 0.0,
            completed: false,
        };
        for d in &apply.deltas {
            match d {
                Delta::Set { field, value, session: None } if field == "media" => s.content = content_key(value),
                Delta::Set { field, value, session: Some(id) } if field == "started_at" => {
                    s.session.get_or_insert_with(|| id.clone());
                    s.started_at = value.as_str().and_then(liveviewer_wire::time::parse_millis);
                }
                Delta::Max { field, value, session: Some(id) } => {
                    s.session.get_or_insert_with(|| id.clone());
                    match field.as_str() {
                        "time_played" => s.time_played = *value,
                        "time_buffering" => s.time_buffering = *value,
                        "completed" => s.completed = *value > 0.0,
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        s
    }

    pub fn kind(&self) -> Kind {
        Kind::of(&self.event)
    }
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    batch: String,
    samples: &'a [Sample],
}

#[derive(Deserialize)]
struct HeaderIn {
    #[serde(default)]
    batch: Option<String>,
    samples: Vec<Sample>,
}

/// The header value for a copy's samples, merged in batch `batch`.
pub fn encode(batch: u64, samples: &[Sample]) -> Vec<u8> {
    let out = HeaderOut { batch: format!("{batch:016x}"), samples: &samples[..samples.len().min(MAX_PER_RECORD)] };
    serde_json::to_vec(&out).expect("samples serialize")
}

/// The batch (when the header names one) and the samples of a header.
pub fn decode(bytes: &[u8]) -> Result<(Option<u64>, Vec<Sample>), String> {
    let mut h: HeaderIn = serde_json::from_slice(bytes).map_err(|e| format!("samples header: {e}"))?;
    h.samples.truncate(MAX_PER_RECORD);
    Ok((h.batch.and_then(|b| u64::from_str_radix(&b, 16).ok()), h.samples))
}

/// Batch numbers of this process: random high bits, so that two hosts' batches differ.
pub fn batch_numbers() -> std::sync::atomic::AtomicU64 {
    std::sync::atomic::AtomicU64::new(u64::from(rand::random::<u32>()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use liveviewer_wire::OrderKey;
    use serde_json::json;

    #[test]
    fn a_sample_takes_the_event_s_own_figures() {
        let sid: Option<SessionId> = Some("s1".into());
        let apply = Apply {
            viewer: "v".into(),
            event: "ad_start_event".into(),
            at: OrderKey { ts: 61_000, rank: 30, id: "e1".into() },
            deltas: vec![
                Delta::State { field: "status".into(), value: "WATCHING_AD".into() },
                Delta::Set { field: "media".into(), value: json!({"label": "Sintel", "livestream": false}), session: None },
                Delta::Max { field: "time_played".into(), value: 12.5, session: sid.clone() },
                Delta::Max { field: "time_buffering".into(), value: 0.25, session: sid.clone() },
                Delta::Max { field: "ads".into(), value: 1.0, session: sid.clone() },
                Delta::Max { field: "completed".into(), value: 0.0, session: sid.clone() },
                Delta::Set { field: "started_at".into(), value: json!("1970-01-01T00:00:10.000Z"), session: sid },
            ],
        };
        let s = Sample::of(&apply);
        assert_eq!((s.ts, s.event_id.as_str(), s.kind()), (61_000, "e1", Kind::AdStart));
        assert_eq!((s.session.as_deref(), s.content.as_deref(), s.started_at), (Some("s1"), Some("Sintel"), Some(10_000)));
        assert_eq!((s.time_played, s.time_buffering, s.completed), (12.5, 0.25, false));
        assert_eq!(decode(&encode(0xab, std::slice::from_ref(&s))).unwrap(), (Some(0xab), vec![s]));
        assert_eq!(decode(br#"{"samples":[]}"#).unwrap(), (None, vec![]));
        assert!(decode(b"{").is_err());
    }

    #[test]
    fn content_is_the_media_id_before_its_label() {
        assert_eq!(content_key(&json!({"id": "m-1", "label": "L"})).as_deref(), Some("m-1"));
        assert_eq!(content_key(&json!({"label": "L"})).as_deref(), Some("L"));
        assert_eq!(content_key(&json!({"label": ""})), None);
        assert_eq!(content_key(&Value::Null), None);
    }
}
