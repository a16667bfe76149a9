//! The compact event key the profile stores: event time, lifecycle rank, and a 64-bit hash of
//! the event id (the full id is only needed to break ties, and a hash breaks them as well).

use liveviewer_wire::OrderKey;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    pub ts: i64,
    pub rank: u8,
    pub id: u64,
}

impl From<&OrderKey> for Key {
    fn from(k: &OrderKey) -> Self {
        Key { ts: k.ts, rank: k.rank, id: fnv1a(k.id.as_bytes()) }
    }
}

/// FNV-1a, 64 bits: stable across platforms and releases, unlike std's hasher.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_is_the_published_function() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn time_orders_first() {
        let k = |ts, rank, id: &str| Key::from(&OrderKey { ts, rank, id: id.into() });
        assert!(k(1, 50, "zzz") < k(2, 0, "a"));
        assert!(k(1, 10, "zzz") < k(1, 50, "a"));
    }
}
