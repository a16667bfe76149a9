//! The members of a profile's `media` object that the live view's lists read, picked out of
//! the register's JSON text. Every published profile needs them, and parsing the whole object
//! into a `serde_json::Value` tree to read six members was the largest single cost of writing
//! a profile (a map and a string for each of its members, built and freed again).

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// What the live view reads of `media` (`Viewer::of` in the host): the content key (`id`,
/// `media_id`, `label`), the label, whether it is live, the position and how much that is.
pub const MEDIA_MEMBERS: [&str; 6] = ["id", "media_id", "label", "livestream", "current_time", "percent"];

/// The [`MEDIA_MEMBERS`] of a JSON object's text, as an object with only those (the last one
/// wins if a name repeats, as when the whole object is parsed); null for text that is not a
/// JSON object. Reading any of those members gives what it gives on the whole object.
pub fn picked(text: &str) -> Value {
    serde_json::from_str::<Picked>(text).map_or(Value::Null, |p| p.0)
}

struct Picked(Value);

impl<'de> Deserialize<'de> for Picked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PickedVisitor)
    }
}

struct PickedVisitor;

impl<'de> Visitor<'de> for PickedVisitor {
    type Value = Picked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Picked, A::Error> {
        let mut out = Map::new();
        while let Some(Name(name)) = map.next_key()? {
            if MEDIA_MEMBERS.contains(&name.as_ref()) {
                out.insert(name.into_owned(), map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Picked(Value::Object(out)))
    }
}

/// A member's name, borrowed from the text unless it holds escapes.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_picked_members_read_as_on_the_whole_object() {
        let whole = json!({
            "id": "m\"1", "label": "A \u{1} film", "livestream": false, "current_time": 12.5, "percent": 40,
            "media_id": null, "duration": 300, "player_id": "p", "nested": {"id": "not this"}, "list": [1, {"label": "x"}]
        });
        let p = picked(&whole.to_string());
        for name in MEDIA_MEMBERS.iter().chain(&["duration", "player_id", "nested", "list", "absent"]) {
            let expected = if MEDIA_MEMBERS.contains(name) { whole.get(*name) } else { None };
            assert_eq!(p.get(*name), expected, "{name}");
        }
        assert_eq!(p.as_object().unwrap().len(), 6, "all six, media_id as null");
    }

    #[test]
    fn escaped_names_repeats_and_what_is_not_an_object() {
        // An escaped name is still the name; a repeated one keeps its last value, as serde_json does.
        assert_eq!(picked(r#"{"\u0069d":"a","label":"x","label":"y"}"#), json!({"id": "a", "label": "y"}));
        let repeated = r#"{"label":"x","label":"y"}"#;
        assert_eq!(picked(repeated), serde_json::from_str::<Value>(repeated).unwrap());
        for text in ["null", "\"media\"", "[1]", "3", "{", "{\"id\":}", ""] {
            assert_eq!(picked(text), Value::Null, "{text}");
        }
    }
}
