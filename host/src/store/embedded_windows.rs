//! The embedded store's share of the windowed metrics: their records (each minute's counts,
//! the checkpoint, the concurrency series) by key, and the log of recent samples a restart
//! replays to rebuild the open sessions, cut to what it needs at every write.

use super::embedded::EmbeddedStore;
use super::StoreError;
use redb::{ReadableTable, TableDefinition};

/// key (`m/0/<minute>`, `c/0`, `n/<minute>`) -> record JSON.
const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("window_records");
/// position -> the newest event time of its samples (8 bytes, little endian) + the samples.
const LOG: TableDefinition<i64, &[u8]> = TableDefinition::new("window_log");

/// Records older than this are dropped at every write: a day and an hour of minutes.
const KEEP_MS: i64 = 25 * 3_600_000;

/// The records by key, and the log: (position, newest event time, samples).
type Loaded = (Vec<(String, Vec<u8>)>, Vec<(i64, i64, Vec<u8>)>);

impl EmbeddedStore {
    /// Every window record, and the log in position order.
    pub fn windows_load(&self) -> Result<Loaded, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(|e| self.db.error(e))?;
        let mut records = Vec::new();
        let mut log = Vec::new();
        match txn.open_table(RECORDS) {
            Ok(t) => {
                for e in t.iter().map_err(|e| self.db.error(e))? {
                    let (k, v) = e.map_err(|e| self.db.error(e))?;
                    records.push((k.value().to_owned(), v.value().to_vec()));
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(self.db.error(e)),
        }
        match txn.open_table(LOG) {
            Ok(t) => {
                for e in t.iter().map_err(|e| self.db.error(e))? {
                    let (k, v) = e.map_err(|e| self.db.error(e))?;
                    let bytes = v.value();
                    if let (Some(ts), Some(body)) = (bytes.first_chunk::<8>(), bytes.get(8..)) {
                        log.push((k.value(), i64::from_le_bytes(*ts), body.to_vec()));
                    }
                }
            }
            Err(redb::TableError::TableDoesNotExist(_)) => {}
            Err(e) => return Err(self.db.error(e)),
        }
        Ok((records, log))
    }

    /// Writes records and log entries in one transaction, and drops the log entries whose
    /// samples are all older than `keep_log_from` and the minutes a day and an hour older than
    /// the newest.
    pub fn windows_write(&self, records: &[(String, Vec<u8>)], log: &[(i64, i64, Vec<u8>)], keep_log_from: i64) -> Result<(), StoreError> {
        let txn = self.db.get()?.begin_write().map_err(|e| self.db.error(e))?;
        {
            let mut t = txn.open_table(RECORDS).map_err(|e| self.db.error(e))?;
            let mut newest = i64::MIN;
            for (k, v) in records {
                t.insert(k.as_str(), v.as_slice()).map_err(|e| self.db.error(e))?;
                if let Some(m) = minute_of_key(k) {
                    newest = newest.max(m);
                }
            }
            if newest != i64::MIN {
                let old: Vec<String> = t
                    .iter()
                    .map_err(|e| self.db.error(e))?
                    .filter_map(|e| e.ok().map(|(k, _)| k.value().to_owned()))
                    .filter(|k| minute_of_key(k).is_some_and(|m| m < newest - KEEP_MS))
                    .take(1000)
                    .collect();
                for k in old {
                    t.remove(k.as_str()).map_err(|e| self.db.error(e))?;
                }
            }
            let mut l = txn.open_table(LOG).map_err(|e| self.db.error(e))?;
            let mut entry = Vec::new();
            for (seq, newest, body) in log {
                entry.clear();
                entry.extend_from_slice(&newest.to_le_bytes());
                entry.extend_from_slice(body);
                l.insert(*seq, entry.as_slice()).map_err(|e| self.db.error(e))?;
            }
            // The log is in position order, which is about the order of event time: the cut
            // stops at the first entry still needed (a late entry behind it goes later).
            let mut drop = Vec::new();
            for e in l.iter().map_err(|e| self.db.error(e))? {
                let (k, v) = e.map_err(|e| self.db.error(e))?;
                let ts = v.value().first_chunk::<8>().map_or(i64::MIN, |b| i64::from_le_bytes(*b));
                if ts >= keep_log_from {
                    break;
                }
                drop.push(k.value());
            }
            for k in drop {
                l.remove(k).map_err(|e| self.db.error(e))?;
            }
        }
        txn.commit().map_err(|e| self.db.error(e))
    }
}

/// The minute of a minute or concurrency record's key.
fn minute_of_key(key: &str) -> Option<i64> {
    let mut parts = key.split('/');
    match parts.next()? {
        "m" => parts.nth(1)?.parse().ok(),
        "n" => parts.next()?.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_the_log_survive_and_the_log_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            assert_eq!(store.windows_load().unwrap(), (vec![], vec![]));
            store.windows_write(&[("c/0".into(), b"{}".to_vec())], &[(0, 10, b"a".to_vec()), (1, 20, b"b".to_vec())], i64::MIN).unwrap();
            store.windows_write(&[("m/0/60000".into(), b"{}".to_vec())], &[(2, 30, b"c".to_vec())], i64::MIN).unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let (records, log) = store.windows_load().unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(log, [(0, 10, b"a".to_vec()), (1, 20, b"b".to_vec()), (2, 30, b"c".to_vec())]);
        // Entries whose samples are older than the cut go.
        store.windows_write(&[], &[], 25).unwrap();
        assert_eq!(store.windows_load().unwrap().1, [(2, 30, b"c".to_vec())]);
        assert_eq!(minute_of_key("m/3/120000"), Some(120_000));
        assert_eq!(minute_of_key("n/60000"), Some(60_000));
        assert_eq!(minute_of_key("c/0"), None);
    }
}
