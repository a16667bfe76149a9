//! How many writes the store gets at once: as many as it serves without slowing down, up to
//! `store.dynamodb.write_concurrency`. Additive increase while the round trip holds steady,
//! multiplicative decrease when it grows or the store throttles (the idea of Vector's adaptive
//! request concurrency).
//!
//! Why not always the maximum: writes are write-behind, nobody waits for them, but the reads of
//! new viewers' profiles are on the changelog's path, and a store that serves requests one at a
//! time, or one near its capacity, queues a read behind every write in flight. Measured on the
//! store benchmark against moto (which serves one request at a time): with 32 writes in flight a
//! read took p50 44 / p90 249 ms and the changelog was p50 373 ms behind; with 4, p50 9 / p90
//! 62 ms and 98 ms behind. DynamoDB serves writes in parallel, its round trip does not grow with
//! the requests in flight, and the limit climbs to the maximum.

use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Round trips averaged before the limit moves: fewer let one slow request decide.
const MIN_WINDOW: usize = 4;
/// Up to this multiple of the unloaded round trip, the store is not queueing: room for more.
const STEADY: f64 = 1.5;
/// Beyond this multiple, it is: fewer.
const QUEUEING: f64 = 2.0;

/// The limit's arithmetic, apart from any waiting: fed each write's round trip.
#[derive(Debug)]
pub(super) struct Controller {
    limit: usize,
    max: usize,
    /// The store's round trip when it is not queueing, in ms: the last window run one write at
    /// a time, or any faster window since. Compared with an average of recent windows instead,
    /// it drifts up with the limit (each step adds a little queueing, never enough to refuse
    /// the next) and the limit climbs on a store that serves one request at a time.
    base_ms: Option<f64>,
    window_ms: f64,
    window_n: usize,
    /// Whether a write in the window found the limit reached (without that, a steady round
    /// trip says nothing about more).
    saturated: bool,
    backpressure: bool,
}

impl Controller {
    pub(super) fn new(max: usize) -> Self {
        Controller { limit: 1, max: max.max(1), base_ms: None, window_ms: 0.0, window_n: 0, saturated: false, backpressure: false }
    }

    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// One write done: its round trip, whether the limit was reached when it started, and
    /// whether the store pushed back (throttled it, or left items unprocessed).
    pub(super) fn observe(&mut self, rtt: Duration, saturated: bool, backpressure: bool) {
        self.window_ms += rtt.as_secs_f64() * 1e3;
        self.window_n += 1;
        self.saturated |= saturated;
        self.backpressure |= backpressure;
        if self.window_n < self.limit.max(MIN_WINDOW) {
            return;
        }
        let now = self.window_ms / self.window_n as f64;
        let before = self.limit;
        let base = self.base_ms.unwrap_or(now);
        if self.backpressure {
            self.limit = (self.limit / 2).max(1);
        } else if now > base * QUEUEING {
            self.limit = (self.limit * 3 / 4).max(1);
        } else if now <= base * STEADY && self.saturated {
            self.limit = (self.limit + 1).min(self.max);
        }
        // One write at a time is the store unloaded (by us): that is the base, even if slower
        // than before (the store itself may have slowed down for good).
        self.base_ms = Some(if before == 1 { now } else { base.min(now) });
        if self.limit != before {
            tracing::trace!(limit = self.limit, rtt_ms = now, "store write concurrency");
        }
        (self.window_ms, self.window_n, self.saturated, self.backpressure) = (0.0, 0, false, false);
    }
}

struct State {
    controller: Controller,
    in_flight: usize,
}

/// The writes in flight, held to the controller's limit.
pub struct WriteLimit {
    state: Mutex<State>,
    freed: Notify,
}

impl WriteLimit {
    pub fn new(max: usize) -> Self {
        WriteLimit { state: Mutex::new(State { controller: Controller::new(max), in_flight: 0 }), freed: Notify::new() }
    }

    /// Waits for room under the limit.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before looking, so a release between the look and the wait wakes it.
            freed.as_mut().enable();
            {
                let mut s = self.state.lock().expect("write limit");
                if s.in_flight < s.controller.limit() {
                    s.in_flight += 1;
                    let saturated = s.in_flight >= s.controller.limit();
                    return Permit { limit: self, started: Instant::now(), saturated, outcome: None };
                }
            }
            freed.await;
        }
    }
}

/// Room for one write; gives it back when dropped. A write that ends says how
/// ([`Permit::done`]); one abandoned (its future dropped) teaches the limit nothing.
pub struct Permit<'a> {
    limit: &'a WriteLimit,
    started: Instant,
    saturated: bool,
    outcome: Option<bool>,
}

impl Permit<'_> {
    /// The write got an answer; `backpressure` when the store said to slow down.
    pub fn done(mut self, backpressure: bool) {
        self.outcome = Some(backpressure);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        {
            let mut s = self.limit.state.lock().expect("write limit");
            s.in_flight -= 1;
            if let Some(backpressure) = self.outcome {
                s.controller.observe(self.started.elapsed(), self.saturated, backpressure);
            }
        }
        self.limit.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Feeds `rounds` windows of writes whose round trip is `rtt(limit)`, all saturated.
    fn drive(c: &mut Controller, rounds: usize, mut rtt: impl FnMut(usize) -> f64) -> Vec<usize> {
        (0..rounds)
            .map(|_| {
                let limit = c.limit();
                for _ in 0..limit.max(MIN_WINDOW) {
                    c.observe(Duration::from_secs_f64(rtt(limit) / 1e3), true, false);
                }
                c.limit()
            })
            .collect()
    }

    #[test]
    fn a_store_that_serves_one_request_at_a_time_keeps_few_writes_in_flight() {
        // moto: each request in flight waits for the ones ahead, 4 ms each.
        let mut c = Controller::new(32);
        let limits = drive(&mut c, 200, |limit| 4.0 * limit as f64);
        assert!(limits.iter().skip(10).all(|&l| l <= 2), "{limits:?}");
    }

    #[test]
    fn a_store_whose_round_trip_holds_gets_the_maximum() {
        // DynamoDB: ~8 ms whatever is in flight, with some jitter.
        let mut c = Controller::new(32);
        let mut i = 0;
        let limits = drive(&mut c, 400, |_| {
            i += 1;
            8.0 + [0.0, 0.6, -0.4, 0.3, -0.5][i % 5]
        });
        assert_eq!(limits.last(), Some(&32), "{limits:?}");
    }

    #[test]
    fn the_limit_falls_when_the_store_slows_down_or_throttles() {
        let mut c = Controller::new(32);
        drive(&mut c, 400, |_| 8.0);
        assert_eq!(c.limit(), 32);
        drive(&mut c, 1, |_| 30.0);
        assert_eq!(c.limit(), 24, "a window much slower than before");
        for _ in 0..24 {
            c.observe(Duration::from_millis(8), true, true);
        }
        assert_eq!(c.limit(), 12, "throttled: halved");
        for _ in 0..200 {
            c.observe(Duration::from_millis(1), false, true);
        }
        assert_eq!(c.limit(), 1, "never below one");
    }

    #[test]
    fn a_steady_round_trip_without_the_limit_reached_is_no_reason_to_raise_it() {
        let mut c = Controller::new(32);
        for _ in 0..1000 {
            c.observe(Duration::from_millis(8), false, false);
        }
        assert_eq!(c.limit(), 1);
    }

    #[tokio::test]
    async fn writes_beyond_the_limit_wait_until_one_ends() {
        let limit = Arc::new(WriteLimit::new(8));
        let first = limit.acquire().await;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let waiting = {
            let (limit, tx) = (limit.clone(), tx.clone());
            tokio::spawn(async move {
                let p = limit.acquire().await;
                tx.send(()).unwrap();
                p.done(false);
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(rx.try_recv().is_err(), "a second write started beyond a limit of one");
        first.done(false);
        tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("the waiting write started");
        waiting.await.unwrap();
        // An abandoned write gives its room back too.
        drop(limit.acquire().await);
        tokio::time::timeout(Duration::from_secs(5), limit.acquire()).await.expect("room after an abandoned write").done(false);
    }
}
