//! The dashboard at scale: a host holding 100 000 active viewers (fed through Snowbridge's HTTP
//! target) and a steady stream of changes, the page in Debian's chromium. Figures: how long the
//! page takes to first show the viewers, and the browser main-thread time a second of updates
//! costs (Chrome's own task accounting, through the DevTools protocol). The browser side is
//! `dashboard/tests/scale.mjs`; this runs it against the benchmark's host binary, a few times
//! on a fresh host each, and gives the medians.

use super::{BenchResult, Figure, Options};
use serde_json::Value;
use std::process::Command;

/// The section of BENCHMARKS.md these figures get, and how to measure them again.
pub const REPRODUCE: &str = "`./scripts/bench.sh --only dashboard --out DIR` (release build; then `--render` merges its \
     benchmarks.json into this file), or the page alone against any host binary: `cd dashboard && LIVEVIEWER_BIN=<release \
     liveviewer> node tests/scale.mjs [OUT.json]` (sizes from `SCALE_VIEWERS`, `SCALE_CHANGES_PER_S`, `SCALE_PAGE_RATE`, `SCALE_SECONDS`, \
     `SCALE_CONTENTS`). Needs chromium at /usr/bin/chromium and dashboard/node_modules (scripts/setup.sh installs both).";

pub async fn run(o: Options) -> BenchResult {
    // Smoke: a thousand viewers once, a few seconds (the test suite runs it).
    let (viewers, seconds, runs): (u64, u64, usize) = if o.smoke { (1_000, 3, 1) } else { (100_000, 20, 3) };
    let rate = 1_000;
    let root = liveviewer_testkit::workload::repo_root();
    let dashboard = root.join("dashboard");
    anyhow::ensure!(dashboard.join("node_modules/playwright-core").exists(), "dashboard/node_modules is missing: run scripts/setup.sh");
    let bin = liveviewer_testkit::bin();
    let mut results: Vec<Value> = Vec::new();
    for i in 0..runs {
        let out = tempfile::NamedTempFile::new()?;
        let (bin, out_path, dir) = (bin.clone(), out.path().to_owned(), dashboard.clone());
        let status = tokio::task::spawn_blocking(move || {
            Command::new("node")
                .arg("tests/scale.mjs")
                .arg(&out_path)
                .current_dir(&dir)
                .env("LIVEVIEWER_BIN", bin)
                .env("SCALE_VIEWERS", viewers.to_string())
                .env("SCALE_SECONDS", seconds.to_string())
                .env("SCALE_CHANGES_PER_S", rate.to_string())
                .status()
        })
        .await??;
        anyhow::ensure!(status.success(), "dashboard/tests/scale.mjs failed ({status}), run {}", i + 1);
        results.push(serde_json::from_str(&std::fs::read_to_string(out.path())?)?);
    }
    // A figure's runs: `key` of each run's result, or of its busy measurement.
    let runs_of = |busy: bool, key: &str| -> Vec<f64> {
        results
            .iter()
            .map(|r| if busy { &r["busy"] } else { r })
            .map(|m| m[key].as_f64().unwrap_or(f64::NAN))
            .filter(|v| v.is_finite())
            .collect()
    };
    let all = |k: &str| runs_of(false, k);
    let n = viewers;
    let median = |v: Vec<f64>| super::median_spread(&v).0;
    let (page_rate, busy_rate) = (median(all("page_rate")), median(runs_of(true, "page_rate")));
    let first_render = Figure::new("dashboard", format!("time to first render with {n} active viewers"), "ms", all("first_render_ms"));
    let main_thread = Figure::new(
        "dashboard",
        format!("browser main-thread time per second of updates ({page_rate} changes/s to each viewer on the page)"),
        "ms/s",
        all("main_thread_ms_per_s"),
    );
    let (fr, mt) = (first_render.value, main_thread.value);
    let style_layout = |busy: bool| -> Vec<f64> {
        runs_of(busy, "style_ms_per_s").iter().zip(runs_of(busy, "layout_ms_per_s")).map(|(s, l)| s + l).collect()
    };
    let both = |k: &str| -> Vec<f64> { runs_of(false, k).iter().zip(runs_of(true, k)).map(|(a, b)| a + b).collect() };
    let mut figures = vec![
        first_render.goal("<= 1500 ms", fr <= 1500.0),
        Figure::new("dashboard", "first contentful paint", "ms", all("first_contentful_paint_ms")),
        main_thread.goal("<= 100 ms/s", mt <= 100.0),
        Figure::new("dashboard", "of which script", "ms/s", all("script_ms_per_s")),
        Figure::new("dashboard", "of which style and layout", "ms/s", style_layout(false)),
        Figure::new("dashboard", "of which paint, compositing and the rest", "ms/s", all("other_ms_per_s")),
        Figure::new("dashboard", format!("browser main-thread time per second of updates ({busy_rate} changes/s to each viewer on the page)"), "ms/s", runs_of(true, "main_thread_ms_per_s")),
        Figure::new("dashboard", format!("of which style and layout ({busy_rate}/s)"), "ms/s", style_layout(true)),
        Figure::new("dashboard", "long tasks (> 50 ms) while updating, both", "tasks", both("long_tasks")),
        Figure::new("dashboard", format!("bytes pushed to the page per second of updates ({page_rate}/s)"), "bytes/s", all("bytes_per_s")),
        Figure::new("dashboard", "viewer list fetches while updating, both", "requests", both("list_fetches")),
        Figure::new("dashboard", "page JavaScript heap", "MiB", all("js_heap_mb")),
        Figure::new("dashboard", format!("host ingest while feeding {n} viewers (one event each, 5000 a request)"), "events/s", all("feed_events_per_s")),
    ];
    let changes = median(all("changes_per_s"));
    let on_page = (median(all("viewers_on_page")), median(all("changes_on_page_per_s")), median(runs_of(true, "changes_on_page_per_s")));
    figures.retain(|fig| fig.value.is_finite());
    let note = format!(
        "dashboard: `dashboard/tests/scale.mjs` against the host ({}), {runs} run(s), each on a fresh host: `demo --viewers 0` with a 15-minute active window \
         (on 2 cores the host could not also keep {n} simulated viewers pinging every 10 s), each viewer's first event (plays, pauses, buffering, ads; 200 \
         contents, one in twenty live) through POST /ingest/snowbridge, then changes (pings, plays, pauses, buffering, ads) to random viewers at {changes:.0}/s \
         (asked: {rate}/s) while chromium (headless, software rendering) shows the page at 1440x900. The page shows {:.0} viewers; {rate} changes/s spread over \
         {n} would hardly touch them, so a share goes to them: {page_rate}/s each ({:.1}/s in all: a watching viewer's ping every 10 s and a change of state \
         about as often), then {busy_rate}/s each ({:.1}/s: every viewer on the page changing twice a second). First render: from navigation until the headline \
         count, the first page of cards and the content table are on screen. Main-thread time: Chrome's TaskDuration (DevTools Performance.getMetrics) over \
         {seconds} s after a 3 s settle, for each rate. The host runs on the same 2 cores and takes its share of them while the page is measured. The page \
         follows the viewers it shows and the headline counts, never the whole list.",
        if cfg!(debug_assertions) { "debug build" } else { "release build" },
        on_page.0,
        on_page.1,
        on_page.2,
    );
    Ok((figures, vec![note]))
}
