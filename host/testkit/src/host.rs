//! The `liveviewer` binary under test: started as a long-running host, or run to completion
//! as a command.

use crate::process::{log_path, Proc};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The binary: `LIVEVIEWER_BIN`, else `liveviewer` beside the running test or benchmark
/// executable (cargo puts integration tests in `deps/`, one level below the binaries).
pub fn bin() -> PathBuf {
    if let Some(p) = std::env::var_os("LIVEVIEWER_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("the test executable");
    let mut dir = exe.parent().expect("its directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("liveviewer");
    assert!(bin.exists(), "{} does not exist: build the host first (cargo build -p liveviewer)", bin.display());
    bin
}

/// Dummy AWS credentials for local DynamoDB servers.
pub fn aws_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
}

pub fn write_config(dir: &Path, name: &str, toml: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    path
}

pub struct Host {
    pub proc: Proc,
    pub url: String,
    pub config: PathBuf,
    /// Where its log (stderr) goes.
    pub log: PathBuf,
    stdout_lines: Arc<Mutex<Vec<String>>>,
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    for (k, v) in aws_env().into_iter().chain(env.iter().copied()) {
        cmd.env(k, v);
    }
    cmd
}

impl Host {
    /// `liveviewer <args>`, waiting for its "dashboard at" line; fails with its log when it
    /// exits first.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Host {
        let log = log_path("liveviewer");
        let level = std::env::var("LIVEVIEWER_TEST_LOG").unwrap_or_else(|_| "info,extism=off".into());
        let mut cmd = command(args, env);
        cmd.stdout(Stdio::piped()).stderr(std::fs::File::create(&log).unwrap());
        if !env.iter().any(|(k, _)| *k == "LIVEVIEWER_LOG") {
            cmd.env("LIVEVIEWER_LOG", level);
        }
        let mut child = cmd.spawn().expect("starting liveviewer");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(i) = line.find("dashboard at ") {
                    let _ = tx.send(line[i + 13..].trim().to_owned());
                }
                l.lock().unwrap().push(line);
            }
        });
        let mut proc = Proc::new(child, "liveviewer");
        let url = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(url) => url,
            Err(_) => {
                let status = proc.wait(Duration::from_secs(1));
                panic!(
                    "liveviewer {args:?} did not start ({status:?}); its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            }
        };
        let config = args.iter().position(|a| *a == "--config").map(|i| PathBuf::from(args[i + 1])).unwrap_or_default();
        Host { proc, url, config, log, stdout_lines: lines }
    }

    pub fn get(&self, path: &str) -> Value {
        let body = http_get(&format!("{}{}", self.url, path.trim_start_matches('/')));
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// POSTs a JSON body; the status and the JSON answer (or its text).
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let url = format!("{}{}", self.url, path.trim_start_matches('/'));
        crate::process::block_on(async {
            let r = reqwest::Client::new().post(url).json(body).send().await.unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
        })
    }

    /// A counter from /metrics, summed over its labels.
    pub fn metric(&self, name: &str) -> f64 {
        let text = http_get(&format!("{}metrics", self.url));
        text.lines()
            .filter(|l| l.starts_with(name) && (l[name.len()..].starts_with('{') || l[name.len()..].starts_with(' ')))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout_lines.lock().unwrap().clone()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

pub fn http_get(url: &str) -> String {
    crate::process::block_on(async { reqwest::get(url).await.unwrap().text().await.unwrap() })
}

/// `liveviewer <args>` to completion; its stdout, or a panic with its stderr.
pub fn cli(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = cli_output(args, env);
    assert!(out.status.success(), "liveviewer {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `liveviewer <args>` to completion, whatever its exit status.
pub fn cli_output(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(args, env);
    if !env.iter().any(|(k, _)| *k == "LIVEVIEWER_LOG") {
        cmd.env("LIVEVIEWER_LOG", "warn");
    }
    cmd.output().expect("running liveviewer")
}

/// The profiles a configuration's store holds, rendered as of the newest event (so that
/// `active` does not depend on when the test runs).
pub fn profiles(config: &Path) -> Value {
    let text = cli(&["profiles", "--config", config.to_str().unwrap()], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")]);
    serde_json::from_str(&text).unwrap()
}

/// The same events replayed into a fresh embedded store: the reference every path must match.
pub fn replayed_profiles(events_file: &Path) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    cli(&["replay", "--data-dir", data, events_file.to_str().unwrap()], &[]);
    let text = cli(&["profiles", "--data-dir", data], &[("LIVEVIEWER__ACTIVE__CLOCK", "stream")]);
    serde_json::from_str(&text).unwrap()
}

/// Profiles as comparable JSON: sorted by viewer.
pub fn assert_same_profiles(expected: &Value, actual: &Value, what: &str) {
    let e = expected.as_array().expect("array");
    let a = actual.as_array().expect("array");
    assert_eq!(e.len(), a.len(), "{what}: {} profiles expected, {} found", e.len(), a.len());
    let differing: Vec<&Value> = e.iter().zip(a).filter(|(x, y)| x != y).map(|(x, _)| &x["viewer_id"]).collect();
    for (x, y) in e.iter().zip(a) {
        assert_eq!(x, y, "{what}: profile of {} differs ({} of {} differ: {differing:?})", x["viewer_id"], differing.len(), e.len());
    }
}

/// A POST of a JSON body to `url`, with a bearer token if given: the status and the JSON answer
/// (or its text).
pub fn post_json(url: &str, body: Vec<u8>, token: Option<&str>) -> (u16, Value) {
    crate::process::block_on(async {
        let mut req = reqwest::Client::new().post(url).body(body).header("content-type", "application/json");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    })
}

/// An admin request with a bearer token: the status and the JSON answer (or its text).
pub fn admin(host: &Host, method: &str, path: &str, body: Vec<u8>, token: &str) -> (u16, Value) {
    crate::process::block_on(async {
        let url = format!("{}{}", host.url, path.trim_start_matches('/'));
        let c = reqwest::Client::new();
        let req = match method {
            "PUT" => c.put(url).body(body),
            "POST" => c.post(url),
            "DELETE" => c.delete(url),
            _ => c.get(url),
        };
        let r = req.bearer_auth(token).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    })
}
