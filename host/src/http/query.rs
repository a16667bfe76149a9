//! Which profiles the API shows. With the embedded store this host is the only writer, so its
//! index names the active viewers; with DynamoDB the table is the global picture (every host
//! writes it), scanned and cached for a second so that many clients cost one scan.

use crate::live::Live;
use crate::profile::ProfileState;
use crate::store::{Scan, Store, StoreError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CACHE_FOR: Duration = Duration::from_secs(1);

pub struct Query {
    store: Store,
    live: Arc<Live>,
    cache: Mutex<Option<(Instant, Arc<Vec<ProfileState>>)>>,
}

impl Query {
    pub fn new(store: Store, live: Arc<Live>) -> Self {
        Query { store, live, cache: Mutex::new(None) }
    }

    /// Active viewers, newest event first.
    pub async fn active(&self) -> Result<Arc<Vec<ProfileState>>, StoreError> {
        let cutoff = self.live.now_ms() - self.live.active_window_ms;
        let mut states: Vec<ProfileState> = match &self.store {
            Store::Embedded(_) => {
                let ids = self.live.active_viewers();
                let mut found = self.store.load(&ids).await?;
                ids.iter().filter_map(|id| found.remove(id)).map(|s| s.state).collect()
            }
            Store::Dynamo(_) => {
                if let Some((at, cached)) = self.cache.lock().expect("query cache").as_ref() {
                    if at.elapsed() < CACHE_FOR {
                        return Ok(cached.clone());
                    }
                }
                self.store.scan(Scan::SeenSince(cutoff)).await?
            }
        };
        states.retain(|s| s.last_seen.is_some_and(|l| l >= cutoff));
        sort_newest_first(&mut states);
        let states = Arc::new(states);
        if let Store::Dynamo(_) = self.store {
            *self.cache.lock().expect("query cache") = Some((Instant::now(), states.clone()));
        }
        Ok(states)
    }

    /// Every viewer, newest event first.
    pub async fn all(&self) -> Result<Vec<ProfileState>, StoreError> {
        let mut states = self.store.scan(Scan::All).await?;
        sort_newest_first(&mut states);
        Ok(states)
    }

    pub async fn one(&self, viewer: &str) -> Result<Option<ProfileState>, StoreError> {
        self.store.get(viewer).await
    }
}

fn sort_newest_first(states: &mut [ProfileState]) {
    states.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.viewer_id.cmp(&b.viewer_id)));
}
