//! The name table this module declares through its `abi` export (ABI v2): every field, object
//! member, event name and status it writes, so that each event refers to them by number. A
//! name missing here is still written, inline; the table only makes it shorter.

use crate::logic::{status, MEDIA_EVENTS};
use liveviewer_wire::v2::NameIds;
use std::sync::OnceLock;

/// Profile and session fields.
const FIELDS: &[&str] = &[
    "status", "media", "last_event", "ad", "ad.quartile", "ad.clicked", "ad.skipped", "last_error",
    "time_played", "time_played_muted", "time_paused", "time_buffering", "time_spent_ads",
    "content_watched", "ads", "ads_clicked", "ads_skipped", "ad_breaks", "completed",
    "ads_completed", "avg_playback_rate", "started_at", "label", "duration",
];

/// Members of the `media`, `ad` and `last_error` objects.
const MEMBERS: &[&str] = &[
    "session_id", "media_type", "player_type", "current_time", "percent", "livestream",
    "playback_rate", "volume", "muted", "fullscreen", "picture_in_picture", "quality", "loop",
    "ad_id", "name", "creative_id", "pod_position", "skippable", "break_id", "break_name",
    "break_type", "break_start_time", "pod_size", "code", "description",
];

const STATUSES: &[&str] = &[
    status::WATCHING_VIDEO,
    status::PAUSED_VIDEO,
    status::WATCHING_AD,
    status::PAUSED_AD,
    status::COMPLETED_VIDEO,
    status::BUFFERING,
    status::READY,
];

/// The table, in the order the references count (from 1).
pub fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| [FIELDS, MEMBERS, &MEDIA_EVENTS[..], STATUSES].concat())
}

/// The encoder's lookup over [`names`], built on first use.
pub fn ids() -> &'static NameIds {
    static IDS: OnceLock<NameIds> = OnceLock::new();
    IDS.get_or_init(|| NameIds::new(names()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use liveviewer_wire::v2::NameTable;

    #[test]
    fn the_table_is_one_the_host_accepts() {
        NameTable::new(names().iter().map(|s| s.to_string()).collect()).unwrap();
    }
}
