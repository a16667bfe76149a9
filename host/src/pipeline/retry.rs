//! Transient store errors are retried with exponential backoff and jitter, for as long as it
//! takes: they block the commit, never the correctness. Shutdown ends the wait.
//!
//! Retrying forever must not be silent: every operation under way is registered in
//! [`Progress`], and one that has gone on longer than `pipeline.stuck_after_s` (failing again
//! and again, or one attempt that does not return) makes the host unready, saying which one,
//! for how long and the last error, until it succeeds.

use super::{Pipeline, PipelineError};
use crate::store::StoreError;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub async fn forever<T, F, Fut>(p: &Pipeline, what: &'static str, mut op: F) -> Result<T, PipelineError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let under_way = p.progress.begin(what);
    let mut attempt = 0u32;
    loop {
        match op().await {
            Ok(v) => {
                if attempt > 0 {
                    tracing::info!(what, attempts = attempt + 1, "store reachable again");
                }
                return Ok(v);
            }
            Err(StoreError::Fatal(m)) => return Err(PipelineError::Store(StoreError::Fatal(m))),
            Err(StoreError::Unreadable(m)) => return Err(PipelineError::Store(StoreError::Unreadable(m))),
            Err(StoreError::Transient(m)) => {
                attempt += 1;
                p.metrics.inc("liveviewer_store_retries_total", &[], 1);
                if attempt == 1 || attempt.is_power_of_two() {
                    tracing::warn!(what, attempt, error = %m, "store error; retrying");
                }
                under_way.failed(m);
                pause(p, attempt).await?;
            }
        }
    }
}

/// Publishing to the changelog, retried like a store write: every publish failure is taken
/// as passing (the host creates the topic at start; a broker away comes back).
pub async fn forever_publish<F, Fut>(p: &Pipeline, mut op: F) -> Result<(), PipelineError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), crate::changelog::publisher::PublishError>>,
{
    forever(p, "changelog publish", || {
        let fut = op();
        async move { fut.await.map_err(|e| StoreError::Transient(e.to_string())) }
    })
    .await
}

/// Sleeps for the `attempt`-th backoff step (with jitter), or returns early on shutdown.
pub async fn pause(p: &Pipeline, attempt: u32) -> Result<(), PipelineError> {
    let base = p.config.retry_initial_ms.saturating_mul(1u64 << attempt.min(16).saturating_sub(1));
    let capped = base.min(p.config.retry_max_ms) as f64;
    let wait = Duration::from_millis((capped * (0.5 + rand::random::<f64>())) as u64);
    let mut shutdown = p.shutdown.clone();
    if *shutdown.borrow() {
        return Err(PipelineError::ShuttingDown);
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => Ok(()),
        _ = shutdown.wait_for(|s| *s) => Err(PipelineError::ShuttingDown),
    }
}

impl Pipeline {
    /// Why the pipeline is not getting on, when an operation has been retried past
    /// `pipeline.stuck_after_s`.
    pub fn stuck(&self) -> Option<String> {
        self.progress.stuck(Duration::from_secs(self.config.stuck_after_s), Instant::now())
    }

    /// What is failing now, when a write or a load has failed and is being retried: new
    /// work that cannot be redelivered (an ingest request) is better turned away at once.
    pub fn failing(&self) -> Option<String> {
        self.progress.failing()
    }
}

/// The retried operations under way.
#[derive(Debug, Default)]
pub struct Progress {
    next: AtomicU64,
    ops: Arc<Mutex<BTreeMap<u64, Op>>>,
}

#[derive(Debug)]
struct Op {
    what: &'static str,
    since: Instant,
    failures: u32,
    last_error: Option<String>,
}

impl Progress {
    fn begin(&self, what: &'static str) -> UnderWay {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let op = Op { what, since: Instant::now(), failures: 0, last_error: None };
        self.ops.lock().expect("progress").insert(id, op);
        UnderWay { id, ops: self.ops.clone() }
    }

    /// An operation under way that has failed at least once, described.
    fn failing(&self) -> Option<String> {
        let ops = self.ops.lock().expect("progress");
        let op = ops.values().filter(|op| op.failures > 0).min_by_key(|op| op.since)?;
        Some(format!("{} failing ({} failures), last: {}", op.what, op.failures, op.last_error.as_deref().unwrap_or("")))
    }

    /// The oldest operation under way for longer than `after`, described.
    fn stuck(&self, after: Duration, now: Instant) -> Option<String> {
        let ops = self.ops.lock().expect("progress");
        let op = ops.values().filter(|op| now.saturating_duration_since(op.since) > after).min_by_key(|op| op.since)?;
        let took = now.saturating_duration_since(op.since).as_secs();
        Some(match &op.last_error {
            Some(e) => format!("{} retried for {took} s ({} failures), last: {e}", op.what, op.failures),
            None => format!("{} waiting for {took} s", op.what),
        })
    }
}

/// An operation registered in [`Progress`] until dropped (done, failed for good, or cancelled).
struct UnderWay {
    id: u64,
    ops: Arc<Mutex<BTreeMap<u64, Op>>>,
}

impl UnderWay {
    fn failed(&self, error: String) {
        if let Some(op) = self.ops.lock().expect("progress").get_mut(&self.id) {
            op.failures += 1;
            op.last_error = Some(error);
        }
    }
}

impl Drop for UnderWay {
    fn drop(&mut self) {
        self.ops.lock().expect("progress").remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_is_stuck_past_the_threshold_and_forgotten_when_done() {
        let p = Progress::default();
        let after = Duration::from_secs(60);
        let write = p.begin("profile write");
        let start = Instant::now();
        assert_eq!(p.stuck(after, start + Duration::from_secs(30)), None);
        assert_eq!(p.stuck(after, start + Duration::from_secs(61)).unwrap(), "profile write waiting for 61 s");
        write.failed("store unavailable: timeout".into());
        write.failed("store unavailable: throttled".into());
        let said = p.stuck(after, start + Duration::from_secs(90)).unwrap();
        assert!(said.starts_with("profile write retried for 90 s (2 failures), last: store unavailable: throttled"), "{said}");
        drop(write);
        assert_eq!(p.stuck(after, start + Duration::from_secs(90)), None);
    }
}
