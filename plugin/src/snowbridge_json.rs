//! The JSON form made by Snowbridge's `spEnrichedToJson` (the Snowplow analytics SDK's
//! transformation): one flat object; empty fields left out; timestamps as RFC 3339; each
//! entity kind as `contexts_<vendor>_<name>_<major>` holding an array of the entities' data;
//! the self-describing event as `unstruct_event_<vendor>_<name>_<major>` holding its data.

use crate::raw::{entity_slot, RawEvent, Str, Unstruct, MEDIA_VENDOR, PLAYER_VENDOR};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The analytics SDK's key for a vendor: dots become underscores.
fn sdk_vendor(vendor: &str) -> &'static str {
    match vendor {
        MEDIA_VENDOR => "com_snowplowanalytics_snowplow_media",
        PLAYER_VENDOR => "com_snowplowanalytics_snowplow",
        _ => "",
    }
}

/// Splits `<vendor>_<name>_<major>` for the vendors we know. The key is ambiguous (the media
/// vendor's key is a prefix of the player vendor's: `..._snowplow_media_player_2`), so every
/// reading is returned, the media vendor's first.
fn split_key(rest: &str) -> impl Iterator<Item = (&'static str, &str, u32)> {
    [MEDIA_VENDOR, PLAYER_VENDOR].into_iter().filter_map(move |vendor| {
        let tail = rest.strip_prefix(sdk_vendor(vendor))?.strip_prefix('_')?;
        let (name, major) = tail.rsplit_once('_')?;
        Some((vendor, name, major.parse().ok()?))
    })
}

pub fn parse(doc: &str) -> Result<RawEvent<'_>, String> {
    let mut de = serde_json::Deserializer::from_str(doc);
    let raw = de.deserialize_map(EventVisitor).map_err(|e| format!("Snowbridge JSON: {e}"))?;
    de.end().map_err(|e| format!("Snowbridge JSON: {e}"))?;
    Ok(raw)
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = RawEvent<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an enriched event as a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut raw = RawEvent::default();
        while let Some(key) = map.next_key::<Str<'de>>()? {
            let key = key.as_str();
            let atomic = match key {
                "event" => Some(&mut raw.event),
                "event_id" => Some(&mut raw.event_id),
                "user_id" => Some(&mut raw.user_id),
                "domain_userid" => Some(&mut raw.domain_userid),
                "network_userid" => Some(&mut raw.network_userid),
                "derived_tstamp" => Some(&mut raw.derived_tstamp),
                "dvce_created_tstamp" => Some(&mut raw.dvce_created_tstamp),
                "collector_tstamp" => Some(&mut raw.collector_tstamp),
                "event_vendor" => Some(&mut raw.event_vendor),
                "event_name" => Some(&mut raw.event_name),
                _ => None,
            };
            if let Some(slot) = atomic {
                let value: Option<Str<'de>> = map
                    .next_value()
                    .map_err(|e| de::Error::custom(format!("{key}: {e}")))?;
                *slot = value.filter(|s| !s.as_str().is_empty());
            } else if let Some(rest) = key.strip_prefix("contexts_") {
                let kind = split_key(rest).find(|(vendor, name, major)| {
                    entity_slot(&mut raw.entities, vendor, name, *major).is_some()
                });
                let slot = kind.and_then(|(vendor, name, major)| {
                    entity_slot(&mut raw.entities, vendor, name, major)
                });
                match slot {
                    Some(slot) => {
                        let list: Vec<&'de RawValue> = map
                            .next_value()
                            .map_err(|e| de::Error::custom(format!("{key}: {e}")))?;
                        if let (None, Some(first)) = (&slot, list.first()) {
                            *slot = Some(*first);
                        }
                    }
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            } else if let Some(rest) = key.strip_prefix("unstruct_event_") {
                let data: &'de RawValue = map.next_value()?;
                if raw.unstruct.is_none() {
                    raw.unstruct = Some(match split_key(rest).next() {
                        Some((vendor, name, major)) => Unstruct {
                            vendor: Cow::Borrowed(vendor),
                            name: Cow::Owned(name.to_owned()),
                            major,
                            data,
                        },
                        // Another vendor's event: enough to say what it is when skipping it.
                        None => Unstruct { vendor: Cow::Borrowed(""), name: Cow::Owned(rest.to_owned()), major: 0, data },
                    });
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sdk_keys() {
        let doc = r#"{"event_id":"e","domain_userid":"d","derived_tstamp":"2024-11-16T13:33:29.298Z",
            "contexts_com_snowplowanalytics_snowplow_media_player_2":[{"currentTime":1,"paused":false,"ended":false}],
            "contexts_com_snowplowanalytics_snowplow_media_session_1":[{"mediaSessionId":"s"}],
            "contexts_com_snowplowanalytics_snowplow_web_page_1":[{"id":"p"}],
            "unstruct_event_com_snowplowanalytics_snowplow_media_ad_break_start_event_1":{},
            "geo_latitude": 1.5}"#;
        let raw = parse(doc).unwrap();
        assert_eq!(raw.event_id.unwrap().as_str(), "e");
        assert_eq!(raw.entities.media_player.unwrap().get(), r#"{"currentTime":1,"paused":false,"ended":false}"#);
        assert_eq!(raw.entities.session.unwrap().get(), r#"{"mediaSessionId":"s"}"#);
        let u = raw.unstruct.unwrap();
        assert_eq!((u.vendor.as_ref(), u.name.as_ref(), u.major), (MEDIA_VENDOR, "ad_break_start_event", 1));
    }

    #[test]
    fn wrong_types_name_the_key() {
        let err = parse(r#"{"user_id": 42}"#).unwrap_err();
        assert!(err.contains("user_id"), "{err}");
        assert!(parse(r#"[1,2]"#).is_err());
        assert!(parse(r#"{"event_id":"e"} trailing"#).is_err());
    }
}
