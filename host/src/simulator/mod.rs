//! A simulator of realistic viewers: many at once, each a sequence of media events with pings,
//! pauses, seeks, stalls, ad breaks with quartiles, skips and clicks, completions and abandons,
//! written as enriched TSV. Deterministic for a seed. Used as a live source (the demo), and to
//! generate files or topics for load tests and benchmarks.

pub mod catalog;
pub mod player;
pub mod tsv;

use player::{uuid, Player, Step};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use tsv::{EventSpec, Visitor};

const AGENTS: [(&str, bool); 3] = [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36", false),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", false),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36", true),
];
const PLACES: [(&str, &str, &str); 5] = [
    ("PT", "Lisbon", "Europe/Lisbon"),
    ("GB", "London", "Europe/London"),
    ("DE", "Berlin", "Europe/Berlin"),
    ("US", "New York", "America/New_York"),
    ("BR", "Sao Paulo", "America/Sao_Paulo"),
];

/// One simulated event: its time, its viewer and the enriched TSV line.
pub struct SimEvent {
    pub ts: i64,
    pub viewer: String,
    pub line: String,
}

pub struct Simulator {
    rng: StdRng,
    ping_s: u32,
    queue: BinaryHeap<Reverse<(i64, u64)>>,
    viewers: HashMap<u64, (Visitor, VecDeque<Step>)>,
    next_id: u64,
}

impl Simulator {
    /// `viewers` watching at once on average, arriving over the first ten seconds after `start`.
    pub fn new(viewers: usize, seed: u64, ping_s: u32, start: i64) -> Self {
        let mut sim = Simulator {
            rng: StdRng::seed_from_u64(seed),
            ping_s,
            queue: BinaryHeap::new(),
            viewers: HashMap::new(),
            next_id: 0,
        };
        for _ in 0..viewers {
            let at = start + sim.rng.random_range(0..10_000);
            sim.arrive(at);
        }
        sim
    }

    fn arrive(&mut self, at: i64) {
        let rng = &mut self.rng;
        let (ua, mobile) = AGENTS[rng.random_range(0..AGENTS.len())];
        let (country, city, timezone) = PLACES[rng.random_range(0..PLACES.len())];
        let id = self.next_id;
        self.next_id += 1;
        let visitor = Visitor {
            user_id: rng.random_bool(0.3).then(|| format!("user-{:06}@example.com", rng.random_range(0..1_000_000))),
            domain_userid: uuid(rng),
            network_userid: uuid(rng),
            domain_sessionid: uuid(rng),
            ip: format!("10.{}.{}.{}", rng.random_range(0..255), rng.random_range(0..255), rng.random_range(1..255)),
            country,
            city,
            timezone,
            useragent: ua,
            mobile,
        };
        let steps: VecDeque<Step> = Player::new(rng, at, self.ping_s).visit().into();
        self.queue.push(Reverse((steps.front().map_or(at, |s| s.ts), id)));
        self.viewers.insert(id, (visitor, steps));
    }

    /// The next event in time order. Viewers who leave are replaced a few seconds later, so
    /// the number watching stays about the same.
    pub fn next_event(&mut self) -> SimEvent {
        loop {
            let Reverse((_, id)) = self.queue.pop().expect("the simulator always has viewers");
            let (visitor, steps) = self.viewers.get_mut(&id).expect("queued viewers exist");
            let Some(step) = steps.pop_front() else {
                self.viewers.remove(&id);
                continue;
            };
            let event_id = uuid(&mut self.rng);
            let page_url = format!("https://watch.example.com/v/{}", step.page.slug);
            let spec = EventSpec {
                ts: step.ts,
                event_id: &event_id,
                media_event: step.event,
                data: step.data,
                entities: step.entities,
                page_url: &page_url,
                page_title: step.page.label,
            };
            let line = tsv::line(visitor, &spec);
            let viewer = visitor.user_id.clone().unwrap_or_else(|| visitor.domain_userid.clone());
            match steps.front() {
                Some(next) => self.queue.push(Reverse((next.ts, id))),
                None => {
                    self.viewers.remove(&id);
                    let back = step.ts + 1_000 + (self.rng.random_range(0.0..1.0f64) * 8_000.0) as i64;
                    self.arrive(back);
                }
            }
            return SimEvent { ts: step.ts, viewer, line };
        }
    }

    /// Viewers currently simulated (watching or about to).
    pub fn population(&self) -> usize {
        self.viewers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liveviewer_wire::Outcome;
    use std::collections::HashSet;

    #[test]
    fn events_come_in_time_order_and_are_all_understood() {
        let mut sim = Simulator::new(20, 7, 5, 1_700_000_000_000);
        let mut last = 0;
        let mut events = HashSet::new();
        let (mut applied, mut skipped) = (0, 0);
        for _ in 0..5_000 {
            let e = sim.next_event();
            assert!(e.ts >= last, "time order");
            last = e.ts;
            match transform::transform(e.line.as_bytes()) {
                Outcome::Apply(a) => {
                    assert_eq!(a.viewer, e.viewer);
                    events.insert(a.event);
                    applied += 1;
                }
                Outcome::Skip { .. } => skipped += 1,
                Outcome::Reject { reason } => panic!("simulated event rejected: {reason}"),
            }
        }
        assert!(applied > 4_000 && skipped > 10, "{applied} {skipped}");
        for e in ["play_event", "pause_event", "ping_event", "ad_start_event", "ad_quartile_event", "ad_break_end_event"] {
            assert!(events.contains(e), "no {e} in {events:?}");
        }
        assert!(sim.population() >= 15, "viewers are replaced as they leave");
    }

    #[test]
    fn same_seed_same_events() {
        let mut a = Simulator::new(5, 1, 10, 0);
        let mut b = Simulator::new(5, 1, 10, 0);
        for _ in 0..200 {
            assert_eq!(a.next_event().line, b.next_event().line);
        }
    }

    #[test]
    fn events_weigh_what_real_ones_do() {
        let mut sim = Simulator::new(10, 3, 10, 1_700_000_000_000);
        let sizes: Vec<usize> = (0..500).map(|_| sim.next_event().line.len()).collect();
        let mean = sizes.iter().sum::<usize>() / sizes.len();
        assert!((2_000..4_500).contains(&mean), "mean size {mean}");
    }
}
