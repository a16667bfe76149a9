//! An HTTP/1.1 proxy in front of a DynamoDB-API server that holds back every request whose
//! body mentions a given text until released, and records the bodies it has seen: a store that
//! is slow for one viewer, to show what else waits for it.
//!
//! Requests and answers are read by `Content-Length` (what the AWS SDK sends and moto
//! answers); anything else fails the test loudly rather than pass wrongly.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};

#[derive(Default)]
struct State {
    /// Bodies seen, in order of arrival.
    seen: Vec<String>,
    /// Requests waiting to be let through.
    held: usize,
    released: bool,
}

pub struct HoldingProxy {
    pub endpoint: String,
    state: Arc<(Mutex<State>, Condvar)>,
}

impl HoldingProxy {
    /// Forwards to `upstream` (`http://host:port`), holding back requests that contain `hold`.
    pub fn start(upstream: &str, hold: &str) -> HoldingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let state: Arc<(Mutex<State>, Condvar)> = Arc::default();
        let (s, hold) = (state.clone(), hold.to_owned());
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let (s, hold, upstream) = (s.clone(), hold.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, &upstream, &hold, &s);
                });
            }
        });
        HoldingProxy { endpoint, state }
    }

    /// How many requests are held back now.
    pub fn held(&self) -> usize {
        self.state.0.lock().unwrap().held
    }

    /// Whether a request mentioning `text` has arrived (held or not).
    pub fn seen(&self, text: &str) -> bool {
        self.state.0.lock().unwrap().seen.iter().any(|b| b.contains(text))
    }

    /// Lets every held request (and every later one) through.
    pub fn release(&self) {
        self.state.0.lock().unwrap().released = true;
        self.state.1.notify_all();
    }
}

/// One HTTP message: its head (up to the blank line) and its body.
fn read_message(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().expect("a Content-Length");
        }
        assert!(!lower.starts_with("transfer-encoding:"), "the holding proxy reads Content-Length only: {line}");
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body)?;
    Ok(Some((head, body)))
}

fn serve(client: TcpStream, upstream: &str, hold: &str, state: &(Mutex<State>, Condvar)) -> std::io::Result<()> {
    let mut from_client = BufReader::new(client.try_clone()?);
    let mut to_client = client;
    let up = TcpStream::connect(upstream)?;
    let mut from_up = BufReader::new(up.try_clone()?);
    let mut to_up = up;
    while let Some((head, body)) = read_message(&mut from_client)? {
        let text = String::from_utf8_lossy(&body).into_owned();
        let held = text.contains(hold);
        {
            let (lock, released) = state;
            let mut s = lock.lock().unwrap();
            s.seen.push(text);
            if held {
                s.held += 1;
                while !s.released {
                    s = released.wait(s).unwrap();
                }
                s.held -= 1;
            }
        }
        to_up.write_all(&head)?;
        to_up.write_all(&body)?;
        let (head, body) = read_message(&mut from_up)?.expect("an answer from upstream");
        to_client.write_all(&head)?;
        to_client.write_all(&body)?;
    }
    Ok(())
}
