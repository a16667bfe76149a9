//! The push channel: Server-Sent Events. `hello` on connect, `profile` for each change as it is
//! applied, `stats` every two seconds. A client too slow to keep up is disconnected rather than
//! silently skipped: it reconnects and refetches, so it never shows a stale profile as current.
//! At most `http.max_push_clients` at once: one more is answered 503 with `Retry-After`.

use super::Shared;
use crate::http::api::error;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use liveviewer_wire::time::format_millis;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};

pub async fn stream(State(s): State<Arc<Shared>>) -> Response {
    let Ok(permit) = s.push_clients.clone().try_acquire_owned() else {
        s.app.metrics.inc("liveviewer_push_clients_refused_total", &[], 1);
        let cap = s.app.config.http.max_push_clients;
        let mut refused = error(StatusCode::SERVICE_UNAVAILABLE, format!("too many push clients ({cap}, http.max_push_clients); retry later"));
        refused.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return refused;
    };
    let slot = Slot { permit: Some(permit), shared: s.clone() };
    slot.count();
    events(s, slot).into_response()
}

/// A push client's place under the cap: given back when its stream is dropped (the client left).
struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    shared: Arc<Shared>,
}

impl Slot {
    fn count(&self) {
        let s = &self.shared;
        let clients = s.app.config.http.max_push_clients - s.push_clients.available_permits();
        s.app.metrics.set("liveviewer_push_clients", &[], clients as f64);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.permit.take());
        self.count();
    }
}

fn events(s: Arc<Shared>, slot: Slot) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let hello = {
        let now = s.app.live.now_ms();
        let data = json!({"generated_at": format_millis(now), "active_window_s": s.app.config.active.window_s});
        Event::default().event("hello").data(data.to_string())
    };
    let changes = BroadcastStream::new(s.app.live.subscribe())
        .take_while(|r| futures::future::ready(!matches!(r, Err(BroadcastStreamRecvError::Lagged(_)))))
        .filter_map(|r| futures::future::ready(r.ok()))
        .map(|json| Event::default().event("profile").data(json.as_ref()));
    let shared = s.clone();
    let mut interval = tokio::time::interval(Duration::from_secs(2));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stats = IntervalStream::new(interval).then(move |_| {
        let s = shared.clone();
        async move {
            let active = s.app.live.active_count();
            let data = json!({
                "generated_at": format_millis(s.app.live.now_ms()),
                "events_per_s": s.events_per_s(),
                "active_count": active,
            });
            Event::default().event("stats").data(data.to_string())
        }
    });
    // The stream ends with the change stream (on lag); stats alone would keep it open.
    let merged = stream::select(changes.map(Some).chain(stream::once(async { None })), stats.map(Some))
        .take_while(|e| futures::future::ready(e.is_some()))
        .filter_map(futures::future::ready);
    let events = stream::once(async { hello }).chain(merged).map(move |e| {
        let _held = &slot;
        Ok(e)
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
