//! The enriched TSV form: 131 tab-separated fields, empty = null; `contexts` and
//! `unstruct_event` are self-describing JSON.

use crate::raw::{entity_slot, split_schema, RawEvent, Str, Unstruct};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

pub const FIELD_COUNT: usize = 131;

// Positions (0-based) in the enriched event; the names are Snowplow's.
const COLLECTOR_TSTAMP: usize = 3;
const DVCE_CREATED_TSTAMP: usize = 4;
const EVENT: usize = 5;
const EVENT_ID: usize = 6;
const USER_ID: usize = 12;
const DOMAIN_USERID: usize = 15;
const NETWORK_USERID: usize = 17;
const CONTEXTS: usize = 52;
const UNSTRUCT_EVENT: usize = 58;
const DERIVED_TSTAMP: usize = 124;
const EVENT_VENDOR: usize = 125;
const EVENT_NAME: usize = 126;

/// The JSON fields of a TSV line, parsed only once the event is known to be a media event.
#[derive(Debug)]
pub struct Payloads<'a> {
    contexts: Option<&'a str>,
    unstruct: Option<&'a str>,
}

fn opt(s: &str) -> Option<Str<'_>> {
    (!s.is_empty()).then_some(Str(Cow::Borrowed(s)))
}

/// The fields of a line: where its tabs are. Only the dozen fields the logic reads are ever
/// sliced out.
struct Fields<'a> {
    line: &'a str,
    tabs: [u32; FIELD_COUNT - 1],
}

impl<'a> Fields<'a> {
    /// Finds the tabs, or says how many fields the line has when that is not [`FIELD_COUNT`].
    fn split(line: &'a str) -> Result<Self, usize> {
        let mut tabs = [0u32; FIELD_COUNT - 1];
        let mut n = 0;
        crate::scan::tabs(line.as_bytes(), |at| {
            if let Some(slot) = tabs.get_mut(n) {
                *slot = at as u32;
            }
            n += 1;
        });
        if n == FIELD_COUNT - 1 {
            Ok(Fields { line, tabs })
        } else {
            Err(n + 1)
        }
    }

    fn get(&self, i: usize) -> &'a str {
        let start = if i == 0 { 0 } else { self.tabs[i - 1] as usize + 1 };
        let end = if i == FIELD_COUNT - 1 { self.line.len() } else { self.tabs[i] as usize };
        // Tabs are ASCII, so both ends are character boundaries.
        &self.line[start..end]
    }
}

/// Splits the line and reads the atomic fields; the JSON payloads are left for [`fill_unstruct`]
/// and [`fill_contexts`].
pub fn parse(line: &str) -> Result<(RawEvent<'_>, Payloads<'_>), String> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    let fields = Fields::split(line)
        .map_err(|n| format!("enriched TSV: expected {FIELD_COUNT} tab-separated fields, found {n}"))?;
    let fields = |i| fields.get(i);
    let raw = RawEvent {
        event: opt(fields(EVENT)),
        event_id: opt(fields(EVENT_ID)),
        user_id: opt(fields(USER_ID)),
        domain_userid: opt(fields(DOMAIN_USERID)),
        network_userid: opt(fields(NETWORK_USERID)),
        derived_tstamp: opt(fields(DERIVED_TSTAMP)),
        dvce_created_tstamp: opt(fields(DVCE_CREATED_TSTAMP)),
        collector_tstamp: opt(fields(COLLECTOR_TSTAMP)),
        event_vendor: opt(fields(EVENT_VENDOR)),
        event_name: opt(fields(EVENT_NAME)),
        ..RawEvent::default()
    };
    let payloads = Payloads {
        contexts: (!fields(CONTEXTS).is_empty()).then_some(fields(CONTEXTS)),
        unstruct: (!fields(UNSTRUCT_EVENT).is_empty()).then_some(fields(UNSTRUCT_EVENT)),
    };
    Ok((raw, payloads))
}

#[derive(Deserialize)]
struct SelfDescribing<'a> {
    #[serde(borrow)]
    schema: Str<'a>,
    #[serde(borrow)]
    data: &'a RawValue,
}

#[derive(Deserialize)]
struct Contexts<'a> {
    #[serde(borrow)]
    schema: Str<'a>,
    #[serde(borrow)]
    data: Vec<SelfDescribing<'a>>,
}

#[derive(Deserialize)]
struct UnstructWrapper<'a> {
    #[serde(borrow)]
    schema: Str<'a>,
    #[serde(borrow)]
    data: SelfDescribing<'a>,
}

const CONTEXTS_SCHEMA: &str = "iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-";
const UNSTRUCT_SCHEMA: &str = "iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-";

/// Parses the self-describing event only (enough to classify an event without atomic names).
pub fn fill_unstruct<'a>(raw: &mut RawEvent<'a>, payloads: &Payloads<'a>) -> Result<(), String> {
    let Some(text) = payloads.unstruct else { return Ok(()) };
    let wrapper: UnstructWrapper<'a> =
        serde_json::from_str(text).map_err(|e| format!("unstruct_event: invalid JSON: {e}"))?;
    if !wrapper.schema.as_str().starts_with(UNSTRUCT_SCHEMA) {
        return Err(format!("unstruct_event: unexpected wrapper schema {:?}", wrapper.schema.as_str()));
    }
    let inner = wrapper.data;
    let (vendor, name, major) = split_schema(inner.schema.as_str())
        .ok_or_else(|| format!("unstruct_event: invalid schema URI {:?}", inner.schema.as_str()))?;
    raw.unstruct = Some(Unstruct {
        vendor: Cow::Owned(vendor.to_owned()),
        name: Cow::Owned(name.to_owned()),
        major,
        data: inner.data,
    });
    Ok(())
}

/// Parses the entities in `contexts` (derived contexts carry none of the media entities).
pub fn fill_contexts<'a>(raw: &mut RawEvent<'a>, payloads: &Payloads<'a>) -> Result<(), String> {
    let Some(text) = payloads.contexts else { return Ok(()) };
    let contexts: Contexts<'a> =
        serde_json::from_str(text).map_err(|e| format!("contexts: invalid JSON: {e}"))?;
    if !contexts.schema.as_str().starts_with(CONTEXTS_SCHEMA) {
        return Err(format!("contexts: unexpected wrapper schema {:?}", contexts.schema.as_str()));
    }
    for entity in contexts.data {
        let Some((vendor, name, major)) = split_schema(entity.schema.as_str()) else {
            return Err(format!("contexts: invalid schema URI {:?}", entity.schema.as_str()));
        };
        if let Some(slot) = entity_slot(&mut raw.entities, vendor, name, major) {
            slot.get_or_insert(entity.data);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_with(overrides: &[(usize, &str)]) -> String {
        let mut f = vec![""; FIELD_COUNT];
        for (i, v) in overrides {
            f[*i] = v;
        }
        f.join("\t")
    }

    #[test]
    fn counts_fields_exactly() {
        let ok = line_with(&[(EVENT_ID, "e1")]);
        assert!(parse(&ok).is_ok());
        assert!(parse(&format!("{ok}\n")).is_ok());
        assert!(parse(&format!("{ok}\r\n")).is_ok());
        let short = ok[..ok.len() - 1].to_string();
        assert!(parse(&short).unwrap_err().contains("found 130"));
        assert!(parse(&format!("{ok}\tx")).unwrap_err().contains("found 132"));
    }

    #[test]
    fn the_fast_split_agrees_with_str_split() {
        let mut samples: Vec<String> = vec![String::new(), "\t".repeat(130), "\t".repeat(131), "a\tb".into()];
        // Every alignment of tabs against the eight-byte words, bytes next to a tab included.
        for len in 0..40 {
            let fields: Vec<String> = (0..FIELD_COUNT).map(|i| "x\u{8}é\u{89}".chars().cycle().skip(i % 4).take((i * 7 + len) % 11).collect()).collect();
            samples.push(fields.join("\t"));
        }
        for line in &samples {
            let reference: Vec<&str> = line.split('\t').collect();
            match Fields::split(line) {
                Ok(fields) => assert_eq!((0..FIELD_COUNT).map(|i| fields.get(i)).collect::<Vec<_>>(), reference),
                Err(n) => assert_eq!(n, reference.len()),
            }
        }
    }

    #[test]
    fn empty_fields_are_null() {
        let line = line_with(&[(EVENT_ID, "e1"), (DOMAIN_USERID, "d")]);
        let (raw, payloads) = parse(&line).unwrap();
        assert_eq!(raw.event_id.unwrap().as_str(), "e1");
        assert!(raw.user_id.is_none());
        assert_eq!(raw.domain_userid.unwrap().as_str(), "d");
        assert!(payloads.contexts.is_none());
    }

    #[test]
    fn first_entity_of_a_kind_wins_and_others_are_ignored() {
        let ctx = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[
            {"schema":"iglu:com.acme/other/jsonschema/1-0-0","data":{"x":1}},
            {"schema":"iglu:com.snowplowanalytics.snowplow.media/ad/jsonschema/1-0-0","data":{"adId":"1"}},
            {"schema":"iglu:com.snowplowanalytics.snowplow.media/ad/jsonschema/1-0-0","data":{"adId":"2"}},
            {"schema":"iglu:com.snowplowanalytics.snowplow/media_player/jsonschema/1-0-0","data":{}}]}"#;
        let line = line_with(&[(CONTEXTS, &ctx.replace('\n', ""))]);
        let (mut raw, payloads) = parse(&line).unwrap();
        fill_contexts(&mut raw, &payloads).unwrap();
        assert_eq!(raw.entities.ad.unwrap().get(), r#"{"adId":"1"}"#);
        assert!(raw.entities.media_player.is_none(), "media_player 1-0-0 is not the v2 entity");
    }

    #[test]
    fn bad_payloads_say_what_is_wrong() {
        let line = line_with(&[(CONTEXTS, "{not json")]);
        let (mut raw, p) = parse(&line).unwrap();
        assert!(fill_contexts(&mut raw, &p).unwrap_err().starts_with("contexts: invalid JSON"));
        let line = line_with(&[(UNSTRUCT_EVENT, r#"{"schema":"iglu:x/y/jsonschema/1-0-0","data":{"schema":"s","data":{}}}"#)]);
        let (mut raw, p) = parse(&line).unwrap();
        assert!(fill_unstruct(&mut raw, &p).unwrap_err().contains("wrapper schema"));
    }
}
