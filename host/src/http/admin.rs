//! Admin endpoints for the module lifecycle, behind a bearer token (off when no token is
//! configured). A refused candidate answers 4xx with the step that failed and why.

use super::auth::bearer_matches;
use super::body;
use super::Shared;
use crate::http::api::error;
use crate::lifecycle::candidate::{Mode, Submitted};
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// `Ok` when the request may use the admin endpoints, else the response to send.
fn authorize(s: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    match &s.app.config.http.admin_token {
        None => Err(error(StatusCode::NOT_FOUND, "admin endpoints are disabled (no admin token configured)")),
        Some(token) if bearer_matches(headers, token) => Ok(()),
        Some(_) => Err(error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token")),
    }
}

pub async fn status(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    let l = &s.app.lifecycle;
    Json(json!({
        "active": l.active().summary(),
        "previous": l.previous().map(|p| p.summary()),
        "shadow": l.shadow().map(|sh| sh.summary()),
        "last_refused": l.last_refused(),
        "health_policy": l.policy,
        "limits": s.app.config.module.limits,
    }))
    .into_response()
}

/// `PUT /admin/module[?mode=shadow]`, the wasm bytes as body (read only once authorized).
pub async fn upload(State(s): State<Arc<Shared>>, RawQuery(query): RawQuery, request: Request) -> Response {
    let (head, body) = request.into_parts();
    if let Err(r) = authorize(&s, &head.headers) {
        return r;
    }
    let http = &s.app.config.http;
    if let Some(refused) = body::announced_too_large(&head.headers, http.max_body_bytes) {
        return error(refused.status(), refused.to_string());
    }
    let body = match body::read(body, http.max_body_bytes, Duration::from_secs(http.body_timeout_s)).await {
        Ok(b) => b,
        Err(e) => return error(e.status(), e.to_string()),
    };
    let mode = match query.as_deref() {
        None | Some("") | Some("mode=active") => Mode::Active,
        Some("mode=shadow") => Mode::Shadow,
        Some(other) => return error(StatusCode::BAD_REQUEST, format!("unknown query {other:?} (mode=active or mode=shadow)")),
    };
    match s.app.deployer.submit(body.to_vec(), "upload", mode).await {
        Ok(submitted) => {
            let mode_name = match mode {
                Mode::Active => "active",
                Mode::Shadow => "shadow",
            };
            let unchanged = matches!(submitted, Submitted::Unchanged(_));
            Json(json!({"accepted": true, "mode": mode_name, "unchanged": unchanged, "result": submitted})).into_response()
        }
        Err(refusal) => {
            let status = if refusal.step == "size" { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::UNPROCESSABLE_ENTITY };
            (status, Json(json!({"accepted": false, "step": refusal.step, "reason": refusal.reason, "version": refusal.version})))
                .into_response()
        }
    }
}

pub async fn rollback(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    match s.app.lifecycle.rollback("manual") {
        Some(swapped) => Json(json!({"rolled_back": true, "result": swapped})).into_response(),
        None => error(StatusCode::CONFLICT, "there is no previous module to roll back to"),
    }
}

pub async fn promote(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    match s.app.lifecycle.promote() {
        Some(swapped) => Json(json!({"promoted": true, "result": swapped})).into_response(),
        None => error(StatusCode::CONFLICT, "there is no shadow module to promote"),
    }
}

pub async fn drop_shadow(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    match s.app.lifecycle.set_shadow(None) {
        Some(dropped) => Json(json!({"dropped": dropped.summary()})).into_response(),
        None => error(StatusCode::NOT_FOUND, "there is no shadow module"),
    }
}
