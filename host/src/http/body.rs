//! Reading a request body once the request may have it: at most a size, within a deadline.
//! Handlers that take a body read it with this after their checks (token, capacity), so a
//! request that will be refused costs nothing to refuse.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, StatusCode};
use futures::StreamExt;
use std::time::Duration;

/// Why a body could not be read; each is answered with its own status.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the body is over {0} bytes")]
    TooLarge(usize),
    #[error("the body did not arrive within {0:?}")]
    TimedOut(Duration),
    #[error("the body broke off: {0}")]
    Broken(String),
}

impl BodyError {
    pub fn status(&self) -> StatusCode {
        match self {
            BodyError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            BodyError::Broken(_) => StatusCode::BAD_REQUEST,
        }
    }
}

/// A body announced over `limit` is refused from its head alone.
pub fn announced_too_large(headers: &HeaderMap, limit: usize) -> Option<BodyError> {
    let length: u64 = headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()?;
    (length > limit as u64).then_some(BodyError::TooLarge(limit))
}

pub async fn read(body: Body, limit: usize, deadline: Duration) -> Result<Bytes, BodyError> {
    let collect = async {
        let mut out = Vec::new();
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| BodyError::Broken(e.to_string()))?;
            if out.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge(limit));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(out))
    };
    tokio::time::timeout(deadline, collect).await.unwrap_or(Err(BodyError::TimedOut(deadline)))
}
