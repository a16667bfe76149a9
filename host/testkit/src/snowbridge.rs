//! Snowplow Snowbridge itself, in front of the host: the project's own configurations from
//! `docker/snowbridge/` with their source block swapped for Snowbridge's stdin source, so a
//! test feeds it enriched TSV the way enrich's topic would.
//!
//! The binary comes from `scripts/setup.sh` (`LIVEVIEWER_SNOWBRIDGE_BIN`), which builds it from
//! the Go module proxy when the proxy serves it. Snowbridge is under the Snowplow Limited Use
//! License, which allows this non-production use on synthetic data; the runner accepts it
//! through the variable Snowbridge reads.

use crate::workload::repo_root;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The Snowbridge binary, when this machine has one.
pub fn bin() -> Option<PathBuf> {
    std::env::var_os("LIVEVIEWER_SNOWBRIDGE_BIN").map(PathBuf::from).filter(|p| p.exists())
}

/// `text` with the top-level block that starts with `head` (e.g. `source {`) replaced.
fn replace_block(text: &str, head: &str, with: &str) -> String {
    let start = if text.starts_with(head) { 0 } else { text.find(&format!("\n{head}")).map(|i| i + 1).unwrap_or_else(|| panic!("no `{head}` block")) };
    let end = text[start..].find("\n}\n").map(|i| start + i + 3).unwrap_or_else(|| panic!("`{head}` block not closed"));
    format!("{}{with}{}", &text[..start], &text[end..])
}

/// The project's Snowbridge configuration `name` (in `docker/snowbridge/`), reading stdin,
/// and with its failure target on stdout when `failures_to_stdout`.
pub fn stdin_config(dir: &Path, name: &str, failures_to_stdout: bool) -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("docker/snowbridge").join(name)).unwrap();
    let mut text = replace_block(&text, "source {", "source {\n  use \"stdin\" {}\n}\n");
    if failures_to_stdout {
        text = replace_block(&text, "failure_target {", "failure_target {\n  use \"stdout\" {}\n}\n");
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs Snowbridge with `config` on `input` (stdin) until it has sent everything.
pub fn run(config: &Path, input: &[u8], env: &[(&str, &str)]) -> Output {
    let bin = bin().expect("LIVEVIEWER_SNOWBRIDGE_BIN: a Snowbridge binary");
    let mut cmd = Command::new(bin);
    cmd.env("ACCEPT_LIMITED_USE_LICENSE", "yes")
        .env("SNOWBRIDGE_CONFIG_FILE", config)
        .env("SNOWBRIDGE_SCRIPT_PATH", repo_root().join("docker/snowbridge/viewer-key.js"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("starting Snowbridge");
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("Snowbridge to finish");
    feeder.join().unwrap();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_swapped_whole() {
        let text = "# a\nsource {\n  use \"kafka\" {\n    x = 1\n  }\n}\n\ntarget {\n  use \"kafka\" {}\n}\n";
        let out = replace_block(text, "source {", "source {\n  use \"stdin\" {}\n}\n");
        assert_eq!(out, "# a\nsource {\n  use \"stdin\" {}\n}\n\ntarget {\n  use \"kafka\" {}\n}\n");
    }
}
