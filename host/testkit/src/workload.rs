//! The events the tests run: the real Snowplow Micro session of the fixture plus simulated
//! viewers, as Kafka messages keyed by viewer and as a replay file.

use crate::host::cli;
use std::path::PathBuf;

/// The repository's root directory.
///
/// Found from the running test's package (cargo sets `CARGO_MANIFEST_DIR` when it runs a test)
/// before the directory this crate was compiled in: a target directory cached across checkouts
/// may hold this crate built from another checkout, whose path is baked in and may be gone.
pub fn repo_root() -> PathBuf {
    let is_root = |d: &std::path::Path| d.join("plugin/Cargo.toml").is_file() && d.join("test-vectors").is_dir();
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        if let Some(root) = PathBuf::from(dir).ancestors().find(|d| is_root(d)) {
            return root.to_path_buf();
        }
    }
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

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// An enriched TSV timestamp (`2026-11-29 21:30:00.123`) of epoch milliseconds.
pub fn tsv_time(ms: i64) -> String {
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (rem / 3_600_000, rem / 60_000 % 60, rem / 1000 % 60, rem % 1000);
    format!("{year:04}-{month:02}-{day:02} {h:02}:{m:02}:{s:02}.{milli:03}")
}

/// The fixture's play event as a new viewer's, stamped `at_ms`, with its own event id.
pub fn play_event(viewer: &str, event_id: &str, at_ms: i64) -> String {
    let play = fixture_lines().into_iter().find(|l| l.split('\t').nth(5) == Some("unstruct") && l.contains("play_event")).expect("the fixture has a play event");
    let mut f: Vec<String> = play.split('\t').map(str::to_owned).collect();
    f[6] = event_id.to_owned();
    f[12] = String::new();
    f[15] = viewer.to_owned();
    let t = tsv_time(at_ms);
    // collector, device created, derived and device sent times.
    for i in [3, 4, 119, 124] {
        f[i] = t.clone();
    }
    f.join("\t")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_times() {
        assert_eq!(tsv_time(0), "1970-01-01 00:00:00.000");
        assert_eq!(tsv_time(1_763_000_100_123), "2025-11-13 02:15:00.123");
        assert_eq!(tsv_time(951_782_400_000), "2000-02-29 00:00:00.000");
    }
}
