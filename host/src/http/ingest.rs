//! Snowbridge's HTTP target: `POST /ingest/snowbridge` with a JSON array of events (objects
//! in the `spEnrichedToJson` form, or strings of enriched TSV). The answer is 2xx only once
//! every event's outcome is durable, so Snowbridge's retries give at-least-once delivery and
//! the profile merge makes it effectively-once.
//!
//! Everything that can refuse a request does so before its body is read: the token, the
//! announced size, the number of requests in progress. The body itself is bounded in bytes,
//! time and events, and processed in batches of `pipeline.batch_max`, so no request costs
//! more than its share.

use super::auth::bearer_matches;
use super::body;
use super::snowbridge_body::{messages, BodyRefused};
use super::Shared;
use crate::http::api::error;
use crate::pipeline::{BatchReport, PipelineError};
use crate::source::Message;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Requests read or processed at once before new ones get 503.
pub const MAX_IN_PROGRESS: usize = 8;

fn busy() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], Json(json!({"error": "busy; retry later"}))).into_response()
}

pub async fn snowbridge(State(s): State<Arc<Shared>>, request: Request) -> Response {
    let (head, body) = request.into_parts();
    let http = &s.app.config.http;
    if let Some(token) = &http.ingest_token {
        if !bearer_matches(&head.headers, token) {
            return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        }
    }
    if let Some(refused) = body::announced_too_large(&head.headers, http.max_body_bytes) {
        return error(refused.status(), refused.to_string());
    }
    let Ok(_permit) = s.ingest_waiting.try_acquire() else { return busy() };
    // The store is failing: an answer would only come once it is back, and Snowbridge would
    // time out meanwhile. Turned away at once, before anything is merged.
    if let Some(why) = s.app.pipeline.failing() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", STORE_RETRY_AFTER_S)],
            Json(json!({"error": format!("the store is not taking writes; retry later ({why})")})),
        )
            .into_response();
    }
    let bytes = match body::read(body, http.max_body_bytes, Duration::from_secs(http.body_timeout_s)).await {
        Ok(b) => b,
        Err(e) => return error(e.status(), e.to_string()),
    };
    let request = s.ingest_requests.fetch_add(1, Ordering::Relaxed);
    let batch = match messages(&bytes, http.max_ingest_events, request) {
        Ok(batch) => batch,
        Err(e @ BodyRefused::TooManyEvents(_)) => return error(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
        Err(e @ (BodyRefused::NotAnArray(_) | BodyRefused::BadEvent { .. })) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    drop(bytes);
    let accepted = batch.len();
    // In a task of its own: a client that hangs up must not cancel a batch halfway through its
    // write (the pipeline would then refuse the batches in flight behind it, see pipeline::turn).
    let pipeline = s.app.pipeline.clone();
    let batch_max = s.app.config.pipeline.batch_max;
    let watched = pipeline.clone();
    let task = tokio::spawn(async move { process_in_batches(&pipeline, batch, batch_max).await });
    // A store that fails while the request is under way (a load, a write) turns it into a 503
    // at once; the batch goes on in its task, and the client's retry repeats it harmlessly.
    let failing = async {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if watched.failing().is_some() {
                return;
            }
        }
    };
    let processed = tokio::select! {
        done = task => done.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())),
        _ = failing => Ok(None),
        _ = tokio::time::sleep(DURABLE_WAIT) => Ok(None),
    };
    match processed {
        Ok(None) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", STORE_RETRY_AFTER_S)],
            Json(json!({"error": "the events were not made durable in time (the store or the dead-letter target is slow or failing); retry later"})),
        )
            .into_response(),
        Ok(Some(r)) => Json(json!({
            "accepted": accepted,
            "applied": r.applied,
            "skipped": r.skipped,
            "rejected": r.rejected,
            "dead_lettered": r.dead_lettered,
        }))
        .into_response(),
        Err(PipelineError::ShuttingDown) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down; retry elsewhere"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// One batch after another, as a source would hand them over; the request is durable when
/// the last one is. A failure leaves the earlier batches written: the client's retry repeats
/// them, which the merge makes harmless.
async fn process_in_batches(
    pipeline: &crate::pipeline::Pipeline,
    mut rest: Vec<Message>,
    batch_max: usize,
) -> Result<Option<BatchReport>, PipelineError> {
    let mut total = BatchReport::default();
    let mut last = 0;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(batch_max));
        let batch = std::mem::replace(&mut rest, tail);
        let accepted = pipeline.process(batch).await?;
        total.add(&accepted.report);
        last = accepted.seq;
    }
    // Snowbridge does not send again what was answered 2xx: the answer waits until the
    // profiles are written (ingested events are written at the next round), or gives up and
    // says so (the client's retry repeats the events, which the merge makes harmless).
    pipeline.wait_durable(last).await.map(|()| Some(total))
}

/// How long an ingest answer waits for its events to be merged and written.
const DURABLE_WAIT: Duration = Duration::from_secs(10);

/// What a client is told to wait when the store is failing.
const STORE_RETRY_AFTER_S: &str = "5";
