//! The security basics, probed as an attacker would: the default bind address, tracker strings
//! never served as markup, uploads that write nothing outside the data directory, and secrets
//! that never reach logs or the admin and stats answers.


use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;
use liveviewer_testkit::*;

const ADMIN: &str = "admin-secret-token-4f9a1c";
const INGEST: &str = "ingest-secret-token-7b2e8d";
const AWS_SECRET: &str = "aws-secret-key-never-shown-31d5";

fn raw_get(url: &str, path: &str) -> String {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn the_host_binds_to_loopback_unless_told_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(&["demo", "--viewers", "0", "--data-dir", dir.path().to_str().unwrap()], &[]);
    assert!(host.url.starts_with("http://127.0.0.1:"), "{}", host.url);
}

#[test]
fn tracker_strings_are_never_served_as_markup() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(&["demo", "--listen", "127.0.0.1:0", "--viewers", "0", "--data-dir", dir.path().to_str().unwrap()], &[]);
    let answer = raw_get(&host.url, "/api/viewers/%3Cscript%3Ealert(1)%3C%2Fscript%3E");
    let head = answer.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 404"), "{answer}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(head.contains("x-content-type-options: nosniff"), "{head}");
    // The page itself forbids inline script, whatever a profile contains.
    let page = raw_get(&host.url, "/").to_ascii_lowercase();
    assert!(page.contains("content-security-policy: default-src 'self'"), "{page}");
}

#[test]
fn uploads_write_nothing_outside_the_data_directory() {
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .args(["demo", "--listen", "127.0.0.1:0", "--viewers", "0", "--data-dir", data.path().to_str().unwrap()])
        .current_dir(cwd.path())
        .env("HOME", home.path())
        .env("XDG_CACHE_HOME", home.path().join(".cache"))
        .env("LIVEVIEWER_ADMIN_TOKEN", ADMIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (url, _stdout) = url_of(&mut child);
    let same = std::fs::read(liveviewer_testkit::modules::build_mutant("same-logic", &liveviewer_testkit::modules::Mutation::none())).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new().put(format!("{url}admin/module")).bearer_auth(ADMIN).body(same).send().await.unwrap().status()
    });
    assert_eq!(status, 200);
    let _ = child.kill();
    let _ = child.wait();
    let listing = |d: &std::path::Path| -> Vec<String> {
        walk(d).into_iter().map(|p| p.strip_prefix(d).unwrap().display().to_string()).collect()
    };
    assert!(listing(home.path()).is_empty(), "written under HOME: {:?}", listing(home.path()));
    assert!(listing(cwd.path()).is_empty(), "written in the working directory: {:?}", listing(cwd.path()));
    assert!(data.path().join("modules/active.wasm").is_file(), "the kept module is in the data directory");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn secrets_never_appear_in_logs_or_answers() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("host.log");
    let mut child = Command::new(bin())
        .args(["demo", "--listen", "127.0.0.1:0", "--viewers", "3", "--data-dir", dir.path().join("data").to_str().unwrap()])
        .env("LIVEVIEWER_ADMIN_TOKEN", ADMIN)
        .env("LIVEVIEWER__HTTP__INGEST_TOKEN", INGEST)
        .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
        .env("LIVEVIEWER_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let (url, _stdout) = url_of(&mut child);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let answers: Vec<String> = rt.block_on(async {
        let c = reqwest::Client::new();
        let mut out = Vec::new();
        for (path, token) in [
            ("admin/module", Some(ADMIN)),
            ("admin/module", Some("a-wrong-token-of-some-length")),
            ("admin/module", None),
            ("api/stats", None),
            ("metrics", None),
            ("api/viewers?all=true", None),
            ("readyz", None),
        ] {
            let mut req = c.get(format!("{url}{path}"));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            out.push(req.send().await.unwrap().text().await.unwrap());
        }
        let r = c.post(format!("{url}ingest/snowbridge")).bearer_auth("wrong-ingest-token-xyz").body("[]").send().await.unwrap();
        out.push(r.text().await.unwrap());
        out
    });
    std::thread::sleep(Duration::from_secs(3));
    let _ = child.kill();
    let _ = child.wait();
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("module ready"), "the log was captured: {logs}");
    let status: Value = serde_json::from_str(&answers[0]).unwrap();
    assert!(status["active"]["version"].as_str().unwrap().starts_with("sha256:"));
    for secret in [ADMIN, INGEST, AWS_SECRET] {
        assert!(!logs.contains(secret), "{secret} in the logs");
        for a in &answers {
            assert!(!a.contains(secret), "{secret} in an answer: {a}");
        }
    }
}

/// The URL a host started with piped stdout prints on its first line, and the pipe, which
/// the caller keeps open for as long as the host may print.
fn url_of(child: &mut std::process::Child) -> (String, std::io::BufReader<std::process::ChildStdout>) {
    let mut line = String::new();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    (line[line.find("http://").unwrap()..].trim().to_owned(), stdout)
}
