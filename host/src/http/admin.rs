//! Admin endpoints for the module lifecycle (bearer token; off when no token is configured).

use super::auth::bearer_matches;
use super::Shared;
use crate::http::api::error;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

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
    let active = s.app.lifecycle.active().summary();
    let previous = s.app.lifecycle.previous().map(|p| p.summary());
    Json(json!({"active": active, "previous": previous})).into_response()
}

pub async fn upload(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    error(StatusCode::NOT_IMPLEMENTED, "not yet")
}

pub async fn rollback(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    error(StatusCode::NOT_IMPLEMENTED, "not yet")
}

pub async fn promote(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    error(StatusCode::NOT_IMPLEMENTED, "not yet")
}

pub async fn drop_shadow(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    error(StatusCode::NOT_IMPLEMENTED, "not yet").into_response()
}
