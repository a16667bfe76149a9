//! The HTTP server: HTTP/1.1 connections, at most `http.max_connections` of them, each held to
//! the header and idle timeouts of [`conn`](super::conn). A connection past the cap is answered
//! 503 with `Retry-After` and closed at once, so a flood of idle or slow connections costs a
//! bounded number of sockets and everyone else gets a clear answer.

use super::conn::{Expired, ServedBody, Timeouts, Watch, Watched};
use crate::metrics::Metrics;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower::Service;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeouts: Timeouts,
    pub max_connections: usize,
}

/// What a connection past the cap is told, whatever it asked.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 69\r\n\r\n\
{\"error\": \"too many connections (http.max_connections); retry later\"}";

/// How long the answers of connections still open may take once shutdown begins.
const DRAIN: Duration = Duration::from_secs(5);

pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut accept_errors = 0u64;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, mostly: wait for some to be given back.
                    accept_errors += 1;
                    if accept_errors.is_power_of_two() {
                        tracing::warn!(error = %e, errors = accept_errors, "cannot accept connections");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopping(&mut shutdown) => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.inc("liveviewer_http_connections_refused_total", &[], 1);
            tracing::debug!(%peer, "connection refused: at http.max_connections");
            tokio::spawn(refuse(stream));
            continue;
        };
        let open = (limits.max_connections - slots.available_permits()) as f64;
        metrics.set("liveviewer_http_connections", &[], open);
        let (app, metrics, shutdown, slots) = (app.clone(), metrics.clone(), shutdown.clone(), slots.clone());
        tokio::spawn(async move {
            connection(stream, app, limits.timeouts, &metrics, shutdown).await;
            drop(slot);
            let open = (limits.max_connections - slots.available_permits()) as f64;
            metrics.set("liveviewer_http_connections", &[], open);
        });
    }
    // Answers under way may finish; kept-alive connections close after theirs.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(DRAIN, slots.acquire_many(all)).await;
    Ok(())
}

async fn connection(stream: TcpStream, app: Router, timeouts: Timeouts, metrics: &Metrics, mut shutdown: watch::Receiver<bool>) {
    let watch = Watch::new();
    let w = watch.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let serving = w.begin_request();
        let mut app = app.clone();
        async move {
            let response = app.call(request.map(axum::body::Body::new)).await?;
            Ok::<_, std::convert::Infallible>(response.map(|body| axum::body::Body::new(ServedBody::new(body, serving))))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(Watched::new(stream, watch.clone())), service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        tokio::select! {
            done = conn.as_mut() => {
                if let Err(e) = done {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            expired = watch.expired(timeouts) => {
                metrics.inc("liveviewer_http_timeouts_total", &[("kind", expired.label())], 1);
                if expired != Expired::Idle {
                    tracing::debug!(kind = expired.label(), "connection closed at its timeout");
                }
                return;
            }
            () = stopping(&mut shutdown), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Resolves once shutdown begins (a future that holds nothing of the channel when done).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Tells a connection past the cap to come back later, then lets it go: after its request
/// head (an HTTP client takes an answer to a request it has not sent for a broken
/// connection), or after a second without one; whatever else it sends is read for a moment so
/// that closing does not reset the answer away. Two seconds at most in all.
async fn refuse(mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let read_head = async {
        while head.len() < 8192 && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), read_head).await;
    let answer = async {
        stream.write_all(REFUSAL).await?;
        stream.shutdown().await?;
        while stream.read(&mut buf).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;

    #[test]
    fn the_refusal_is_a_whole_http_answer() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        serde_json::from_str::<serde_json::Value>(body).unwrap();
    }

    /// A client that asks for a big answer and stops reading is let go after the idle timeout,
    /// even though a request is under way.
    #[tokio::test]
    async fn a_client_that_stops_reading_is_closed() {
        let app = Router::new().route("/big", get(|| async { vec![b'x'; 64 << 20] }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let metrics = Arc::new(Metrics::default());
        let limits = Limits { timeouts: Timeouts { header: Duration::from_secs(1), idle: Duration::from_secs(1) }, max_connections: 4 };
        let (_stop, stop_rx) = watch::channel(false);
        tokio::spawn(serve(listener, app, limits, metrics.clone(), stop_rx));
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut client = socket.connect(addr).await.unwrap();
        client.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let started = std::time::Instant::now();
        while metrics.get("liveviewer_http_timeouts_total", &[("kind", "write")]) == 0 {
            assert!(started.elapsed() < Duration::from_secs(10), "still writing to a client that does not read");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(started.elapsed() >= Duration::from_millis(900));
        // What was sent is there, then the end: far less than the answer.
        let mut got = Vec::new();
        let _ = client.read_to_end(&mut got).await;
        assert!(got.len() < 64 << 20, "{} bytes", got.len());
    }
}
