//! The media entities and event payloads, typed, with the checks their schemas make. A value
//! of the wrong type or out of range is bad input: the event is rejected with a reason naming
//! the entity and the field.

use crate::raw::Str;
use serde::Deserialize;
use serde_json::value::RawValue;

/// `iglu:com.snowplowanalytics.snowplow/media_player/jsonschema/2-0-0`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaPlayer<'a> {
    pub current_time: f64,
    pub paused: bool,
    pub ended: bool,
    pub duration: Option<f64>,
    pub fullscreen: Option<bool>,
    pub livestream: Option<bool>,
    #[serde(borrow)]
    pub label: Option<Str<'a>>,
    #[serde(rename = "loop")]
    pub looped: Option<bool>,
    #[serde(borrow)]
    pub media_type: Option<Str<'a>>,
    pub muted: Option<bool>,
    pub picture_in_picture: Option<bool>,
    #[serde(borrow)]
    pub player_type: Option<Str<'a>>,
    pub playback_rate: Option<f64>,
    #[serde(borrow)]
    pub quality: Option<Str<'a>>,
    pub volume: Option<f64>,
}

/// `iglu:com.snowplowanalytics.snowplow.media/session/jsonschema/1-0-0`. The counters are the
/// tracker's cumulative figures for the media session; it leaves them out while they are zero.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session<'a> {
    #[serde(borrow)]
    pub media_session_id: Str<'a>,
    #[serde(borrow)]
    pub started_at: Option<Str<'a>>,
    pub ping_interval: Option<f64>,
    pub time_played: Option<f64>,
    pub time_played_muted: Option<f64>,
    pub time_paused: Option<f64>,
    pub content_watched: Option<f64>,
    pub time_buffering: Option<f64>,
    pub time_spent_ads: Option<f64>,
    pub ads: Option<f64>,
    pub ads_clicked: Option<f64>,
    pub ads_skipped: Option<f64>,
    pub ad_breaks: Option<f64>,
    pub avg_playback_rate: Option<f64>,
}

impl Session<'_> {
    /// The cumulative counters under the profile's names.
    pub fn counters(&self) -> [(&'static str, Option<f64>); 10] {
        [
            ("time_played", self.time_played),
            ("time_played_muted", self.time_played_muted),
            ("time_paused", self.time_paused),
            ("time_buffering", self.time_buffering),
            ("time_spent_ads", self.time_spent_ads),
            ("content_watched", self.content_watched),
            ("ads", self.ads),
            ("ads_clicked", self.ads_clicked),
            ("ads_skipped", self.ads_skipped),
            ("ad_breaks", self.ad_breaks),
        ]
    }
}

/// `iglu:com.snowplowanalytics.snowplow.media/ad/jsonschema/1-0-0`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ad<'a> {
    #[serde(borrow)]
    pub ad_id: Str<'a>,
    #[serde(borrow)]
    pub name: Option<Str<'a>>,
    #[serde(borrow)]
    pub creative_id: Option<Str<'a>>,
    pub pod_position: Option<u32>,
    pub duration: Option<f64>,
    pub skippable: Option<bool>,
}

/// `iglu:com.snowplowanalytics.snowplow.media/ad_break/jsonschema/1-0-0`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdBreak<'a> {
    #[serde(borrow)]
    pub break_id: Str<'a>,
    pub start_time: f64,
    #[serde(borrow)]
    pub name: Option<Str<'a>>,
    #[serde(borrow)]
    pub break_type: Option<Str<'a>>,
    pub pod_size: Option<u32>,
}

/// `iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-*`: only the field the
/// viewer key reads. The mobile trackers set `userId` to an id made at installation and kept
/// across sessions; the JavaScript tracker, when it attaches this entity, to its domain_userid.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSession<'a> {
    #[serde(borrow)]
    pub user_id: Option<Str<'a>>,
}

/// The payload fields of the media events that carry any; unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData<'a> {
    pub percent_progress: Option<u32>,
    pub fullscreen: Option<bool>,
    pub picture_in_picture: Option<bool>,
    pub new_rate: Option<f64>,
    pub new_volume: Option<f64>,
    #[serde(borrow)]
    pub new_quality: Option<Str<'a>>,
    #[serde(borrow)]
    pub error_code: Option<Str<'a>>,
    #[serde(borrow)]
    pub error_name: Option<Str<'a>>,
    #[serde(borrow)]
    pub error_description: Option<Str<'a>>,
}

/// Parses an entity's data, prefixing any error with what was being read.
pub fn parse<'a, T: Deserialize<'a>>(what: &str, raw: &'a RawValue) -> Result<T, String> {
    serde_json::from_str(raw.get()).map_err(|e| format!("{what}: {}", strip_position(&e)))
}


// "at line 1 column 37" points into a JSON fragment the reader never sees.
fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// A number that must be finite and within `[min, max]`.
pub fn check_range(what: &str, v: f64, min: f64, max: f64) -> Result<f64, String> {
    if v.is_finite() && v >= min && v <= max {
        Ok(v)
    } else {
        Err(format!("{what} is out of range ({v}; expected {min} to {max})"))
    }
}

/// A string no longer than its schema allows.
pub fn check_len(what: &str, s: &Option<Str<'_>>, max: usize) -> Result<(), String> {
    match s {
        Some(s) if s.as_str().len() > max => Err(format!("{what} is longer than {max} bytes")),
        _ => Ok(()),
    }
}

/// Largest number the media schemas allow for times and durations.
pub const MAX_SECONDS: f64 = 2_147_483_647.0;

impl MediaPlayer<'_> {
    pub fn validate(&self) -> Result<(), String> {
        check_len("media_player.label", &self.label, 4096)?;
        check_len("media_player.playerType", &self.player_type, 4096)?;
        check_len("media_player.quality", &self.quality, 4096)?;
        check_len("media_player.mediaType", &self.media_type, 16)?;
        check_range("media_player.currentTime", self.current_time, 0.0, MAX_SECONDS)?;
        if let Some(d) = self.duration {
            check_range("media_player.duration", d, 0.0, MAX_SECONDS)?;
        }
        if let Some(r) = self.playback_rate {
            check_range("media_player.playbackRate", r, -16.0, 16.0)?;
        }
        if let Some(v) = self.volume {
            check_range("media_player.volume", v, 0.0, 100.0)?;
        }
        Ok(())
    }
}

impl Session<'_> {
    pub fn validate(&self) -> Result<(), String> {
        if self.media_session_id.as_str().is_empty() {
            return Err("session.mediaSessionId is empty".into());
        }
        if self.media_session_id.as_str().len() > 256 {
            return Err("session.mediaSessionId is longer than 256 bytes".into());
        }
        check_len("session.startedAt", &self.started_at, 64)?;
        for (name, v) in self.counters() {
            if let Some(v) = v {
                // The name is spelled out only for the error: this runs on every event.
                check_range("", v, 0.0, MAX_SECONDS).map_err(|e| format!("session.{name}{e}"))?;
            }
        }
        if let Some(r) = self.avg_playback_rate {
            check_range("session.avgPlaybackRate", r, -16.0, 16.0)?;
        }
        Ok(())
    }
}

impl Ad<'_> {
    pub fn validate(&self) -> Result<(), String> {
        if self.ad_id.as_str().len() > 256 {
            return Err("ad.adId is longer than 256 bytes".into());
        }
        check_len("ad.name", &self.name, 4096)?;
        check_len("ad.creativeId", &self.creative_id, 4096)?;
        if let Some(d) = self.duration {
            check_range("ad.duration", d, 0.0, MAX_SECONDS)?;
        }
        Ok(())
    }
}

impl AdBreak<'_> {
    pub fn validate(&self) -> Result<(), String> {
        if self.break_id.as_str().len() > 256 {
            return Err("ad_break.breakId is longer than 256 bytes".into());
        }
        check_len("ad_break.name", &self.name, 4096)?;
        check_len("ad_break.breakType", &self.break_type, 16)?;
        check_range("ad_break.startTime", self.start_time, 0.0, MAX_SECONDS).map(|_| ())
    }
}

impl EventData<'_> {
    pub fn validate(&self) -> Result<(), String> {
        check_len("newQuality", &self.new_quality, 4096)?;
        check_len("errorCode", &self.error_code, 256)?;
        check_len("errorName", &self.error_name, 256)?;
        check_len("errorDescription", &self.error_description, 4096)?;
        if let Some(r) = self.new_rate {
            check_range("newRate", r, 0.0, 16.0)?;
        }
        if let Some(v) = self.new_volume {
            check_range("newVolume", v, 0.0, 100.0)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn required_fields_and_types_are_enforced() {
        let r = raw(r#"{"paused":true,"ended":false}"#);
        let err = parse::<MediaPlayer>("media_player", &r).unwrap_err();
        assert_eq!(err, "media_player: missing field `currentTime`");
        let r = raw(r#"{"adId":292}"#);
        let err = parse::<Ad>("ad", &r).unwrap_err();
        assert!(err.starts_with("ad: invalid type: integer `292`, expected a string"), "{err}");
    }

    #[test]
    fn ranges_are_checked() {
        let r = raw(r#"{"currentTime":-1,"paused":true,"ended":false}"#);
        let p: MediaPlayer = parse("media_player", &r).unwrap();
        assert!(p.validate().unwrap_err().contains("currentTime is out of range"));
        let r = raw(r#"{"currentTime":1,"paused":true,"ended":false,"volume":101}"#);
        let p: MediaPlayer = parse("media_player", &r).unwrap();
        assert!(p.validate().unwrap_err().contains("volume"));
    }
}
