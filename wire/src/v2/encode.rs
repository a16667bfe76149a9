//! Writing outcomes as v2, the module's side. The module's logic builds the same
//! [`Outcome`]s as for v1; this turns them into bytes.

use super::bytes::{put_f64, put_str, put_uvar, zigzag};
use super::names::{same_bytes, NameIds};
use super::value::put_value;
use super::{put_name, Op, OutcomeTag, Scope, FORMAT};
use crate::{Delta, Outcome};

/// One call's output: [`Encoder::new`] with the number of outcomes, one [`Encoder::outcome`]
/// each, then [`Encoder::finish`].
pub struct Encoder<'n> {
    ids: &'n NameIds,
    out: Vec<u8>,
}

impl<'n> Encoder<'n> {
    pub fn new(ids: &'n NameIds, count: usize) -> Self {
        // About 700 bytes per media event.
        let mut out = Vec::with_capacity(16 + count * 768);
        out.push(FORMAT);
        put_uvar(&mut out, count as u64);
        Encoder { ids, out }
    }

    pub fn outcome(&mut self, outcome: &Outcome) {
        let out = &mut self.out;
        match outcome {
            Outcome::Skip { reason } => {
                out.push(OutcomeTag::Skip as u8);
                put_str(out, reason);
            }
            Outcome::Reject { reason } => {
                out.push(OutcomeTag::Reject as u8);
                put_str(out, reason);
            }
            Outcome::Apply(apply) => {
                out.push(OutcomeTag::Apply as u8);
                put_str(out, &apply.viewer);
                put_name(out, self.ids, &apply.event);
                put_uvar(out, zigzag(apply.at.ts));
                out.push(apply.at.rank);
                put_str(out, &apply.at.id);
                // The event's session: the first one a delta is scoped to. Deltas scoped to
                // another (rare) carry theirs.
                let session = apply.deltas.iter().find_map(Delta::session);
                match session {
                    Some(s) => {
                        out.push(1);
                        put_str(out, s);
                    }
                    None => out.push(0),
                }
                put_uvar(out, apply.deltas.len() as u64);
                for delta in &apply.deltas {
                    let (op, field) = match delta {
                        Delta::State { field, .. } => (Op::State, field),
                        Delta::Set { field, .. } => (Op::Set, field),
                        Delta::Max { field, .. } => (Op::Max, field),
                        Delta::Add { field, .. } => (Op::Add, field),
                    };
                    let scope = match (delta.session(), session) {
                        (None, _) => Scope::Profile,
                        (Some(s), Some(e)) if same_bytes(s.as_bytes(), e.as_bytes()) => Scope::EventSession,
                        (Some(_), _) => Scope::OwnSession,
                    };
                    out.push(op as u8 | (scope as u8) << 4);
                    put_name(out, self.ids, field);
                    if let (Scope::OwnSession, Some(s)) = (scope, delta.session()) {
                        put_str(out, s);
                    }
                    match delta {
                        Delta::State { value, .. } => put_name(out, self.ids, value),
                        Delta::Set { value, .. } => put_value(out, self.ids, value),
                        Delta::Max { value, .. } => put_f64(out, *value),
                        Delta::Add { value, dedupe, .. } => {
                            put_f64(out, *value);
                            put_str(out, dedupe);
                        }
                    }
                }
            }
        }
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}
