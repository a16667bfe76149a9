//! Admin endpoints for the module lifecycle, behind a bearer token (off when no token is
//! configured). A refused candidate answers 4xx with the step that failed and why.

use super::auth::bearer_matches;
use super::body;
use super::Shared;
use crate::http::api::error;
use crate::fleet::records::{Action, Desired};
use crate::fleet::FleetError;
use crate::lifecycle::candidate::{Mode, Submitted};
use crate::module::CheckStep;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// `Ok` when the request may use the admin endpoints, else the response to send.
// The refusal is the response itself, built once per refused request: its size costs nothing.
#[allow(clippy::result_large_err)]
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
/// With a fleet, a candidate that passes this host's checks is published as the fleet's; every
/// host then gates it itself.
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
    let mode_name = match mode {
        Mode::Active => "active",
        Mode::Shadow => "shadow",
    };
    let refused = |refusal: crate::lifecycle::Refusal| {
        let status = if refusal.step == CheckStep::Size { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::UNPROCESSABLE_ENTITY };
        (status, Json(json!({"accepted": false, "step": refusal.step, "reason": refusal.reason, "version": refusal.version}))).into_response()
    };
    let Some(fleet) = &s.fleet else {
        return match s.app.deployer.submit(body.to_vec(), "upload", mode).await {
            Ok(submitted) => {
                let unchanged = matches!(submitted, Submitted::Unchanged(_));
                Json(json!({"accepted": true, "mode": mode_name, "unchanged": unchanged, "result": submitted})).into_response()
            }
            Err(refusal) => refused(refusal),
        };
    };
    let deployer = &s.app.deployer;
    let version = crate::module::ModuleVersion::of_bytes(&body).0;
    let unchanged = mode == Mode::Active && deployer.lifecycle.active().module.version().0 == version;
    // Checked here first: the uploader hears a refusal at once, and a module this host refuses
    // never reaches the fleet.
    let deployed = if unchanged {
        None
    } else {
        match deployer.gate(body.to_vec(), "upload").await {
            Ok(d) => Some(d),
            Err(refusal) => return refused(refusal),
        }
    };
    if let Err(e) = fleet.publish_module(&version, &body).await {
        return fleet_error(e);
    }
    let current = deployer.lifecycle.active().module.version().0.clone();
    let (action, v) = (if mode == Mode::Active { Action::Push } else { Action::Shadow }, version.clone());
    let changed = fleet
        .change(action, None, |d| {
            match mode {
                Mode::Active if d.active != v => {
                    d.previous = Some(std::mem::replace(&mut d.active, v));
                    if d.shadow.as_deref() == Some(d.active.as_str()) {
                        d.shadow = None;
                    }
                }
                Mode::Active => {}
                Mode::Shadow => d.shadow = Some(v),
            }
            Ok(())
        }, &current)
        .await;
    let desired = match changed {
        Ok(d) => d,
        Err(e) => return fleet_error(e),
    };
    // This host takes it now; the others as they read the change.
    let result = match deployed {
        Some(d) => serde_json::to_value(deployer.install(d, mode)).unwrap_or_default(),
        None => json!({"unchanged": version}),
    };
    s.app.fleet_generation.fetch_max(desired.generation, Ordering::Relaxed);
    Json(json!({"accepted": true, "mode": mode_name, "unchanged": unchanged, "result": result, "fleet": {"generation": desired.generation, "desired": desired}}))
        .into_response()
}

fn fleet_error(e: FleetError) -> Response {
    match e {
        FleetError::TooLarge(_) => error(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
        FleetError::Conflict(_) => error(StatusCode::CONFLICT, e.to_string()),
        FleetError::Publish { .. } => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// A change of the fleet's desired state, then this host follows it at once.
async fn fleet_change(s: &Shared, fleet: &crate::fleet::Fleet, action: Action, change: impl FnOnce(&mut Desired) -> Result<(), String>) -> Response {
    let current = s.app.lifecycle.active().module.version().0.clone();
    match fleet.change(action, None, change, &current).await {
        Ok(desired) => {
            crate::fleet::agent::converge(fleet, &s.app.deployer, &desired).await;
            s.app.fleet_generation.fetch_max(desired.generation, Ordering::Relaxed);
            let l = &s.app.lifecycle;
            Json(json!({
                "fleet": {"generation": desired.generation, "desired": desired},
                "active": l.active().summary(),
                "previous": l.previous().map(|p| p.summary()),
                "shadow": l.shadow().map(|sh| sh.summary()),
            }))
            .into_response()
        }
        Err(e) => fleet_error(e),
    }
}

pub async fn rollback(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    if let Some(fleet) = &s.fleet {
        return fleet_change(&s, fleet, Action::Rollback, |d| {
            let previous = d.previous.take().ok_or("there is no previous module in the fleet to roll back to")?;
            d.previous = Some(std::mem::replace(&mut d.active, previous));
            Ok(())
        })
        .await;
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
    if let Some(fleet) = &s.fleet {
        return fleet_change(&s, fleet, Action::Promote, |d| {
            let shadow = d.shadow.take().ok_or("there is no shadow module in the fleet to promote")?;
            d.previous = Some(std::mem::replace(&mut d.active, shadow));
            Ok(())
        })
        .await;
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
    if let Some(fleet) = &s.fleet {
        return fleet_change(&s, fleet, Action::DropShadow, |d| {
            d.shadow.take().ok_or("there is no shadow module in the fleet")?;
            Ok(())
        })
        .await;
    }
    match s.app.lifecycle.set_shadow(None) {
        Some(dropped) => Json(json!({"dropped": dropped.summary()})).into_response(),
        None => error(StatusCode::NOT_FOUND, "there is no shadow module"),
    }
}

/// `GET /admin/fleet`: every host heard from recently, its module and state, its partitions,
/// events/s and lag, and the module the fleet should run. Without Kafka, this host alone.
pub async fn fleet(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&s, &headers) {
        return r;
    }
    let l = &s.app.lifecycle;
    match &s.fleet {
        Some(fleet) => {
            let (desired, hosts) = fleet.view();
            let converged = desired.as_ref().is_none_or(|d| hosts.iter().all(|h| h.module.active == d.active));
            Json(json!({"host_id": fleet.host_id, "desired": desired, "converged": converged, "hosts": hosts})).into_response()
        }
        None => Json(json!({
            "host_id": null,
            "desired": null,
            "converged": true,
            "hosts": [{
                "host_id": "this host (no Kafka: no fleet)",
                "module": {"active": l.active().module.version().0, "previous": l.previous().map(|p| p.module.version().0.clone()),
                           "shadow": l.shadow().map(|sh| sh.deployed.module.version().0.clone()), "refused": l.last_refused()},
                "events_per_s": s.events_per_s(),
            }],
        }))
        .into_response(),
    }
}
