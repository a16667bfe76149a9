//! The push channel: Server-Sent Events. `hello` on connect, `profile` for each change as it is
//! applied, `stats` every two seconds. A client too slow to keep up is disconnected rather than
//! silently skipped: it reconnects and refetches, so it never shows a stale profile as current.

use super::Shared;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use liveviewer_wire::time::format_millis;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};

pub async fn stream(State(s): State<Arc<Shared>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
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
    Sse::new(stream::once(async { hello }).chain(merged).map(Ok)).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
