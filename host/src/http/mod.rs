//! The HTTP side: dashboard, JSON API, push channel, metrics, health, Snowbridge ingest and the
//! admin endpoints, on one port (loopback unless configured otherwise).

mod admin;
mod api;
mod auth;
mod body;
mod conn;
mod content;
mod dashboard;
mod events;
mod ingest;
mod query;
mod serve;
mod snowbridge_body;
mod story;
mod windows;

pub use story::row_json as story_row_json;

use crate::app::App;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What the handlers share.
pub struct Shared {
    pub app: Arc<App>,
    /// The fleet this host belongs to (with Kafka).
    pub fleet: Option<Arc<crate::fleet::Fleet>>,
    /// Events per second over the last sampling period (f64 bits).
    events_per_s: AtomicU64,
    /// Messages behind the end of the Kafka topic; -1 without Kafka.
    pub consumer_lag: Arc<AtomicI64>,
    /// Set once the source is consuming.
    pub source_ready: AtomicBool,
    pub source_name: &'static str,
    ingest_requests: AtomicU64,
    ingest_waiting: tokio::sync::Semaphore,
    /// One per push-channel client, up to `http.max_push_clients`.
    push_clients: Arc<tokio::sync::Semaphore>,
}

impl Shared {
    pub fn new(app: Arc<App>, source_name: &'static str, fleet: Option<Arc<crate::fleet::Fleet>>) -> Arc<Self> {
        let push_clients = Arc::new(tokio::sync::Semaphore::new(app.config.http.max_push_clients));
        Arc::new(Shared {
            app,
            fleet,
            events_per_s: AtomicU64::new(0f64.to_bits()),
            consumer_lag: Arc::new(AtomicI64::new(-1)),
            source_ready: AtomicBool::new(false),
            source_name,
            ingest_requests: AtomicU64::new(0),
            ingest_waiting: tokio::sync::Semaphore::new(ingest::MAX_IN_PROGRESS),
            push_clients,
        })
    }

    pub fn events_per_s(&self) -> f64 {
        f64::from_bits(self.events_per_s.load(Ordering::Relaxed))
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    let max_body = shared.app.config.http.max_body_bytes;
    Router::new()
        .route("/api/viewers", get(api::viewers))
        .route("/api/viewers/{viewer_id}", get(api::viewer))
        .route("/api/viewers/{viewer_id}/history", get(story::history))
        .route("/api/viewers/{viewer_id}/sessions", get(story::sessions))
        .route("/api/content", get(content::content))
        .route("/api/windows", get(windows::windows))
        .route("/api/windows/content", get(windows::content))
        .route("/api/windows/series", get(windows::series))
        .route("/api/concurrency", get(windows::concurrency))
        .route("/api/events", get(events::stream))
        .route("/api/stats", get(api::stats))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/metrics", get(api::metrics))
        .route("/ingest/snowbridge", post(ingest::snowbridge))
        .route("/admin/module", get(admin::status).put(admin::upload))
        .route("/admin/module/rollback", post(admin::rollback))
        .route("/admin/module/promote", post(admin::promote))
        .route("/admin/module/shadow", axum::routing::delete(admin::drop_shadow))
        .route("/admin/fleet", get(admin::fleet))
        .route("/", get(dashboard::index))
        .route("/{file}", get(dashboard::file))
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(max_body))
        // Every answer is what its content type says: no browser guessing HTML out of JSON.
        .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            axum::http::HeaderValue::from_static("nosniff"),
        ))
        .with_state(shared)
}

/// Serves until `shutdown` turns true. The listener is bound by the caller (port 0 works).
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: watch::Receiver<bool>) -> std::io::Result<()> {
    let http = &shared.app.config.http;
    let limits = serve::Limits {
        timeouts: conn::Timeouts {
            header: Duration::from_secs(http.header_timeout_s),
            idle: Duration::from_secs(http.idle_timeout_s),
        },
        max_connections: http.max_connections,
    };
    let metrics = shared.app.metrics.clone();
    serve::serve(listener, router(shared), limits, metrics, shutdown).await
}

/// Samples the event rate every 2 s and the active-viewer count every 10 s, for the stats
/// endpoint, the push channel and the dashboard's chart.
pub async fn sample(shared: Arc<Shared>) {
    let mut last_total = shared.app.metrics.total("liveviewer_events_total");
    let mut tick = 0u64;
    let mut interval = tokio::time::interval(Duration::from_secs(2));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        tick += 1;
        let total = shared.app.metrics.total("liveviewer_events_total");
        let rate = (total - last_total) as f64 / 2.0;
        last_total = total;
        shared.events_per_s.store(rate.to_bits(), Ordering::Relaxed);
        if tick % 5 == 1 {
            let active = shared.app.live.active_count();
            shared.app.live.record_point(active);
            shared.app.metrics.set("liveviewer_active_viewers", &[], active as f64);
        }
    }
}
