//! The windowed metrics (docs/metrics.md): `GET /api/windows` (5 minutes and an hour, all
//! content or one), `GET /api/windows/content` (one window, per content), `GET
//! /api/windows/series` (per minute) and `GET /api/concurrency` (viewers active at the start of
//! each minute, by status). All from this host's figures: the same on every host of a fleet.

use super::api::error;
use super::query::{number, pairs};
use super::Shared;
use crate::live::StatusGroup;
use crate::profile::Clock;
use crate::windows::counts::{minute_of, Counts, Figures as WindowFigures};
use crate::windows::{window_minutes, WINDOWS};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use liveviewer_wire::time::format_millis;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Most minutes a series answer holds: a day.
pub const MAX_MINUTES: usize = 1440;

/// The end of the windows: now, or with the stream clock (recorded traffic) the newest event
/// time, which the figures know even before the live view has seen an event after a restart.
fn now(s: &Shared) -> i64 {
    let live = s.app.live.now_ms();
    match s.app.config.active.clock {
        Clock::Wall => live,
        Clock::Stream => s.app.windows.figures.newest_event().map_or(live, |n| n.max(live)),
    }
}

fn figures_json(c: &Counts) -> Value {
    serde_json::to_value(WindowFigures::from(c)).expect("figures serialize")
}

/// How fresh the figures are: each partition's checkpoint.
fn freshness(s: &Shared) -> Value {
    let partitions: Vec<Value> = s
        .app
        .windows
        .figures
        .checkpoints()
        .into_iter()
        .map(|c| {
            json!({
                "partition": c.partition,
                "through": c.through,
                "watermark": (c.watermark != i64::MIN).then(|| format_millis(c.watermark)),
                "written_at": format_millis(c.written_at),
                "late_samples": c.late_samples,
            })
        })
        .collect();
    json!(partitions)
}

pub async fn windows(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let content = match pairs(raw.as_deref(), &["content"]) {
        Ok(ps) => ps.into_iter().map(|(_, v)| v).next().filter(|v| !v.is_empty()),
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let now = now(&s);
    let figures = &s.app.windows.figures;
    let mut windows = Map::new();
    for (name, span) in WINDOWS {
        let (from, to) = window_minutes(now, span);
        let mut v = figures_json(&figures.window(from, to, content.as_deref()));
        v["from"] = json!(format_millis(from));
        v["to"] = json!(format_millis(to + 60_000));
        windows.insert(name.to_owned(), v);
    }
    Json(json!({
        "generated_at": format_millis(now),
        "content": content,
        "allowed_lateness_s": s.app.config.windows.allowed_lateness_s,
        "complete": figures.complete(),
        "partitions": freshness(&s),
        "windows": windows,
    }))
    .into_response()
}

/// The order of a per-content list.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sort {
    PlaysStarted,
    WatchTime,
    AdImpressions,
    Buffering,
}

pub async fn content(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let (mut span, mut limit, mut offset, mut sort) = (WINDOWS[0], 20, 0, Sort::WatchTime);
    let parsed = pairs(raw.as_deref(), &["window", "limit", "offset", "sort"]).and_then(|ps| {
        for (k, v) in ps {
            match k {
                "window" => span = *WINDOWS.iter().find(|(n, _)| *n == v).ok_or_else(|| format!("window {v:?} is neither 5m nor 1h"))?,
                "limit" => limit = number(k, &v, 1, 1000)?,
                "offset" => offset = number(k, &v, 0, 1_000_000)?,
                _ => {
                    sort = match v.as_str() {
                        "plays_started" => Sort::PlaysStarted,
                        "watch_time" => Sort::WatchTime,
                        "ad_impressions" => Sort::AdImpressions,
                        "buffering" => Sort::Buffering,
                        other => return Err(format!("sort {other:?} is not plays_started, watch_time, ad_impressions or buffering")),
                    }
                }
            }
        }
        Ok(())
    });
    if let Err(e) = parsed {
        return error(StatusCode::BAD_REQUEST, e);
    }
    let now = now(&s);
    let (from, to) = window_minutes(now, span.1);
    let mut rows: Vec<(String, Counts)> = s.app.windows.figures.contents(from, to).into_iter().collect();
    let key = |c: &Counts| match sort {
        Sort::PlaysStarted => c.plays_started,
        Sort::WatchTime => c.watch_ms,
        Sort::AdImpressions => c.ad_impressions,
        Sort::Buffering => c.buffering_ms,
    };
    rows.sort_by(|a, b| key(&b.1).cmp(&key(&a.1)).then_with(|| a.0.cmp(&b.0)));
    let total = rows.len();
    let content: Vec<Value> = rows
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(k, c)| {
            let mut v = figures_json(&c);
            v["key"] = json!(k);
            v
        })
        .collect();
    Json(json!({
        "generated_at": format_millis(now),
        "window": span.0,
        "from": format_millis(from),
        "to": format_millis(to + 60_000),
        "total": total,
        "offset": offset,
        "content": content,
    }))
    .into_response()
}

fn minutes_param(raw: Option<&str>, default: usize) -> Result<usize, String> {
    let mut minutes = default;
    for (k, v) in pairs(raw, &["minutes"])? {
        minutes = number(k, &v, 1, MAX_MINUTES)?;
    }
    Ok(minutes)
}

pub async fn series(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let minutes = match minutes_param(raw.as_deref(), 60) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let now = now(&s);
    let to = minute_of(now);
    let from = to - (minutes as i64 - 1) * 60_000;
    let got = s.app.windows.figures.series(from, to);
    let points: Vec<Value> = (0..minutes as i64)
        .map(|i| {
            let t = from + i * 60_000;
            let mut v = figures_json(got.get(&t).unwrap_or(&Counts::default()));
            v["t"] = json!(format_millis(t));
            v
        })
        .collect();
    Json(json!({"generated_at": format_millis(now), "from": format_millis(from), "to": format_millis(to + 60_000), "minutes": points}))
        .into_response()
}

pub async fn concurrency(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let minutes = match minutes_param(raw.as_deref(), MAX_MINUTES) {
        Ok(m) => m,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let now = now(&s);
    let to = minute_of(now);
    let from = to - (minutes as i64 - 1) * 60_000;
    let points: Vec<Value> = s
        .app
        .windows
        .figures
        .concurrency(from, to)
        .into_iter()
        .map(|p| {
            let mut groups = [0u64; 6];
            for (status, n) in &p.by_status {
                groups[StatusGroup::of(Some(status)).index()] += n;
            }
            // Viewers with no status yet count as other.
            let stated: u64 = groups.iter().sum();
            groups[StatusGroup::Other.index()] += p.total.saturating_sub(stated);
            let groups: Map<String, Value> = StatusGroup::ALL
                .iter()
                .map(|g| (serde_json::to_value(g).expect("groups serialize").as_str().unwrap_or_default().to_owned(), json!(groups[g.index()])))
                .collect();
            json!({"t": format_millis(p.minute), "total": p.total, "by_status": p.by_status, "groups": groups})
        })
        .collect();
    Json(json!({"generated_at": format_millis(now), "from": format_millis(from), "to": format_millis(to + 60_000), "points": points}))
        .into_response()
}
