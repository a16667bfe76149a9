//! `GET /api/content`: what is being watched now, from the live view's summary (computed at
//! most once a second, however many ask).

use super::api::error;
use super::query::{number, pairs};
use super::Shared;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use liveviewer_wire::time::format_millis;
use serde_json::json;
use std::sync::Arc;

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 1000;

pub async fn content(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let (mut limit, mut offset, mut search) = (DEFAULT_LIMIT, 0, None::<String>);
    let parsed = pairs(raw.as_deref(), &["limit", "offset", "q"]).and_then(|ps| {
        for (k, v) in ps {
            match k {
                "limit" => limit = number(k, &v, 1, MAX_LIMIT)?,
                "offset" => offset = number(k, &v, 0, 1_000_000)?,
                _ => search = Some(v.to_lowercase()).filter(|v| !v.is_empty()),
            }
        }
        Ok(())
    });
    if let Err(e) = parsed {
        return error(StatusCode::BAD_REQUEST, e);
    }
    let summary = s.app.live.summary();
    let matching: Vec<&crate::live::ContentRow> = summary
        .contents
        .iter()
        .filter(|c| {
            search.as_deref().is_none_or(|q| {
                c.key.to_lowercase().contains(q) || c.label.as_deref().is_some_and(|l| l.to_lowercase().contains(q))
            })
        })
        .collect();
    Json(json!({
        "generated_at": format_millis(summary.generated_at),
        "active_count": summary.active_count,
        "without_media": summary.without_media,
        "total": matching.len(),
        "offset": offset,
        "content": matching.into_iter().skip(offset).take(limit).collect::<Vec<_>>(),
    }))
    .into_response()
}
