//! ABI v2: the module's output as compact binary instead of JSON. `docs/abi.md` specifies it
//! byte by byte; this is the one implementation both sides use.
//!
//! The output of `transform_batch` is the format byte [`FORMAT`], the number of outcomes, then
//! each outcome. An apply states its media session once, and each delta says whether it is
//! scoped to it; field names, object member names, event names and state values are
//! references into the name table the module declares through its `abi` export (or written
//! inline when not in it); numbers are typed scalars. The host decodes it into the same
//! [`Outcome`](crate::Outcome) as a v1 module's JSON, so the merge and every check on module
//! output are the same for both.

mod bytes;
mod decode;
mod encode;
mod names;
mod value;

pub use decode::{decode, DecodeError, Malformed};
pub use encode::Encoder;
pub use names::{NameIds, NameTable, NameTableError, MAX_NAMES, MAX_NAME_BYTES};
pub use value::{ValueTag, MAX_DEPTH};

use bytes::{put_str, put_uvar, Reader};
use decode::Budget;

/// The first byte of a v2 output: a v1 module's JSON (`[`) or anything else is refused.
pub const FORMAT: u8 = 0x02;

/// What an outcome is, its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum OutcomeTag {
    Apply = 0,
    Skip = 1,
    Reject = 2,
}

impl OutcomeTag {
    fn from_u8(b: u8) -> Option<Self> {
        match b {
            0 => Some(OutcomeTag::Apply),
            1 => Some(OutcomeTag::Skip),
            2 => Some(OutcomeTag::Reject),
            _ => None,
        }
    }
}

/// A delta's operation: the low four bits of its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    State = 0,
    Set = 1,
    Max = 2,
    Add = 3,
}

/// Which record a delta applies to: the high four bits of its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Scope {
    Profile = 0,
    /// The media session the apply states.
    EventSession = 1,
    /// Another session, whose id follows the field.
    OwnSession = 2,
}

/// Writes a name: its reference in the table, or 0 and the name itself.
fn put_name(out: &mut Vec<u8>, ids: &NameIds, name: &str) {
    match ids.get(name) {
        0 => {
            out.push(0);
            put_str(out, name);
        }
        id => put_uvar(out, u64::from(id)),
    }
}

fn read_name<'o, 'b: 'o, 'n: 'o>(r: &mut Reader<'b>, names: &'n NameTable, budget: &mut Budget) -> Result<&'o str, DecodeError> {
    let at = r.pos();
    let reference = r.len().map_err(|m| m.at(at))?;
    let name = match reference {
        0 => r.str().map_err(|m| m.at(at))?,
        n => names.get(n).ok_or(Malformed::NoSuchName(n).at(at))?,
    };
    budget.charge(name.len())?;
    Ok(name)
}

#[cfg(test)]
mod tests;
