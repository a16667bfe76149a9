//! What one connection is doing, seen from its socket and its requests, and the deadline that
//! follows from it. hyper's own header timer also runs while a kept-alive connection waits for
//! its next request, so it cannot tell a client that is slow to send a head from one that is
//! idle; these are told apart here:
//!
//! - idle (no request, no byte of one): closed after the idle timeout;
//! - a head begun and not finished: closed after the header timeout from its first byte;
//! - a write the client does not take (it stopped reading): closed after the idle timeout,
//!   whether its request is still being served or not.
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

    /// A write or flush was tried: blocked on the client, or through. Only bytes written count
    /// as activity (an answer still going out after its request is over is not idleness); a
    /// flush with nothing to send is no sign of life, as hyper flushes whenever it is polled.
    fn wrote(&self, outcome: Write) {
        self.with(|s| match outcome {
            Write::Blocked => {
                s.write_blocked_since.get_or_insert_with(Instant::now);
            }
            Write::Through { bytes } => {
                s.write_blocked_since = None;
                if bytes > 0 {
                    s.idle_since = Instant::now();
                }
            }
        });
    }

    /// The limit this connection is past at `now`, if any, and otherwise the time left until
    /// the earliest one it could pass as things stand.
    pub fn check(&self, now: Instant, t: Timeouts) -> Result<Option<Duration>, Expired> {
        self.with(|s| {
            let left = |since: Instant, limit: Duration| limit.checked_sub(now.saturating_duration_since(since));
            if let Some(since) = s.write_blocked_since {
                return left(since, t.idle).map(Some).ok_or(Expired::Write);
            }
            if s.serving > 0 {
                return Ok(None);
            }
            match s.head_since {
                Some(since) => left(since, t.header).map(Some).ok_or(Expired::Header),
                None => left(s.idle_since, t.idle).map(Some).ok_or(Expired::Idle),
            }
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

#[derive(Debug, Clone, Copy)]
enum Write {
    Blocked,
    Through { bytes: usize },
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

    fn wrote(&self, poll: Poll<std::io::Result<usize>>) -> Poll<std::io::Result<usize>> {
        match &poll {
            Poll::Pending => self.watch.wrote(Write::Blocked),
            Poll::Ready(Ok(n)) => self.watch.wrote(Write::Through { bytes: *n }),
            Poll::Ready(Err(_)) => {}
        }
        poll
    }

    fn flushed(&self, poll: Poll<std::io::Result<()>>) -> Poll<std::io::Result<()>> {
        match &poll {
            Poll::Pending => self.watch.wrote(Write::Blocked),
            Poll::Ready(Ok(())) => self.watch.wrote(Write::Through { bytes: 0 }),
            Poll::Ready(Err(_)) => {}
        }
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
        this.flushed(poll)
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
        w.wrote(Write::Blocked);
        let now = Instant::now();
        assert!(w.check(now, T).is_ok());
        assert_eq!(w.check(now + Duration::from_secs(76), T), Err(Expired::Write));
        w.wrote(Write::Through { bytes: 10 });
        assert_eq!(w.check(now + Duration::from_secs(76), T), Ok(None));
    }

    #[test]
    fn an_answer_still_going_out_after_its_request_is_not_idleness() {
        let w = Watch::new();
        drop(w.begin_request());
        w.wrote(Write::Blocked);
        let blocked = Instant::now();
        // Past the idle timeout counted from the request's end: still a blocked write.
        assert_eq!(w.check(blocked + Duration::from_secs(76), T), Err(Expired::Write));
        w.wrote(Write::Through { bytes: 10 });
        let wrote = Instant::now();
        assert!(w.check(wrote + Duration::from_secs(74), T).is_ok(), "writing is activity");
        // A flush with nothing to send is not.
        w.wrote(Write::Through { bytes: 0 });
        assert_eq!(w.check(wrote + Duration::from_secs(76), T), Err(Expired::Idle));
    }
}
