//! Transient store errors are retried with exponential backoff and jitter, for as long as it
//! takes: they block the commit, never the correctness. Shutdown ends the wait.

use super::{Pipeline, PipelineError};
use crate::store::StoreError;
use std::future::Future;
use std::time::Duration;

pub async fn forever<T, F, Fut>(p: &Pipeline, what: &str, mut op: F) -> Result<T, PipelineError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
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
