//! `liveviewer module push [--host URL] [--shadow] [PLUGIN_DIR | WASM]`: the authoring loop in
//! one command. Builds the plugin to wasm when given a directory, runs the test vectors
//! locally (a module that fails them is not uploaded), uploads it to a running host's admin
//! endpoint and prints what the host answered.

use crate::lifecycle::candidate;
use crate::module::Limits;
use crate::vectors::VectorSet;
use anyhow::{bail, Context};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Args {
    pub host: String,
    pub token: Option<String>,
    pub shadow: bool,
    pub vectors: Option<PathBuf>,
    pub path: PathBuf,
}

pub async fn run(args: Args) -> anyhow::Result<bool> {
    let wasm = if args.path.is_dir() { build(&args.path)? } else { args.path.clone() };
    let bytes = std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
    let vectors = match &args.vectors {
        Some(dir) => VectorSet::from_dir(dir).map_err(anyhow::Error::msg)?,
        None if Path::new("test-vectors/cases").is_dir() => VectorSet::from_dir(Path::new("test-vectors")).map_err(anyhow::Error::msg)?,
        None => VectorSet::embedded(),
    };
    println!("checking {} against the vectors ({})", wasm.display(), vectors.origin);
    let origin = wasm.display().to_string();
    let checked = tokio::task::spawn_blocking(move || candidate::check(&bytes, &Limits::default(), &vectors, &origin).map(|d| (d, bytes)))
        .await?;
    let (deployed, bytes) = match checked {
        Ok(ok) => ok,
        Err(refusal) => {
            println!("refused locally at step `{}`: {}", refusal.step, refusal.reason);
            println!("not uploaded");
            return Ok(false);
        }
    };
    println!("{} passes {} test vectors", deployed.module.version(), deployed.vectors_passed);
    let token = args
        .token
        .or_else(|| std::env::var("LIVEVIEWER_ADMIN_TOKEN").ok())
        .context("an admin token is needed: --token or LIVEVIEWER_ADMIN_TOKEN")?;
    let url = format!("{}/admin/module{}", args.host.trim_end_matches('/'), if args.shadow { "?mode=shadow" } else { "" });
    let response = reqwest::Client::new()
        .put(&url)
        .bearer_auth(token)
        .header("content-type", "application/wasm")
        .body(bytes)
        .send()
        .await
        .with_context(|| format!("uploading to {url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let shown = serde_json::from_str::<serde_json::Value>(&text)
        .map(|v| serde_json::to_string_pretty(&v).expect("json"))
        .unwrap_or(text);
    println!("{url} answered {status}:\n{shown}");
    Ok(status.is_success())
}

/// `cargo build --release --target wasm32-unknown-unknown` in `dir`; the wasm it produced.
fn build(dir: &Path) -> anyhow::Result<PathBuf> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("{} has no Cargo.toml", dir.display());
    }
    println!("building {} for wasm32-unknown-unknown", dir.display());
    let mut child = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--target", "wasm32-unknown-unknown", "--message-format", "json-render-diagnostics"])
        .arg("--manifest-path")
        .arg(&manifest)
        .stdout(Stdio::piped())
        .spawn()
        .context("running cargo")?;
    let mut wasm = None;
    for line in std::io::BufReader::new(child.stdout.take().expect("piped")).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line?) else { continue };
        if msg["reason"] == "compiler-artifact" {
            for f in msg["filenames"].as_array().into_iter().flatten().filter_map(|f| f.as_str()) {
                if f.ends_with(".wasm") {
                    wasm = Some(PathBuf::from(f));
                }
            }
        }
    }
    if !child.wait()?.success() {
        bail!("building {} failed", dir.display());
    }
    wasm.with_context(|| format!("building {} produced no .wasm (is it a cdylib crate?)", dir.display()))
}
