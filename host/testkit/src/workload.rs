//! The events the tests run: the real Snowplow Micro session of the fixture plus simulated
//! viewers, as Kafka messages keyed by viewer and as a replay file.

use crate::host::cli;
use std::path::PathBuf;

pub fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

pub fn fixture_lines() -> Vec<String> {
    std::fs::read_to_string(repo_root().join("test-vectors/fixtures/snowplow-micro-media.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The viewer key of an enriched TSV line: user_id, else domain_userid, else network_userid.
pub fn viewer_key(line: &str) -> String {
    let f: Vec<&str> = line.split('\t').collect();
    [12, 15, 17].iter().map(|i| f.get(*i).copied().unwrap_or("")).find(|v| !v.is_empty()).unwrap_or("").to_owned()
}

/// The fixture session plus `simulated` events of 60 simulated viewers, as (viewer key, line)
/// pairs and as a file.
pub fn workload(simulated: u64, seed: u64) -> (Vec<(String, Vec<u8>)>, tempfile::NamedTempFile) {
    let mut msgs: Vec<(String, Vec<u8>)> = fixture_lines().into_iter().map(|l| (viewer_key(&l), l.into_bytes())).collect();
    let sim = cli(
        &["simulate", "--viewers", "60", "--seed", &seed.to_string(), "--events", &simulated.to_string(), "--ping-interval-s", "5"],
        &[],
    );
    msgs.extend(sim.lines().map(|l| (viewer_key(l), l.as_bytes().to_vec())));
    let file = events_file(&msgs);
    (msgs, file)
}

/// Messages as a replay file, one per line.
pub fn events_file(msgs: &[(String, Vec<u8>)]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    let mut text = Vec::new();
    for (_, l) in msgs {
        text.extend_from_slice(l);
        text.push(b'\n');
    }
    std::fs::write(file.path(), text).unwrap();
    file
}
