//! The embedded store's database handle, opened again after an I/O failure.
//!
//! Once a write to its file fails (a full disk, a failing device), redb refuses every later
//! transaction with "Previous I/O error occurred" until the database is closed and opened
//! again. The pipeline retries a failed write, so without this a host that once hit a full
//! disk would retry that refusal forever, even after the disk had room again.

use super::StoreError;
use redb::{Database, DatabaseError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

/// Opens the database (the same file every time).
pub type Opener = Box<dyn Fn() -> Result<Database, DatabaseError> + Send + Sync>;

pub struct Handle {
    open: Opener,
    db: RwLock<Option<Arc<Database>>>,
    /// An I/O failure was seen: open the database again before the next transaction.
    failed: AtomicBool,
}

impl Handle {
    pub fn new(open: Opener) -> Result<Handle, DatabaseError> {
        let db = open()?;
        Ok(Handle { open, db: RwLock::new(Some(Arc::new(db))), failed: AtomicBool::new(false) })
    }

    /// The database, opened again first when an I/O failure was seen.
    pub fn get(&self) -> Result<Arc<Database>, StoreError> {
        if !self.failed.load(Ordering::Acquire) {
            if let Some(db) = self.db.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
                return Ok(db.clone());
            }
        }
        let mut slot = self.db.write().unwrap_or_else(|p| p.into_inner());
        if self.failed.load(Ordering::Acquire) || slot.is_none() {
            // Closed before it is opened again: the file stays locked while a handle to it
            // lives. One still in use by another call makes the open fail; the next call
            // tries again.
            *slot = None;
            let db = (self.open)().map_err(|e| StoreError::Transient(format!("opening the database again after an I/O failure: {e}")))?;
            tracing::warn!("embedded store: the database was opened again after an I/O failure");
            *slot = Some(Arc::new(db));
            self.failed.store(false, Ordering::Release);
        }
        Ok(slot.as_ref().expect("set above").clone())
    }

    /// A redb error as the store's callers see it (retry); an I/O failure also marks the
    /// database to be opened again.
    pub fn error(&self, e: impl Into<redb::Error>) -> StoreError {
        let e = e.into();
        if matches!(e, redb::Error::PreviousIo | redb::Error::Io(_)) {
            self.failed.store(true, Ordering::Release);
        }
        StoreError::Transient(e.to_string())
    }
}
