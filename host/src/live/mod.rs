//! The live view: the latest known profile of every viewer seen recently, across the whole
//! fleet. With Kafka it is filled from the profile changelog topic, which every host reads in
//! full (so any host shows every viewer, whichever host processed their events); in embedded
//! mode the pipeline fills it directly. The API's lists and counts, the dashboard's series and
//! the push channel all come from here: no request reads the store to list viewers.
//!
//! Each viewer's entry is the profile JSON as published (what the API and the push channel
//! send) and the few fields lists are sorted, filtered and counted by. A copy with a lower
//! revision than the one held is older and is ignored, whatever order copies arrive in.

pub mod content;
mod packed;
pub mod query;
mod viewer;

pub use content::{ContentRow, Summary, Tally};
pub use query::{Order, Page, Query};
pub use viewer::{ProfileRecord, StatusGroup, Viewer, AD_COUNTERS};

use crate::profile::{Clock, ProfileState, RenderContext};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio::sync::broadcast;

pub use crate::clock::wall_ms;

/// One point of the active-viewers series.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Point {
    pub t: i64,
    pub count: usize,
}

/// Points kept: one every 10 s for an hour.
pub const SERIES_POINTS: usize = 360;

/// A profile change as the push channel sends it: whose, and the profile JSON.
#[derive(Debug, Clone)]
pub struct Change {
    pub viewer: Arc<str>,
    pub json: Arc<str>,
}

impl ProfileRecord {
    pub fn of(state: &ProfileState, ctx: &RenderContext) -> ProfileRecord {
        ProfileRecord { revision: state.revision, profile: crate::profile::render(state, ctx) }
    }
}

pub struct Live {
    pub active_window_ms: i64,
    clock: Clock,
    /// Newest event time seen, for [`Clock::Stream`].
    stream_now: AtomicI64,
    viewers: RwLock<HashMap<String, Arc<Viewer>>>,
    max_tracked: usize,
    changes: broadcast::Sender<Change>,
    series: Mutex<VecDeque<Point>>,
    /// Viewers that entered the view (new, or back after leaving the active window).
    arrivals: AtomicU64,
    summary: Mutex<Option<(Instant, Arc<Summary>)>>,
    started_ms: i64,
    /// Whether the view holds what was published before this host started (the changelog read
    /// up to its end at start-up; in embedded mode, the store's recent profiles).
    complete: AtomicBool,
    /// This view's name on the changelog ([`crate::changelog::ORIGIN_HEADER`]): random, so a
    /// restarted host reads its earlier records like anyone else's.
    origin: u64,
}

impl Live {
    pub fn new(active_window_s: u64, clock: Clock, max_tracked: usize) -> Arc<Self> {
        let (changes, _) = broadcast::channel(4096);
        Arc::new(Live {
            active_window_ms: active_window_s as i64 * 1000,
            clock,
            stream_now: AtomicI64::new(0),
            viewers: RwLock::new(HashMap::new()),
            max_tracked,
            changes,
            series: Mutex::new(VecDeque::with_capacity(SERIES_POINTS)),
            arrivals: AtomicU64::new(0),
            summary: Mutex::new(None),
            started_ms: wall_ms(),
            complete: AtomicBool::new(false),
            origin: rand::random(),
        })
    }

    pub fn origin(&self) -> u64 {
        self.origin
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

    pub fn is_active(&self, v: &Viewer) -> bool {
        v.last_seen >= self.now_ms() - self.active_window_ms
    }

    pub fn set_complete(&self) {
        self.complete.store(true, Ordering::Relaxed);
    }

    pub fn complete(&self) -> bool {
        self.complete.load(Ordering::Relaxed)
    }

    /// Takes a published profile (`json` is its text); returns whether it was newer than the
    /// copy held. Newer copies go to the push channel's subscribers.
    pub fn apply(&self, record: &ProfileRecord, json: Arc<str>) -> bool {
        Viewer::from_record(record, json).is_some_and(|viewer| self.apply_viewer(Arc::new(viewer)))
    }

    /// Takes a viewer as a published profile makes it (see [`Live::apply`]).
    pub fn apply_viewer(&self, viewer: Arc<Viewer>) -> bool {
        let last_seen = viewer.last_seen;
        {
            let mut viewers = self.viewers.write().expect("live view");
            let arrived = match viewers.get(&viewer.viewer_id) {
                Some(held) => {
                    if held.revision > viewer.revision || (held.revision == viewer.revision && held.last_seen >= viewer.last_seen) {
                        return false;
                    }
                    // Back after a silence longer than the window: it had left.
                    viewer.last_seen - held.last_seen > self.active_window_ms
                }
                None => true,
            };
            if arrived {
                self.arrivals.fetch_add(1, Ordering::Relaxed);
            }
            let change = Change { viewer: Arc::from(viewer.viewer_id.as_str()), json: viewer.json() };
            viewers.insert(viewer.viewer_id.clone(), viewer);
            if viewers.len() > self.max_tracked {
                evict_oldest(&mut viewers, self.max_tracked);
            }
            if self.changes.receiver_count() > 0 {
                let _ = self.changes.send(change);
            }
        }
        self.stream_now.fetch_max(last_seen, Ordering::Relaxed);
        true
    }

    /// Publishes profiles this process merged (embedded mode: the view is the changelog).
    pub fn apply_states(&self, states: &[ProfileState]) {
        let ctx = self.render_context();
        for s in states {
            if let (_, Some(viewer)) = Viewer::from_state(s, &ctx) {
                self.apply_viewer(Arc::new(viewer));
            }
        }
    }

    /// A viewer deleted from the changelog (a tombstone).
    pub fn remove(&self, viewer: &str) {
        self.viewers.write().expect("live view").remove(viewer);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// How many viewers have entered the view so far: a page showing the newest arrivals
    /// refetches when it changes.
    pub fn arrivals(&self) -> u64 {
        self.arrivals.load(Ordering::Relaxed)
    }

    pub fn get(&self, viewer: &str) -> Option<Arc<Viewer>> {
        self.viewers.read().expect("live view").get(viewer).cloned()
    }

    /// Every viewer in the view, newest event first.
    pub fn all(&self) -> Vec<Arc<Viewer>> {
        let mut v: Vec<Arc<Viewer>> = self.viewers.read().expect("live view").values().cloned().collect();
        v.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.viewer_id.cmp(&b.viewer_id)));
        v
    }

    /// The active viewers, newest event first.
    pub fn active(&self) -> Vec<Arc<Viewer>> {
        let cutoff = self.now_ms() - self.active_window_ms;
        let mut v: Vec<Arc<Viewer>> =
            self.viewers.read().expect("live view").values().filter(|v| v.last_seen >= cutoff).cloned().collect();
        v.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| a.viewer_id.cmp(&b.viewer_id)));
        v
    }

    pub fn active_count(&self) -> usize {
        let cutoff = self.now_ms() - self.active_window_ms;
        self.viewers.read().expect("live view").values().filter(|v| v.last_seen >= cutoff).count()
    }

    pub fn tracked(&self) -> usize {
        self.viewers.read().expect("live view").len()
    }

    /// Packs the JSON of viewers whose copy arrived before `idle_since` (see `packed`), off
    /// the view's lock but for swapping them in, a slice at a time; returns how many viewers
    /// the view holds packed.
    pub fn pack_idle(&self, idle_since: Instant) -> usize {
        let (mut idle, mut held_packed) = (Vec::new(), 0);
        for v in self.viewers.read().expect("live view").values() {
            if v.packed() {
                held_packed += 1;
            } else if v.held_since < idle_since {
                idle.push(v.clone());
            }
        }
        let mut packer = packed::Packer::new();
        for slice in idle.chunks(4_096) {
            let packed: Vec<(&Arc<Viewer>, Arc<Viewer>)> =
                slice.iter().filter_map(|old| old.pack(&mut packer).map(|new| (old, Arc::new(new)))).collect();
            let mut replaced = Vec::with_capacity(packed.len());
            {
                let mut viewers = self.viewers.write().expect("live view");
                for (old, new) in packed {
                    // Only if no newer copy arrived meanwhile.
                    if let Some(slot) = viewers.get_mut(&old.viewer_id).filter(|slot| Arc::ptr_eq(slot, old)) {
                        replaced.push(std::mem::replace(slot, new));
                        held_packed += 1;
                    }
                }
            }
            // Freed here, with the view free for the changes arriving meanwhile.
            drop(replaced);
        }
        held_packed
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

/// Packs idle viewers' JSON every few seconds (see `packed`), on a blocking thread: a view
/// of a million viewers takes a while to look through, and the first time, to pack. Looked
/// through at most ten times a second, however short `idle_after` is set.
pub async fn pack_idle_viewers(live: Arc<Live>, idle_after: std::time::Duration, metrics: Arc<crate::metrics::Metrics>) {
    let every = idle_after.clamp(std::time::Duration::from_millis(100), std::time::Duration::from_secs(2));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(idle_since) = Instant::now().checked_sub(idle_after) else { continue };
        let l = live.clone();
        match tokio::task::spawn_blocking(move || l.pack_idle(idle_since)).await {
            Ok(packed) => metrics.set("liveviewer_live_packed_viewers", &[], packed as f64),
            Err(e) => tracing::warn!(error = %e, "packing idle viewers failed"),
        }
    }
}

/// Drops the least recently seen viewers (their profiles stay in the store), with a tenth of
/// headroom so that a full view does not sort on every change.
fn evict_oldest(viewers: &mut HashMap<String, Arc<Viewer>>, max: usize) {
    let keep = max - max / 10;
    let mut by_age: Vec<(i64, String)> = viewers.iter().map(|(k, v)| (v.last_seen, k.clone())).collect();
    by_age.sort_unstable();
    let drop = viewers.len().saturating_sub(keep);
    for (_, k) in by_age.into_iter().take(drop) {
        viewers.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn state(v: &str, last: i64, revision: u64) -> ProfileState {
        let mut s = ProfileState::new(v);
        s.last_seen = Some(last);
        s.first_seen = Some(last);
        s.revision = revision;
        s
    }

    #[test]
    fn active_follows_the_window_and_the_stream_clock() {
        let live = Live::new(10, Clock::Stream, 100);
        live.apply_states(&[state("a", 1_000, 1), state("b", 15_000, 1), state("c", 20_000, 1)]);
        assert_eq!(live.now_ms(), 20_000);
        let ids: Vec<String> = live.active().iter().map(|v| v.viewer_id.clone()).collect();
        assert_eq!(ids, ["c", "b"]);
        assert_eq!(live.active_count(), 2);
        assert_eq!(live.all().len(), 3);
    }

    /// Idle viewers' JSON is packed and reads back the same; a copy newer than the cutoff is
    /// left as text, and a newer copy arriving replaces a packed one.
    #[test]
    fn idle_viewers_are_packed_and_read_the_same() {
        let live = Live::new(10, Clock::Stream, 100);
        let states: Vec<ProfileState> = (0..20).map(|i| state(&format!("v{i}"), 1_000 + i, 1)).collect();
        live.apply_states(&states);
        let texts: Vec<Arc<str>> = (0..20).map(|i| live.get(&format!("v{i}")).unwrap().json()).collect();
        let cutoff = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        live.apply_states(&[state("late", 2_000, 1)]);
        assert_eq!(live.pack_idle(cutoff), 20, "all but the one that arrived after the cutoff");
        assert!(!live.get("late").unwrap().packed());
        for (i, text) in texts.iter().enumerate() {
            let v = live.get(&format!("v{i}")).unwrap();
            assert!(v.packed());
            assert_eq!(v.json(), *text);
            assert_eq!(v.json_as_of(true), *text, "active as published");
            assert_eq!((v.revision, v.last_seen), (1, 1_000 + i as i64));
        }
        assert_eq!(live.pack_idle(cutoff), 20, "nothing packed twice");
        live.apply_states(&[state("v3", 5_000, 2)]);
        let v3 = live.get("v3").unwrap();
        assert!(!v3.packed() && v3.revision == 2, "the newer copy, as text");
        assert_eq!(live.pack_idle(Instant::now()), 21);
        assert_eq!(live.active_count(), 21, "packing changes nothing the lists read");
    }

    #[test]
    fn an_older_revision_never_replaces_a_newer_one() {
        let live = Live::new(10, Clock::Stream, 100);
        live.apply_states(&[state("a", 5_000, 7)]);
        live.apply_states(&[state("a", 9_000, 6)]);
        assert_eq!(live.get("a").unwrap().revision, 7);
        assert_eq!(live.get("a").unwrap().last_seen, 5_000);
        live.apply_states(&[state("a", 9_000, 8)]);
        assert_eq!(live.get("a").unwrap().last_seen, 9_000);
    }

    #[test]
    fn the_view_is_bounded() {
        let live = Live::new(10, Clock::Wall, 3);
        let states: Vec<_> = (0..10).map(|i| state(&format!("v{i}"), i, 1)).collect();
        live.apply_states(&states);
        assert_eq!(live.tracked(), 3);
        assert!(live.get("v9").is_some() && live.get("v7").is_some() && live.get("v6").is_none());
    }

    #[tokio::test]
    async fn changes_reach_subscribers_with_their_revision() {
        let live = Live::new(10, Clock::Wall, 100);
        let mut rx = live.subscribe();
        live.apply_states(&[state("a", 1, 3)]);
        let change = rx.recv().await.unwrap();
        assert_eq!(&*change.viewer, "a");
        let json = change.json;
        let back: ProfileRecord = serde_json::from_str(&json).unwrap();
        assert_eq!((back.revision, back.profile.viewer_id.as_str()), (3, "a"));
        assert!(json.contains("\"viewer_id\":\"a\""));
    }

    #[test]
    fn arrivals_count_new_viewers_and_returning_ones() {
        let live = Live::new(10, Clock::Stream, 100);
        live.apply_states(&[state("a", 1_000, 1), state("b", 2_000, 1)]);
        assert_eq!(live.arrivals(), 2);
        live.apply_states(&[state("a", 3_000, 2)]);
        assert_eq!(live.arrivals(), 2, "a was still active");
        live.apply_states(&[state("b", 30_000, 2)]);
        assert_eq!(live.arrivals(), 3, "b came back after the window");
    }

    #[test]
    fn json_is_patched_only_when_activity_changed() {
        let live = Live::new(10, Clock::Stream, 100);
        live.apply_states(&[state("a", 1_000, 1)]);
        let v = live.get("a").unwrap();
        assert!(Arc::ptr_eq(&v.json_as_of(true), &v.json()));
        let inactive: Value = serde_json::from_str(&v.json_as_of(false)).unwrap();
        assert_eq!(inactive["active"], false);
    }
}
