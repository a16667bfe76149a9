//! Reading a module's output: the JSON array of outcomes, one per event, checked against the
//! contract and the size caps before anything of it reaches a profile.

/// What is wrong with an output; the host turns it into a module fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("module output too large: {0}")]
    TooLarge(String),
    #[error("module output malformed: {0}")]
    Malformed(String),
    #[error("module returned {got} results for {expected} events")]
    WrongCount { expected: usize, got: usize },
}

use liveviewer_wire::outcome::Apply;
use liveviewer_wire::{Delta, Outcome};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputLimits {
    /// Largest serialized result of one event.
    pub max_bytes_per_event: usize,
    /// Most deltas one event may produce.
    pub max_deltas_per_event: usize,
}

impl Default for OutputLimits {
    fn default() -> Self {
        OutputLimits { max_bytes_per_event: 64 << 10, max_deltas_per_event: 256 }
    }
}

impl OutputLimits {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_bytes_per_event < 1024 {
            return Err("module.limits.output.max_bytes_per_event must be at least 1024".into());
        }
        if self.max_deltas_per_event == 0 {
            return Err("module.limits.output.max_deltas_per_event must be at least 1".into());
        }
        Ok(())
    }
}

/// Names the host renders itself; a module cannot write them.
const RESERVED: &[&str] =
    &["viewer_id", "first_seen", "last_seen", "active", "session", "totals", "module_version", "custom"];
const RESERVED_IN_SESSION: &[&str] = &["session_id", "last_event_at", "first_event_at"];
const MAX_FIELD: usize = 64;
const MAX_VIEWER: usize = 1024;
const MAX_ID: usize = 256;
const MAX_REASON: usize = 1024;

/// Decodes a batch output into exactly `expected` checked outcomes.
pub fn decode(out: &[u8], expected: usize, limits: &OutputLimits) -> Result<Vec<Outcome>, OutputError> {
    let cap = limits.max_bytes_per_event.saturating_mul(expected.max(1));
    if out.len() > cap {
        return Err(OutputError::TooLarge(format!(
            "{} bytes for {expected} events (cap {cap})",
            out.len()
        )));
    }
    let items: Vec<&RawValue> = serde_json::from_slice(out)
        .map_err(|e| OutputError::Malformed(format!("not a JSON array of outcomes: {e}")))?;
    if items.len() != expected {
        return Err(OutputError::WrongCount { expected, got: items.len() });
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            if item.get().len() > limits.max_bytes_per_event {
                return Err(OutputError::TooLarge(format!(
                    "result {i} is {} bytes (cap {})",
                    item.get().len(),
                    limits.max_bytes_per_event
                )));
            }
            let mut outcome: Outcome = serde_json::from_str(item.get())
                .map_err(|e| OutputError::Malformed(format!("result {i}: {e}")))?;
            validate_outcome(&mut outcome, limits)
                .map_err(|e| OutputError::Malformed(format!("result {i}: {e}")))?;
            Ok(outcome)
        })
        .collect()
}

/// Checks one outcome against the contract; over-long reasons are cut, not refused.
pub fn validate_outcome(outcome: &mut Outcome, limits: &OutputLimits) -> Result<(), String> {
    match outcome {
        Outcome::Skip { reason } | Outcome::Reject { reason } => {
            liveviewer_wire::outcome::cut_reason(reason, MAX_REASON);
            Ok(())
        }
        Outcome::Apply(apply) => validate_apply(apply, limits),
    }
}

fn validate_apply(apply: &Apply, limits: &OutputLimits) -> Result<(), String> {
    check_id("viewer", &apply.viewer, MAX_VIEWER)?;
    check_id("at.id", &apply.at.id, MAX_ID)?;
    check_id("event", &apply.event, MAX_FIELD)?;
    if apply.deltas.len() > limits.max_deltas_per_event {
        return Err(format!(
            "{} deltas (cap {})",
            apply.deltas.len(),
            limits.max_deltas_per_event
        ));
    }
    for delta in &apply.deltas {
        let field = delta.field();
        check_field(field)?;
        match delta.session() {
            Some(session) => {
                check_id("session", session, MAX_ID)?;
                if RESERVED_IN_SESSION.contains(&field) {
                    return Err(format!("session field {field:?} is reserved"));
                }
            }
            None => {
                let top = field.split('.').next().unwrap_or(field);
                if RESERVED.contains(&top) {
                    return Err(format!("field {field:?} is reserved"));
                }
            }
        }
        match delta {
            Delta::State { value, .. } => check_id("state value", value, MAX_FIELD)?,
            Delta::Add { dedupe, value, .. } => {
                check_id("dedupe", dedupe, MAX_ID)?;
                check_finite(field, *value)?;
            }
            Delta::Max { value, .. } => check_finite(field, *value)?,
            Delta::Set { .. } => {}
        }
    }
    Ok(())
}

fn check_id(what: &str, v: &str, max: usize) -> Result<(), String> {
    if v.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if v.len() > max {
        return Err(format!("{what} is longer than {max} bytes"));
    }
    Ok(())
}

fn check_finite(field: &str, v: f64) -> Result<(), String> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(format!("{field}: {v} is not a finite number"))
    }
}

/// Fields are `name` or `parent.name`, lowercase letters, digits and underscores.
fn check_field(field: &str) -> Result<(), String> {
    let ok_part = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    let parts: Vec<&str> = field.split('.').collect();
    if field.len() > MAX_FIELD || parts.len() > 2 || !parts.iter().all(|p| ok_part(p)) {
        return Err(format!("field {field:?} is not `name` or `parent.name` of [a-z0-9_], at most {MAX_FIELD} bytes"));
    }
    Ok(())
}

/// The fuzzers' property for the module's input parsing (and its regression tests): the
/// module's outcome for any message passes the host's checks, fits the per-event output cap,
/// and, when it applies, merges into a profile that renders and round-trips its storage form.
pub fn check_message(message: &[u8], outcome: Outcome) {
    let limits = OutputLimits::default();
    let mut checked = outcome.clone();
    if let Err(e) = validate_outcome(&mut checked, &limits) {
        panic!("the module's outcome fails the host's checks ({e}) for {:?}", String::from_utf8_lossy(&message[..message.len().min(200)]));
    }
    assert_eq!(checked, outcome, "the module's reasons fit the host's limit");
    let size = serde_json::to_vec(&outcome).expect("outcomes serialize").len();
    assert!(size <= limits.max_bytes_per_event, "an outcome of {size} bytes would be refused as too large");
    if let Outcome::Apply(apply) = &outcome {
        merge_and_render(std::slice::from_ref(apply));
    }
}

/// The fuzzers' property for the host's handling of module output: any bytes are refused or
/// decoded, and decoded outcomes merge into profiles that render and round-trip.
pub fn check_output(data: &[u8]) {
    let Some((&count, rest)) = data.split_first() else { return };
    let expected = usize::from(count % 4) + 1;
    if let Ok(outcomes) = decode(rest, expected, &OutputLimits::default()) {
        assert_eq!(outcomes.len(), expected);
        let applies: Vec<Apply> = outcomes
            .into_iter()
            .filter_map(|o| match o {
                Outcome::Apply(a) => Some(a),
                _ => None,
            })
            .collect();
        merge_and_render(&applies);
    }
}

fn merge_and_render(applies: &[Apply]) {
    let bounds = crate::Bounds::default();
    let mut states: std::collections::BTreeMap<&str, crate::ProfileState> = std::collections::BTreeMap::new();
    for a in applies {
        let _ = states.entry(a.viewer.as_str()).or_insert_with(|| crate::ProfileState::new(&a.viewer)).apply(a, &bounds);
    }
    let ctx = crate::RenderContext { now_ms: 0, active_window_ms: 90_000 };
    for s in states.values() {
        serde_json::to_vec(&crate::render(s, &ctx)).expect("profiles serialize");
        assert_eq!(&crate::ProfileState::decode(&s.encode()).expect("decodes"), s, "storage round trip");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> OutputLimits {
        OutputLimits::default()
    }

    #[test]
    fn counts_and_shapes_are_checked() {
        let ok = br#"[{"skip":{"reason":"x"}},{"reject":{"reason":"y"}}]"#;
        assert_eq!(decode(ok, 2, &limits()).unwrap().len(), 2);
        assert_eq!(decode(ok, 3, &limits()), Err(OutputError::WrongCount { expected: 3, got: 2 }));
        assert!(matches!(decode(b"{}", 1, &limits()), Err(OutputError::Malformed(_))));
        assert!(matches!(decode(b"[{\"maybe\":{}}]", 1, &limits()), Err(OutputError::Malformed(_))));
        let huge = format!(r#"[{{"skip":{{"reason":"{}"}}}}]"#, "x".repeat(70_000));
        assert!(matches!(decode(huge.as_bytes(), 1, &limits()), Err(OutputError::TooLarge(_))));
    }

    fn apply_with(delta: &str) -> String {
        format!(r#"[{{"apply":{{"viewer":"v","event":"e","at":{{"ts":1,"rank":1,"id":"i"}},"deltas":[{delta}]}}}}]"#)
    }

    #[test]
    fn fields_are_checked() {
        let good = apply_with(r#"{"op":"set","field":"ad.quartile","value":1}"#);
        decode(good.as_bytes(), 1, &limits()).unwrap();
        for bad in [
            r#"{"op":"set","field":"totals","value":1}"#,
            r#"{"op":"set","field":"Media","value":1}"#,
            r#"{"op":"set","field":"a.b.c","value":1}"#,
            r#"{"op":"max","field":"session_id","value":1,"session":"s"}"#,
            r#"{"op":"add","field":"x","value":1,"dedupe":""}"#,
            r#"{"op":"state","field":"status","value":""}"#,
        ] {
            let out = apply_with(bad);
            assert!(
                matches!(decode(out.as_bytes(), 1, &limits()), Err(OutputError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn long_reasons_are_cut() {
        let mut o = Outcome::Reject { reason: "é".repeat(2000) };
        validate_outcome(&mut o, &limits()).unwrap();
        let Outcome::Reject { reason } = o else { unreachable!() };
        assert!(reason.len() <= MAX_REASON + 3);
    }
}
