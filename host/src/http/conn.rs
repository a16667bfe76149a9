//! What one connection is doing, seen from its socket and its requests, and the deadline that
//! follows from it. hyper's own header timer also runs while a kept-alive connection waits for
//! its next request, so it cannot tell a client that is slow to send a head from one that is
//! idle; these are told apart here:
//!
//! - idle (no request, no byte of one): closed after the idle timeout;
//! - a head begun and not finished: closed after the header timeout from its first byte;
//! - a write the client does not take (it stopped reading): closed after the idle timeout.
//!
//! A request being served has no deadline here: its body is bounded by the handlers (see
//! `body.rs`), and a slow answer (a store that is down) is the pipeline's to bound.

use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The limits a connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header: Duration,
    pub idle: Duration,
}

/// Why a connection was closed by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// A request head that did not complete in time.
    Header,
    /// Nothing to do for too long.
    Idle,
    /// A client that stopped taking its answer.
    Write,
}

impl Expired {
    pub fn label(self) -> &'static str {
        match self {
            Expired::Header => "header",
            Expired::Idle => "idle",
            Expired::Write => "write",
        }
    }
}

#[derive(Debug)]
struct State {
    /// Requests whose answer is not yet fully handed to hyper (HTTP/1: at most one).
    serving: usize,
    /// When the connection last became idle.
    idle_since: Instant,
    /// The first byte of a head not yet complete.
    head_since: Option<Instant>,
    /// A write that has been waiting on the client since then.
    write_blocked_since: Option<Instant>,
}

#[derive(Debug)]
pub struct Watch {
    state: Mutex<State>,
}

impl Watch {
    pub fn new() -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Watch { state: Mutex::new(State { serving: 0, idle_since: now, head_since: None, write_blocked_since: None }) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("connection watch"))
    }

    /// A request head is complete and being served: until the guard goes (with the answer's
    /// body), the connection is not idle.
    pub fn begin_request(self: &Arc<Self>) -> Serving {
        self.with(|s| {
            s.serving += 1;
            s.head_since = None;
        });
        Serving(self.clone())
    }

    fn read(&self) {
        self.with(|s| {
            if s.serving == 0 && s.head_since.is_none() {
                s.head_since = Some(Instant::now());
            }
        });
    }

    fn write_blocked(&self, blocked: bool) {
        self.with(|s| match (blocked, s.write_blocked_since) {
            (true, None) => s.write_blocked_since = Some(Instant::now()),
            (false, Some(_)) => s.write_blocked_since = None,
            _ => {}
        });
    }

    /// The limit this connection is past at `now`, if any, and otherwise the time left until
    /// the earliest one it could pass as things stand.
    pub fn check(&self, now: Instant, t: Timeouts) -> Result<Option<Duration>, Expired> {
        self.with(|s| {
            let left = |since: Instant, limit: Duration| limit.checked_sub(now.saturating_duration_since(since));
            let mut next = None;
            if let Some(since) = s.write_blocked_since {
                next = Some(left(since, t.idle).ok_or(Expired::Write)?);
            }
            if s.serving > 0 {
                return Ok(next);
            }
            let pending = match s.head_since {
                Some(since) => left(since, t.header).ok_or(Expired::Header)?,
                None => left(s.idle_since, t.idle).ok_or(Expired::Idle)?,
            };
            Ok(Some(next.map_or(pending, |n: Duration| n.min(pending))))
        })
    }

    /// Resolves once the connection is past one of its limits.
    pub async fn expired(&self, t: Timeouts) -> Expired {
        loop {
            let wait = match self.check(Instant::now(), t) {
                Err(expired) => return expired,
                Ok(left) => left.unwrap_or(Duration::MAX),
            };
            // Reads and answers move the deadlines, in both directions: look again at least
            // every second rather than keep a timer per change.
            tokio::time::sleep(wait.min(Duration::from_secs(1))).await;
        }
    }
}

/// Held while a request is served; its drop makes the connection idle again.
pub struct Serving(Arc<Watch>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.with(|s| {
            s.serving = s.serving.saturating_sub(1);
            if s.serving == 0 {
                s.idle_since = Instant::now();
                s.head_since = None;
            }
        });
    }
}

/// An answer's body that keeps its request's [`Serving`] until hyper has taken all of it.
pub struct ServedBody<B> {
    inner: B,
    _serving: Serving,
}

impl<B> ServedBody<B> {
    pub fn new(inner: B, serving: Serving) -> Self {
        ServedBody { inner, _serving: serving }
    }
}

impl<B: Body + Unpin> Body for ServedBody<B>
where
    B::Data: Buf,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A socket that reports its reads and blocked writes to its [`Watch`].
pub struct Watched<S> {
    inner: S,
    watch: Arc<Watch>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, watch: Arc<Watch>) -> Self {
        Watched { inner, watch }
    }

    fn wrote<T>(&self, poll: Poll<T>) -> Poll<T> {
        self.watch.write_blocked(poll.is_pending());
        poll
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.watch.read();
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.wrote(poll)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[std::io::IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.wrote(poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.wrote(poll)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts { header: Duration::from_secs(10), idle: Duration::from_secs(75) };

    #[test]
    fn idle_then_a_head_then_a_request() {
        let start = Instant::now();
        let w = Watch::new();
        let left = w.check(start + Duration::from_secs(74), T).unwrap().unwrap();
        assert!(left >= Duration::from_secs(1) && left < Duration::from_millis(1100), "{left:?}");
        assert_eq!(w.check(start + Duration::from_secs(76), T), Err(Expired::Idle));
        w.read();
        let head = Instant::now();
        assert_eq!(w.check(head + Duration::from_secs(11), T), Err(Expired::Header));
        let serving = w.begin_request();
        assert_eq!(w.check(head + Duration::from_secs(1000), T), Ok(None), "a request being served has no deadline here");
        drop(serving);
        let idle = Instant::now();
        assert!(w.check(idle + Duration::from_secs(70), T).is_ok(), "idle again, for the idle timeout");
    }

    #[test]
    fn a_blocked_write_counts_even_while_serving() {
        let w = Watch::new();
        let _serving = w.begin_request();
        w.write_blocked(true);
        let now = Instant::now();
        assert!(w.check(now, T).is_ok());
        assert_eq!(w.check(now + Duration::from_secs(76), T), Err(Expired::Write));
        w.write_blocked(false);
        assert_eq!(w.check(now + Duration::from_secs(76), T), Ok(None));
    }
}
