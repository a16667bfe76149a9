//! Who and when: the viewer an event belongs to, and the time it happened. The rest of the
//! logic (`logic`) builds what the event says about that viewer.

use crate::entities;
use crate::raw::{RawEvent, Str};
use liveviewer_wire::time;

/// Longest viewer id accepted; DynamoDB keys stop at 2048 bytes.
pub const MAX_VIEWER_ID: usize = 1024;
/// Event times outside [2000-01-01, 2100-01-01) are not a real player's.
const MIN_TS: i64 = 946_684_800_000;
const MAX_TS: i64 = 4_102_444_800_000;

/// What Snowplow writes in place of an identifier it must not reveal: the mobile trackers'
/// `client_session.userId` under user anonymisation, the collector's `network_userid` for a
/// request with the `SP-Anonymous` header. Keyed by it, every anonymous viewer would be one.
pub const ANONYMOUS_ID: &str = "00000000-0000-0000-0000-000000000000";

/// The viewer key: `user_id` (set by the site or app for a logged-in viewer, so it follows
/// them across devices), else `domain_userid` (the JavaScript tracker's first-party cookie
/// id), else the `client_session` entity's `userId` (the mobile trackers' installation id:
/// they leave `domain_userid` empty), else `network_userid` (the collector's cookie, last
/// because an app that does not keep cookies gets a new one on every request). Empty values
/// and the anonymous id are skipped. Snowbridge's partition key
/// (`docker/snowbridge/viewer-key.js`) applies the same rule.
pub(crate) fn viewer_of(raw: &RawEvent<'_>) -> Result<String, String> {
    let usable = |v: &Option<Str<'_>>| {
        v.as_ref().map(Str::as_str).filter(|s| !s.is_empty() && *s != ANONYMOUS_ID).map(str::to_owned)
    };
    let client_session = || -> Result<Option<String>, String> {
        let Some(entity) = raw.entities.client_session else { return Ok(None) };
        let parsed: entities::ClientSession = entities::parse("client_session", entity)?;
        Ok(usable(&parsed.user_id))
    };
    let viewer = match usable(&raw.user_id).or_else(|| usable(&raw.domain_userid)) {
        Some(v) => v,
        None => client_session()?.or_else(|| usable(&raw.network_userid)).ok_or(
            "no viewer id: user_id, domain_userid, client_session.userId and network_userid are all empty or anonymous",
        )?,
    };
    if viewer.len() > MAX_VIEWER_ID {
        return Err(format!("viewer id is longer than {MAX_VIEWER_ID} bytes"));
    }
    Ok(viewer)
}

/// Event time: `derived_tstamp`, else `dvce_created_tstamp`, else `collector_tstamp`.
pub fn event_time(raw: &RawEvent<'_>) -> Result<i64, String> {
    let candidates = [
        ("derived_tstamp", &raw.derived_tstamp),
        ("dvce_created_tstamp", &raw.dvce_created_tstamp),
        ("collector_tstamp", &raw.collector_tstamp),
    ];
    let (name, text) = candidates
        .into_iter()
        .find_map(|(name, v)| v.as_ref().map(|s| (name, s.as_str())))
        .ok_or("no event time: derived_tstamp, dvce_created_tstamp and collector_tstamp are all empty")?;
    let ts = time::parse_millis(text).ok_or_else(|| format!("{name} is not a timestamp: {text:?}"))?;
    if !(MIN_TS..MAX_TS).contains(&ts) {
        return Err(format!("{name} {text:?} is outside the years 2000 to 2099"));
    }
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn ids<'a>(user: &'a str, domain: &'a str, network: &'a str, session: Option<&'a RawValue>) -> RawEvent<'a> {
        let s = |v: &'a str| (!v.is_empty()).then_some(Str(std::borrow::Cow::Borrowed(v)));
        let mut raw = RawEvent { user_id: s(user), domain_userid: s(domain), network_userid: s(network), ..RawEvent::default() };
        raw.entities.client_session = session;
        raw
    }

    #[test]
    fn viewer_key_falls_back_in_order_and_skips_the_anonymous_id() {
        let cs = RawValue::from_string(r#"{"userId":"install-1","sessionId":"s","sessionIndex":3}"#.into()).unwrap();
        let nil = RawValue::from_string(format!(r#"{{"userId":"{ANONYMOUS_ID}"}}"#)).unwrap();
        let cases: [(RawEvent, &str); 6] = [
            (ids("u", "d", "n", Some(&cs)), "u"),
            (ids("", "d", "n", Some(&cs)), "d"),
            (ids("", "", "n", Some(&cs)), "install-1"),
            (ids("", "", "n", Some(&nil)), "n"),
            (ids("", "", "n", None), "n"),
            (ids(ANONYMOUS_ID, "", "n", Some(&cs)), "install-1"),
        ];
        for (raw, want) in cases {
            assert_eq!(viewer_of(&raw).unwrap(), want);
        }
        let err = viewer_of(&ids("", "", ANONYMOUS_ID, Some(&nil))).unwrap_err();
        assert!(err.starts_with("no viewer id"), "{err}");
    }

    #[test]
    fn client_session_is_read_only_when_needed() {
        let bad = RawValue::from_string(r#"{"userId":42}"#.into()).unwrap();
        assert_eq!(viewer_of(&ids("", "d", "", Some(&bad))).unwrap(), "d");
        let err = viewer_of(&ids("", "", "n", Some(&bad))).unwrap_err();
        assert!(err.starts_with("client_session: invalid type: integer `42`"), "{err}");
    }
}
