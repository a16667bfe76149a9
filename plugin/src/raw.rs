//! The event as both input forms reduce it: the few atomic fields the logic reads, the
//! self-describing event and the media entities, still as raw JSON. TSV and Snowbridge JSON
//! both parse into this, which is what makes their outcomes identical.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A string borrowed from the input when it has no escapes, owned otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Str<'a>(pub Cow<'a, str>);

impl<'a> Str<'a> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// Which of the two forms the message came in; kept for error messages only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Tsv,
    Json,
}

/// The self-describing event payload: `vendor/name`, the schema's major version and its data.
#[derive(Debug, Clone)]
pub struct Unstruct<'a> {
    pub vendor: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub major: u32,
    pub data: &'a RawValue,
}

/// The entities this logic understands, first of each kind: the media entities, and the
/// tracker's `client_session`, whose `userId` identifies a mobile viewer (see
/// `identity::viewer_of`).
#[derive(Debug, Default, Clone)]
pub struct MediaEntities<'a> {
    pub media_player: Option<&'a RawValue>,
    pub session: Option<&'a RawValue>,
    pub ad: Option<&'a RawValue>,
    pub ad_break: Option<&'a RawValue>,
    pub client_session: Option<&'a RawValue>,
}

#[derive(Debug, Default, Clone)]
pub struct RawEvent<'a> {
    pub event: Option<Str<'a>>,
    pub event_id: Option<Str<'a>>,
    pub user_id: Option<Str<'a>>,
    pub domain_userid: Option<Str<'a>>,
    pub network_userid: Option<Str<'a>>,
    pub derived_tstamp: Option<Str<'a>>,
    pub dvce_created_tstamp: Option<Str<'a>>,
    pub collector_tstamp: Option<Str<'a>>,
    pub event_vendor: Option<Str<'a>>,
    pub event_name: Option<Str<'a>>,
    pub unstruct: Option<Unstruct<'a>>,
    pub entities: MediaEntities<'a>,
}

pub const MEDIA_VENDOR: &str = "com.snowplowanalytics.snowplow.media";
pub const PLAYER_VENDOR: &str = "com.snowplowanalytics.snowplow";

/// The media entity a schema names, if it is one of ours and of a major version we speak.
pub fn entity_slot<'e, 'a>(
    entities: &'e mut MediaEntities<'a>,
    vendor: &str,
    name: &str,
    major: u32,
) -> Option<&'e mut Option<&'a RawValue>> {
    match (vendor, name, major) {
        (PLAYER_VENDOR, "media_player", 2) => Some(&mut entities.media_player),
        (MEDIA_VENDOR, "session", 1) => Some(&mut entities.session),
        (MEDIA_VENDOR, "ad", 1) => Some(&mut entities.ad),
        (MEDIA_VENDOR, "ad_break", 1) => Some(&mut entities.ad_break),
        (PLAYER_VENDOR, "client_session", 1) => Some(&mut entities.client_session),
        _ => None,
    }
}

/// Splits `iglu:vendor/name/jsonschema/M-m-p` into vendor, name and major version.
///
/// Byte loops rather than `str::split`: every entity of every event goes through here, and in
/// wasm each `split` step is a call into a word-at-a-time search that short parts never amortise.
pub fn split_schema(uri: &str) -> Option<(&str, &str, u32)> {
    let rest = uri.strip_prefix("iglu:")?;
    let (vendor, rest) = split_at_byte(rest, b'/')?;
    let (name, rest) = split_at_byte(rest, b'/')?;
    let version = rest.strip_prefix("jsonschema/")?;
    if vendor.is_empty() || name.is_empty() || version.as_bytes().contains(&b'/') {
        return None;
    }
    let (major, rest) = split_at_byte(version, b'-')?;
    let (minor, patch) = split_at_byte(rest, b'-')?;
    let major = major.parse().ok()?;
    if minor.parse::<u32>().is_err() || patch.parse::<u32>().is_err() {
        return None;
    }
    Some((vendor, name, major))
}

/// `s` split around the first `b` (an ASCII byte, so both sides are `str`).
fn split_at_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|c| c == b)?;
    Some((&s[..i], &s[i + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_uris_split_or_fail() {
        assert_eq!(
            split_schema("iglu:com.snowplowanalytics.snowplow.media/ad/jsonschema/1-0-0"),
            Some(("com.snowplowanalytics.snowplow.media", "ad", 1))
        );
        for bad in [
            "com.acme/x/jsonschema/1-0-0",
            "iglu:com.acme/x/avro/1-0-0",
            "iglu:com.acme/x/jsonschema/1-0",
            "iglu:com.acme/x/jsonschema/a-0-0",
            "iglu:com.acme/x/jsonschema/1-0-0/extra",
            "iglu://jsonschema/1-0-0",
        ] {
            assert_eq!(split_schema(bad), None, "{bad}");
        }
    }
}
