//! What is being watched now: the active viewers grouped by content, with how many are in each
//! status, where they are in it on average, and whether it is live; and the headline counts.
//! Computed from the live view at most once a second, whoever asks.

use super::{Live, StatusGroup, AD_COUNTERS};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a summary is served before it is computed again.
pub const SUMMARY_TTL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Serialize)]
pub struct ContentRow {
    pub key: String,
    pub label: Option<String>,
    /// Live stream (true) or on demand (false), as most of its viewers' players say; null
    /// when none says.
    pub livestream: Option<bool>,
    pub viewers: u64,
    pub watching: u64,
    pub paused: u64,
    pub buffering: u64,
    pub in_ad: u64,
    pub completed: u64,
    pub other: u64,
    pub avg_position_s: Option<f64>,
    /// On-demand media only.
    pub avg_percent: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub generated_at: i64,
    pub active_count: usize,
    pub status_counts: BTreeMap<String, u64>,
    pub groups: [u64; 6],
    /// The active viewers' current media sessions' ad counters, summed (see [`AD_COUNTERS`]).
    pub ads: [f64; AD_COUNTERS.len()],
    /// Most viewers first.
    pub contents: Vec<ContentRow>,
    pub without_media: u64,
}

/// Headline counts of a list: the active viewers, statuses and ad counters.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub active_count: usize,
    pub status_counts: BTreeMap<String, u64>,
    pub ads: [f64; AD_COUNTERS.len()],
}

impl Tally {
    pub fn of(s: &Summary) -> Tally {
        Tally { active_count: s.active_count, status_counts: s.status_counts.clone(), ads: s.ads }
    }
}

#[derive(Default)]
struct Acc {
    label: Option<Arc<str>>,
    groups: [u64; 6],
    live: (u64, u64),
    position: (f64, u64),
    percent: (f64, u64),
}

fn mean((sum, n): (f64, u64)) -> Option<f64> {
    (n > 0).then(|| (sum / n as f64 * 100.0).round() / 100.0)
}

impl Live {
    /// The current summary, at most [`SUMMARY_TTL`] old.
    pub fn summary(&self) -> Arc<Summary> {
        let mut cached = self.summary.lock().expect("summary");
        if let Some((at, s)) = cached.as_ref() {
            if at.elapsed() < SUMMARY_TTL {
                return s.clone();
            }
        }
        let s = Arc::new(self.compute_summary());
        *cached = Some((Instant::now(), s.clone()));
        s
    }

    /// The counts over every viewer in the view, active or not (`all=true` lists).
    pub fn tally_all(&self) -> Tally {
        let cutoff = self.now_ms() - self.active_window_ms;
        let mut t = Tally::default();
        for v in self.viewers.read().expect("live view").values() {
            t.active_count += usize::from(v.last_seen >= cutoff);
            if let Some(st) = &v.status {
                *t.status_counts.entry(st.clone()).or_insert(0) += 1;
            }
            for (total, n) in t.ads.iter_mut().zip(v.ads) {
                *total += n;
            }
        }
        t
    }

    fn compute_summary(&self) -> Summary {
        let now = self.now_ms();
        let cutoff = now - self.active_window_ms;
        let mut status_counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut groups = [0u64; 6];
        let mut ads = [0.0; AD_COUNTERS.len()];
        let mut by_key: HashMap<Arc<str>, Acc> = HashMap::new();
        let mut active_count = 0;
        let mut without_media = 0;
        for v in self.viewers.read().expect("live view").values().filter(|v| v.last_seen >= cutoff) {
            active_count += 1;
            if let Some(st) = &v.status {
                match status_counts.get_mut(st.as_str()) {
                    Some(n) => *n += 1,
                    None => {
                        status_counts.insert(st.clone(), 1);
                    }
                }
            }
            groups[v.group.index()] += 1;
            for (t, n) in ads.iter_mut().zip(v.ads) {
                *t += n;
            }
            let Some(key) = &v.media_key else {
                without_media += 1;
                continue;
            };
            let acc = by_key.entry(key.clone()).or_default();
            if acc.label.is_none() {
                acc.label = v.media_label.clone();
            }
            acc.groups[v.group.index()] += 1;
            match v.livestream {
                Some(true) => acc.live.0 += 1,
                Some(false) => acc.live.1 += 1,
                None => {}
            }
            if let Some(p) = v.position {
                acc.position.0 += p;
                acc.position.1 += 1;
            }
            if let Some(p) = v.percent {
                acc.percent.0 += p;
                acc.percent.1 += 1;
            }
        }
        let mut contents: Vec<ContentRow> = by_key
            .into_iter()
            .map(|(key, a)| {
                let g = |s: StatusGroup| a.groups[s.index()];
                ContentRow {
                    key: key.to_string(),
                    label: a.label.map(|l| l.to_string()),
                    livestream: (a.live.0 + a.live.1 > 0).then_some(a.live.0 > a.live.1),
                    viewers: a.groups.iter().sum(),
                    watching: g(StatusGroup::Watching),
                    paused: g(StatusGroup::Paused),
                    buffering: g(StatusGroup::Buffering),
                    in_ad: g(StatusGroup::InAd),
                    completed: g(StatusGroup::Completed),
                    other: g(StatusGroup::Other),
                    avg_position_s: mean(a.position),
                    avg_percent: mean(a.percent),
                }
            })
            .collect();
        contents.sort_by(|a, b| b.viewers.cmp(&a.viewers).then_with(|| a.key.cmp(&b.key)));
        Summary { generated_at: now, active_count, status_counts, groups, ads, contents, without_media }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::{ProfileRecord, Viewer};
    use crate::profile::Clock;
    use serde_json::json;

    fn record(id: &str, status: &str, media: serde_json::Value) -> (ProfileRecord, Arc<str>) {
        let v = json!({
            "revision": 1, "viewer_id": id, "status": status, "status_at": null,
            "first_seen": "2026-01-01T00:00:00.000Z", "last_seen": "2026-01-01T00:00:10.000Z", "active": true,
            "media": media, "ad": null, "session": null, "totals": {}, "module_version": "m"
        });
        let json: Arc<str> = Arc::from(v.to_string());
        (serde_json::from_value(v).unwrap(), json)
    }

    #[test]
    fn viewers_are_grouped_by_content_with_their_statuses_and_positions() {
        let live = Live::new(60, Clock::Stream, 100);
        let rows = [
            record("a", "WATCHING_VIDEO", json!({"label": "Sintel", "current_time": 10.0, "percent": 10.0, "livestream": false})),
            record("b", "PAUSED_AD", json!({"label": "Sintel", "current_time": 30.0, "percent": 30.0, "livestream": false})),
            record("c", "BUFFERING", json!({"label": "News", "current_time": 5.0, "livestream": true})),
            record("d", "READY", serde_json::Value::Null),
        ];
        for (r, j) in &rows {
            assert!(Viewer::from_record(r, j.clone()).is_some());
            live.apply(r, j.clone());
        }
        let s = live.summary();
        assert_eq!(s.active_count, 4);
        assert_eq!(s.without_media, 1);
        let sintel = &s.contents[0];
        assert_eq!((sintel.key.as_str(), sintel.viewers, sintel.watching, sintel.in_ad), ("Sintel", 2, 1, 1));
        assert_eq!((sintel.avg_position_s, sintel.avg_percent, sintel.livestream), (Some(20.0), Some(20.0), Some(false)));
        let news = &s.contents[1];
        assert_eq!((news.buffering, news.livestream, news.avg_percent), (1, Some(true), None));
        assert_eq!(s.groups[StatusGroup::Other.index()], 1);
    }
}
