//! A viewer as the live view holds it: the profile JSON as published (what the API and the push
//! channel send) and the fields lists are sorted, filtered, counted and grouped by, parsed once
//! when the copy arrives.

use super::packed::{Packer, ProfileJson};
use crate::profile::{ProfileState, ProfileV1, RenderContext};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

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
#[derive(Debug, Clone)]
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
    /// The profile JSON as published (packed once the viewer is idle: [`Viewer::json`]).
    json: ProfileJson,
    /// When this copy arrived: a viewer is idle once its copy is old.
    pub(super) held_since: Instant,
}

impl Viewer {
    pub fn from_record(record: &ProfileRecord, json: Arc<str>) -> Option<Viewer> {
        let p = &record.profile;
        let last_seen = p.last_seen.as_deref().and_then(liveviewer_wire::time::parse_millis)?;
        let first_seen = p.first_seen.as_deref().and_then(liveviewer_wire::time::parse_millis).unwrap_or(last_seen);
        let mut ads = [0.0; 4];
        for (slot, name) in ads.iter_mut().zip(AD_COUNTERS) {
            *slot = p.session.get(name).and_then(Value::as_f64).unwrap_or(0.0);
        }
        let seen = (first_seen, last_seen);
        Some(Viewer::of(p.viewer_id.clone(), record.revision, seen, p.status.clone(), &p.media, ads, json))
    }

    /// A profile this host merged, written straight from its state (see
    /// [`liveviewer_profile::json`]): its JSON, and the viewer when it has seen an event.
    pub fn from_state(state: &ProfileState, ctx: &RenderContext) -> (Arc<str>, Option<Viewer>) {
        let written = liveviewer_profile::json::write(state, ctx);
        let json: Arc<str> = Arc::from(written.json.as_str());
        let Some(last_seen) = state.last_seen else { return (json, None) };
        let seen = (state.first_seen.unwrap_or(last_seen), last_seen);
        let status = state.states.get("status").and_then(|w| w.current()).map(|(v, _)| v.to_owned());
        let ads = AD_COUNTERS.map(|name| written.session_number(name).unwrap_or(0.0));
        let viewer = Viewer::of(state.viewer_id.clone(), state.revision, seen, status, &written.media, ads, json.clone());
        (json, Some(viewer))
    }

    /// `media` is read for its [`liveviewer_profile::media::MEDIA_MEMBERS`] only: a profile this
    /// host merged hands over just those (a name read here and missing there would read as absent
    /// for those profiles; the test below compares both ways of making a viewer).
    fn of(viewer_id: String, revision: u64, (first_seen, last_seen): (i64, i64), status: Option<String>, media: &Value, ads: [f64; 4], json: Arc<str>) -> Viewer {
        let str_of = |k: &str| media.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(Arc::<str>::from);
        let num_of = |k: &str| media.get(k).and_then(Value::as_f64).filter(|v| v.is_finite());
        let livestream = media.get("livestream").and_then(Value::as_bool);
        Viewer {
            viewer_id,
            revision,
            first_seen,
            last_seen,
            group: StatusGroup::of(status.as_deref()),
            status,
            media_key: crate::windows::sample::content_key(media).map(Arc::<str>::from),
            media_label: str_of("label"),
            livestream,
            position: num_of("current_time"),
            percent: if livestream == Some(true) { None } else { num_of("percent") },
            ads,
            json: ProfileJson::Text(json),
            held_since: Instant::now(),
        }
    }

    /// The profile JSON as published.
    pub fn json(&self) -> Arc<str> {
        self.json.text()
    }

    pub fn packed(&self) -> bool {
        self.json.is_packed()
    }

    /// This viewer with its JSON packed (`None`: it already is, or it would not be smaller).
    pub(super) fn pack(&self, packer: &mut Packer) -> Option<Viewer> {
        let json = packer.pack(&self.json)?;
        Some(Viewer { json, ..self.clone() })
    }

    /// The profile JSON with `active` as of now.
    pub fn json_as_of(&self, active: bool) -> Arc<str> {
        let json = self.json();
        let published_active = json.contains("\"active\":true");
        if published_active == active {
            return json;
        }
        match serde_json::from_str::<Value>(&json) {
            Ok(mut v) => {
                v["active"] = Value::Bool(active);
                Arc::from(v.to_string())
            }
            Err(_) => json,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::{NativeTransform, Transform};
    use crate::profile::Bounds;
    use liveviewer_wire::Outcome;
    use std::collections::BTreeMap;

    /// Profiles of simulated viewers (ads, pauses, several sessions), merged by the built-in logic.
    fn merged(events: usize) -> Vec<ProfileState> {
        let mut sim = crate::simulator::Simulator::new(25, 6, 10, 1_763_000_000_000);
        let lines: Vec<Vec<u8>> = (0..events).map(|_| sim.next_event().line.into_bytes()).collect();
        let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let mut states: BTreeMap<String, ProfileState> = BTreeMap::new();
        for outcome in NativeTransform::new().transform_batch(&refs).expect("the built-in logic does not fault") {
            if let Outcome::Apply(a) = outcome {
                let s = states.entry(a.viewer.clone()).or_insert_with(|| ProfileState::new(&a.viewer));
                s.apply(&a, &Bounds::default());
                s.revision += 1;
            }
        }
        states.into_values().collect()
    }

    #[test]
    fn a_merged_profile_makes_the_json_and_the_viewer_its_published_record_makes() {
        let states = merged(4_000);
        assert!(states.len() >= 20);
        let ctx = RenderContext { now_ms: 1_763_000_000_000 + 600_000, active_window_ms: 300_000 };
        let mut with_media = 0;
        for s in &states {
            let (json, viewer) = Viewer::from_state(s, &ctx);
            let record = ProfileRecord::of(s, &ctx);
            assert_eq!(*json, serde_json::to_string(&record).unwrap());
            let published = Viewer::from_record(&record, json.clone()).expect("merged profiles have events");
            // Alike but for when each copy was made.
            let mut viewer = viewer.expect("merged profiles have events");
            viewer.held_since = published.held_since;
            assert_eq!(format!("{viewer:?}"), format!("{published:?}"));
            with_media += usize::from(published.media_key.is_some() && published.position.is_some());
        }
        assert!(with_media > 0, "the simulated viewers watch something");
    }

    /// The live view packs idle viewers' JSON with a profile as its dictionary (see
    /// [`super::super::packed`]): it holds every key the profiles it packs have, so a change to
    /// the profile's JSON that leaves it behind fails here rather than quietly packing worse.
    #[test]
    fn the_packing_dictionary_holds_every_key_of_a_rendered_profile() {
        fn paths(v: &Value, at: &str, out: &mut std::collections::BTreeSet<String>) {
            if let Value::Object(m) = v {
                for (k, x) in m {
                    let p = format!("{at}/{k}");
                    paths(x, &p, out);
                    out.insert(p);
                }
            }
        }
        let mut dictionary = std::collections::BTreeSet::new();
        paths(&serde_json::from_slice(super::super::packed::DICTIONARY).unwrap(), "", &mut dictionary);
        let ctx = RenderContext { now_ms: 1_763_000_000_000 + 600_000, active_window_ms: 300_000 };
        let mut rendered = std::collections::BTreeSet::new();
        for s in &merged(4_000) {
            paths(&serde_json::from_str(&Viewer::from_state(s, &ctx).0).unwrap(), "", &mut rendered);
        }
        let missing: Vec<&String> = rendered.difference(&dictionary).collect();
        assert!(missing.is_empty(), "keys the dictionary lacks: {missing:?}");
        assert!(rendered.len() > 60, "the simulated profiles have media, ads, sessions and totals");
    }
}
