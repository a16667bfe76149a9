//! Reading a v2 output into outcomes. Every count and length is checked against the bytes
//! left before anything is allocated, and each event's result against the per-event cap both
//! as encoded and as spelled out (names at their full length, the session once per delta
//! scoped to it), so a few bytes of references cannot expand into a large result.

use super::bytes::{unzigzag, Reader};
use super::names::NameTable;
use super::value::read_value;
use super::{read_name, Op, OutcomeTag, Scope, FORMAT};
use crate::outcome::Apply;
use crate::{Delta, OrderKey, Outcome, SessionId};
use std::fmt;

/// Why an output was refused; the host makes each a module fault of its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Not what the layout allows, at byte `at` of the output.
    Malformed { at: usize, what: Malformed },
    /// The output holds a different number of outcomes than there were events.
    WrongCount { expected: usize, got: usize },
    /// Event `event`'s result is over the per-event cap.
    TooLarge { event: usize, cap: usize },
}

/// What is wrong with a malformed output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    Truncated,
    VarintOverflow,
    NotUtf8,
    /// The first byte is not [`FORMAT`] (a v1 module's JSON starts with `[`).
    NotV2(u8),
    UnknownOutcome(u8),
    UnknownOp(u8),
    UnknownScope(u8),
    UnknownValue(u8),
    /// The session flag of an apply is neither 0 nor 1.
    SessionFlag(u8),
    /// A name reference past the name table.
    NoSuchName(usize),
    /// A delta scoped to the event's session in an apply that states none.
    NoEventSession,
    /// A `state` delta scoped to a session: states live on the profile.
    StateInSession,
    NotFinite,
    TooDeep,
    Trailing(usize),
}

impl Malformed {
    pub fn at(self, at: usize) -> DecodeError {
        DecodeError::Malformed { at, what: self }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::Truncated => f.write_str("truncated (a length or count past the end)"),
            Malformed::VarintOverflow => f.write_str("an integer too large for its place"),
            Malformed::NotUtf8 => f.write_str("a string that is not UTF-8"),
            Malformed::NotV2(b) => write!(f, "first byte {b:#04x} is not the v2 format byte {FORMAT:#04x}"),
            Malformed::UnknownOutcome(b) => write!(f, "unknown outcome tag {b}"),
            Malformed::UnknownOp(b) => write!(f, "unknown delta op {b}"),
            Malformed::UnknownScope(b) => write!(f, "unknown delta scope {b}"),
            Malformed::UnknownValue(b) => write!(f, "unknown value tag {b}"),
            Malformed::SessionFlag(b) => write!(f, "session flag {b} is neither 0 nor 1"),
            Malformed::NoSuchName(n) => write!(f, "name reference {n} past the name table"),
            Malformed::NoEventSession => f.write_str("a delta scoped to the event's session, which the apply does not state"),
            Malformed::StateInSession => f.write_str("a state delta scoped to a session"),
            Malformed::NotFinite => f.write_str("a value that is not a finite number"),
            Malformed::TooDeep => write!(f, "values nested deeper than {}", super::MAX_DEPTH),
            Malformed::Trailing(n) => write!(f, "{n} bytes after the last outcome"),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Malformed { at, what } => write!(f, "at byte {at}: {what}"),
            DecodeError::WrongCount { expected, got } => write!(f, "{got} results for {expected} events"),
            DecodeError::TooLarge { event, cap } => write!(f, "result {event} is larger than {cap} bytes"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The spelled-out size left to one event's result.
pub struct Budget {
    left: usize,
    event: usize,
    cap: usize,
}

impl Budget {
    fn new(event: usize, cap: usize) -> Self {
        Budget { left: cap, event, cap }
    }

    pub fn charge(&mut self, n: usize) -> Result<(), DecodeError> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(DecodeError::TooLarge { event: self.event, cap: self.cap }),
        }
    }
}

/// Decodes an output into exactly `expected` outcomes, each at most `max_event_bytes` both as
/// encoded and spelled out. The outcomes are not yet checked against the contract's rules on
/// names and values: the host does that for both versions alike.
pub fn decode(out: &[u8], names: &NameTable, expected: usize, max_event_bytes: usize) -> Result<Vec<Outcome>, DecodeError> {
    let mut r = Reader::new(out);
    let format = r.u8().map_err(|m| m.at(0))?;
    if format != FORMAT {
        return Err(Malformed::NotV2(format).at(0));
    }
    let got = r.len().map_err(|m| m.at(1))?;
    if got != expected {
        return Err(DecodeError::WrongCount { expected, got });
    }
    let mut outcomes = Vec::with_capacity(expected.min(r.remaining()));
    for event in 0..expected {
        let start = r.pos();
        let mut budget = Budget::new(event, max_event_bytes);
        outcomes.push(read_outcome(&mut r, names, &mut budget)?);
        if r.pos() - start > max_event_bytes {
            return Err(DecodeError::TooLarge { event, cap: max_event_bytes });
        }
    }
    if r.remaining() > 0 {
        return Err(Malformed::Trailing(r.remaining()).at(r.pos()));
    }
    Ok(outcomes)
}

fn read_outcome(r: &mut Reader<'_>, names: &NameTable, budget: &mut Budget) -> Result<Outcome, DecodeError> {
    let at = r.pos();
    let tag = r.u8().map_err(|m| m.at(at))?;
    let tag = OutcomeTag::from_u8(tag).ok_or(Malformed::UnknownOutcome(tag).at(at))?;
    let string = |r: &mut Reader<'_>, budget: &mut Budget| -> Result<String, DecodeError> {
        let at = r.pos();
        let s = r.str().map_err(|m| m.at(at))?;
        budget.charge(s.len())?;
        Ok(s.to_owned())
    };
    match tag {
        OutcomeTag::Skip => Ok(Outcome::Skip { reason: string(r, budget)? }),
        OutcomeTag::Reject => Ok(Outcome::Reject { reason: string(r, budget)? }),
        OutcomeTag::Apply => {
            let viewer = string(r, budget)?;
            let event = read_name(r, names, budget)?.to_owned();
            let at = r.pos();
            let ts = unzigzag(r.uvar().map_err(|m| m.at(at))?);
            let rank = r.u8().map_err(|m| m.at(at))?;
            let id = string(r, budget)?;
            let at = r.pos();
            let session = match r.u8().map_err(|m| m.at(at))? {
                0 => None,
                1 => Some(SessionId::from(r.str().map_err(|m| m.at(at))?)),
                flag => return Err(Malformed::SessionFlag(flag).at(at)),
            };
            let at = r.pos();
            let n = r.len().map_err(|m| m.at(at))?;
            // A delta takes at least three bytes (op, field, value).
            if n > r.remaining() / 3 {
                return Err(Malformed::Truncated.at(at));
            }
            let mut deltas = Vec::with_capacity(n);
            for _ in 0..n {
                deltas.push(read_delta(r, names, budget, session.as_ref())?);
            }
            Ok(Outcome::Apply(Apply { viewer, event, at: OrderKey { ts, rank, id }, deltas }))
        }
    }
}

fn read_delta(r: &mut Reader<'_>, names: &NameTable, budget: &mut Budget, event_session: Option<&SessionId>) -> Result<Delta, DecodeError> {
    let at = r.pos();
    let head = r.u8().map_err(|m| m.at(at))?;
    budget.charge(1)?;
    let op = match head & 0x0f {
        0 => Op::State,
        1 => Op::Set,
        2 => Op::Max,
        3 => Op::Add,
        other => return Err(Malformed::UnknownOp(other).at(at)),
    };
    let scope = match head >> 4 {
        0 => Scope::Profile,
        1 => Scope::EventSession,
        2 => Scope::OwnSession,
        other => return Err(Malformed::UnknownScope(other).at(at)),
    };
    let field = read_name(r, names, budget)?.to_owned();
    let session = match scope {
        Scope::Profile => None,
        Scope::EventSession => Some(event_session.ok_or(Malformed::NoEventSession.at(at))?.clone()),
        Scope::OwnSession => {
            let at = r.pos();
            Some(SessionId::from(r.str().map_err(|m| m.at(at))?))
        }
    };
    if let Some(s) = &session {
        budget.charge(s.len())?;
    }
    let number = |r: &mut Reader<'_>, budget: &mut Budget| -> Result<f64, DecodeError> {
        let at = r.pos();
        budget.charge(8)?;
        r.f64().map_err(|m| m.at(at))
    };
    Ok(match op {
        Op::State => {
            if session.is_some() {
                return Err(Malformed::StateInSession.at(at));
            }
            Delta::State { field, value: read_name(r, names, budget)?.to_owned() }
        }
        Op::Set => Delta::Set { field, value: read_value(r, names, budget, 1)?, session },
        Op::Max => Delta::Max { field, value: number(r, budget)?, session },
        Op::Add => {
            let value = number(r, budget)?;
            let at = r.pos();
            let dedupe = r.str().map_err(|m| m.at(at))?;
            budget.charge(dedupe.len())?;
            Delta::Add { field, value, dedupe: dedupe.to_owned(), session }
        }
    })
}
