//! Snowbridge's HTTP target: `POST /ingest/snowbridge` with a JSON array of events (objects
//! in the `spEnrichedToJson` form, or strings of enriched TSV). The answer is 2xx only once
//! every event's outcome is durable, so Snowbridge's retries give at-least-once delivery and
//! the profile merge makes it effectively-once.

use super::auth::bearer_matches;
use super::Shared;
use crate::http::api::error;
use crate::pipeline::PipelineError;
use crate::source::{Message, Origin};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::value::RawValue;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Requests queued behind the pipeline before new ones get 503.
pub const MAX_WAITING: usize = 8;

pub async fn snowbridge(State(s): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(token) = &s.app.config.http.ingest_token {
        if !bearer_matches(&headers, token) {
            return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        }
    }
    let items: Vec<&RawValue> = match serde_json::from_slice(&body) {
        Ok(items) => items,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("body is not a JSON array of events: {e}")),
    };
    let request = s.ingest_requests.fetch_add(1, Ordering::Relaxed);
    let mut batch = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let text = item.get();
        let payload = if text.starts_with('"') {
            match serde_json::from_str::<String>(text) {
                Ok(tsv) => tsv.into_bytes(),
                Err(e) => return error(StatusCode::BAD_REQUEST, format!("event {index}: {e}")),
            }
        } else if text.starts_with('{') {
            text.as_bytes().to_vec()
        } else {
            return error(StatusCode::BAD_REQUEST, format!("event {index} is neither an object nor a string"));
        };
        batch.push(Message { payload, origin: Origin::Http { request, index } });
    }
    let Ok(_permit) = s.ingest_waiting.try_acquire() else {
        return (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "1")], Json(json!({"error": "busy; retry later"})))
            .into_response();
    };
    let accepted = batch.len();
    // In a task of its own: a client that hangs up must not cancel a batch halfway through its
    // write (the pipeline would then refuse the batches in flight behind it, see pipeline::turn).
    let pipeline = s.app.pipeline.clone();
    let processed = tokio::spawn(async move {
        let accepted = pipeline.process(batch).await?;
        // Snowbridge does not send again what was answered 2xx: the answer waits until the
        // profiles are written (ingested events are written at the next round).
        pipeline.wait_durable(accepted.seq).await?;
        Ok::<_, PipelineError>(accepted.report)
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    match processed {
        Ok(r) => Json(json!({
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
