//! A profile item and a history row as DynamoDB holds them: the state beside readable
//! attributes, the sizes DynamoDB counts, and the history's sort key.

use crate::profile::ProfileState;
use crate::store::{Stored, Summary};
use aws_sdk_dynamodb::types::AttributeValue;
use liveviewer_wire::time::format_millis;
use std::collections::HashMap;

/// Sorts by time: `2026-11-21T21:30:00.123Z#<event hash>`.
pub(super) fn history_sort_key(ts: i64, event_hash: u64) -> String {
    format!("{}#{event_hash:016x}", format_millis(ts))
}

pub(super) fn decode_item(item: &HashMap<String, AttributeValue>) -> Result<Stored, String> {
    let state = match item.get("state") {
        Some(AttributeValue::B(b)) => ProfileState::decode(b.as_ref())?,
        _ => return Err("profile item without its state".into()),
    };
    let rev = match item.get("rev") {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| format!("profile rev {n:?}"))?,
        _ => return Err("profile item without its rev".into()),
    };
    Ok(Stored { state, rev })
}

/// DynamoDB's item size limit.
pub(super) const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The readable attributes of a profile item.
pub(super) fn summary_attributes(s: &Summary, ttl_days: u32) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::new();
    let mut text = |name: &str, v: Option<String>| {
        if let Some(v) = v {
            item.insert(name.to_owned(), AttributeValue::S(v));
        }
    };
    text("status", s.status.clone());
    text("status_at", s.status_at.map(format_millis));
    text("media_label", s.media_label.clone());
    text("first_seen", s.first_seen.map(format_millis));
    text("last_seen", s.last_seen.map(format_millis));
    item.insert("module_version".into(), AttributeValue::S(s.module_version.clone()));
    item.insert("revision".into(), AttributeValue::N(s.revision.to_string()));
    if ttl_days > 0 {
        if let Some(last) = s.last_seen {
            // Seconds since the epoch, as DynamoDB's TTL wants: gone this long after the
            // viewer's last event.
            let expires = last / 1000 + i64::from(ttl_days) * 86_400;
            item.insert("expires_at".into(), AttributeValue::N(expires.to_string()));
        }
    }
    item
}

/// An item's size as DynamoDB counts it: attribute names plus values.
pub(super) fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(k, v)| {
            k.len()
                + match v {
                    AttributeValue::S(s) => s.len(),
                    AttributeValue::N(n) => n.len(),
                    AttributeValue::B(b) => b.as_ref().len(),
                    _ => 8,
                }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_item_says_what_a_person_wants_to_know_and_expires() {
        let s = Summary {
            status: Some("WATCHING_VIDEO".into()),
            status_at: Some(1_763_000_000_000),
            media_label: Some("Big Buck Bunny".into()),
            first_seen: Some(1_762_000_000_000),
            last_seen: Some(1_763_000_100_000),
            module_version: "sha256:abc".into(),
            revision: 42,
        };
        let item = summary_attributes(&s, 30);
        assert_eq!(item["status"], AttributeValue::S("WATCHING_VIDEO".into()));
        assert_eq!(item["media_label"], AttributeValue::S("Big Buck Bunny".into()));
        assert_eq!(item["last_seen"], AttributeValue::S("2025-11-13T02:15:00.000Z".into()));
        assert_eq!(item["revision"], AttributeValue::N("42".into()));
        assert_eq!(item["expires_at"], AttributeValue::N((1_763_000_100 + 30 * 86_400).to_string()));
        assert!(!summary_attributes(&s, 0).contains_key("expires_at"));
    }
}
