//! What the running host knows about "now": the viewers it has written (an index from viewer
//! to last event time, bounded), the stream of profile changes the push channel sends, the
//! active-viewer series the dashboard charts, and the clock that decides who is active.

use crate::profile::{render, Clock, ProfileState, RenderContext};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// One point of the active-viewers series.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Point {
    pub t: i64,
    pub count: usize,
}

/// Points kept: one every 10 s for an hour.
pub const SERIES_POINTS: usize = 360;

pub struct Live {
    pub active_window_ms: i64,
    clock: Clock,
    /// Newest event time seen, for [`Clock::Stream`].
    stream_now: AtomicI64,
    index: Mutex<HashMap<String, i64>>,
    max_tracked: usize,
    changes: broadcast::Sender<Arc<str>>,
    series: Mutex<VecDeque<Point>>,
    started_ms: i64,
}

pub fn wall_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl Live {
    pub fn new(active_window_s: u64, clock: Clock, max_tracked: usize) -> Arc<Self> {
        let (changes, _) = broadcast::channel(4096);
        Arc::new(Live {
            active_window_ms: active_window_s as i64 * 1000,
            clock,
            stream_now: AtomicI64::new(0),
            index: Mutex::new(HashMap::new()),
            max_tracked,
            changes,
            series: Mutex::new(VecDeque::with_capacity(SERIES_POINTS)),
            started_ms: wall_ms(),
        })
    }

    pub fn now_ms(&self) -> i64 {
        match self.clock {
            Clock::Wall => wall_ms(),
            Clock::Stream => self.stream_now.load(Ordering::Relaxed),
        }
    }

    pub fn started_ms(&self) -> i64 {
        self.started_ms
    }

    pub fn render_context(&self) -> RenderContext {
        RenderContext { now_ms: self.now_ms(), active_window_ms: self.active_window_ms }
    }

    /// Records written profiles and pushes them to subscribers.
    pub fn publish(&self, states: &[ProfileState]) {
        let mut newest = 0;
        {
            let mut index = self.index.lock().expect("live index");
            for s in states {
                if let Some(l) = s.last_seen {
                    index.insert(s.viewer_id.clone(), l);
                    newest = newest.max(l);
                }
            }
            if index.len() > self.max_tracked {
                evict_oldest(&mut index, self.max_tracked);
            }
        }
        self.stream_now.fetch_max(newest, Ordering::Relaxed);
        if self.changes.receiver_count() > 0 {
            let ctx = self.render_context();
            for s in states {
                let json = serde_json::to_string(&render(s, &ctx)).expect("profiles serialize");
                let _ = self.changes.send(Arc::from(json));
            }
        }
    }

    /// Seeds the index from a store at start-up.
    pub fn seed(&self, states: &[ProfileState]) {
        let mut index = self.index.lock().expect("live index");
        for s in states {
            if let Some(l) = s.last_seen {
                index.insert(s.viewer_id.clone(), l);
                self.stream_now.fetch_max(l, Ordering::Relaxed);
            }
        }
        if index.len() > self.max_tracked {
            evict_oldest(&mut index, self.max_tracked);
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.changes.subscribe()
    }

    /// Viewers this host has seen active, newest first.
    pub fn active_viewers(&self) -> Vec<String> {
        let cutoff = self.now_ms() - self.active_window_ms;
        let index = self.index.lock().expect("live index");
        let mut v: Vec<(&String, &i64)> = index.iter().filter(|(_, l)| **l >= cutoff).collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.into_iter().map(|(k, _)| k.clone()).collect()
    }

    pub fn tracked(&self) -> usize {
        self.index.lock().expect("live index").len()
    }

    pub fn record_point(&self, count: usize) {
        let mut s = self.series.lock().expect("series");
        if s.len() == SERIES_POINTS {
            s.pop_front();
        }
        s.push_back(Point { t: wall_ms(), count });
    }

    pub fn series(&self) -> Vec<Point> {
        self.series.lock().expect("series").iter().copied().collect()
    }
}

/// Drops the least recently seen viewers (their profiles stay in the store), with a tenth of
/// headroom so that a full index does not sort on every batch.
fn evict_oldest(index: &mut HashMap<String, i64>, max: usize) {
    let keep = max - max / 10;
    let mut by_age: Vec<(i64, String)> = index.iter().map(|(k, l)| (*l, k.clone())).collect();
    by_age.sort_unstable();
    let drop = index.len().saturating_sub(keep);
    for (_, k) in by_age.into_iter().take(drop) {
        index.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(v: &str, last: i64) -> ProfileState {
        let mut s = ProfileState::new(v);
        s.last_seen = Some(last);
        s
    }

    #[test]
    fn active_follows_the_window_and_the_stream_clock() {
        let live = Live::new(10, Clock::Stream, 100);
        live.publish(&[state("a", 1_000), state("b", 15_000), state("c", 20_000)]);
        assert_eq!(live.now_ms(), 20_000);
        assert_eq!(live.active_viewers(), ["c", "b"]);
    }

    #[test]
    fn the_index_is_bounded() {
        let live = Live::new(10, Clock::Wall, 3);
        let states: Vec<_> = (0..10).map(|i| state(&format!("v{i}"), i)).collect();
        live.publish(&states);
        assert_eq!(live.tracked(), 3);
        let index = live.index.lock().unwrap();
        assert!(index.contains_key("v9") && index.contains_key("v7") && !index.contains_key("v6"));
    }

    #[tokio::test]
    async fn changes_reach_subscribers() {
        let live = Live::new(10, Clock::Wall, 100);
        let mut rx = live.subscribe();
        live.publish(&[state("a", 1)]);
        let json = rx.recv().await.unwrap();
        assert!(json.contains("\"viewer_id\":\"a\""));
    }
}
