//! The contract's rules on what an outcome may say (names, ids, numbers), the same for every
//! ABI version: a module's output is decoded first, then checked here before any of it
//! reaches a profile.

use super::OutputLimits;
use liveviewer_wire::outcome::Apply;
use liveviewer_wire::{Delta, Outcome};

/// Names the host renders itself; a module cannot write them.
const RESERVED: &[&str] =
    &["viewer_id", "first_seen", "last_seen", "active", "session", "totals", "module_version", "custom"];
const RESERVED_IN_SESSION: &[&str] = &["session_id", "last_event_at", "first_event_at"];
const MAX_FIELD: usize = 64;
const MAX_VIEWER: usize = 1024;
const MAX_ID: usize = 256;
pub(super) const MAX_REASON: usize = 1024;

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
    // Checked on every delta of every event: no allocation.
    let ok = match field.split_once('.') {
        Some((parent, child)) => ok_part(parent) && ok_part(child),
        None => ok_part(field),
    };
    if field.len() > MAX_FIELD || !ok {
        return Err(format!("field {field:?} is not `name` or `parent.name` of [a-z0-9_], at most {MAX_FIELD} bytes"));
    }
    Ok(())
}

