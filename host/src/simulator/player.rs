//! One viewer's media sessions, played out ahead of time: the player state and the tracker's
//! cumulative counters are simulated step by step, and each step that the media plugin would
//! track becomes a [`Step`] with the entities it would attach.

use super::catalog::{Video, ADS, VIDEOS};
use super::tsv::{AD, AD_BREAK, MEDIA_PLAYER, SESSION};
use liveviewer_wire::time::format_millis;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

/// One tracked event of a viewer.
pub struct Step {
    pub ts: i64,
    /// `None` for the page view that starts a visit.
    pub event: Option<&'static str>,
    pub data: Value,
    pub entities: Vec<(&'static str, Value)>,
    pub page: &'static Video,
}

#[derive(Default, Clone)]
struct Counters {
    time_played: f64,
    time_played_muted: f64,
    time_paused: f64,
    time_buffering: f64,
    time_spent_ads: f64,
    content_watched: f64,
    ads: u32,
    ads_clicked: u32,
    ads_skipped: u32,
    ad_breaks: u32,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Playing,
    Paused,
    Buffering,
    InAd,
}

struct AdNow {
    ad: Value,
    ad_break: Value,
}

/// Simulates one media session after another for a viewer until they leave.
pub struct Player<'r> {
    rng: &'r mut StdRng,
    t: i64,
    ping_ms: i64,
    video: &'static Video,
    session_id: String,
    started_at: i64,
    pos: f64,
    rate: f64,
    volume: u32,
    muted: bool,
    fullscreen: bool,
    quality: &'static str,
    mode: Mode,
    ended: bool,
    c: Counters,
    ad: Option<AdNow>,
    break_only: Option<Value>,
    pub steps: Vec<Step>,
}

pub fn uuid(rng: &mut StdRng) -> String {
    let b: [u8; 16] = rng.random();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        u16::from_be_bytes([b[4], b[5]]),
        u16::from_be_bytes([b[6], b[7]]) & 0x0fff,
        (u16::from_be_bytes([b[8], b[9]]) & 0x3fff) | 0x8000,
        u64::from_be_bytes([0, 0, b[10], b[11], b[12], b[13], b[14], b[15]])
    )
}

fn exp_ms(rng: &mut StdRng, mean_ms: f64) -> i64 {
    let u: f64 = rng.random_range(1e-9..1.0);
    (-u.ln() * mean_ms) as i64
}

impl<'r> Player<'r> {
    pub fn new(rng: &'r mut StdRng, start: i64, ping_s: u32) -> Self {
        let video = &VIDEOS[rng.random_range(0..VIDEOS.len())];
        let session_id = uuid(rng);
        Player {
            t: start,
            ping_ms: i64::from(ping_s) * 1000,
            video,
            session_id,
            started_at: start,
            pos: 0.0,
            rate: 1.0,
            volume: 80,
            muted: false,
            fullscreen: false,
            quality: "720p",
            mode: Mode::Paused,
            ended: false,
            c: Counters::default(),
            ad: None,
            break_only: None,
            steps: Vec::new(),
            rng,
        }
    }

    /// Plays out a whole visit: a page view, then media sessions until the viewer leaves.
    pub fn visit(mut self) -> Vec<Step> {
        self.steps.push(Step { ts: self.t, event: None, data: json!({}), entities: vec![], page: self.video });
        loop {
            let completed = self.media_session();
            // Some viewers go on to another video, most leave.
            let again = if completed { 0.35 } else { 0.15 };
            if !self.rng.random_bool(again) {
                return self.steps;
            }
            self.next_video();
        }
    }

    fn next_video(&mut self) {
        self.video = &VIDEOS[self.rng.random_range(0..VIDEOS.len())];
        self.session_id = uuid(self.rng);
        let wait = self.rng.random_range(2_000..8_000);
        self.advance(wait);
        self.started_at = self.t;
        self.pos = 0.0;
        self.ended = false;
        self.mode = Mode::Paused;
        self.c = Counters::default();
        self.steps.push(Step { ts: self.t, event: None, data: json!({}), entities: vec![], page: self.video });
    }

    /// Returns whether the viewer watched to the end.
    fn media_session(&mut self) -> bool {
        let wait = self.rng.random_range(300..2_000);
        self.advance(wait);
        self.emit("ready_event", json!({}));
        let wait = self.rng.random_range(500..3_000);
        self.advance(wait);
        if self.rng.random_bool(0.5) {
            self.ad_break("pre-roll", 0.0);
        }
        self.mode = Mode::Playing;
        self.emit("play_event", json!({}));
        let duration = self.video.duration;
        let mut midroll = duration.filter(|d| *d > 180.0 && self.rng.random_bool(0.7)).map(|d| d * 0.4);
        let mut boundaries: Vec<u32> = vec![10, 25, 50, 75, 90];
        let mut next_ping = self.t + self.ping_ms;
        let mut resume_at: Option<i64> = None;
        let abandon_at = self.t + exp_ms(self.rng, 6.0 * 60_000.0);
        loop {
            let playing = self.mode == Mode::Playing;
            let until_pos = |p: f64, pos: f64, rate: f64| ((p - pos).max(0.0) / rate * 1000.0) as i64;
            let mut next: Vec<(i64, u8)> = vec![(next_ping, 0), (abandon_at, 1)];
            if let Some(r) = resume_at {
                next.push((r, 2));
            }
            if playing {
                if let Some(d) = duration {
                    next.push((self.t + until_pos(d, self.pos, self.rate), 3));
                    if let Some(b) = boundaries.first() {
                        next.push((self.t + until_pos(d * f64::from(*b) / 100.0, self.pos, self.rate), 4));
                    }
                }
                if let Some(m) = midroll {
                    next.push((self.t + until_pos(m, self.pos, self.rate), 5));
                }
                next.push((self.t + exp_ms(self.rng, 50_000.0), 6));
            }
            let (at, what) = *next.iter().min_by_key(|(at, _)| *at).expect("always a ping");
            self.advance(at - self.t);
            match what {
                0 => {
                    self.emit("ping_event", json!({}));
                    next_ping = self.t + self.ping_ms;
                }
                1 => return false,
                2 => {
                    resume_at = None;
                    let was = self.mode;
                    self.mode = Mode::Playing;
                    self.emit(if was == Mode::Buffering { "buffer_end_event" } else { "play_event" }, json!({}));
                }
                3 => {
                    self.pos = duration.unwrap_or(self.pos);
                    self.ended = true;
                    self.mode = Mode::Paused;
                    self.emit("end_event", json!({}));
                    return true;
                }
                4 => {
                    let b = boundaries.remove(0);
                    self.emit("percent_progress_event", json!({"percentProgress": b}));
                }
                5 => {
                    midroll = None;
                    let at = self.pos;
                    self.mode = Mode::Paused;
                    self.emit("pause_event", json!({}));
                    self.ad_break("mid-roll", at);
                    self.mode = Mode::Playing;
                    self.emit("play_event", json!({}));
                }
                _ => resume_at = self.interact(),
            }
        }
    }

    /// A random thing a viewer does; returns when a pause or a stall ends.
    fn interact(&mut self) -> Option<i64> {
        let roll: f64 = self.rng.random();
        if roll < 0.40 {
            self.mode = Mode::Paused;
            self.emit("pause_event", json!({}));
            Some(self.t + self.rng.random_range(2_000..40_000))
        } else if roll < 0.55 {
            self.mode = Mode::Buffering;
            self.emit("buffer_start_event", json!({}));
            Some(self.t + self.rng.random_range(300..4_000))
        } else if roll < 0.70 {
            self.emit("seek_start_event", json!({}));
            let jump = self.rng.random_range(-30.0..60.0);
            self.pos = (self.pos + jump).clamp(0.0, self.video.duration.map_or(self.pos + 60.0, |d| d - 1.0));
            self.emit("seek_end_event", json!({}));
            None
        } else if roll < 0.80 {
            let v = self.rng.random_range(0..=100);
            let prev = self.volume;
            self.volume = v;
            self.muted = v == 0;
            self.emit("volume_change_event", json!({"previousVolume": prev, "newVolume": v}));
            None
        } else if roll < 0.88 {
            let prev = self.quality;
            self.quality = ["480p", "720p", "1080p", "2160p"][self.rng.random_range(0..4)];
            self.emit("quality_change_event", json!({"previousQuality": prev, "newQuality": self.quality, "automatic": true}));
            None
        } else if roll < 0.95 {
            self.fullscreen = !self.fullscreen;
            self.emit("fullscreen_change_event", json!({"fullscreen": self.fullscreen}));
            None
        } else {
            let prev = self.rate;
            self.rate = [1.0, 1.25, 1.5, 2.0][self.rng.random_range(0..4)];
            self.emit("playback_rate_change_event", json!({"previousRate": prev, "newRate": self.rate}));
            None
        }
    }

    fn ad_break(&mut self, name: &str, start_time: f64) {
        let pod = self.rng.random_range(1..=3u32);
        let break_id = uuid(self.rng)[..8].to_owned();
        let ad_break = json!({"breakId": break_id, "name": name, "breakType": "linear", "startTime": start_time, "podSize": pod});
        self.c.ad_breaks += 1;
        self.mode = Mode::InAd;
        self.break_only = Some(ad_break.clone());
        self.emit("ad_break_start_event", json!({}));
        for position in 1..=pod {
            let (ad_name, creative) = ADS[self.rng.random_range(0..ADS.len())];
            let duration = f64::from(self.rng.random_range(6..=15u32));
            let skippable = self.rng.random_bool(0.7);
            let ad = json!({"adId": format!("ad-{}", self.rng.random_range(100..999)), "name": ad_name,
                "creativeId": creative, "podPosition": position, "duration": duration, "skippable": skippable});
            self.ad = Some(AdNow { ad, ad_break: ad_break.clone() });
            self.c.ads += 1;
            self.emit("ad_start_event", json!({}));
            let skip_at = (skippable && self.rng.random_bool(0.35)).then(|| self.rng.random_range(5.0..duration));
            let click_at = self.rng.random_bool(0.08).then(|| self.rng.random_range(1.0..duration));
            let mut played = 0.0;
            let mut marks: Vec<(f64, u8)> = [0.25, 0.5, 0.75].iter().map(|q| (duration * q, 0)).collect();
            if let Some(s) = skip_at {
                marks.push((s, 1));
            }
            if let Some(c) = click_at {
                marks.push((c, 2));
            }
            marks.push((duration, 3));
            marks.sort_by(|a, b| a.0.total_cmp(&b.0));
            for (at, what) in marks {
                self.advance(((at - played) * 1000.0) as i64);
                played = at;
                let percent = (played / duration * 100.0).round() as u32;
                match what {
                    0 => self.emit("ad_quartile_event", json!({"percentProgress": percent})),
                    2 => {
                        self.c.ads_clicked += 1;
                        self.emit("ad_click_event", json!({"percentProgress": percent}));
                    }
                    1 => {
                        self.c.ads_skipped += 1;
                        self.emit("ad_skip_event", json!({"percentProgress": percent}));
                        break;
                    }
                    _ => {
                        self.emit("ad_complete_event", json!({}));
                        break;
                    }
                }
            }
            self.ad = None;
        }
        self.emit("ad_break_end_event", json!({}));
        self.break_only = None;
        self.mode = Mode::Paused;
    }

    /// Time passes in the current mode; the tracker's counters follow.
    fn advance(&mut self, ms: i64) {
        let ms = ms.max(0);
        let s = ms as f64 / 1000.0;
        match self.mode {
            Mode::Playing => {
                self.pos += s * self.rate;
                if let Some(d) = self.video.duration {
                    self.pos = self.pos.min(d);
                }
                self.c.time_played += s;
                if self.muted {
                    self.c.time_played_muted += s;
                }
                self.c.content_watched = self.c.content_watched.max(self.pos.floor());
            }
            Mode::Paused => self.c.time_paused += s,
            Mode::Buffering => self.c.time_buffering += s,
            Mode::InAd => self.c.time_spent_ads += s,
        }
        self.t += ms;
    }

    fn emit(&mut self, event: &'static str, data: Value) {
        // A few milliseconds between events of one viewer, as a real player has.
        let wait = self.rng.random_range(1..6);
        self.advance(wait);
        let v = self.video;
        let player = json!({
            "currentTime": (self.pos * 1000.0).round() / 1000.0,
            "paused": self.mode != Mode::Playing,
            "ended": self.ended,
            "label": v.label,
            "duration": v.duration,
            "livestream": v.duration.is_none(),
            "mediaType": "video",
            "playerType": "html5",
            "playbackRate": self.rate,
            "volume": self.volume,
            "muted": self.muted,
            "loop": false,
            "fullscreen": self.fullscreen,
            "pictureInPicture": false,
            "quality": self.quality,
        });
        let mut entities = vec![(MEDIA_PLAYER, player), (SESSION, self.session_entity())];
        if let Some(ad) = &self.ad {
            entities.push((AD, ad.ad.clone()));
            entities.push((AD_BREAK, ad.ad_break.clone()));
        } else if let Some(b) = &self.break_only {
            entities.push((AD_BREAK, b.clone()));
        }
        self.steps.push(Step { ts: self.t, event: Some(event), data, entities, page: v });
    }

    fn session_entity(&self) -> Value {
        let c = &self.c;
        let mut m = Map::new();
        m.insert("mediaSessionId".into(), json!(self.session_id));
        m.insert("startedAt".into(), json!(format_millis(self.started_at)));
        m.insert("pingInterval".into(), json!(self.ping_ms / 1000));
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        // The tracker leaves counters out while they are zero.
        for (k, v) in [
            ("timePlayed", round(c.time_played)),
            ("timePlayedMuted", round(c.time_played_muted)),
            ("timePaused", round(c.time_paused)),
            ("timeBuffering", round(c.time_buffering)),
            ("timeSpentAds", round(c.time_spent_ads)),
        ] {
            if v > 0.0 {
                m.insert(k.into(), json!(v));
            }
        }
        for (k, v) in [
            ("contentWatched", c.content_watched as u32),
            ("ads", c.ads),
            ("adsClicked", c.ads_clicked),
            ("adsSkipped", c.ads_skipped),
            ("adBreaks", c.ad_breaks),
        ] {
            if v > 0 {
                m.insert(k.into(), json!(v));
            }
        }
        if c.time_played > 0.0 {
            m.insert("avgPlaybackRate".into(), json!(self.rate));
        }
        Value::Object(m)
    }
}
