//! The concurrency series: the viewers active at the start of each minute, by status, sampled
//! from the live view (the same count the dashboard shows live) by one host for the whole
//! fleet, and kept a day.

use super::records::ConcurrencyPoint;
use crate::live::Live;

/// The point for the minute that has just begun, if it is not sampled yet. Only a view that
/// holds the fleet's picture samples.
pub fn due(live: &Live, last_sampled: &mut Option<i64>) -> Option<ConcurrencyPoint> {
    if !live.complete() {
        return None;
    }
    let minute = super::counts::minute_of(live.now_ms());
    if last_sampled.is_some_and(|m| m >= minute) {
        return None;
    }
    *last_sampled = Some(minute);
    let s = live.summary();
    Some(ConcurrencyPoint { minute, total: s.active_count as u64, by_status: s.status_counts.clone() })
}
