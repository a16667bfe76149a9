//! The viewer-profile logic: from one media event to the deltas of its viewer's profile.
//!
//! Arrival order is not event order, so nothing here looks at a previous event: each event
//! states what it knows (the player's state rides on every event in the `media_player`
//! entity; the ad and ad break entities are attached while an ad plays), and the host merges
//! those statements by event time.

use crate::entities::{self, Ad, AdBreak, EventData, MediaPlayer, Session};
use crate::identity::viewer_of;
use crate::raw::{RawEvent, Str};
use liveviewer_wire::outcome::Apply;
use liveviewer_wire::{Delta, OrderKey, SessionId};
use serde_json::{json, Map, Value};

pub use crate::identity::{event_time, ANONYMOUS_ID, MAX_VIEWER_ID};

/// The Snowplow media v2 events (`com.snowplowanalytics.snowplow.media/<name>/jsonschema/1-*-*`).
pub const MEDIA_EVENTS: [&str; 25] = [
    "ready_event",
    "play_event",
    "pause_event",
    "end_event",
    "seek_start_event",
    "seek_end_event",
    "playback_rate_change_event",
    "volume_change_event",
    "fullscreen_change_event",
    "picture_in_picture_change_event",
    "ping_event",
    "percent_progress_event",
    "buffer_start_event",
    "buffer_end_event",
    "quality_change_event",
    "error_event",
    "ad_break_start_event",
    "ad_break_end_event",
    "ad_start_event",
    "ad_quartile_event",
    "ad_complete_event",
    "ad_skip_event",
    "ad_click_event",
    "ad_pause_event",
    "ad_resume_event",
];

pub mod status {
    pub const WATCHING_VIDEO: &str = "WATCHING_VIDEO";
    pub const PAUSED_VIDEO: &str = "PAUSED_VIDEO";
    pub const WATCHING_AD: &str = "WATCHING_AD";
    pub const PAUSED_AD: &str = "PAUSED_AD";
    pub const COMPLETED_VIDEO: &str = "COMPLETED_VIDEO";
    pub const BUFFERING: &str = "BUFFERING";
    pub const READY: &str = "READY";
}

/// Longest event id accepted (Snowplow's are 36-character UUIDs).
pub const MAX_EVENT_ID: usize = 128;
/// Lifecycle rank for events stamped in the same millisecond: what ends comes before what
/// starts (an ad completes before the next starts; a break ends before content resumes), and a
/// break opens before its first ad.
pub fn rank(event: &str) -> u8 {
    match event {
        "ad_quartile_event" | "ad_click_event" | "ad_pause_event" | "ad_resume_event"
        | "ad_complete_event" | "ad_skip_event" => 10,
        "ad_break_end_event" => 20,
        "ad_break_start_event" => 40,
        "ad_start_event" => 50,
        _ => 30,
    }
}

fn needs_ad(event: &str) -> bool {
    matches!(
        event,
        "ad_start_event"
            | "ad_quartile_event"
            | "ad_complete_event"
            | "ad_skip_event"
            | "ad_click_event"
            | "ad_pause_event"
            | "ad_resume_event"
    )
}

fn needs_ad_break(event: &str) -> bool {
    matches!(event, "ad_break_start_event" | "ad_break_end_event")
}

/// Events that report something without saying whether an ad plays or is paused.
fn says_nothing_about_ad_state(event: &str) -> bool {
    matches!(
        event,
        "ping_event"
            | "percent_progress_event"
            | "volume_change_event"
            | "fullscreen_change_event"
            | "picture_in_picture_change_event"
            | "playback_rate_change_event"
            | "quality_change_event"
            | "error_event"
            | "ad_click_event"
    )
}

/// The viewer's status as this event states it, or `None` when it states none.
pub fn status_of(event: &str, player: &MediaPlayer, in_break: bool) -> Option<&'static str> {
    use status::*;
    let content = || {
        if event == "end_event" || player.ended {
            COMPLETED_VIDEO
        } else if event == "buffer_start_event" {
            BUFFERING
        } else if event == "ready_event" && player.paused {
            READY
        } else if player.paused {
            PAUSED_VIDEO
        } else {
            WATCHING_VIDEO
        }
    };
    match event {
        "ad_pause_event" => Some(PAUSED_AD),
        // After a break the content resumes; the demo player reports `paused` until its play
        // event, which may be stamped a few milliseconds earlier than the break's end.
        "ad_break_end_event" => Some(if player.ended { COMPLETED_VIDEO } else { WATCHING_VIDEO }),
        _ if says_nothing_about_ad_state(event) && in_break => None,
        "ad_break_start_event" | "ad_start_event" | "ad_quartile_event" | "ad_resume_event"
        | "ad_complete_event" | "ad_skip_event" => Some(WATCHING_AD),
        // Content events fired while a break is on carry its entities (the player pauses the
        // content for the ad).
        _ if in_break => Some(WATCHING_AD),
        _ => Some(content()),
    }
}

/// The ad quartile a percentage reaches: 0 started, 1-3 at 25/50/75 %, 4 complete.
fn quartile(percent: u32) -> u32 {
    (percent.min(100)) / 25
}

fn opt_str(s: &Option<Str<'_>>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::String(s.as_str().to_owned()))
}

/// Builds the deltas of one media event (its name already checked to be one of [`MEDIA_EVENTS`]).
pub fn apply(raw: &RawEvent<'_>, event: &str) -> Result<Apply, String> {
    let viewer = viewer_of(raw)?;
    let event_id = raw.event_id.as_ref().map(Str::as_str).ok_or("event_id is empty")?;
    if event_id.len() > MAX_EVENT_ID {
        return Err(format!("event_id is longer than {MAX_EVENT_ID} bytes"));
    }
    let ts = event_time(raw)?;
    let payload = raw.unstruct.as_ref().map(|u| u.data);
    let data: EventData = match payload {
        Some(p) => entities::parse(event, p)?,
        None => EventData::default(),
    };
    data.validate().map_err(|e| format!("{event}.{e}"))?;
    if event == "ad_quartile_event" && data.percent_progress.is_none() {
        return Err("ad_quartile_event: missing field `percentProgress`".into());
    }
    let player_raw = raw.entities.media_player.ok_or_else(|| {
        format!("{event} without the media_player entity (com.snowplowanalytics.snowplow/media_player/jsonschema/2-*-*)")
    })?;
    let player: MediaPlayer = entities::parse("media_player", player_raw)?;
    player.validate()?;
    let session: Option<Session> =
        raw.entities.session.map(|s| entities::parse("session", s)).transpose()?;
    if let Some(s) = &session {
        s.validate()?;
    }
    let ad: Option<Ad> = raw.entities.ad.map(|a| entities::parse("ad", a)).transpose()?;
    if let Some(a) = &ad {
        a.validate()?;
    }
    let ad_break: Option<AdBreak> =
        raw.entities.ad_break.map(|b| entities::parse("ad_break", b)).transpose()?;
    if let Some(b) = &ad_break {
        b.validate()?;
    }
    if needs_ad(event) && ad.is_none() {
        return Err(format!("{event} without the ad entity (com.snowplowanalytics.snowplow.media/ad/jsonschema/1-*-*)"));
    }
    if needs_ad_break(event) && ad_break.is_none() {
        return Err(format!(
            "{event} without the ad_break entity (com.snowplowanalytics.snowplow.media/ad_break/jsonschema/1-*-*)"
        ));
    }

    let session_id = session.as_ref().map(|s| SessionId::from(s.media_session_id.as_str()));
    let in_break = event != "ad_break_end_event" && (ad.is_some() || ad_break.is_some());
    let mut deltas = Vec::with_capacity(24);
    if let Some(s) = status_of(event, &player, in_break) {
        deltas.push(Delta::State { field: "status".into(), value: s.into() });
    }
    deltas.push(set("media", media_value(&player, &data, session_id.as_deref())));
    deltas.push(set("last_event", Value::String(event.to_owned())));
    push_ad_deltas(&mut deltas, event, in_break, ad.as_ref(), ad_break.as_ref(), &data);
    if event == "error_event" {
        let error = json!({
            "code": opt_str(&data.error_code),
            "name": opt_str(&data.error_name),
            "description": opt_str(&data.error_description),
        });
        deltas.push(set("last_error", error));
    }
    if let (Some(s), Some(id)) = (&session, &session_id) {
        push_session_deltas(&mut deltas, id, s, &player, event, event_id);
    }
    Ok(Apply {
        viewer,
        event: event.to_owned(),
        at: OrderKey { ts, rank: rank(event), id: event_id.to_owned() },
        deltas,
    })
}

fn set(field: &str, value: Value) -> Delta {
    Delta::Set { field: field.into(), value, session: None }
}

fn media_value(player: &MediaPlayer, data: &EventData, session_id: Option<&str>) -> Value {
    let percent = match (player.duration, player.livestream) {
        (Some(d), live) if d > 0.0 && live != Some(true) => {
            json!(((player.current_time / d * 100.0).min(100.0) * 100.0).round() / 100.0)
        }
        _ => Value::Null,
    };
    // The change events carry the new value; prefer it to the entity's, which some players
    // fill before the change lands.
    let fullscreen = data.fullscreen.or(player.fullscreen);
    let pip = data.picture_in_picture.or(player.picture_in_picture);
    let rate = data.new_rate.or(player.playback_rate);
    let volume = data.new_volume.or(player.volume);
    let quality = data.new_quality.as_ref().or(player.quality.as_ref());
    object([
        ("current_time", json!(player.current_time)),
        ("duration", json!(player.duration)),
        ("fullscreen", json!(fullscreen)),
        ("label", opt_str(&player.label)),
        ("livestream", json!(player.livestream)),
        ("loop", json!(player.looped)),
        ("media_type", opt_str(&player.media_type)),
        ("muted", json!(player.muted)),
        ("percent", percent),
        ("picture_in_picture", json!(pip)),
        ("playback_rate", json!(rate)),
        ("player_type", opt_str(&player.player_type)),
        ("quality", json!(quality.map(|q| q.as_str()))),
        ("session_id", json!(session_id)),
        ("volume", json!(volume)),
    ])
}

fn ad_value(ad: Option<&Ad>, ad_break: Option<&AdBreak>) -> Value {
    object([
        ("ad_id", ad.map_or(Value::Null, |a| a.ad_id.as_str().into())),
        ("break_id", ad_break.map_or(Value::Null, |b| b.break_id.as_str().into())),
        ("break_name", ad_break.map_or(Value::Null, |b| opt_str(&b.name))),
        ("break_start_time", json!(ad_break.map(|b| b.start_time))),
        ("break_type", ad_break.map_or(Value::Null, |b| opt_str(&b.break_type))),
        ("creative_id", ad.map_or(Value::Null, |a| opt_str(&a.creative_id))),
        ("duration", json!(ad.and_then(|a| a.duration))),
        ("name", ad.map_or(Value::Null, |a| opt_str(&a.name))),
        ("pod_position", json!(ad.and_then(|a| a.pod_position))),
        ("pod_size", json!(ad_break.and_then(|b| b.pod_size))),
        ("skippable", json!(ad.and_then(|a| a.skippable))),
    ])
}

/// An object from its members, listed in key order: built in one pass, where inserting them
/// one by one searches the map for each.
fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    Value::Object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<String, Value>>())
}

fn push_ad_deltas(
    deltas: &mut Vec<Delta>,
    event: &str,
    in_break: bool,
    ad: Option<&Ad>,
    ad_break: Option<&AdBreak>,
    data: &EventData,
) {
    if !in_break {
        deltas.push(set("ad", Value::Null));
        return;
    }
    deltas.push(set("ad", ad_value(ad, ad_break)));
    // The quartile, click and skip marks live in their own fields so that an event that does
    // not know them (a click, a ping) cannot reset them; each new ad or break does.
    match event {
        "ad_start_event" | "ad_break_start_event" => {
            let q = if event == "ad_start_event" { json!(0) } else { Value::Null };
            deltas.push(set("ad.quartile", q));
            deltas.push(set("ad.clicked", json!(false)));
            deltas.push(set("ad.skipped", json!(false)));
        }
        "ad_complete_event" => deltas.push(set("ad.quartile", json!(4))),
        _ => {
            if let (true, Some(p)) = (event.starts_with("ad_"), data.percent_progress) {
                deltas.push(set("ad.quartile", json!(quartile(p))));
            }
            match event {
                "ad_skip_event" => deltas.push(set("ad.skipped", json!(true))),
                "ad_click_event" => deltas.push(set("ad.clicked", json!(true))),
                _ => {}
            }
        }
    }
}

fn push_session_deltas(
    deltas: &mut Vec<Delta>,
    id: &SessionId,
    s: &Session,
    player: &MediaPlayer,
    event: &str,
    event_id: &str,
) {
    let scoped = || Some(id.clone());
    for (field, value) in s.counters() {
        // The tracker leaves a counter out while it is zero.
        deltas.push(Delta::Max { field: field.into(), value: value.unwrap_or(0.0), session: scoped() });
    }
    let completed = if event == "end_event" || player.ended { 1.0 } else { 0.0 };
    deltas.push(Delta::Max { field: "completed".into(), value: completed, session: scoped() });
    // The tracker counts ads started, skipped and clicked, not completed: count completions
    // here, once per event.
    if event == "ad_complete_event" {
        deltas.push(Delta::Add {
            field: "ads_completed".into(),
            value: 1.0,
            dedupe: event_id.to_owned(),
            session: scoped(),
        });
    }
    let mut session_set = |field: &str, value: Value| {
        deltas.push(Delta::Set { field: field.into(), value, session: scoped() });
    };
    session_set("avg_playback_rate", json!(s.avg_playback_rate));
    session_set("started_at", opt_str(&s.started_at));
    session_set("label", opt_str(&player.label));
    session_set("duration", json!(player.duration));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn player(paused: bool, ended: bool) -> MediaPlayer<'static> {
        let text = format!(r#"{{"currentTime":1,"paused":{paused},"ended":{ended}}}"#);
        serde_json::from_str(Box::leak(text.into_boxed_str())).unwrap()
    }

    #[test]
    fn content_status_follows_the_player() {
        use status::*;
        assert_eq!(status_of("play_event", &player(false, false), false), Some(WATCHING_VIDEO));
        assert_eq!(status_of("pause_event", &player(true, false), false), Some(PAUSED_VIDEO));
        assert_eq!(status_of("ping_event", &player(true, false), false), Some(PAUSED_VIDEO));
        assert_eq!(status_of("end_event", &player(true, true), false), Some(COMPLETED_VIDEO));
        assert_eq!(status_of("buffer_start_event", &player(false, false), false), Some(BUFFERING));
        assert_eq!(status_of("ready_event", &player(true, false), false), Some(READY));
    }

    #[test]
    fn ad_status_needs_the_event_and_the_entities() {
        use status::*;
        // The demo pauses the content for its ads: paused, but in an ad.
        assert_eq!(status_of("pause_event", &player(true, false), true), Some(WATCHING_AD));
        assert_eq!(status_of("ad_start_event", &player(true, false), true), Some(WATCHING_AD));
        assert_eq!(status_of("ad_pause_event", &player(true, false), true), Some(PAUSED_AD));
        assert_eq!(status_of("ping_event", &player(true, false), true), None);
        assert_eq!(status_of("ad_click_event", &player(true, false), true), None);
        assert_eq!(status_of("ad_break_end_event", &player(true, false), false), Some(WATCHING_VIDEO));
        assert_eq!(status_of("ad_break_end_event", &player(true, true), false), Some(COMPLETED_VIDEO));
    }

    #[test]
    fn ranks_order_ends_before_starts() {
        assert!(rank("ad_complete_event") < rank("ad_start_event"));
        assert!(rank("ad_skip_event") < rank("ad_break_end_event"));
        assert!(rank("ad_break_end_event") < rank("play_event"));
        assert!(rank("ad_break_start_event") < rank("ad_start_event"));
        assert!(rank("pause_event") < rank("ad_break_start_event"));
    }

    #[test]
    fn quartiles() {
        assert_eq!([0, 24, 25, 50, 99, 100, 250].map(quartile), [0, 0, 1, 2, 3, 4, 4]);
    }
}
