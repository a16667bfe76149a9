//! Where profiles live: the embedded database (the zero-setup default) or DynamoDB. Both keep
//! one item per viewer with a revision number; a write names the revision it read, so two
//! hosts that both think they own a viewer cannot overwrite each other silently (the loser
//! reloads and merges again), and a status-change history beside it.

mod dynamo;
mod embedded;
mod embedded_windows;
mod redb_handle;
mod write_limit;

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

/// What a load found: the profiles, and the items that exist but cannot be read (a corrupt or
/// foreign item), each with the reason: their viewers' events go to the dead letters, the
/// rest of the batch goes on.
#[derive(Debug, Default)]
pub struct Loaded {
    pub found: HashMap<String, Stored>,
    pub unreadable: Vec<(String, String)>,
}

/// A profile to write: only if the stored revision is still `expected_rev` (0: absent).
#[derive(Debug, Clone)]
pub struct Write {
    pub viewer_id: String,
    /// The profile state, encoded once ([`ProfileState::encode`]).
    pub state: Vec<u8>,
    /// What a person reading the item sees besides the state.
    pub summary: Summary,
    pub expected_rev: u64,
}

impl Write {
    pub fn new(state: &ProfileState, expected_rev: u64) -> Write {
        Write { viewer_id: state.viewer_id.clone(), state: state.encode(), summary: Summary::of(state), expected_rev }
    }
}

/// The readable part of a stored profile (DynamoDB attributes beside the state blob), so that
/// `aws dynamodb get-item` answers a person.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub status: Option<String>,
    pub status_at: Option<i64>,
    pub media_label: Option<String>,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub module_version: String,
    pub revision: u64,
}

impl Summary {
    pub fn of(state: &ProfileState) -> Summary {
        let status = state.states.get("status").and_then(|w| w.current());
        let media_label = state
            .cells
            .fields
            .get("media")
            .and_then(|r| serde_json::from_str::<serde_json::Value>(&r.value).ok())
            .and_then(|m| m.get("label").and_then(|l| l.as_str()).map(str::to_owned));
        Summary {
            status: status.map(|(v, _)| v.to_owned()),
            status_at: status.map(|(_, since)| since.ts),
            media_label,
            first_seen: state.first_seen,
            last_seen: state.last_seen,
            module_version: state.module_version.clone(),
            revision: state.revision,
        }
    }
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

/// Most history rows one page holds.
pub const MAX_HISTORY_PAGE: usize = 200;

/// Where a page of a viewer's history continues: the rows older than this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryCursor {
    pub ts: i64,
    pub event_hash: u64,
}

impl HistoryCursor {
    /// `<ts>.<event hash in hex>`: opaque to callers, stable across stores.
    pub fn encode(&self) -> String {
        format!("{}.{:016x}", self.ts, self.event_hash)
    }

    pub fn decode(text: &str) -> Option<HistoryCursor> {
        let (ts, hash) = text.split_once('.')?;
        Some(HistoryCursor { ts: ts.parse().ok()?, event_hash: u64::from_str_radix(hash, 16).ok()? })
    }
}

/// A page of a viewer's history, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    pub rows: Vec<HistoryRow>,
    /// Where the next (older) page starts; none when this is the last.
    pub next: Option<HistoryCursor>,
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
    /// An item exists but cannot be read as a profile: that viewer's events are dead letters;
    /// nothing else stops.
    #[error("unreadable profile: {0}")]
    Unreadable(String),
}

/// What became of a commit's writes, per viewer.
#[derive(Debug, Default)]
pub struct CommitOutcome {
    /// Another writer got there first: reload, merge again, retry.
    pub conflicts: Vec<String>,
    /// Refused for good (e.g. an item over the size limit): dead-letter its events.
    pub refused: Vec<(String, String)>,
    /// Not written this time (throttled, a timeout): write these again, and only these.
    pub retry: Vec<(String, String)>,
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

    /// The profiles of `viewers` that exist: key lookups, never a scan.
    pub async fn load(&self, viewers: &[String]) -> Result<Loaded, StoreError> {
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
    /// copying every profile of a batch per attempt was a visible share of the write path.
    pub async fn commit(&self, writes: Arc<Vec<Write>>, history: Arc<Vec<HistoryRow>>) -> Result<CommitOutcome, StoreError> {
        match self {
            Store::Embedded(s) => {
                let s = s.clone();
                blocking(move || s.commit(&writes, &history)).await
            }
            Store::Dynamo(s) => s.commit(writes, history).await,
        }
    }

    /// One viewer's profile, by key.
    pub async fn get(&self, viewer: &str) -> Result<Option<ProfileState>, StoreError> {
        let mut loaded = self.load(&[viewer.to_owned()]).await?;
        if let Some((_, reason)) = loaded.unreadable.pop() {
            return Err(StoreError::Unreadable(format!("profile of {viewer:?}: {reason}")));
        }
        Ok(loaded.found.remove(viewer).map(|s| s.state))
    }

    /// Every stored profile: a full read, for the `profiles` export only. Nothing that runs
    /// while the host serves calls it (a DynamoDB scan reads, and bills, the whole table).
    pub async fn export(&self) -> Result<Vec<ProfileState>, StoreError> {
        match self {
            Store::Embedded(s) => {
                let s = s.clone();
                blocking(move || s.export()).await
            }
            Store::Dynamo(s) => s.export().await,
        }
    }

    /// The profiles seen at or after `since_ms`, where the store keeps an index by last event
    /// (the embedded store: its single host seeds its live view from it at start-up). DynamoDB
    /// keeps none: there the live view comes from the changelog topic.
    pub async fn recent(&self, since_ms: i64, limit: usize) -> Result<Vec<ProfileState>, StoreError> {
        match self {
            Store::Embedded(s) => {
                let s = s.clone();
                blocking(move || s.recent(since_ms, limit)).await
            }
            Store::Dynamo(_) => Ok(Vec::new()),
        }
    }

    /// Deletes one viewer's profile; whether there was one.
    pub async fn delete(&self, viewer: &str) -> Result<bool, StoreError> {
        match self {
            Store::Embedded(s) => {
                let s = s.clone();
                let viewer = viewer.to_owned();
                blocking(move || s.delete(&viewer)).await
            }
            Store::Dynamo(s) => s.delete(viewer).await,
        }
    }

    /// A page of a viewer's status history, newest first, from `before` on: a key query,
    /// at most `limit` rows (and one more read, to know whether there are more).
    pub async fn history(&self, viewer: &str, before: Option<HistoryCursor>, limit: usize) -> Result<HistoryPage, StoreError> {
        let limit = limit.clamp(1, MAX_HISTORY_PAGE);
        let mut rows = match self {
            Store::Embedded(s) => {
                let s = s.clone();
                let viewer = viewer.to_owned();
                blocking(move || s.history(&viewer, before, limit + 1)).await?
            }
            Store::Dynamo(s) => s.history(viewer, before, limit + 1).await?,
        };
        let next = (rows.len() > limit).then(|| {
            rows.truncate(limit);
            let last = rows.last().expect("a full page");
            HistoryCursor { ts: last.ts, event_hash: last.event_hash }
        });
        Ok(HistoryPage { rows, next })
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
