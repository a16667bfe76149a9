//! A viewer's story: `GET /api/viewers/{id}/history` (the status history, newest first, a page
//! at a time: a key query on the history table) and `GET /api/viewers/{id}/sessions` (the
//! media sessions the stored profile holds: one key lookup).

use super::api::error;
use super::query::{number, pairs};
use super::Shared;
use crate::profile::ProfileState;
use crate::store::{HistoryCursor, HistoryRow, StoreError, MAX_HISTORY_PAGE};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use liveviewer_wire::time::format_millis;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const DEFAULT_PAGE: usize = 50;

fn store_error(e: StoreError) -> Response {
    match e {
        StoreError::Unreadable(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
        e => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

pub fn row_json(r: &HistoryRow) -> Value {
    json!({
        "at": format_millis(r.ts),
        "status": r.status,
        "event": r.event,
        "media_label": r.media_label,
        "media_session_id": r.media_session_id,
        "ad_id": r.ad_id,
        "module_version": r.module_version,
    })
}

pub async fn history(State(s): State<Arc<Shared>>, Path(viewer_id): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let (mut limit, mut before) = (DEFAULT_PAGE, None);
    let parsed = pairs(raw.as_deref(), &["limit", "before"]).and_then(|ps| {
        for (k, v) in ps {
            match k {
                "limit" => limit = number(k, &v, 1, MAX_HISTORY_PAGE)?,
                _ => before = Some(HistoryCursor::decode(&v).ok_or_else(|| format!("before {v:?} is not a cursor this API gave"))?),
            }
        }
        Ok(())
    });
    if let Err(e) = parsed {
        return error(StatusCode::BAD_REQUEST, e);
    }
    match s.app.store.history(&viewer_id, before, limit).await {
        Ok(page) => Json(json!({
            "viewer_id": viewer_id,
            "rows": page.rows.iter().map(row_json).collect::<Vec<_>>(),
            "next": page.next.map(|c| c.encode()),
        }))
        .into_response(),
        Err(e) => store_error(e),
    }
}

/// The media sessions of a stored profile, newest first, and what the folded ones add up to.
pub fn sessions_json(state: &ProfileState) -> Value {
    let mut sessions: Vec<(&String, &crate::profile::state::SessionRecord)> = state.sessions.iter().collect();
    sessions.sort_by_key(|s| std::cmp::Reverse(s.1.last));
    let list: Vec<Value> = sessions
        .into_iter()
        .map(|(id, r)| {
            let mut m = Map::new();
            m.insert("session_id".into(), json!(id));
            m.insert("first_event_at".into(), json!(format_millis(r.first.ts)));
            m.insert("last_event_at".into(), json!(format_millis(r.last.ts)));
            for (field, reg) in &r.cells.fields {
                m.insert(field.clone(), serde_json::from_str(&reg.value).unwrap_or(Value::Null));
            }
            for (name, v) in r.cells.numbers() {
                m.insert(name.to_owned(), crate::profile::render::num(v));
            }
            Value::Object(m)
        })
        .collect();
    let retired: Map<String, Value> =
        state.retired.numbers.iter().map(|(k, v)| (k.clone(), crate::profile::render::num(*v))).collect();
    json!({
        "viewer_id": state.viewer_id,
        "revision": state.revision,
        "sessions": list,
        "folded": {"sessions": state.retired.sessions, "totals": retired},
    })
}

pub async fn sessions(State(s): State<Arc<Shared>>, Path(viewer_id): Path<String>) -> Response {
    match s.app.store.get(&viewer_id).await {
        Ok(Some(state)) => Json(sessions_json(&state)).into_response(),
        // Not written yet (the store is written behind the live view), or no such viewer.
        Ok(None) if s.app.live.get(&viewer_id).is_some() => {
            Json(json!({"viewer_id": viewer_id, "revision": null, "sessions": [], "folded": {"sessions": 0, "totals": {}}})).into_response()
        }
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no viewer {viewer_id:?}")),
        Err(e) => store_error(e),
    }
}
