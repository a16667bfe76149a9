//! The embedded store: a redb database file in the data directory. One write transaction per
//! batch, durable (fsync) before the commit returns.

use super::{CommitOutcome, HistoryRow, Scan, StoreError, Stored, Write};
use crate::profile::ProfileState;
use redb::{Database, ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::path::Path;

const PROFILES: TableDefinition<&str, &[u8]> = TableDefinition::new("profiles");
const HISTORY: TableDefinition<(&str, i64, u64), &[u8]> = TableDefinition::new("status_history");

/// The database's page cache.
const CACHE_BYTES: usize = 64 << 20;

pub struct EmbeddedStore {
    db: Database,
}

fn transient(e: impl std::fmt::Display) -> StoreError {
    StoreError::Transient(e.to_string())
}

impl EmbeddedStore {
    /// Opens (or creates) `profiles.redb` in `dir`. A second process on the same directory is
    /// refused: the database is locked.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Fatal(format!("{}: {e}", dir.display())))?;
        let path = dir.join("profiles.redb");
        // A bounded page cache: memory per tracked viewer must not grow with the store.
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| StoreError::Fatal(format!("{}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(transient)?;
        txn.open_table(PROFILES).map_err(transient)?;
        txn.open_table(HISTORY).map_err(transient)?;
        txn.commit().map_err(transient)?;
        Ok(EmbeddedStore { db })
    }

    pub fn load(&self, viewers: &[String]) -> Result<HashMap<String, Stored>, StoreError> {
        let txn = self.db.begin_read().map_err(transient)?;
        let table = txn.open_table(PROFILES).map_err(transient)?;
        let mut out = HashMap::with_capacity(viewers.len());
        for v in viewers {
            if let Some(bytes) = table.get(v.as_str()).map_err(transient)? {
                out.insert(v.clone(), decode(bytes.value())?);
            }
        }
        Ok(out)
    }

    pub fn commit(&self, writes: &[Write], history: &[HistoryRow]) -> Result<CommitOutcome, StoreError> {
        let mut outcome = CommitOutcome::default();
        let txn = self.db.begin_write().map_err(transient)?;
        {
            let mut table = txn.open_table(PROFILES).map_err(transient)?;
            for w in writes {
                // The revision alone: decoding the whole stored profile here cost as much as
                // encoding the new one.
                let current = match table.get(w.state.viewer_id.as_str()).map_err(transient)? {
                    Some(bytes) => rev_of(bytes.value())?,
                    None => 0,
                };
                if current != w.expected_rev {
                    outcome.conflicts.push(w.state.viewer_id.clone());
                    continue;
                }
                table
                    .insert(w.state.viewer_id.as_str(), encode(&w.state, w.expected_rev + 1).as_slice())
                    .map_err(transient)?;
            }
            let mut hist = txn.open_table(HISTORY).map_err(transient)?;
            for row in history {
                let bytes = serde_json::to_vec(row).expect("history rows serialize");
                hist.insert((row.viewer_id.as_str(), row.ts, row.event_hash), bytes.as_slice()).map_err(transient)?;
            }
        }
        txn.commit().map_err(transient)?;
        Ok(outcome)
    }

    pub fn scan(&self, scan: Scan) -> Result<Vec<ProfileState>, StoreError> {
        let txn = self.db.begin_read().map_err(transient)?;
        let table = txn.open_table(PROFILES).map_err(transient)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(transient)? {
            let (_, bytes) = entry.map_err(transient)?;
            let state = decode(bytes.value())?.state;
            let keep = match scan {
                Scan::All => true,
                Scan::SeenSince(t) => state.last_seen.is_some_and(|l| l >= t),
            };
            if keep {
                out.push(state);
            }
        }
        Ok(out)
    }

    pub fn history(&self, viewer: &str) -> Result<Vec<HistoryRow>, StoreError> {
        let txn = self.db.begin_read().map_err(transient)?;
        let table = txn.open_table(HISTORY).map_err(transient)?;
        let mut out = Vec::new();
        for entry in table.range((viewer, i64::MIN, 0)..=(viewer, i64::MAX, u64::MAX)).map_err(transient)? {
            let (_, bytes) = entry.map_err(transient)?;
            out.push(serde_json::from_slice(bytes.value()).map_err(|e| StoreError::Fatal(format!("history row: {e}")))?);
        }
        Ok(out)
    }
}

fn encode(state: &ProfileState, rev: u64) -> Vec<u8> {
    let mut out = rev.to_le_bytes().to_vec();
    out.extend(state.encode());
    out
}

fn rev_of(bytes: &[u8]) -> Result<u64, StoreError> {
    let rev = bytes.first_chunk::<8>().ok_or_else(|| StoreError::Fatal("profile item too short".into()))?;
    Ok(u64::from_le_bytes(*rev))
}

fn decode(bytes: &[u8]) -> Result<Stored, StoreError> {
    let rev = rev_of(bytes)?;
    let state = ProfileState::decode(&bytes[8..]).map_err(StoreError::Fatal)?;
    Ok(Stored { state, rev })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(viewer: &str, last_seen: i64) -> ProfileState {
        let mut s = ProfileState::new(viewer);
        s.last_seen = Some(last_seen);
        s
    }

    #[test]
    fn writes_are_conditional_on_the_revision() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let out = store.commit(&[Write { state: state("a", 1), expected_rev: 0 }], &[]).unwrap();
        assert!(out.conflicts.is_empty());
        assert_eq!(store.load(&["a".into()]).unwrap()["a"].rev, 1);
        // A writer that read nothing (rev 0) loses against the stored rev 1.
        let out = store.commit(&[Write { state: state("a", 2), expected_rev: 0 }], &[]).unwrap();
        assert_eq!(out.conflicts, ["a"]);
        let out = store.commit(&[Write { state: state("a", 2), expected_rev: 1 }], &[]).unwrap();
        assert!(out.conflicts.is_empty());
        let loaded = store.load(&["a".into(), "b".into()]).unwrap();
        assert_eq!((loaded["a"].rev, loaded["a"].state.last_seen), (2, Some(2)));
        assert!(!loaded.contains_key("b"));
    }

    #[test]
    fn survives_reopening_and_scans() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            let row = HistoryRow {
                viewer_id: "a".into(),
                ts: 5,
                event_hash: 1,
                status: "WATCHING_VIDEO".into(),
                event: "play_event".into(),
                media_label: None,
                media_session_id: None,
                ad_id: None,
                module_version: "m".into(),
            };
            let writes = [Write { state: state("a", 10), expected_rev: 0 }, Write { state: state("b", 20), expected_rev: 0 }];
            store.commit(&writes, &[row.clone(), row]).unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(store.scan(Scan::All).unwrap().len(), 2);
        assert_eq!(store.scan(Scan::SeenSince(15)).unwrap().len(), 1);
        assert_eq!(store.history("a").unwrap().len(), 1, "the same row twice is one row");
        assert!(store.history("b").unwrap().is_empty());
    }

    #[test]
    fn a_second_process_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = EmbeddedStore::open(dir.path()).unwrap();
        assert!(matches!(EmbeddedStore::open(dir.path()), Err(StoreError::Fatal(_))));
    }
}
