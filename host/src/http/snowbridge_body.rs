//! The body of `POST /ingest/snowbridge`: a JSON array of events, each a Snowbridge JSON
//! object or a string of enriched TSV, into the pipeline's messages. The array is read element
//! by element and refused as soon as it has more than the limit, so a body of millions of tiny
//! events costs no more than its bytes.

use crate::source::{Message, Origin};
use serde::de::{DeserializeSeed, Error as _, SeqAccess, Visitor};
use serde_json::value::RawValue;

#[derive(Debug, thiserror::Error)]
pub enum BodyRefused {
    #[error("more than {0} events in one request (http.max_ingest_events): send them in smaller requests")]
    TooManyEvents(usize),
    #[error("body is not a JSON array of events: {0}")]
    NotAnArray(String),
    #[error("event {index}: {reason}")]
    BadEvent { index: usize, reason: String },
}

/// The events of `body`, at most `max` of them, as messages of HTTP request `request`.
pub fn messages(body: &[u8], max: usize, request: u64) -> Result<Vec<Message>, BodyRefused> {
    let mut too_many = false;
    let mut de = serde_json::Deserializer::from_slice(body);
    let items = Capped { max, too_many: &mut too_many }.deserialize(&mut de).and_then(|items| de.end().map(|()| items));
    let items = match items {
        Ok(items) => items,
        Err(_) if too_many => return Err(BodyRefused::TooManyEvents(max)),
        Err(e) => return Err(BodyRefused::NotAnArray(e.to_string())),
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let text = item.get();
            let payload = if text.starts_with('"') {
                serde_json::from_str::<String>(text).map_err(|e| BodyRefused::BadEvent { index, reason: e.to_string() })?.into_bytes()
            } else if text.starts_with('{') {
                text.as_bytes().to_vec()
            } else {
                return Err(BodyRefused::BadEvent { index, reason: "neither an object nor a string".into() });
            };
            Ok(Message { payload, origin: Origin::Http { request, index } })
        })
        .collect()
}

/// A JSON array of at most `max` raw elements; past it, `too_many` is set and parsing stops.
struct Capped<'f> {
    max: usize,
    too_many: &'f mut bool,
}

impl<'de> DeserializeSeed<'de> for Capped<'_> {
    type Value = Vec<&'de RawValue>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Capped<'_> {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an array of at most {} events", self.max)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max).min(4096));
        while let Some(item) = seq.next_element::<&RawValue>()? {
            if items.len() == self.max {
                *self.too_many = true;
                return Err(A::Error::custom("too many events"));
            }
            items.push(item);
        }
        Ok(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_and_strings_become_messages_in_order() {
        let m = messages(br#"[{"a": 1}, "x\ty", {}]"#, 3, 7).unwrap();
        assert_eq!(m.iter().map(|m| m.payload.as_slice()).collect::<Vec<_>>(), [&b"{\"a\": 1}"[..], b"x\ty", b"{}"]);
        assert_eq!(m[2].origin, Origin::Http { request: 7, index: 2 });
    }

    #[test]
    fn what_is_refused_and_why() {
        assert!(matches!(messages(br#"["", "", ""]"#, 2, 0), Err(BodyRefused::TooManyEvents(2))));
        assert!(matches!(messages(br#"{"not": "an array"}"#, 2, 0), Err(BodyRefused::NotAnArray(_))));
        assert!(matches!(messages(br#"["", ""] trailing"#, 2, 0), Err(BodyRefused::NotAnArray(_))));
        assert!(matches!(messages(b"[1]", 2, 0), Err(BodyRefused::BadEvent { index: 0, .. })));
        // Over the limit is found before the rest is even looked at.
        let mut big = b"[".to_vec();
        big.extend(std::iter::repeat_n(&b"\"\","[..], 100).flatten());
        big.extend(b"oops");
        assert!(matches!(messages(&big, 10, 0), Err(BodyRefused::TooManyEvents(10))));
    }
}
