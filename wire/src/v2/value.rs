//! Typed values (what a `set` delta carries): null, booleans, integers and floats kept apart
//! (so `1` and `1.0` stay what the module said, as they do in JSON), strings, arrays, and
//! objects whose member names go through the name table. The host turns them into the same
//! JSON values a v1 module would have sent.

use super::bytes::{put_f64, put_str, put_uvar, unzigzag, zigzag, Reader};
use super::decode::{Budget, DecodeError, Malformed};
use super::names::{NameIds, NameTable};
use super::{put_name, read_name};
use serde_json::{Map, Number, Value};

/// Deepest nesting of arrays and objects (a scalar at the top is depth 1).
pub const MAX_DEPTH: usize = 16;

/// The first byte of every value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ValueTag {
    Null = 0,
    False = 1,
    True = 2,
    /// Zigzag LEB128, a signed 64-bit integer.
    Int = 3,
    /// LEB128, an unsigned 64-bit integer (for those above `i64::MAX`).
    Uint = 4,
    /// Eight bytes, an IEEE 754 double, little endian; finite.
    Float = 5,
    String = 6,
    /// A count, then that many values.
    Array = 7,
    /// A count, then that many (name, value) members.
    Object = 8,
}

impl ValueTag {
    fn from_u8(b: u8) -> Option<Self> {
        use ValueTag::*;
        Some(match b {
            0 => Null,
            1 => False,
            2 => True,
            3 => Int,
            4 => Uint,
            5 => Float,
            6 => String,
            7 => Array,
            8 => Object,
            _ => return None,
        })
    }
}

pub fn put_value(out: &mut Vec<u8>, ids: &NameIds, v: &Value) {
    match v {
        Value::Null => out.push(ValueTag::Null as u8),
        Value::Bool(false) => out.push(ValueTag::False as u8),
        Value::Bool(true) => out.push(ValueTag::True as u8),
        Value::Number(n) => put_number(out, n),
        Value::String(s) => {
            out.push(ValueTag::String as u8);
            put_str(out, s);
        }
        Value::Array(items) => {
            out.push(ValueTag::Array as u8);
            put_uvar(out, items.len() as u64);
            for item in items {
                put_value(out, ids, item);
            }
        }
        Value::Object(members) => {
            out.push(ValueTag::Object as u8);
            put_uvar(out, members.len() as u64);
            for (name, item) in members {
                put_name(out, ids, name);
                put_value(out, ids, item);
            }
        }
    }
}

fn put_number(out: &mut Vec<u8>, n: &Number) {
    if let Some(i) = n.as_i64() {
        out.push(ValueTag::Int as u8);
        put_uvar(out, zigzag(i));
    } else if let Some(u) = n.as_u64() {
        out.push(ValueTag::Uint as u8);
        put_uvar(out, u);
    } else {
        // A serde_json number is an integer or a finite float.
        out.push(ValueTag::Float as u8);
        put_f64(out, n.as_f64().unwrap_or(0.0));
    }
}

pub fn read_value(r: &mut Reader<'_>, names: &NameTable, budget: &mut Budget, depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(Malformed::TooDeep.at(r.pos()));
    }
    let at = r.pos();
    let tag = r.u8().map_err(|m| m.at(at))?;
    budget.charge(1)?;
    let tag = ValueTag::from_u8(tag).ok_or(Malformed::UnknownValue(tag).at(at))?;
    Ok(match tag {
        ValueTag::Null => Value::Null,
        ValueTag::False => Value::Bool(false),
        ValueTag::True => Value::Bool(true),
        ValueTag::Int => {
            budget.charge(8)?;
            Value::from(unzigzag(r.uvar().map_err(|m| m.at(at))?))
        }
        ValueTag::Uint => {
            budget.charge(8)?;
            Value::from(r.uvar().map_err(|m| m.at(at))?)
        }
        ValueTag::Float => {
            budget.charge(8)?;
            let v = r.f64().map_err(|m| m.at(at))?;
            Value::Number(Number::from_f64(v).ok_or(Malformed::NotFinite.at(at))?)
        }
        ValueTag::String => {
            let s = r.str().map_err(|m| m.at(at))?;
            budget.charge(s.len())?;
            Value::String(s.to_owned())
        }
        ValueTag::Array => {
            let n = r.len().map_err(|m| m.at(at))?;
            // Every item takes at least a byte: a count past the bytes left is a lie, and
            // refusing it first keeps the allocation below the output's size.
            if n > r.remaining() {
                return Err(Malformed::Truncated.at(at));
            }
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(read_value(r, names, budget, depth + 1)?);
            }
            Value::Array(items)
        }
        ValueTag::Object => {
            let n = r.len().map_err(|m| m.at(at))?;
            if n > r.remaining() / 2 {
                return Err(Malformed::Truncated.at(at));
            }
            let mut members = Vec::with_capacity(n);
            for _ in 0..n {
                let name = read_name(r, names, budget)?;
                let item = read_value(r, names, budget, depth + 1)?;
                members.push((name.to_owned(), item));
            }
            // Built in one pass (the members usually come in key order); as in a JSON object
            // with a repeated member, the last one stands.
            Value::Object(members.into_iter().collect::<Map<String, Value>>())
        }
    })
}
