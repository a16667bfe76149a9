//! The name table: the strings a module's output repeats on every event (field names, object
//! member names, event names, state values), declared once through the `abi` export, so that
//! an event refers to each with one or two bytes. A name not in the table is written inline,
//! so the table is an optimisation, never a constraint on what a module may say.

use std::fmt;

/// Most names a table may declare.
pub const MAX_NAMES: usize = 4096;
/// Longest name: the longest field name the host accepts.
pub const MAX_NAME_BYTES: usize = 64;

/// Why a module's name table was refused (at load, before the module runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameTableError {
    TooMany(usize),
    Empty { index: usize },
    TooLong { index: usize, bytes: usize },
    Repeated { index: usize, name: String },
}

impl fmt::Display for NameTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameTableError::TooMany(n) => write!(f, "the name table has {n} names (at most {MAX_NAMES})"),
            NameTableError::Empty { index } => write!(f, "name {index} of the name table is empty"),
            NameTableError::TooLong { index, bytes } => {
                write!(f, "name {index} of the name table is {bytes} bytes (at most {MAX_NAME_BYTES})")
            }
            NameTableError::Repeated { index, name } => write!(f, "name {index} of the name table repeats {name:?}"),
        }
    }
}

impl std::error::Error for NameTableError {}

/// A checked name table, as the host reads it: reference `n` (from 1) is `names[n - 1]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameTable {
    names: Vec<String>,
}

impl NameTable {
    pub fn new(names: Vec<String>) -> Result<Self, NameTableError> {
        if names.len() > MAX_NAMES {
            return Err(NameTableError::TooMany(names.len()));
        }
        let mut seen = std::collections::HashSet::with_capacity(names.len());
        for (index, name) in names.iter().enumerate() {
            if name.is_empty() {
                return Err(NameTableError::Empty { index });
            }
            if name.len() > MAX_NAME_BYTES {
                return Err(NameTableError::TooLong { index, bytes: name.len() });
            }
            if !seen.insert(name.as_str()) {
                return Err(NameTableError::Repeated { index, name: name.clone() });
            }
        }
        Ok(NameTable { names })
    }

    /// The name a reference stands for; `None` for 0 (inline) or past the table.
    pub fn get(&self, reference: usize) -> Option<&str> {
        reference.checked_sub(1).and_then(|i| self.names.get(i)).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// The encoder's side: name -> reference, an open-addressing hash table (FNV-1a) built once.
/// A lookup costs about one pass over the name's bytes, which matters inside a module, where
/// every delta looks up its field.
pub struct NameIds {
    slots: Vec<u16>,
    names: Vec<&'static str>,
    mask: usize,
}

impl NameIds {
    /// `names` must be a valid table (see [`NameTable::new`]); a module declares the same list
    /// through its `abi` export.
    pub fn new(names: &[&'static str]) -> Self {
        assert!(names.len() < MAX_NAMES.min(u16::MAX as usize), "too many names");
        let size = (names.len() * 2).next_power_of_two().max(8);
        let mut ids = NameIds { slots: vec![0; size], names: names.to_vec(), mask: size - 1 };
        for (i, name) in names.iter().enumerate() {
            let mut slot = hash(name.as_bytes()) & ids.mask;
            while ids.slots[slot] != 0 {
                slot = (slot + 1) & ids.mask;
            }
            ids.slots[slot] = (i + 1) as u16;
        }
        ids
    }

    /// The reference of `name` (from 1), or 0 when it is not in the table.
    pub fn get(&self, name: &str) -> u32 {
        let mut slot = hash(name.as_bytes()) & self.mask;
        loop {
            let id = self.slots[slot];
            if id == 0 {
                return 0;
            }
            if same_bytes(self.names[id as usize - 1].as_bytes(), name.as_bytes()) {
                return u32::from(id);
            }
            slot = (slot + 1) & self.mask;
        }
    }

    pub fn names(&self) -> &[&'static str] {
        &self.names
    }
}

/// A hash of the length and the first and last eight bytes: names differ there, and it costs
/// the same for every name (a byte-by-byte hash was a twentieth of the module's time).
fn hash(bytes: &[u8]) -> usize {
    let (head, tail) = (word(bytes, 0), word(bytes, bytes.len().saturating_sub(8)));
    let h = (head ^ tail.rotate_left(29) ^ bytes.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 32) as usize
}

/// Up to eight bytes from `at`, little endian, zero-padded.
fn word(bytes: &[u8], at: usize) -> u64 {
    match bytes.get(at..at + 8) {
        Some(w) => u64::from_le_bytes(w.try_into().expect("eight bytes")),
        None => bytes[at..].iter().rev().fold(0, |w, b| w << 8 | u64::from(*b)),
    }
}

/// Byte equality eight bytes at a time: in wasm, `==` on slices is a call to a byte loop.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i + 8 <= a.len() {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    word(a, i) == word(b, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_bounded_and_unambiguous() {
        let ok = NameTable::new(vec!["status".into(), "media".into()]).unwrap();
        assert_eq!((ok.get(0), ok.get(1), ok.get(2), ok.get(3)), (None, Some("status"), Some("media"), None));
        assert_eq!(NameTable::new(vec!["a".into(), "".into()]), Err(NameTableError::Empty { index: 1 }));
        assert_eq!(NameTable::new(vec!["x".repeat(65)]), Err(NameTableError::TooLong { index: 0, bytes: 65 }));
        assert!(matches!(NameTable::new(vec!["a".into(), "a".into()]), Err(NameTableError::Repeated { index: 1, .. })));
        assert_eq!(NameTable::new(vec!["n".into(); MAX_NAMES + 1]), Err(NameTableError::TooMany(MAX_NAMES + 1)));
    }

    #[test]
    fn same_bytes_is_equality() {
        let samples: Vec<Vec<u8>> = (0..20).map(|n| (0..n).map(|i| b'a' + (i * 7 % 26) as u8).collect()).collect();
        for a in &samples {
            for b in &samples {
                assert_eq!(same_bytes(a, b), a == b);
                let mut c = b.clone();
                if let Some(last) = c.last_mut() {
                    *last ^= 1;
                    assert_eq!(same_bytes(a, &c), *a == c);
                }
            }
        }
    }

    #[test]
    fn the_encoder_finds_every_name_and_nothing_else() {
        let names: Vec<&'static str> = (0..300).map(|i| &*Box::leak(format!("field_{i}").into_boxed_str())).collect();
        let ids = NameIds::new(&names);
        for (i, n) in names.iter().enumerate() {
            assert_eq!(ids.get(n), i as u32 + 1);
        }
        assert_eq!(ids.get("field_300"), 0);
        assert_eq!(ids.get(""), 0);
        assert_eq!(NameIds::new(&[]).get("x"), 0);
    }
}
