//! A viewer as the live view holds it: the profile JSON as published (what the API and the push
//! channel send) and the fields lists are sorted, filtered, counted and grouped by, parsed once
//! when the copy arrives.

use crate::profile::ProfileV1;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// A profile as the changelog carries it: the v1 JSON with its revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecord {
    pub revision: u64,
    #[serde(flatten)]
    pub profile: ProfileV1,
}

/// What a status counts as in the per-content table and the concurrency chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusGroup {
    Watching,
    Paused,
    Buffering,
    InAd,
    Completed,
    Other,
}

impl StatusGroup {
    pub const ALL: [StatusGroup; 6] =
        [StatusGroup::Watching, StatusGroup::Paused, StatusGroup::Buffering, StatusGroup::InAd, StatusGroup::Completed, StatusGroup::Other];

    /// The built-in module's statuses; a status a module adds counts as other.
    pub fn of(status: Option<&str>) -> StatusGroup {
        match status {
            Some("WATCHING_VIDEO") => StatusGroup::Watching,
            Some("PAUSED_VIDEO") => StatusGroup::Paused,
            Some("BUFFERING") => StatusGroup::Buffering,
            Some("WATCHING_AD" | "PAUSED_AD") => StatusGroup::InAd,
            Some("COMPLETED_VIDEO") => StatusGroup::Completed,
            _ => StatusGroup::Other,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

pub const AD_COUNTERS: [&str; 4] = ["ads", "ads_completed", "ads_skipped", "ads_clicked"];

/// A viewer in the view.
#[derive(Debug)]
pub struct Viewer {
    pub viewer_id: String,
    pub revision: u64,
    /// Event times of the first and the last event (epoch ms).
    pub first_seen: i64,
    pub last_seen: i64,
    pub status: Option<String>,
    pub group: StatusGroup,
    /// The media being watched: its id where the tracker has one, else its label.
    pub media_key: Option<Arc<str>>,
    pub media_label: Option<Arc<str>>,
    pub livestream: Option<bool>,
    /// Position in the media (s), and how much of it that is (%, on-demand media only).
    pub position: Option<f64>,
    pub percent: Option<f64>,
    /// The current media session's ad counters: ads, ads_completed, ads_skipped, ads_clicked.
    pub ads: [f64; 4],
    /// The profile JSON as published.
    pub json: Arc<str>,
}

impl Viewer {
    pub fn from_record(record: &ProfileRecord, json: Arc<str>) -> Option<Viewer> {
        let p = &record.profile;
        let last_seen = p.last_seen.as_deref().and_then(liveviewer_wire::time::parse_millis)?;
        let first_seen = p.first_seen.as_deref().and_then(liveviewer_wire::time::parse_millis).unwrap_or(last_seen);
        let str_of = |k: &str| p.media.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(Arc::<str>::from);
        let num_of = |k: &str| p.media.get(k).and_then(Value::as_f64).filter(|v| v.is_finite());
        let media_label = str_of("label");
        let media_key = crate::windows::sample::content_key(&p.media).map(Arc::<str>::from);
        let mut ads = [0.0; 4];
        for (slot, name) in ads.iter_mut().zip(AD_COUNTERS) {
            *slot = p.session.get(name).and_then(Value::as_f64).unwrap_or(0.0);
        }
        let livestream = p.media.get("livestream").and_then(Value::as_bool);
        Some(Viewer {
            viewer_id: p.viewer_id.clone(),
            revision: record.revision,
            first_seen,
            last_seen,
            group: StatusGroup::of(p.status.as_deref()),
            status: p.status.clone(),
            media_key,
            media_label,
            livestream,
            position: num_of("current_time"),
            percent: if livestream == Some(true) { None } else { num_of("percent") },
            ads,
            json,
        })
    }

    /// The profile JSON with `active` as of now.
    pub fn json_as_of(&self, active: bool) -> Arc<str> {
        let published_active = self.json.contains("\"active\":true");
        if published_active == active {
            return self.json.clone();
        }
        match serde_json::from_str::<Value>(&self.json) {
            Ok(mut v) => {
                v["active"] = Value::Bool(active);
                Arc::from(v.to_string())
            }
            Err(_) => self.json.clone(),
        }
    }
}
