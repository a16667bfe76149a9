//! The cells a profile and each of its media sessions hold: last-writer-wins attributes,
//! cumulative maxima and additive counters, under one bound on how many there are.
//!
//! Which fields are kept past the bound is decided by name, never by arrival: the smallest
//! names (then the kind) are kept, and a new field smaller than the largest kept one takes its
//! place. That set is a function of the events alone, and a kept field has had every one of
//! its deltas merged (it was among the smallest whenever one came), so the cells are the same
//! in any order.

use super::counter::SumCell;
use super::key::Key;
use super::state::Bounds;
use liveviewer_wire::Delta;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The widest varint postcard writes (a u64 or i64), and an order key at its widest.
pub const VARINT: usize = 10;
pub const KEY: usize = 2 * VARINT + 1;

/// A last-writer-wins register. Values are JSON text; ties on the key (the same event seen
/// by two module versions) go to the greater text, so the winner never depends on order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Register {
    pub at: Key,
    pub value: String,
}

impl Register {
    /// Last writer wins, ties broken by the value: the same result in any order.
    fn merge(&mut self, at: Key, value: String) {
        if (self.at, &self.value) < (at, &value) {
            *self = Register { at, value };
        }
    }
}

/// Cells shared by the profile and each media session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cells {
    pub fields: BTreeMap<String, Register>,
    pub maxes: BTreeMap<String, f64>,
    pub sums: BTreeMap<String, SumCell>,
}

impl Cells {
    fn len(&self) -> usize {
        self.fields.len() + self.maxes.len() + self.sums.len()
    }

    /// At least the encoded size (every length and number at its widest varint).
    pub fn size_hint(&self) -> usize {
        let fields: usize = self.fields.iter().map(|(k, r)| k.len() + r.value.len() + 2 * VARINT + KEY).sum();
        let maxes: usize = self.maxes.keys().map(|k| k.len() + VARINT + 8).sum();
        let sums: usize = self.sums.iter().map(|(k, c)| k.len() + 2 * VARINT + 8 + c.kept.len() * (2 * VARINT + 8)).sum();
        3 * VARINT + fields + maxes + sums
    }

    /// Merges one delta; `false` when a bound dropped something (this delta, or the field it
    /// pushed out).
    pub(super) fn merge(&mut self, at: Key, delta: &Delta, bounds: &Bounds, max_fields: usize) -> bool {
        // A set value's JSON, rendered once (it is both what the bound checks and what is kept).
        let mut text = None;
        let (field, kind) = match delta {
            Delta::Set { field, value, .. } => {
                let t = value.to_string();
                if t.len() > bounds.value_bytes {
                    return false;
                }
                text = Some(t);
                (field, Kind::Set)
            }
            Delta::Max { field, .. } => (field, Kind::Max),
            Delta::Add { field, .. } => (field, Kind::Add),
            Delta::State { .. } => unreachable!("states live on the profile"),
        };
        let complete = match self.admit(field, kind, max_fields) {
            Admitted::Known | Admitted::Room => true,
            Admitted::PushedOut => false,
            Admitted::No => return false,
        };
        let merged = match delta {
            Delta::Set { field, .. } => {
                let text = text.expect("rendered above");
                match self.fields.get_mut(field.as_str()) {
                    Some(register) => register.merge(at, text),
                    None => {
                        self.fields.insert(field.clone(), Register { at, value: text });
                    }
                }
                true
            }
            Delta::Max { field, value, .. } => {
                let cell = self.maxes.entry(field.clone()).or_insert(*value);
                if *value > *cell {
                    *cell = *value;
                }
                true
            }
            Delta::Add { field, value, dedupe, .. } => self.sums.entry(field.clone()).or_default().add(dedupe, at.ts, *value, bounds.dedupe_keys),
            Delta::State { .. } => unreachable!("states live on the profile"),
        };
        complete && merged
    }

    /// Whether a delta for `field` of `kind` may be merged, and what that cost.
    fn admit(&mut self, field: &str, kind: Kind, max_fields: usize) -> Admitted {
        let known = match kind {
            Kind::Set => self.fields.contains_key(field),
            Kind::Max => self.maxes.contains_key(field),
            Kind::Add => self.sums.contains_key(field),
        };
        if known {
            return Admitted::Known;
        }
        if self.len() < max_fields {
            return Admitted::Room;
        }
        let largest = [
            self.fields.last_key_value().map(|(k, _)| (k.as_str(), Kind::Set)),
            self.maxes.last_key_value().map(|(k, _)| (k.as_str(), Kind::Max)),
            self.sums.last_key_value().map(|(k, _)| (k.as_str(), Kind::Add)),
        ]
        .into_iter()
        .flatten()
        .max();
        match largest {
            Some(largest) if (field, kind) < largest => {
                match largest.1 {
                    Kind::Set => self.fields.pop_last().map(|_| ()),
                    Kind::Max => self.maxes.pop_last().map(|_| ()),
                    Kind::Add => self.sums.pop_last().map(|_| ()),
                };
                Admitted::PushedOut
            }
            _ => Admitted::No,
        }
    }

    /// Every numeric cell, the form in which a session counts towards the totals.
    pub fn numbers(&self) -> impl Iterator<Item = (&str, f64)> {
        self.maxes
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .chain(self.sums.iter().map(|(k, c)| (k.as_str(), c.total)))
    }
}


/// The kind of a cell, which with its name orders it under the bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Set,
    Max,
    Add,
}

enum Admitted {
    Known,
    Room,
    /// Admitted in the place of the largest field, which is gone.
    PushedOut,
    No,
}
