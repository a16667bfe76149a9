//! The figures of one minute (of one content, or of everything): counts and durations, as
//! integers so that sums are exact and do not depend on the order they were added in.

use serde::{Deserialize, Serialize};

/// Counted per minute of event time. Durations are milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    pub plays_started: i64,
    pub completions: i64,
    pub watch_ms: i64,
    pub buffering_ms: i64,
    pub ad_impressions: i64,
    pub ad_completions: i64,
    pub ad_skips: i64,
    pub ad_clicks: i64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.plays_started += o.plays_started;
        self.completions += o.completions;
        self.watch_ms += o.watch_ms;
        self.buffering_ms += o.buffering_ms;
        self.ad_impressions += o.ad_impressions;
        self.ad_completions += o.ad_completions;
        self.ad_skips += o.ad_skips;
        self.ad_clicks += o.ad_clicks;
    }

    pub fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

/// A window's figures as the API gives them: the counts, and the rates made of them (`None`
/// when what they divide by is zero).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub plays_started: i64,
    pub completions: i64,
    pub watch_time_s: f64,
    /// Watch time per play started in the window (YouTube's "average view duration").
    pub avg_watch_time_s: Option<f64>,
    pub buffering_s: f64,
    /// Buffering time over buffering plus watch time.
    pub rebuffering_ratio: Option<f64>,
    pub ad_impressions: i64,
    pub ad_completions: i64,
    pub ad_skips: i64,
    pub ad_clicks: i64,
    pub ad_completion_rate: Option<f64>,
    pub ad_skip_rate: Option<f64>,
    pub ad_click_rate: Option<f64>,
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| round6(part as f64 / whole as f64))
}

fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

impl From<&Counts> for Figures {
    fn from(c: &Counts) -> Figures {
        Figures {
            plays_started: c.plays_started,
            completions: c.completions,
            watch_time_s: c.watch_ms as f64 / 1000.0,
            avg_watch_time_s: (c.plays_started > 0).then(|| round6(c.watch_ms as f64 / 1000.0 / c.plays_started as f64)),
            buffering_s: c.buffering_ms as f64 / 1000.0,
            rebuffering_ratio: ratio(c.buffering_ms, c.buffering_ms + c.watch_ms),
            ad_impressions: c.ad_impressions,
            ad_completions: c.ad_completions,
            ad_skips: c.ad_skips,
            ad_clicks: c.ad_clicks,
            ad_completion_rate: ratio(c.ad_completions, c.ad_impressions),
            ad_skip_rate: ratio(c.ad_skips, c.ad_impressions),
            ad_click_rate: ratio(c.ad_clicks, c.ad_impressions),
        }
    }
}

/// Seconds from the tracker as whole milliseconds.
pub fn millis(seconds: f64) -> i64 {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * 1000.0).round().min(1e15) as i64
    } else {
        0
    }
}

/// The start of the minute `ts` falls in.
pub fn minute_of(ts: i64) -> i64 {
    ts.div_euclid(60_000).saturating_mul(60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_divide_by_what_they_say_and_never_by_zero() {
        let c = Counts { plays_started: 4, watch_ms: 60_000, buffering_ms: 20_000, ad_impressions: 8, ad_completions: 6, ad_skips: 1, ad_clicks: 2, ..Counts::default() };
        let f = Figures::from(&c);
        assert_eq!(f.avg_watch_time_s, Some(15.0));
        assert_eq!(f.rebuffering_ratio, Some(0.25));
        assert_eq!((f.ad_completion_rate, f.ad_skip_rate, f.ad_click_rate), (Some(0.75), Some(0.125), Some(0.25)));
        let none = Figures::from(&Counts::default());
        assert_eq!((none.avg_watch_time_s, none.rebuffering_ratio, none.ad_click_rate), (None, None, None));
    }

    #[test]
    fn minutes_and_millis() {
        assert_eq!(minute_of(119_999), 60_000);
        assert_eq!(minute_of(-1), -60_000);
        assert_eq!(minute_of(i64::MIN), i64::MIN);
        assert_eq!((millis(1.2345), millis(-3.0), millis(f64::NAN)), (1235, 0, 0));
    }
}
