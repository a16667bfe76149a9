//! Windowed metrics: sliding windows of 5 minutes and an hour by event time (plays started,
//! completions, watch time, rebuffering, ad impressions, completions, skips and clicks; per
//! content and overall), and the concurrent viewers of every minute of the last day. Durable
//! and the same on every host. docs/metrics.md has the design and its guarantees.
//!
//! - [`sample`]: what of each merged event the windows need, carried on the changelog;
//! - [`session`], [`partition`]: counting one changelog partition by event time;
//! - [`records`], [`figures`]: what is written, and every host's picture made of it;
//! - [`owner`], [`topic`]: with Kafka, one host per changelog partition counts and writes to
//!   the metrics topic, and every host reads it; [`local`]: one host alone, written to the
//!   embedded store; [`concurrency`]: the per-minute concurrency series.

pub mod concurrency;
pub mod counts;
pub mod figures;
pub mod local;
pub mod owner;
pub mod partition;
pub mod records;
pub mod sample;
pub mod session;
pub mod topic;

use crate::config::WindowsConfig;
pub use counts::{Counts, Figures as WindowFigures};
pub use figures::Figures;
pub use local::Local;
pub use partition::Settings;
use std::sync::Arc;

/// The windows the API and the dashboard show, in milliseconds.
pub const WINDOWS: [(&str, i64); 2] = [("5m", 5 * 60_000), ("1h", 60 * 60_000)];

/// Every host's windowed metrics: the figures, and, for a host alone, the engine the
/// pipeline feeds in process.
pub struct Windows {
    pub figures: Arc<Figures>,
    pub settings: Settings,
    pub local: Option<Arc<Local>>,
}

impl Settings {
    pub fn from_config(c: &WindowsConfig) -> Settings {
        Settings {
            allowed_lateness_ms: c.allowed_lateness_s as i64 * 1000,
            max_contents: c.max_contents_per_minute,
            ..Settings::default()
        }
    }
}

/// The minutes `[from, to]` of a window of `span_ms` ending in the minute of `now`: the
/// current minute and the ones before it, up to the span.
pub fn window_minutes(now: i64, span_ms: i64) -> (i64, i64) {
    let to = counts::minute_of(now);
    (to - span_ms + 60_000, to)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_five_minute_window_is_the_current_minute_and_the_four_before() {
        assert_eq!(super::window_minutes(10 * 60_000 + 5_000, 5 * 60_000), (6 * 60_000, 10 * 60_000));
    }
}
