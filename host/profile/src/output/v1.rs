//! ABI v1: the outcomes as a JSON array.

use super::{validate_outcome, OutputError, OutputLimits};
use liveviewer_wire::Outcome;
use serde_json::value::RawValue;

/// Decodes (after [`super::decode`]'s check of the whole output's size).
pub fn decode(out: &[u8], expected: usize, limits: &OutputLimits) -> Result<Vec<Outcome>, OutputError> {
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
            validate_outcome(&mut outcome, limits).map_err(|e| OutputError::Malformed(format!("result {i}: {e}")))?;
            Ok(outcome)
        })
        .collect()
}
