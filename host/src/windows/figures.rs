//! Every host's picture of the windowed metrics: the latest record of every key, read from
//! where the owners write them (the metrics topic, or this process), summed over partitions
//! on request. Bounded: a day and an hour of minutes, per-content counts only for the last
//! hour and a bit.

use super::counts::Counts;
use super::partition::Resume;
use super::records::{Checkpoint, ConcurrencyPoint, MinuteRecord, Record};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// Minutes kept: a day, and an hour beyond it for the allowed lateness and late readers.
pub const KEEP_MS: i64 = 25 * 3_600_000;
/// Per-content counts are kept this far back: the longest window and its lateness.
pub const KEEP_CONTENT_MS: i64 = 70 * 60_000;

struct Inner {
    minutes: BTreeMap<(i64, i32), Arc<MinuteRecord>>,
    checkpoints: BTreeMap<i32, Checkpoint>,
    concurrency: BTreeMap<i64, ConcurrencyPoint>,
    newest: i64,
    /// Minutes before this have had their per-content counts dropped.
    content_cleared_below: i64,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            minutes: BTreeMap::new(),
            checkpoints: BTreeMap::new(),
            concurrency: BTreeMap::new(),
            newest: i64::MIN / 2,
            content_cleared_below: i64::MIN / 2,
        }
    }
}

#[derive(Default)]
pub struct Figures {
    inner: RwLock<Inner>,
    /// Whether everything written before this host started has been read.
    complete: AtomicBool,
}

impl Figures {
    pub fn new() -> Arc<Figures> {
        Arc::new(Figures::default())
    }

    pub fn set_complete(&self) {
        self.complete.store(true, Ordering::Relaxed);
    }

    pub fn complete(&self) -> bool {
        self.complete.load(Ordering::Relaxed)
    }

    /// Takes a record as written; a later one for the same key replaces it.
    pub fn apply(&self, record: Record) {
        let mut inner = self.inner.write().expect("figures");
        match record {
            Record::Minute(mut m) => {
                inner.newest = inner.newest.max(m.minute);
                if m.minute < inner.newest - KEEP_MS {
                    return;
                }
                if m.minute < inner.newest - KEEP_CONTENT_MS {
                    m.content.clear();
                }
                inner.minutes.insert((m.minute, m.partition), Arc::new(m));
            }
            Record::Checkpoint(c) => {
                inner.checkpoints.insert(c.partition, c);
            }
            Record::Concurrency(n) => {
                inner.newest = inner.newest.max(n.minute);
                inner.concurrency.insert(n.minute, n);
            }
        }
        // Pruning is by key order, a few entries at a time, so it never stalls a reader.
        let floor = inner.newest - KEEP_MS;
        while inner.minutes.first_key_value().is_some_and(|((m, _), _)| *m < floor) {
            inner.minutes.pop_first();
        }
        while inner.concurrency.first_key_value().is_some_and(|(m, _)| *m < floor) {
            inner.concurrency.pop_first();
        }
        let content_floor = inner.newest - KEEP_CONTENT_MS;
        if content_floor > inner.content_cleared_below {
            let from = inner.content_cleared_below;
            for (_, m) in inner.minutes.range_mut((from, i32::MIN)..(content_floor, i32::MIN)) {
                if !m.content.is_empty() {
                    Arc::make_mut(m).content.clear();
                }
            }
            inner.content_cleared_below = content_floor;
        }
    }

    /// The counts of the minutes `[from, to]` (minute starts), all contents or one.
    pub fn window(&self, from: i64, to: i64, content: Option<&str>) -> Counts {
        let inner = self.inner.read().expect("figures");
        let mut total = Counts::default();
        for m in inner.minutes.range((from, i32::MIN)..=(to, i32::MAX)).map(|(_, m)| m) {
            match content {
                None => total.add(&m.overall),
                Some(c) => {
                    if let Some(x) = m.content.get(c) {
                        total.add(x);
                    }
                }
            }
        }
        total
    }

    /// Every content's counts over `[from, to]`.
    pub fn contents(&self, from: i64, to: i64) -> HashMap<String, Counts> {
        let inner = self.inner.read().expect("figures");
        let mut out: HashMap<String, Counts> = HashMap::new();
        for m in inner.minutes.range((from, i32::MIN)..=(to, i32::MAX)).map(|(_, m)| m) {
            for (k, c) in &m.content {
                match out.get_mut(k.as_str()) {
                    Some(t) => t.add(c),
                    None => {
                        out.insert(k.clone(), *c);
                    }
                }
            }
        }
        out
    }

    /// Every minute's counts (all partitions) over `[from, to]`, minutes without any omitted.
    pub fn series(&self, from: i64, to: i64) -> BTreeMap<i64, Counts> {
        let inner = self.inner.read().expect("figures");
        let mut out: BTreeMap<i64, Counts> = BTreeMap::new();
        for ((minute, _), m) in inner.minutes.range((from, i32::MIN)..=(to, i32::MAX)) {
            out.entry(*minute).or_default().add(&m.overall);
        }
        out
    }

    pub fn concurrency(&self, from: i64, to: i64) -> Vec<ConcurrencyPoint> {
        self.inner.read().expect("figures").concurrency.range(from..=to).map(|(_, p)| p.clone()).collect()
    }

    /// The newest concurrency sample's minute.
    pub fn last_concurrency(&self) -> Option<i64> {
        self.inner.read().expect("figures").concurrency.last_key_value().map(|(m, _)| *m)
    }

    /// The newest event time any partition's counts have seen (none before the first).
    pub fn newest_event(&self) -> Option<i64> {
        self.inner.read().expect("figures").checkpoints.values().map(|c| c.watermark).filter(|w| *w != i64::MIN).max()
    }

    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.inner.read().expect("figures").checkpoints.values().cloned().collect()
    }

    /// What a host taking `partition` over resumes from.
    pub fn resume(&self, partition: i32) -> Resume {
        let inner = self.inner.read().expect("figures");
        Resume {
            checkpoint: inner.checkpoints.get(&partition).cloned(),
            minutes: inner.minutes.iter().filter(|((_, p), _)| *p == partition).map(|(_, m)| (**m).clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(partition: i32, minute: i64, plays: i64, content: &[(&str, i64)]) -> Record {
        Record::Minute(MinuteRecord {
            partition,
            minute,
            through: 0,
            overall: Counts { plays_started: plays, ..Counts::default() },
            content: content.iter().map(|(k, n)| (k.to_string(), Counts { plays_started: *n, ..Counts::default() })).collect(),
        })
    }

    #[test]
    fn windows_sum_partitions_and_minutes_and_the_latest_record_wins() {
        let f = Figures::new();
        f.apply(minute(0, 60_000, 1, &[("A", 1)]));
        f.apply(minute(1, 60_000, 2, &[("A", 1), ("B", 1)]));
        f.apply(minute(0, 120_000, 5, &[("B", 5)]));
        f.apply(minute(0, 120_000, 3, &[("B", 3)]));
        f.apply(minute(0, 180_000, 7, &[]));
        assert_eq!(f.window(60_000, 120_000, None).plays_started, 6);
        assert_eq!(f.window(60_000, 180_000, Some("B")).plays_started, 4);
        assert_eq!(f.contents(0, 120_000)["A"].plays_started, 2);
        let series: Vec<(i64, i64)> = f.series(0, 200_000).into_iter().map(|(m, c)| (m, c.plays_started)).collect();
        assert_eq!(series, [(60_000, 3), (120_000, 3), (180_000, 7)]);
        assert_eq!(f.resume(0).minutes.len(), 3);
    }

    #[test]
    fn old_minutes_go_and_old_contents_go_first() {
        let f = Figures::new();
        f.apply(minute(0, 0, 1, &[("A", 1)]));
        f.apply(minute(0, KEEP_CONTENT_MS + 60_000, 1, &[("A", 1)]));
        assert!(f.contents(0, 0).is_empty(), "content beyond the hour and a bit is dropped");
        assert_eq!(f.window(0, 0, None).plays_started, 1);
        f.apply(minute(0, KEEP_MS + 60_000, 1, &[]));
        assert_eq!(f.window(0, 0, None).plays_started, 0, "beyond a day and an hour the minute is gone");
    }
}
