//! The dashboard's static files: built into the binary, or read from `http.dashboard_dir`
//! while working on the page.

use super::Shared;
use crate::http::api::error;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

include!(concat!(env!("OUT_DIR"), "/dashboard.rs"));

pub async fn index(state: State<Arc<Shared>>) -> Response {
    file(state, Path("index.html".to_owned())).await
}

pub async fn file(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    // Only the page's own top-level files, by exact name: no paths, no traversal.
    let known = DASHBOARD_FILES.iter().find(|(n, _)| *n == name);
    let body: Vec<u8> = match (&s.app.config.http.dashboard_dir, known) {
        (Some(dir), Some(_)) => match tokio::fs::read(dir.join(&name)).await {
            Ok(b) => b,
            Err(_) => return error(StatusCode::NOT_FOUND, "no such file"),
        },
        (None, Some((_, bytes))) => bytes.to_vec(),
        (_, None) => return error(StatusCode::NOT_FOUND, "no such file"),
    };
    let content_type = match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            ),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}
