//! ABI v2: the outcomes as binary (`liveviewer_wire::v2`, docs/abi.md).

use super::{checked, OutputError, OutputLimits};
use liveviewer_wire::v2::{self, DecodeError, NameTable};
use liveviewer_wire::Outcome;

/// Decodes (after [`super::decode`]'s check of the whole output's size).
pub fn decode(out: &[u8], names: &NameTable, expected: usize, limits: &OutputLimits) -> Result<Vec<Outcome>, OutputError> {
    let outcomes = v2::decode(out, names, expected, limits.max_bytes_per_event).map_err(|e| match e {
        DecodeError::WrongCount { expected, got } => OutputError::WrongCount { expected, got },
        DecodeError::TooLarge { event, cap } => OutputError::TooLarge(format!("result {event} is larger than {cap} bytes")),
        DecodeError::Malformed { at, what } => OutputError::Malformed(format!("at byte {at}: {what}")),
    })?;
    checked(outcomes, limits)
}
