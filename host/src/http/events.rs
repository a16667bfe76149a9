//! The push channel: Server-Sent Events. `hello` on connect, `profile` for each change as it is
//! applied (every viewer's, or only those a client names: their current profiles come first,
//! so a client that reconnects to follow others misses nothing), `stats` every two seconds with
//! the headline counts. A client too slow to keep up is disconnected rather than silently skipped:
//! it reconnects and refetches, so it never shows a stale profile as current. At most
//! `http.max_push_clients` at once: one more is answered 503 with `Retry-After`.

use super::Shared;
use crate::http::api::error;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream, StreamExt};
use liveviewer_wire::time::format_millis;
use serde_json::json;
use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};

/// Most viewers one client may follow by name (a page of the dashboard's list).
pub const MAX_FOLLOWED: usize = 500;

/// Which profile changes a client gets.
#[derive(Debug, Clone, PartialEq)]
enum Follow {
    Everyone,
    /// `viewers=a,b,c`: these viewers' changes only (none: only `stats`).
    Only(HashSet<Arc<str>>),
}

fn parse(raw: Option<&str>) -> Result<Follow, String> {
    let mut follow = Follow::Everyone;
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "viewers" => {
                let ids: HashSet<Arc<str>> =
                    v.split(',').map(super::api::percent_decode).filter(|s| !s.is_empty()).map(|s| Arc::from(s.as_str())).collect();
                if ids.len() > MAX_FOLLOWED {
                    return Err(format!("at most {MAX_FOLLOWED} viewers may be followed"));
                }
                follow = Follow::Only(ids);
            }
            other => return Err(format!("unknown query parameter {other:?}")),
        }
    }
    Ok(follow)
}

pub async fn stream(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let follow = match parse(raw.as_deref()) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let Ok(permit) = s.push_clients.clone().try_acquire_owned() else {
        s.app.metrics.inc("liveviewer_push_clients_refused_total", &[], 1);
        let cap = s.app.config.http.max_push_clients;
        let mut refused = error(StatusCode::SERVICE_UNAVAILABLE, format!("too many push clients ({cap}, http.max_push_clients); retry later"));
        refused.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return refused;
    };
    let slot = Slot { permit: Some(permit), shared: s.clone() };
    slot.count();
    events(s, slot, follow).into_response()
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

/// The `stats` event: the headline counts every client shows, from the view's summary.
pub fn stats(s: &Shared) -> serde_json::Value {
    let summary = s.app.live.summary();
    json!({
        "generated_at": format_millis(s.app.live.now_ms()),
        "events_per_s": s.events_per_s(),
        "active_count": summary.active_count,
        "status_counts": summary.status_counts,
        "arrivals": s.app.live.arrivals(),
    })
}

fn events(s: Arc<Shared>, slot: Slot, follow: Follow) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let hello = {
        let now = s.app.live.now_ms();
        let data = json!({"generated_at": format_millis(now), "active_window_s": s.app.config.active.window_s});
        Event::default().event("hello").data(data.to_string())
    };
    // Subscribed before the current profiles are read, so that no change falls in between.
    let subscription = s.app.live.subscribe();
    let current: Vec<Event> = match &follow {
        Follow::Everyone => Vec::new(),
        Follow::Only(ids) => ids
            .iter()
            .filter_map(|id| s.app.live.get(id))
            .map(|v| Event::default().event("profile").data(v.json_as_of(s.app.live.is_active(&v)).as_ref()))
            .collect(),
    };
    let changes = BroadcastStream::new(subscription)
        .take_while(|r| futures::future::ready(!matches!(r, Err(BroadcastStreamRecvError::Lagged(_)))))
        .filter_map(move |r| {
            let wanted = match (&r, &follow) {
                (Ok(_), Follow::Everyone) => true,
                (Ok(c), Follow::Only(ids)) => ids.contains(&c.viewer),
                (Err(_), _) => false,
            };
            futures::future::ready(r.ok().filter(|_| wanted))
        })
        .map(|c| Event::default().event("profile").data(c.json.as_ref()));
    let shared = s.clone();
    let mut interval = tokio::time::interval(Duration::from_secs(2));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stats = IntervalStream::new(interval).then(move |_| {
        let s = shared.clone();
        async move { Event::default().event("stats").data(stats(&s).to_string()) }
    });
    // The stream ends with the change stream (on lag); stats alone would keep it open.
    let merged = stream::select(changes.map(Some).chain(stream::once(async { None })), stats.map(Some))
        .take_while(|e| futures::future::ready(e.is_some()))
        .filter_map(futures::future::ready);
    let events = stream::once(async { hello }).chain(stream::iter(current)).chain(merged).map(move |e| {
        let _held = &slot;
        Ok(e)
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_follows_everyone_or_the_viewers_it_names() {
        assert_eq!(parse(None).unwrap(), Follow::Everyone);
        let Follow::Only(ids) = parse(Some("viewers=a,b%2Cc,,d")).unwrap() else { panic!("named viewers") };
        let mut ids: Vec<&str> = ids.iter().map(|s| &**s).collect();
        ids.sort();
        assert_eq!(ids, ["a", "b,c", "d"]);
        assert_eq!(parse(Some("viewers=")).unwrap(), Follow::Only(HashSet::new()));
        let many = (0..=MAX_FOLLOWED).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
        assert!(parse(Some(&format!("viewers={many}"))).is_err());
        assert!(parse(Some("colour=red")).is_err());
    }
}
