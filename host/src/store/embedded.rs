//! The embedded store: a redb database file in the data directory. One write transaction per
//! commit, durable (fsync) before the commit returns. Beside the profiles, an index by last
//! event time lets its host seed its live view at start-up without reading every profile.

use super::{CommitOutcome, HistoryCursor, HistoryRow, Loaded, StoreError, Stored, Write};
use crate::profile::ProfileState;
use super::redb_handle::{Handle, Opener};
use redb::{ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::Path;

/// viewer -> revision (8 bytes, little endian) + the encoded state.
const PROFILES: TableDefinition<&str, &[u8]> = TableDefinition::new("profiles");
const HISTORY: TableDefinition<(&str, i64, u64), &[u8]> = TableDefinition::new("status_history");
/// (last event time, viewer): the viewers by how recently they were seen.
const RECENT: TableDefinition<(i64, &str), ()> = TableDefinition::new("recent");
/// viewer -> its key in RECENT, to move it when the viewer is seen again.
const LAST_SEEN: TableDefinition<&str, i64> = TableDefinition::new("last_seen");

/// The database's page cache.
const CACHE_BYTES: usize = 64 << 20;

pub struct EmbeddedStore {
    pub(super) db: Handle,
}

impl EmbeddedStore {
    /// Opens (or creates) `profiles.redb` in `dir`. A second process on the same directory is
    /// refused: the database is locked.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Fatal(format!("{}: {e}", dir.display())))?;
        let path = dir.join("profiles.redb");
        // A bounded page cache: memory per tracked viewer must not grow with the store.
        let at = path.clone();
        Self::open_with(Box::new(move || redb::Builder::new().set_cache_size(CACHE_BYTES).create(&at)))
            .map_err(|e| match e {
                StoreError::Fatal(e) => StoreError::Fatal(format!("{}: {e}", path.display())),
                other => other,
            })
    }

    /// Opens the database `open` opens (and opens again after an I/O failure).
    pub(crate) fn open_with(open: Opener) -> Result<Self, StoreError> {
        let store = EmbeddedStore { db: Handle::new(open).map_err(|e| StoreError::Fatal(e.to_string()))? };
        let txn = store.db.get()?.begin_write().map_err(|e| store.db.error(e))?;
        let indexed = {
            txn.open_table(HISTORY).map_err(|e| store.db.error(e))?;
            txn.open_table(RECENT).map_err(|e| store.db.error(e))?;
            let profiles = txn.open_table(PROFILES).map_err(|e| store.db.error(e))?;
            let last_seen = txn.open_table(LAST_SEEN).map_err(|e| store.db.error(e))?;
            profiles.len().map_err(|e| store.db.error(e))? == last_seen.len().map_err(|e| store.db.error(e))?
        };
        txn.commit().map_err(|e| store.db.error(e))?;
        if !indexed {
            store.rebuild_index()?;
        }
        Ok(store)
    }

    /// Builds the last-seen index of a database written before it existed: once, at open.
    fn rebuild_index(&self) -> Result<(), StoreError> {
        tracing::info!("indexing the embedded store by last event time (once)");
        let txn = self.db.get()?.begin_write().map_err(|e| self.db.error(e))?;
        {
            let profiles = txn.open_table(PROFILES).map_err(|e| self.db.error(e))?;
            let mut recent = txn.open_table(RECENT).map_err(|e| self.db.error(e))?;
            let mut last_seen = txn.open_table(LAST_SEEN).map_err(|e| self.db.error(e))?;
            for entry in profiles.iter().map_err(|e| self.db.error(e))? {
                let (viewer, bytes) = entry.map_err(|e| self.db.error(e))?;
                match decode(bytes.value()) {
                    Ok(stored) => {
                        let seen = stored.state.last_seen.unwrap_or(0);
                        recent.insert((seen, viewer.value()), ()).map_err(|e| self.db.error(e))?;
                        last_seen.insert(viewer.value(), seen).map_err(|e| self.db.error(e))?;
                    }
                    // Unreadable: not in the index, but counted, so that the index is not
                    // rebuilt at every start.
                    Err(_) => {
                        last_seen.insert(viewer.value(), i64::MIN).map_err(|e| self.db.error(e))?;
                    }
                }
            }
        }
        txn.commit().map_err(|e| self.db.error(e))
    }

    pub fn load(&self, viewers: &[String]) -> Result<Loaded, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(|e| self.db.error(e))?;
        let table = txn.open_table(PROFILES).map_err(|e| self.db.error(e))?;
        let mut out = Loaded::default();
        for v in viewers {
            if let Some(bytes) = table.get(v.as_str()).map_err(|e| self.db.error(e))? {
                match decode(bytes.value()) {
                    Ok(stored) => {
                        out.found.insert(v.clone(), stored);
                    }
                    Err(reason) => out.unreadable.push((v.clone(), reason)),
                }
            }
        }
        Ok(out)
    }

    pub fn commit(&self, writes: &[Write], history: &[HistoryRow]) -> Result<CommitOutcome, StoreError> {
        let mut outcome = CommitOutcome::default();
        let txn = self.db.get()?.begin_write().map_err(|e| self.db.error(e))?;
        {
            let mut table = txn.open_table(PROFILES).map_err(|e| self.db.error(e))?;
            let mut recent = txn.open_table(RECENT).map_err(|e| self.db.error(e))?;
            let mut last_seen = txn.open_table(LAST_SEEN).map_err(|e| self.db.error(e))?;
            let mut item = Vec::new();
            for w in writes {
                // The revision alone: decoding the whole stored profile here cost as much as
                // encoding the new one.
                let current = match table.get(w.viewer_id.as_str()).map_err(|e| self.db.error(e))? {
                    Some(bytes) => rev_of(bytes.value()).unwrap_or(u64::MAX),
                    None => 0,
                };
                if current != w.expected_rev {
                    outcome.conflicts.push(w.viewer_id.clone());
                    continue;
                }
                item.clear();
                item.extend_from_slice(&(w.expected_rev + 1).to_le_bytes());
                item.extend_from_slice(&w.state);
                table.insert(w.viewer_id.as_str(), item.as_slice()).map_err(|e| self.db.error(e))?;
                let seen = w.summary.last_seen.unwrap_or(0);
                let before = last_seen.insert(w.viewer_id.as_str(), seen).map_err(|e| self.db.error(e))?.map(|v| v.value());
                if before != Some(seen) {
                    if let Some(b) = before {
                        recent.remove((b, w.viewer_id.as_str())).map_err(|e| self.db.error(e))?;
                    }
                    recent.insert((seen, w.viewer_id.as_str()), ()).map_err(|e| self.db.error(e))?;
                }
            }
            let mut hist = txn.open_table(HISTORY).map_err(|e| self.db.error(e))?;
            for row in history {
                let bytes = serde_json::to_vec(row).expect("history rows serialize");
                hist.insert((row.viewer_id.as_str(), row.ts, row.event_hash), bytes.as_slice()).map_err(|e| self.db.error(e))?;
            }
        }
        txn.commit().map_err(|e| self.db.error(e))?;
        Ok(outcome)
    }

    /// Every readable profile (the export command's full read).
    pub fn export(&self) -> Result<Vec<ProfileState>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(|e| self.db.error(e))?;
        let table = txn.open_table(PROFILES).map_err(|e| self.db.error(e))?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(|e| self.db.error(e))? {
            let (viewer, bytes) = entry.map_err(|e| self.db.error(e))?;
            match decode(bytes.value()) {
                Ok(s) => out.push(s.state),
                Err(reason) => tracing::warn!(viewer = viewer.value(), %reason, "unreadable profile left out of the export"),
            }
        }
        Ok(out)
    }

    /// The profiles seen at or after `since_ms`, newest first, at most `limit`: a range of the
    /// index, not a read of every profile.
    pub fn recent(&self, since_ms: i64, limit: usize) -> Result<Vec<ProfileState>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(|e| self.db.error(e))?;
        let recent = txn.open_table(RECENT).map_err(|e| self.db.error(e))?;
        let profiles = txn.open_table(PROFILES).map_err(|e| self.db.error(e))?;
        let mut out = Vec::new();
        for entry in recent.range((since_ms, "")..).map_err(|e| self.db.error(e))?.rev().take(limit) {
            let (key, _) = entry.map_err(|e| self.db.error(e))?;
            let (_, viewer) = key.value();
            if let Some(bytes) = profiles.get(viewer).map_err(|e| self.db.error(e))? {
                if let Ok(s) = decode(bytes.value()) {
                    out.push(s.state);
                }
            }
        }
        Ok(out)
    }

    /// Deletes a viewer's profile (the operator's repair of an unreadable item).
    pub fn delete(&self, viewer: &str) -> Result<bool, StoreError> {
        let txn = self.db.get()?.begin_write().map_err(|e| self.db.error(e))?;
        let existed = {
            let mut table = txn.open_table(PROFILES).map_err(|e| self.db.error(e))?;
            let mut recent = txn.open_table(RECENT).map_err(|e| self.db.error(e))?;
            let mut last_seen = txn.open_table(LAST_SEEN).map_err(|e| self.db.error(e))?;
            if let Some(seen) = last_seen.remove(viewer).map_err(|e| self.db.error(e))?.map(|v| v.value()) {
                recent.remove((seen, viewer)).map_err(|e| self.db.error(e))?;
            }
            let removed = table.remove(viewer).map_err(|e| self.db.error(e))?.is_some();
            removed
        };
        txn.commit().map_err(|e| self.db.error(e))?;
        Ok(existed)
    }

    /// Stores raw item bytes (tests: a corrupt item).
    #[doc(hidden)]
    pub fn put_raw(&self, viewer: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let txn = self.db.get()?.begin_write().map_err(|e| self.db.error(e))?;
        txn.open_table(PROFILES).map_err(|e| self.db.error(e))?.insert(viewer, bytes).map_err(|e| self.db.error(e))?;
        txn.open_table(LAST_SEEN).map_err(|e| self.db.error(e))?.insert(viewer, i64::MIN).map_err(|e| self.db.error(e))?;
        txn.commit().map_err(|e| self.db.error(e))
    }

    /// A viewer's history rows older than `before`, newest first, at most `limit`: a range of
    /// the viewer's keys.
    pub fn history(&self, viewer: &str, before: Option<HistoryCursor>, limit: usize) -> Result<Vec<HistoryRow>, StoreError> {
        let txn = self.db.get()?.begin_read().map_err(|e| self.db.error(e))?;
        let table = txn.open_table(HISTORY).map_err(|e| self.db.error(e))?;
        let mut out = Vec::new();
        let rows = match before {
            Some(c) => table.range((viewer, i64::MIN, 0)..(viewer, c.ts, c.event_hash)),
            None => table.range((viewer, i64::MIN, 0)..=(viewer, i64::MAX, u64::MAX)),
        }
        .map_err(|e| self.db.error(e))?;
        for entry in rows.rev().take(limit) {
            let (_, bytes) = entry.map_err(|e| self.db.error(e))?;
            out.push(serde_json::from_slice(bytes.value()).map_err(|e| StoreError::Unreadable(format!("history row: {e}")))?);
        }
        Ok(out)
    }
}

fn rev_of(bytes: &[u8]) -> Result<u64, String> {
    let rev = bytes.first_chunk::<8>().ok_or_else(|| "profile item too short".to_owned())?;
    Ok(u64::from_le_bytes(*rev))
}

fn decode(bytes: &[u8]) -> Result<Stored, String> {
    let rev = rev_of(bytes)?;
    let state = ProfileState::decode(&bytes[8..])?;
    Ok(Stored { state, rev })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn state(viewer: &str, last_seen: i64) -> ProfileState {
        let mut s = ProfileState::new(viewer);
        s.last_seen = Some(last_seen);
        s
    }

    #[test]
    fn writes_are_conditional_on_the_revision() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let out = store.commit(&[Write::new(&state("a", 1), 0)], &[]).unwrap();
        assert!(out.conflicts.is_empty());
        assert_eq!(store.load(&["a".into()]).unwrap().found["a"].rev, 1);
        // A writer that read nothing (rev 0) loses against the stored rev 1.
        let out = store.commit(&[Write::new(&state("a", 2), 0)], &[]).unwrap();
        assert_eq!(out.conflicts, ["a"]);
        let out = store.commit(&[Write::new(&state("a", 2), 1)], &[]).unwrap();
        assert!(out.conflicts.is_empty());
        let loaded = store.load(&["a".into(), "b".into()]).unwrap().found;
        assert_eq!((loaded["a"].rev, loaded["a"].state.last_seen), (2, Some(2)));
        assert!(!loaded.contains_key("b"));
    }

    #[test]
    fn survives_reopening_and_finds_recent_viewers_by_the_index() {
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
            let writes = [Write::new(&state("a", 10), 0), Write::new(&state("b", 20), 0), Write::new(&state("c", 5), 0)];
            store.commit(&writes, &[row.clone(), row]).unwrap();
            // Seen again: moves in the index.
            store.commit(&[Write::new(&state("c", 30), 1)], &[]).unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(store.export().unwrap().len(), 3);
        let ids = |v: Vec<ProfileState>| v.into_iter().map(|s| s.viewer_id).collect::<Vec<_>>();
        assert_eq!(ids(store.recent(15, 10).unwrap()), ["c", "b"]);
        assert_eq!(ids(store.recent(0, 1).unwrap()), ["c"]);
        assert_eq!(store.history("a", None, 10).unwrap().len(), 1, "the same row twice is one row");
        assert!(store.history("b", None, 10).unwrap().is_empty());
    }

    #[test]
    fn history_pages_go_newest_first_from_a_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let row = |v: &str, ts: i64, hash: u64| HistoryRow {
            viewer_id: v.into(),
            ts,
            event_hash: hash,
            status: format!("S{ts}"),
            event: "e".into(),
            media_label: None,
            media_session_id: None,
            ad_id: None,
            module_version: "m".into(),
        };
        let rows: Vec<HistoryRow> = (1..=5).map(|t| row("a", t, 7)).chain([row("a", 3, 9), row("b", 4, 1), row("aa", 9, 1)]).collect();
        store.commit(&[], &rows).unwrap();
        let keys = |r: Vec<HistoryRow>| r.into_iter().map(|r| (r.ts, r.event_hash)).collect::<Vec<_>>();
        assert_eq!(keys(store.history("a", None, 3).unwrap()), [(5, 7), (4, 7), (3, 9)]);
        let after = Some(HistoryCursor { ts: 3, event_hash: 9 });
        assert_eq!(keys(store.history("a", after, 10).unwrap()), [(3, 7), (2, 7), (1, 7)]);
    }

    #[test]
    fn an_unreadable_item_is_reported_for_its_viewer_alone_and_can_be_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.commit(&[Write::new(&state("good", 1), 0)], &[]).unwrap();
        store.put_raw("bad", &[1, 0, 0, 0, 0, 0, 0, 0, 9, 9, 9]).unwrap();
        let loaded = store.load(&["good".into(), "bad".into()]).unwrap();
        assert!(loaded.found.contains_key("good"));
        assert_eq!(loaded.unreadable.len(), 1);
        assert_eq!(loaded.unreadable[0].0, "bad");
        assert!(store.delete("bad").unwrap());
        assert!(store.load(&["bad".into()]).unwrap().unreadable.is_empty());
    }

    /// A disk that can be made full: every write fails while `full` is set.
    #[derive(Debug)]
    struct FillableDisk {
        file: redb::backends::FileBackend,
        full: Arc<AtomicBool>,
    }

    impl redb::StorageBackend for FillableDisk {
        fn len(&self) -> std::io::Result<u64> {
            self.file.len()
        }
        fn read(&self, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
            self.file.read(offset, len)
        }
        fn set_len(&self, len: u64) -> std::io::Result<()> {
            self.refuse()?;
            self.file.set_len(len)
        }
        fn sync_data(&self, eventual: bool) -> std::io::Result<()> {
            self.refuse()?;
            self.file.sync_data(eventual)
        }
        fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
            self.refuse()?;
            self.file.write(offset, data)
        }
    }

    impl FillableDisk {
        fn refuse(&self) -> std::io::Result<()> {
            if self.full.load(Ordering::SeqCst) {
                return Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "No space left on device"));
            }
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_fails_the_writes_and_the_store_recovers_once_there_is_room() {
        let dir = tempfile::tempdir().unwrap();
        let (path, full) = (dir.path().join("profiles.redb"), Arc::new(AtomicBool::new(false)));
        let disk = full.clone();
        let store = EmbeddedStore::open_with(Box::new(move || {
            let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
            let file = redb::backends::FileBackend::new(file)?;
            redb::Builder::new().create_with_backend(FillableDisk { file, full: disk.clone() })
        }))
        .unwrap();
        store.commit(&[Write::new(&state("before", 1), 0)], &[]).unwrap();
        full.store(true, Ordering::SeqCst);
        let failed = store.commit(&[Write::new(&state("during", 2), 0)], &[]);
        assert!(matches!(failed, Err(StoreError::Transient(_))), "{failed:?}");
        // Still full: still refused, and nothing is half written.
        assert!(store.commit(&[Write::new(&state("during", 2), 0)], &[]).is_err());
        full.store(false, Ordering::SeqCst);
        // Room again: the next write lands (redb alone would refuse it for good: "Previous
        // I/O error occurred").
        store.commit(&[Write::new(&state("after", 3), 0)], &[]).expect("the store recovers");
        let loaded = store.load(&["before".into(), "during".into(), "after".into()]).unwrap();
        assert_eq!(loaded.found["before"].rev, 1);
        assert_eq!(loaded.found["after"].rev, 1);
        assert!(!loaded.found.contains_key("during"), "a failed commit leaves nothing");
    }

    #[test]
    fn a_second_process_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _first = EmbeddedStore::open(dir.path()).unwrap();
        assert!(matches!(EmbeddedStore::open(dir.path()), Err(StoreError::Fatal(_))));
    }
}
