//! An additive counter, counted once per dedupe key and bounded in the keys it remembers.
//!
//! Which keys count is decided by event time, never by arrival: the counter is the sum over
//! the `cap` earliest distinct keys, each placed at the earliest event time it was seen at
//! (ties broken by the key's hash). That set is a function of the events alone, so the
//! counter is the same whatever the order and however often an event repeats; past the cap a
//! later key does not count, and an earlier one that arrives late takes the place of the
//! latest. Remembering only hashes would not do: pushing a key out must take its value off.

use super::key::fnv1a;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SumCell {
    /// The sum of `kept`, added up in their order so that rounding does not depend on arrival.
    pub total: f64,
    /// The keys that count, ordered by (event time, hash).
    pub kept: Vec<Counted>,
}

/// One key that counts: the earliest time it was seen at, its hash, and its value then.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Counted {
    pub ts: i64,
    pub key: u64,
    pub value: f64,
}

impl Counted {
    fn place(&self) -> (i64, u64) {
        (self.ts, self.key)
    }

    /// Of two sightings of one key, the one the counter keeps: the earlier, then the smaller
    /// value, so that the choice does not depend on which came first.
    fn precedes(&self, other: &Counted) -> bool {
        self.ts.cmp(&other.ts).then_with(|| self.value.total_cmp(&other.value)) == Ordering::Less
    }
}

impl SumCell {
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Counts `value` under `dedupe`, seen at event time `ts`; `false` when the cap left a key
    /// out (this one, or the latest one it pushed out).
    pub fn add(&mut self, dedupe: &str, ts: i64, value: f64, cap: usize) -> bool {
        let seen = Counted { ts, key: fnv1a(dedupe.as_bytes()), value };
        let mut complete = true;
        if let Some(i) = self.kept.iter().position(|c| c.key == seen.key) {
            if !seen.precedes(&self.kept[i]) {
                return true; // a repeat
            }
            self.kept.remove(i);
        } else if self.kept.len() >= cap {
            match self.kept.last() {
                Some(latest) if seen.place() < latest.place() => {
                    self.kept.pop();
                    complete = false;
                }
                _ => return false,
            }
        }
        let at = self.kept.partition_point(|c| c.place() < seen.place());
        self.kept.insert(at, seen);
        self.total = self.kept.iter().map(|c| c.value).sum();
        complete
    }

    /// A counter stored before keys were placed by time: its hashes are kept (so repeats of
    /// them still do not count) as the earliest possible, worth nothing, and its total as one
    /// more entry that no key can push out.
    pub fn from_legacy(total: f64, seen: Vec<u64>) -> Self {
        let mut kept: Vec<Counted> = seen.into_iter().map(|key| Counted { ts: i64::MIN, key, value: 0.0 }).collect();
        kept.push(Counted { ts: i64::MIN, key: 0, value: total });
        kept.sort_by_key(Counted::place);
        SumCell { total, kept }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_counts_once_and_the_earliest_sighting_holds() {
        let mut c = SumCell::default();
        assert!(c.add("a", 10, 1.0, 4));
        assert!(c.add("a", 10, 1.0, 4));
        assert!(c.add("b", 5, 2.0, 4));
        assert_eq!(c.total, 3.0);
        // The same key seen earlier with another value: that sighting is the one kept.
        assert!(c.add("a", 1, 7.0, 4));
        assert_eq!(c.total, 9.0);
        assert_eq!(c.kept.iter().map(|k| k.ts).collect::<Vec<_>>(), [1, 5]);
    }

    #[test]
    fn past_the_cap_the_latest_keys_are_left_out() {
        let mut c = SumCell::default();
        for (k, ts) in [("a", 1), ("b", 2), ("c", 3)] {
            assert!(c.add(k, ts, 1.0, 3));
        }
        assert!(!c.add("late", 4, 1.0, 3), "later than every kept key: left out");
        assert_eq!(c.total, 3.0);
        assert!(!c.add("early", 0, 5.0, 3), "earlier: it counts, and the latest is pushed out");
        assert_eq!(c.total, 7.0);
        assert!(c.kept.iter().all(|k| k.key != fnv1a(b"c")));
        // The pushed-out key does not come back.
        assert!(!c.add("c", 3, 1.0, 3));
        assert_eq!(c.total, 7.0);
    }

    #[test]
    fn a_legacy_counter_keeps_its_total_and_its_repeats_do_not_count() {
        let mut c = SumCell::from_legacy(5.0, vec![fnv1a(b"a"), fnv1a(b"b")]);
        assert_eq!(c.total, 5.0);
        assert!(c.add("a", 100, 1.0, 1024));
        assert_eq!(c.total, 5.0);
        assert!(c.add("new", 100, 1.0, 1024));
        assert_eq!(c.total, 6.0);
    }
}
