//! DynamoDB-API servers on loopback: moto (in memory; TTL, transactions, conditions) and
//! dynalite (on disk, so it can be stopped and started again: an outage).

use crate::process::{free_port, log_file, port_open, tool, wait_until, Proc};
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Moto {
    pub proc: Proc,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let moto = tool("LIVEVIEWER_MOTO_BIN", "moto_server");
        let port = free_port();
        // moto's recorder writes its file into the working directory unless told otherwise:
        // keep it out of the source tree.
        let recording = std::env::temp_dir().join(format!("liveviewer-moto-{port}.recording"));
        let child = Command::new(moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_RECORDER_FILEPATH", &recording)
            .stdout(Stdio::null())
            .stderr(log_file("moto"))
            .spawn()
            .expect("starting moto_server");
        let m = Moto { proc: Proc::new(child, "moto"), endpoint: format!("http://127.0.0.1:{port}") };
        wait_until("moto to listen", Duration::from_secs(30), || port_open(port));
        m
    }
}

/// One DynamoDB request as moto recorded it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The operation: `Scan`, `PutItem`, `BatchGetItem`...
    pub operation: String,
    /// The request body's size in bytes.
    pub bytes: usize,
}

impl Moto {
    /// Starts recording every request moto serves (its own recorder), from now on.
    pub fn start_recording(&self) {
        self.moto_api("POST", "recorder/reset-recording");
        self.moto_api("POST", "recorder/start-recording");
    }

    /// The requests recorded since [`Moto::start_recording`], DynamoDB's only.
    pub fn recorded(&self) -> Vec<Request> {
        let text = self.moto_api("GET", "recorder/download-recording");
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|r| {
                let target = r["headers"]["X-Amz-Target"].as_str()?;
                let operation = target.strip_prefix("DynamoDB_20120810.")?.to_owned();
                let body = r["body"].as_str().unwrap_or("");
                // Base64 when `body_encoded`: three bytes per four characters.
                let bytes = if r["body_encoded"].as_bool().unwrap_or(false) { body.len() / 4 * 3 } else { body.len() };
                Some(Request { operation, bytes })
            })
            .collect()
    }

    /// Forgets every table and item: a store whose tables were deleted under its users.
    pub fn reset(&self) {
        self.moto_api("POST", "reset");
    }

    /// How many recorded requests were of `operation`.
    pub fn count(&self, operation: &str) -> usize {
        self.recorded().iter().filter(|r| r.operation == operation).count()
    }

    fn moto_api(&self, method: &str, path: &str) -> String {
        let url = format!("{}/moto-api/{path}", self.endpoint);
        crate::process::block_on(async {
            let c = reqwest::Client::new();
            let req = if method == "POST" { c.post(&url) } else { c.get(&url) };
            req.send().await.unwrap_or_else(|e| panic!("{url}: {e}")).text().await.unwrap()
        })
    }
}

pub struct Dynalite {
    pub proc: Option<Proc>,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Dynalite {
    pub fn start() -> Dynalite {
        let mut d = Dynalite { proc: None, port: free_port(), dir: tempfile::tempdir().unwrap() };
        d.restart();
        d
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        let module = tool("LIVEVIEWER_DYNALITE_DIR", "dynalite");
        // dynalite's own CLI listens on every interface; this listens on loopback only.
        let script = format!(
            "require({:?})({{path: {:?}, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0}}).listen({}, '127.0.0.1')",
            module.display().to_string(),
            self.dir.path().display().to_string(),
            self.port
        );
        let child = Command::new("node")
            .args(["-e", &script])
            .stdout(Stdio::null())
            .stderr(log_file("dynalite"))
            .spawn()
            .expect("starting dynalite");
        self.proc = Some(Proc::new(child, "dynalite"));
        let port = self.port;
        wait_until("dynalite to listen", Duration::from_secs(20), || port_open(port));
    }
}
