//! Reading a module's output: one outcome per event, decoded as the module's ABI version says
//! ([`v1`]: a JSON array; [`v2`]: binary), then checked against the contract (`checks`) and
//! the size caps before anything of it reaches a profile. Both versions decode into the same
//! outcomes and go through the same checks.

mod checks;
pub mod properties;
pub mod v1;
pub mod v2;

pub use checks::validate_outcome;
pub use properties::{check_message, check_output, check_output_v2};

use liveviewer_wire::v2::NameTable;
use liveviewer_wire::Outcome;
use serde::{Deserialize, Serialize};

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputLimits {
    /// Largest result of one event: its JSON text (v1), or its bytes both as encoded and
    /// spelled out (v2, see docs/abi.md).
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

/// How a module's output is read: its ABI version, with what that version needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    V1,
    /// With the name table the module declared.
    V2(NameTable),
}

/// Decodes a batch output into exactly `expected` checked outcomes.
pub fn decode(format: &Format, out: &[u8], expected: usize, limits: &OutputLimits) -> Result<Vec<Outcome>, OutputError> {
    let cap = limits.max_bytes_per_event.saturating_mul(expected.max(1));
    if out.len() > cap {
        return Err(OutputError::TooLarge(format!("{} bytes for {expected} events (cap {cap})", out.len())));
    }
    match format {
        Format::V1 => v1::decode(out, expected, limits),
        Format::V2(names) => v2::decode(out, names, expected, limits),
    }
}

/// Checks every outcome, naming the first that fails by its position.
fn checked(mut outcomes: Vec<Outcome>, limits: &OutputLimits) -> Result<Vec<Outcome>, OutputError> {
    for (i, outcome) in outcomes.iter_mut().enumerate() {
        validate_outcome(outcome, limits).map_err(|e| OutputError::Malformed(format!("result {i}: {e}")))?;
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests;
