//! Where profiles live: the embedded database (the zero-setup default) or DynamoDB. Both keep
//! one item per viewer with a revision number; a write names the revision it read, so two
//! hosts that both think they own a viewer cannot overwrite each other silently (the loser
//! reloads and merges again), and a status-change history beside it.

mod dynamo;
mod embedded;

pub use dynamo::DynamoStore;
pub use embedded::EmbeddedStore;

use crate::profile::ProfileState;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// A profile as read, with the revision a write must match.
#[derive(Debug, Clone)]
pub struct Stored {
    pub state: ProfileState,
    pub rev: u64,
}

/// A profile to write: only if the stored revision is still `expected_rev` (0: absent).
#[derive(Debug, Clone)]
pub struct Write {
    pub state: ProfileState,
    pub expected_rev: u64,
}

/// One row of the append-only status history: the viewer entered `status` at `ts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub viewer_id: String,
    pub ts: i64,
    /// Hash of the event id: with `ts`, the row's identity, so a replay rewrites the same row.
    pub event_hash: u64,
    pub status: String,
    pub event: String,
    pub media_label: Option<String>,
    pub media_session_id: Option<String>,
    pub ad_id: Option<String>,
    pub module_version: String,
}

/// How the caller must react to a store failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Throttling, timeouts, a server down: retry with backoff; nothing is committed meanwhile.
    #[error("store unavailable: {0}")]
    Transient(String),
    /// The store cannot work as configured (a missing table, bad credentials): stop.
    #[error("store misconfigured: {0}")]
    Fatal(String),
}

/// What became of a commit's writes, per viewer.
#[derive(Debug, Default)]
pub struct CommitOutcome {
    /// Another writer got there first: reload, merge again, retry.
    pub conflicts: Vec<String>,
    /// Refused for good (e.g. an item over the size limit): dead-letter its events.
    pub refused: Vec<(String, String)>,
}

/// Which profiles a scan returns.
#[derive(Debug, Clone, Copy)]
pub enum Scan {
    All,
    /// Last event at or after this time (epoch ms).
    SeenSince(i64),
}

#[derive(Clone)]
pub enum Store {
    Embedded(Arc<EmbeddedStore>),
    Dynamo(Arc<DynamoStore>),
}

impl Store {
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Embedded(_) => "embedded",
            Store::Dynamo(_) => "dynamodb",
        }
    }

    pub async fn load(&self, viewers: &[String]) -> Result<HashMap<String, Stored>, StoreError> {
        match self {
            Store::Embedded(s) => {
                let s = s.clone();
                let viewers = viewers.to_vec();
                blocking(move || s.load(&viewers)).await
            }
            Store::Dynamo(s) => s.load(viewers).await,
        }
    }

    /// Shared, not owned: the caller retries a failed commit with the same writes, and
    /// cloning every profile of a batch per attempt was a visible share of the write path.
    pub async fn commit(&self, writes: Arc<Vec<Write>>, history: Arc<Vec<HistoryRow>>) -> Result<CommitOutcome, StoreError> {
        match self {
            Store::Embedded(s) => {
                let s = s.clone();
                blocking(move || s.commit(&writes, &history)).await
            }
            Store::Dynamo(s) => s.commit(writes, history).await,
        }
    }

    pub async fn get(&self, viewer: &str) -> Result<Option<ProfileState>, StoreError> {
        Ok(self.load(&[viewer.to_owned()]).await?.remove(viewer).map(|s| s.state))
    }

    pub async fn scan(&self, scan: Scan) -> Result<Vec<ProfileState>, StoreError> {
        match self {
            Store::Embedded(s) => {
                let s = s.clone();
                blocking(move || s.scan(scan)).await
            }
            Store::Dynamo(s) => s.scan(scan).await,
        }
    }

    pub async fn history(&self, viewer: &str) -> Result<Vec<HistoryRow>, StoreError> {
        match self {
            Store::Embedded(s) => {
                let s = s.clone();
                let viewer = viewer.to_owned();
                blocking(move || s.history(&viewer)).await
            }
            Store::Dynamo(s) => s.history(viewer).await,
        }
    }

    /// Whether the store answers now (readiness).
    pub async fn ping(&self) -> bool {
        match self {
            Store::Embedded(_) => true,
            Store::Dynamo(s) => s.ping().await,
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Transient(format!("store task: {e}")))?
}
