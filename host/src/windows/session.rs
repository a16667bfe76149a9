//! One media session's recent events in event-time order, so that every event's share of the
//! tracker's cumulative counters (watch time, buffering, completion) is credited to the minute
//! the event belongs to, whatever order the events arrive in. An event that arrives out of
//! order takes its share from the event after it: both minutes are corrected. Events older
//! than the allowed lateness are folded into a base and forgotten.

use super::counts::{millis, Counts};
use super::sample::{Kind, Sample};
use std::sync::Arc;

/// The session's cumulative figures up to an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Level {
    pub watch_ms: i64,
    pub buffering_ms: i64,
    pub completed: bool,
}

impl Level {
    fn max(self, o: Level) -> Level {
        Level { watch_ms: self.watch_ms.max(o.watch_ms), buffering_ms: self.buffering_ms.max(o.buffering_ms), completed: self.completed || o.completed }
    }
}

/// Events a session keeps to place late ones among (see [`Session::offer`]).
pub const MAX_POINTS: usize = 1_024;

#[derive(Debug, Clone)]
struct Point {
    ts: i64,
    id: u64,
    own: Level,
    /// What this event has been credited with so far.
    credited: Level,
}

/// Where the session's play was counted: its earliest event.
#[derive(Debug, Clone)]
pub struct Start {
    pub ts: i64,
    /// False when the session began before this host could see it (a host that took the
    /// partition over, a session resumed after a long pause): its play was counted then.
    pub counted: bool,
}

/// A change to a minute's counts.
#[derive(Debug, Clone, PartialEq)]
pub struct Credit {
    pub minute_ts: i64,
    pub counts: Counts,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub content: Option<Arc<str>>,
    pub start: Start,
    /// The level before the first point: the folded events'.
    base: Level,
    points: Vec<Point>,
    /// The newest event folded in early, past [`MAX_POINTS`]: an event at or before it is as
    /// late as a folded one, and is not taken.
    floor: Option<(i64, u64)>,
    pub last_ts: i64,
}

/// How a session seen for the first time is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Its first event: its play counts, and its counters count from zero.
    New,
    /// Seen for the first time after its start (its past is counted elsewhere, or unknown):
    /// this event sets the base, nothing is credited for it but its own event kind.
    Resumed,
}

fn hash(id: &str) -> u64 {
    liveviewer_profile::key::fnv1a(id.as_bytes())
}

fn level_of(s: &Sample) -> Level {
    Level { watch_ms: millis(s.time_played), buffering_ms: millis(s.time_buffering), completed: s.completed }
}

fn kind_counts(kind: Kind) -> Counts {
    let mut c = Counts::default();
    match kind {
        Kind::AdStart => c.ad_impressions = 1,
        Kind::AdComplete => c.ad_completions = 1,
        Kind::AdSkip => c.ad_skips = 1,
        Kind::AdClick => c.ad_clicks = 1,
        Kind::Other => {}
    }
    c
}

impl Session {
    /// A session from its first sample; the credits that sample makes.
    pub fn open(s: &Sample, content: Option<Arc<str>>, origin: Origin) -> (Session, Vec<Credit>) {
        let own = level_of(s);
        let mut credits = Vec::new();
        let counted = origin == Origin::New;
        let mut first = kind_counts(s.kind());
        let (base, credited) = match origin {
            Origin::New => {
                first.plays_started = 1;
                first.watch_ms = own.watch_ms;
                first.buffering_ms = own.buffering_ms;
                first.completions = i64::from(own.completed);
                (Level::default(), own)
            }
            Origin::Resumed => (own, Level::default()),
        };
        if !first.is_zero() {
            credits.push(Credit { minute_ts: s.ts, counts: first });
        }
        let session = Session {
            content,
            start: Start { ts: s.ts, counted },
            base,
            points: vec![Point { ts: s.ts, id: hash(&s.event_id), own, credited }],
            floor: None,
            last_ts: s.ts,
        };
        (session, credits)
    }

    /// Takes one more sample; the credits it makes (none for a repeat).
    pub fn offer(&mut self, s: &Sample) -> Vec<Credit> {
        let id = hash(&s.event_id);
        let at = match self.points.binary_search_by(|p| (p.ts, p.id).cmp(&(s.ts, id))) {
            Ok(_) => return Vec::new(),
            Err(i) => i,
        };
        if self.floor.is_some_and(|floor| (s.ts, id) <= floor) {
            return Vec::new();
        }
        let mut credits = Vec::new();
        let kind = kind_counts(s.kind());
        if !kind.is_zero() {
            credits.push(Credit { minute_ts: s.ts, counts: kind });
        }
        if s.ts < self.start.ts {
            if self.start.counted {
                credits.push(Credit { minute_ts: self.start.ts, counts: Counts { plays_started: -1, ..Counts::default() } });
                credits.push(Credit { minute_ts: s.ts, counts: Counts { plays_started: 1, ..Counts::default() } });
            }
            self.start.ts = s.ts;
        }
        self.points.insert(at, Point { ts: s.ts, id, own: level_of(s), credited: Level::default() });
        self.recredit(at, &mut credits);
        self.last_ts = self.last_ts.max(s.ts);
        // Every event looks through those held (placing it, its level before): without a bound,
        // a session flooded within the allowed lateness made each event dearer than the last.
        if self.points.len() > MAX_POINTS {
            let excess = self.points.len() - MAX_POINTS;
            self.floor = Some((self.points[excess - 1].ts, self.points[excess - 1].id));
            self.fold_first(excess);
        }
        credits
    }

    /// Credits every point from `from` on with its share of the running maximum, as the
    /// difference with what it was credited before.
    fn recredit(&mut self, from: usize, credits: &mut Vec<Credit>) {
        let mut level = self.level_before(from);
        for p in &mut self.points[from..] {
            let next = level.max(p.own);
            let share = Level {
                watch_ms: next.watch_ms - level.watch_ms,
                buffering_ms: next.buffering_ms - level.buffering_ms,
                completed: next.completed && !level.completed,
            };
            let change = Counts {
                watch_ms: share.watch_ms - p.credited.watch_ms,
                buffering_ms: share.buffering_ms - p.credited.buffering_ms,
                completions: i64::from(share.completed) - i64::from(p.credited.completed),
                ..Counts::default()
            };
            if !change.is_zero() {
                credits.push(Credit { minute_ts: p.ts, counts: change });
            }
            p.credited = share;
            level = next;
        }
    }

    fn level_before(&self, i: usize) -> Level {
        self.points[..i].iter().fold(self.base, |l, p| l.max(p.own))
    }

    /// Folds the events before `cutoff` into the base: no event that late is taken any more.
    pub fn fold(&mut self, cutoff: i64) {
        let n = self.points.iter().take_while(|p| p.ts < cutoff).count();
        self.fold_first(n);
    }

    /// Folds the first `n` events into the base.
    fn fold_first(&mut self, n: usize) {
        if n > 0 {
            self.base = self.level_before(n);
            self.points.drain(..n);
        }
    }

    pub fn points(&self) -> usize {
        self.points.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str, ts: i64, played: f64, event: &str) -> Sample {
        Sample {
            event_id: id.into(),
            ts,
            event: event.into(),
            session: Some("s".into()),
            content: None,
            started_at: None,
            time_played: played,
            time_buffering: 0.0,
            completed: event == "end_event",
        }
    }

    /// The credits summed per minute.
    fn per_minute(credits: &[Credit]) -> std::collections::BTreeMap<i64, Counts> {
        let mut m = std::collections::BTreeMap::new();
        for c in credits {
            m.entry(super::super::counts::minute_of(c.minute_ts)).or_insert_with(Counts::default).add(&c.counts);
        }
        m.retain(|_, c: &mut Counts| !c.is_zero());
        m
    }

    fn run(order: &[&Sample]) -> std::collections::BTreeMap<i64, Counts> {
        let (mut s, mut credits) = Session::open(order[0], None, Origin::New);
        for x in &order[1..] {
            credits.extend(s.offer(x));
        }
        per_minute(&credits)
    }

    #[test]
    fn any_arrival_order_credits_each_minute_the_same() {
        let a = sample("a", 10_000, 0.0, "play_event");
        let b = sample("b", 50_000, 40.0, "ping_event");
        let c = sample("c", 70_000, 60.0, "ad_start_event");
        let d = sample("d", 130_000, 110.0, "end_event");
        let in_order = run(&[&a, &b, &c, &d]);
        // Minute 0: the play and 40 s watched; minute 1: 20 s and an ad; minute 2: 50 s and the end.
        assert_eq!(in_order[&0], Counts { plays_started: 1, watch_ms: 40_000, ..Counts::default() });
        assert_eq!(in_order[&60_000], Counts { watch_ms: 20_000, ad_impressions: 1, ..Counts::default() });
        assert_eq!(in_order[&120_000], Counts { watch_ms: 50_000, completions: 1, ..Counts::default() });
        for order in [[&d, &c, &b, &a], [&c, &a, &d, &b], [&b, &d, &a, &c]] {
            assert_eq!(run(&order), in_order, "order {:?}", order.iter().map(|s| &s.event_id).collect::<Vec<_>>());
        }
        // Repeats change nothing.
        assert_eq!(run(&[&a, &b, &b, &c, &a, &d, &d]), in_order);
    }

    #[test]
    fn a_resumed_session_counts_from_its_first_sample_on() {
        let (mut s, credits) = Session::open(&sample("x", 60_000, 500.0, "play_event"), None, Origin::Resumed);
        assert!(credits.is_empty(), "neither a play nor the 500 s before it");
        let more = s.offer(&sample("y", 70_000, 510.0, "ping_event"));
        assert_eq!(per_minute(&more)[&60_000], Counts { watch_ms: 10_000, ..Counts::default() });
        // An earlier event of a resumed session does not move a play that was never counted.
        let earlier = s.offer(&sample("w", 50_000, 495.0, "ping_event"));
        assert!(per_minute(&earlier).values().all(|c| c.plays_started == 0));
    }

    #[test]
    fn folded_events_set_the_base() {
        let (mut s, _) = Session::open(&sample("a", 0, 10.0, "play_event"), None, Origin::New);
        s.offer(&sample("b", 10_000, 20.0, "ping_event"));
        s.fold(15_000);
        assert_eq!(s.points(), 0);
        let c = s.offer(&sample("c", 20_000, 30.0, "ping_event"));
        assert_eq!(per_minute(&c)[&0], Counts { watch_ms: 10_000, ..Counts::default() });
    }

    /// Events within the allowed lateness are kept to place late ones among them, and each
    /// event looks through them: a tracker (or anyone posting to a public collector) sending
    /// thousands of events in one session within that time made every event cost more than the
    /// last. Past the bound, the oldest are folded in; what the session credits stays the same.
    #[test]
    fn a_flooded_session_keeps_a_bounded_number_of_events_and_credits_them_all() {
        let n = 3 * MAX_POINTS;
        let samples: Vec<Sample> = (0..n).map(|i| sample(&format!("e{i}"), 1_000 + i as i64, i as f64 / 100.0, "ping_event")).collect();
        let (mut s, mut credits) = Session::open(&samples[0], None, Origin::New);
        for x in &samples[1..] {
            credits.extend(s.offer(x));
            assert!(s.points() <= MAX_POINTS, "{} events held", s.points());
        }
        let watched: i64 = per_minute(&credits).values().map(|c| c.watch_ms).sum();
        assert_eq!(watched, millis((n - 1) as f64 / 100.0), "every event's share, once");
        // A repeat of a held event changes nothing; a late one is still placed among those held.
        assert!(s.offer(&samples[n - 1]).is_empty());
        assert!(s.offer(&sample("old", 1_000, 0.0, "ad_start_event")).is_empty(), "as late as the events folded in");
        let late = s.offer(&sample("late", 1_000 + n as i64 - 10, 0.0, "ad_start_event"));
        assert_eq!(per_minute(&late).values().map(|c| c.ad_impressions).sum::<i64>(), 1);
    }
}
