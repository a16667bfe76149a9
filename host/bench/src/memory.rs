//! Resident memory per tracked viewer: a host (embedded store) takes one event from each of N
//! viewers through Snowbridge's HTTP target; its resident memory before and after, over N.

use super::{BenchResult, Figure, Options};

/// The fixture's media session, which each simulated viewer gets a session of its own for.
const SESSION: &str = "e3a82b1d-e44e-4bbf-a797-672b4e879af3";

/// Viewer `i`'s play event: its own event id, viewer and media session. (With the fixture's
/// session shared by every viewer, the windowed metrics held one session of N events, which is
/// neither what a site sends nor cheap: see the notes.)
fn event(i: usize, template: &str) -> String {
    let mut f: Vec<String> = template.split('\t').map(str::to_owned).collect();
    f[6] = format!("00000000-0000-4000-8000-{i:012}");
    f[15] = format!("viewer-{i:09}");
    f.join("\t").replace(SESSION, &format!("e3a82b1d-e44e-4bbf-a797-{i:012}"))
}

pub async fn run(o: Options) -> BenchResult {
    let fixture = include_str!("../../../test-vectors/fixtures/snowplow-micro-media.tsv");
    let play = fixture.lines().nth(3).expect("the fixture's play event").to_owned();
    anyhow::ensure!(play.contains(SESSION), "the fixture's play event is not in media session {SESSION}");
    let counts: Vec<usize> = if o.smoke { vec![2_000] } else { vec![100_000, 1_000_000] };
    let mut figures = Vec::new();
    for n in counts {
        let dir = tempfile::tempdir()?;
        let host = liveviewer_testkit::Host::start(
            &["demo", "--listen", "127.0.0.1:0", "--viewers", "0", "--data-dir", dir.path().to_str().unwrap()],
            &[("LIVEVIEWER__HTTP__MAX_BODY_BYTES", "67108864")],
        );
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let before = host.proc.rss_bytes();
        let client = reqwest::Client::new();
        for start in (0..n).step_by(5_000) {
            let batch: Vec<String> = (start..(start + 5_000).min(n)).map(|i| event(i, &play)).collect();
            // As Snowbridge does: a 503 (not durable within the host's wait) is sent again after
            // Retry-After; a repeat is harmless, the events already applied are skipped.
            let mut tries = 0;
            loop {
                let r = client.post(format!("{}ingest/snowbridge", host.url)).json(&batch).send().await?;
                if r.status().is_success() {
                    break;
                }
                tries += 1;
                anyhow::ensure!(r.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE && tries < 20, "ingest answered {} ({tries} tries)", r.status());
                let wait = r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(1);
                tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
            }
        }
        let after = host.proc.rss_bytes();
        let per = (after.saturating_sub(before)) as f64 / n as f64;
        figures.push(Figure::new("memory", format!("resident memory per tracked viewer at {n} viewers"), "bytes", vec![per]).goal("<= 2048 bytes", per <= 2048.0));
        figures.push(Figure::new("memory", format!("resident memory with {n} viewers"), "MiB", vec![after as f64 / 1048576.0]));
    }
    Ok((figures, vec!["memory: one host, embedded store (profiles on disk, a 64 MiB page cache), one event from each viewer (the fixture's play, in a media session of its own) through POST /ingest/snowbridge; resident memory (VmRSS) before and after, divided by the viewers.".into()]))
}
