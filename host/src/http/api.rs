//! The JSON API (docs/http-api.md), health, readiness and metrics.

use super::Shared;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use liveviewer_wire::time::format_millis;
use serde_json::{json, Map, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

const DEFAULT_LIMIT: usize = 200;
const MAX_LIMIT: usize = 1000;

pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// Most viewers a list may skip: deeper than this, search or filter.
const MAX_OFFSET: usize = 1_000_000;

/// `all`, `status` (repeatable), `content`, `q`, `order`, `offset` and `limit`, parsed by hand:
/// serde's query parser cannot repeat.
struct ViewersQuery {
    all: bool,
    query: crate::live::Query,
}

fn parse_query(raw: Option<&str>) -> Result<ViewersQuery, String> {
    let mut q = crate::live::Query { limit: DEFAULT_LIMIT, ..Default::default() };
    let mut all = false;
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "all" => all = matches!(v.as_str(), "true" | "1" | ""),
            "status" => q.statuses.extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_owned)),
            "content" => q.content = Some(v).filter(|c| !c.is_empty()),
            "q" => q.search = Some(v).filter(|c| !c.is_empty()),
            "order" => {
                q.order = match v.as_str() {
                    "recent" => crate::live::Order::Recent,
                    "arrival" => crate::live::Order::Arrival,
                    other => return Err(format!("order {other:?} is neither recent nor arrival")),
                }
            }
            "limit" => {
                let n: usize = v.parse().map_err(|_| format!("limit {v:?} is not a number"))?;
                q.limit = n.clamp(1, MAX_LIMIT);
            }
            "offset" => {
                let n: usize = v.parse().map_err(|_| format!("offset {v:?} is not a number"))?;
                q.offset = n.min(MAX_OFFSET);
            }
            other => return Err(format!("unknown query parameter {other:?}")),
        }
    }
    if q.search.as_ref().is_some_and(|s| s.len() > 256) {
        return Err("q is longer than 256 bytes".into());
    }
    q.all = all;
    Ok(ViewersQuery { all, query: q })
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if hex(bytes.get(i + 1)).zip(hex(bytes.get(i + 2))).is_some() => {
                let (h, l) = hex(bytes.get(i + 1)).zip(hex(bytes.get(i + 2))).expect("checked");
                out.push(h * 16 + l);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: Option<&u8>) -> Option<u8> {
    (*b? as char).to_digit(16).map(|d| d as u8)
}

pub async fn viewers(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let q = match parse_query(raw.as_deref()) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    // The live view: every viewer of the fleet seen recently, no store read.
    let live = &s.app.live;
    let page = live.query(&q.query);
    let now = live.now_ms();
    let cutoff = now - live.active_window_ms;
    let tally = if q.all { live.tally_all() } else { crate::live::Tally::of(&live.summary()) };
    let mut body = String::with_capacity(256 + page.viewers.len() * 1600);
    for (i, v) in page.viewers.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&v.json_as_of(v.last_seen >= cutoff));
    }
    let ad_summary: Map<String, Value> = crate::live::AD_COUNTERS
        .iter()
        .zip(tally.ads)
        .map(|(k, v)| ((*k).to_owned(), crate::profile::render::num(v)))
        .collect();
    let head = json!({
        "generated_at": format_millis(now),
        "active_window_s": s.app.config.active.window_s,
        "active_count": tally.active_count,
        "status_counts": tally.status_counts,
        "ad_summary": ad_summary,
        "arrivals": live.arrivals(),
        "total": page.total,
        "offset": q.query.offset,
    });
    // The profiles go out as published, without being parsed and written again.
    let mut out = head.to_string();
    out.pop();
    out.push_str(",\"viewers\":[");
    out.push_str(&body);
    out.push_str("]}");
    ([(header::CONTENT_TYPE, "application/json")], out).into_response()
}

/// One viewer: from the live view when it is there (the freshest copy), else by key from the
/// store.
pub async fn viewer(State(s): State<Arc<Shared>>, Path(viewer_id): Path<String>) -> Response {
    let live = &s.app.live;
    if let Some(v) = live.get(&viewer_id) {
        let json = v.json_as_of(live.is_active(&v));
        return ([(header::CONTENT_TYPE, "application/json")], json.to_string()).into_response();
    }
    match s.app.store.get(&viewer_id).await {
        Ok(Some(state)) => {
            Json(crate::live::ProfileRecord::of(&state, &live.render_context())).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no viewer {viewer_id:?}")),
        Err(crate::store::StoreError::Unreadable(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

pub async fn stats(State(s): State<Arc<Shared>>) -> Response {
    let m = &s.app.metrics;
    let active = s.app.lifecycle.active();
    let lag = s.consumer_lag.load(Ordering::Relaxed);
    let now = s.app.live.now_ms();
    let series: Vec<Value> =
        s.app.live.series().iter().map(|p| json!({"t": format_millis(p.t), "count": p.count})).collect();
    Json(json!({
        "generated_at": format_millis(now),
        "uptime_s": (crate::live::wall_ms() - s.app.live.started_ms()) / 1000,
        "source": s.source_name,
        "store": s.app.store.kind(),
        "events_per_s": s.events_per_s(),
        "counters": {
            "events": m.total("liveviewer_events_total"),
            "applied": m.total("liveviewer_applied_total"),
            "skipped": m.total("liveviewer_skipped_total"),
            "rejected": m.total("liveviewer_rejected_total"),
            "dead_lettered": m.total("liveviewer_dead_letters_total"),
            "module_faults": m.total("liveviewer_module_faults_total"),
            "duplicates": m.total("liveviewer_duplicates_total"),
        },
        "consumer_lag": if lag >= 0 { json!(lag) } else { Value::Null },
        "module": {
            "version": active.module.version().0,
            "name": active.module.abi().name,
            "abi_version": active.module.abi().abi_version,
        },
        "active_viewers": series,
    }))
    .into_response()
}

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    let source = s.source_ready.load(Ordering::Relaxed);
    let store = s.app.store.ping().await;
    let module = true; // a host never runs without an active module
    // The view holds the fleet's picture (the changelog read up to where it was at start).
    let view = s.app.live.complete();
    let stuck = s.app.pipeline.stuck();
    let ready = source && store && module && view && stuck.is_none();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "ready": ready, "source": source, "store": store, "module": module, "view": view,
        "pipeline": stuck.is_none(), "stuck": stuck,
        "dead_letters": s.app.pipeline.dead_letters().describe(),
    });
    (status, Json(body)).into_response()
}

pub async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.app.metrics.render()).into_response()
}

pub async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let q = parse_query(Some("all=true&status=WATCHING_AD&status=PAUSED_VIDEO&limit=5000&offset=20&q=ab%20c&content=Sintel&order=arrival")).unwrap();
        assert!(q.all);
        let q = q.query;
        assert_eq!(q.statuses, ["WATCHING_AD", "PAUSED_VIDEO"]);
        assert_eq!((q.limit, q.offset), (MAX_LIMIT, 20));
        assert_eq!((q.search.as_deref(), q.content.as_deref(), q.order), (Some("ab c"), Some("Sintel"), crate::live::Order::Arrival));
        assert_eq!(parse_query(None).unwrap().query.limit, DEFAULT_LIMIT);
        assert!(parse_query(Some("limit=x")).is_err());
        assert!(parse_query(Some("order=random")).is_err());
        assert!(parse_query(Some("colour=red")).is_err());
        assert_eq!(percent_decode("a%20b+c%"), "a b c%");
    }
}
