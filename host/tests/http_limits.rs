//! The HTTP port against clients that hold on to it (issue 13, item 3), from outside over raw
//! TCP: half-sent request heads, idle connections, bodies that stop coming, more connections
//! than the cap, more push-channel clients than their cap. Each gets a bounded, clear outcome,
//! and the host keeps answering everyone else.

use liveviewer_testkit::*;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

fn demo(dir: &Path, env: &[(&str, &str)]) -> Host {
    Host::start(&["demo", "--listen", "127.0.0.1:0", "--viewers", "0", "--data-dir", dir.to_str().unwrap()], env)
}

fn addr(host: &Host) -> String {
    host.url.trim_start_matches("http://").trim_end_matches('/').to_owned()
}

/// Enough file descriptors for a thousand sockets, whatever the soft limit was.
fn raise_fd_limit() {
    unsafe {
        let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut l), 0);
        l.rlim_cur = l.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &l);
    }
}

/// How a connection ended while we waited for it, reading until `deadline`.
#[derive(Debug, PartialEq)]
enum End {
    /// The host closed it (EOF or reset), after this long.
    Closed(Duration),
    /// Still open at the deadline.
    Open,
}

fn wait_for_close(s: &mut TcpStream, started: Instant, deadline: Instant) -> End {
    let mut buf = [0u8; 4096];
    loop {
        let now = Instant::now();
        if now >= deadline {
            return End::Open;
        }
        s.set_read_timeout(Some(deadline - now)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return End::Closed(started.elapsed()),
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return End::Open,
            Err(_) => return End::Closed(started.elapsed()),
        }
    }
}

/// A complete GET on its own connection: the status line.
fn get_status(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line.trim_end().to_owned()
}

#[test]
fn half_sent_request_heads_are_closed_within_the_header_timeout() {
    raise_fd_limit();
    let dir = tempfile::tempdir().unwrap();
    // The defaults: a head must be complete within 10 s of its first byte.
    let host = demo(dir.path(), &[]);
    let addr = addr(&host);
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /api/stats HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
            s
        })
        .collect();
    // Meanwhile everyone else is served.
    assert_eq!(get_status(&addr, "/healthz"), "HTTP/1.1 200 OK");
    let deadline = started + Duration::from_secs(16);
    let ends: Vec<End> = slow.iter_mut().map(|s| wait_for_close(s, started, deadline)).collect();
    let open = ends.iter().filter(|e| **e == End::Open).count();
    assert_eq!(open, 0, "{open} of {} half-sent heads still open after 16 s", ends.len());
    let earliest = ends.iter().filter_map(|e| if let End::Closed(d) = e { Some(*d) } else { None }).min().unwrap();
    assert!(earliest >= Duration::from_secs(9), "closed after {earliest:?}, before the 10 s timeout");
    assert!(host.metric("liveviewer_http_timeouts_total") >= 300.0);
    assert_eq!(get_status(&addr, "/healthz"), "HTTP/1.1 200 OK");
}

#[test]
fn connections_past_the_cap_get_503_and_capacity_comes_back() {
    raise_fd_limit();
    let dir = tempfile::tempdir().unwrap();
    // The default cap: 1024 connections.
    let host = demo(dir.path(), &[]);
    let addr = addr(&host);
    let mut held: Vec<BufReader<TcpStream>> = Vec::new();
    for _ in 0..1024 {
        // Each completes a request and keeps its connection (keep-alive): it counts.
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "connection {} refused: {line:?}", held.len());
        held.push(r);
    }
    let mut past = TcpStream::connect(&addr).unwrap();
    past.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = past.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut answer = String::new();
    let _ = past.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "connection 1025: {answer:?}");
    assert!(answer.to_ascii_lowercase().contains("retry-after:"), "{answer}");
    // Ten go away: there is room again.
    held.truncate(held.len() - 10);
    wait_until("room for a connection", Duration::from_secs(5), || get_status(&addr, "/healthz") == "HTTP/1.1 200 OK");
    assert!(host.metric("liveviewer_http_connections_refused_total") >= 1.0);
    assert!(host.metric("liveviewer_http_connections") >= 1014.0);
}

/// Opens the push channel; the status line, and the reader positioned after the head.
fn open_push(addr: &str) -> (String, BufReader<TcpStream>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    (status.trim_end().to_owned(), r)
}

#[test]
fn push_clients_past_the_cap_get_a_clear_503() {
    raise_fd_limit();
    let dir = tempfile::tempdir().unwrap();
    // The default cap: 256 push clients.
    let host = demo(dir.path(), &[]);
    let addr = addr(&host);
    let mut clients = Vec::new();
    for i in 0..256 {
        let (status, mut r) = open_push(&addr);
        assert_eq!(status, "HTTP/1.1 200 OK", "push client {i}");
        let mut line = String::new();
        while !line.starts_with("event: hello") {
            line.clear();
            r.read_line(&mut line).unwrap();
        }
        clients.push(r);
    }
    let (status, mut r) = open_push(&addr);
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable", "push client 257");
    let mut rest = String::new();
    let _ = r.read_to_string(&mut rest);
    assert!(rest.to_ascii_lowercase().contains("retry-after:"), "{rest}");
    assert!(rest.contains("push clients"), "the answer says why: {rest}");
    // One leaves: a new one gets in.
    clients.pop();
    wait_until("room for a push client", Duration::from_secs(10), || open_push(&addr).0 == "HTTP/1.1 200 OK");
    // The rest of the API is not affected by the push cap.
    assert_eq!(get_status(&addr, "/api/stats"), "HTTP/1.1 200 OK");
}

#[test]
fn idle_connections_and_stalled_bodies_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let host = demo(
        dir.path(),
        &[
            ("LIVEVIEWER__HTTP__IDLE_TIMEOUT_S", "2"),
            ("LIVEVIEWER__HTTP__HEADER_TIMEOUT_S", "1"),
            ("LIVEVIEWER__HTTP__BODY_TIMEOUT_S", "2"),
        ],
    );
    let addr = addr(&host);
    // Connected, nothing sent: closed after the idle timeout.
    let started = Instant::now();
    let mut silent = TcpStream::connect(&addr).unwrap();
    match wait_for_close(&mut silent, started, started + Duration::from_secs(6)) {
        End::Closed(d) => assert!(d >= Duration::from_millis(1500), "closed after {d:?}"),
        End::Open => panic!("a silent connection is still open after 6 s"),
    }
    // A kept-alive connection after its answer: closed after the idle timeout too.
    let mut kept = TcpStream::connect(&addr).unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 1024];
    kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = kept.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let started = Instant::now();
    match wait_for_close(&mut kept, started, started + Duration::from_secs(6)) {
        End::Closed(d) => assert!(d >= Duration::from_millis(1500), "closed after {d:?}"),
        End::Open => panic!("an idle kept-alive connection is still open after 6 s"),
    }
    // A body that stops coming: 408 once the body timeout is up.
    let mut stalled = TcpStream::connect(&addr).unwrap();
    stalled
        .write_all(b"POST /ingest/snowbridge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[\"\", ")
        .unwrap();
    stalled.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    let _ = stalled.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?} after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(5));
    // A request served in between is unaffected.
    assert_eq!(get_status(&addr, "/healthz"), "HTTP/1.1 200 OK");
}
