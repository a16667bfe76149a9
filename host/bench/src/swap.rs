//! Hot swap under load, in process: batches keep flowing while the module is swapped 20
//! times; the pause is the extra time of the first batch after each swap over a normal batch
//! (the candidate's checks run beside the pipeline, off the hot path). Against a run that
//! never swapped: no event lost or applied twice.

use super::{median_spread, percentile, BenchResult, Figure, Options};
use liveviewer::app::App;
use liveviewer::config::Config;
use liveviewer::lifecycle::candidate::Mode;
use liveviewer::module::BUILTIN_WASM;
use liveviewer::profile::render;
use liveviewer::simulator::Simulator;
use liveviewer::source::{Message, Origin};
use std::time::Instant;

/// The built-in module with a custom section appended: the same logic, another version.
fn variant(tag: &str) -> Vec<u8> {
    let name = format!("liveviewer-bench-{tag}");
    let mut body = vec![name.len() as u8];
    body.extend(name.as_bytes());
    let mut out = BUILTIN_WASM.to_vec();
    out.push(0);
    out.push(body.len() as u8);
    out.extend(body);
    out
}

async fn app(dir: &std::path::Path) -> anyhow::Result<App> {
    let config = Config { data_dir: dir.to_path_buf(), ..Config::default() };
    App::build(config, false).await
}

fn batches(n: usize, size: usize) -> Vec<Vec<Message>> {
    let mut sim = Simulator::new(500, 13, 5, 1_763_000_000_000);
    let mut seq = 0;
    (0..n)
        .map(|_| {
            (0..size)
                .map(|_| {
                    seq += 1;
                    Message { payload: sim.next_event().line.into_bytes(), origin: Origin::Simulator { seq } }
                })
                .collect()
        })
        .collect()
}

async fn profiles(app: &App) -> anyhow::Result<Vec<serde_json::Value>> {
    let ctx = liveviewer::profile::RenderContext { now_ms: 0, active_window_ms: 1 };
    app.pipeline.flush_all().await?;
    let mut states = app.store.export().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    states.sort_by(|a, b| a.viewer_id.cmp(&b.viewer_id));
    Ok(states
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(render(s, &ctx)).expect("renders");
            v.as_object_mut().expect("object").remove("module_version");
            v
        })
        .collect())
}

pub async fn run(o: Options) -> BenchResult {
    let (swaps, every, size) = if o.smoke { (2, 5, 64) } else { (20, 10, 256) };
    let input = batches(swaps * every + every, size);
    let total: usize = input.iter().map(Vec::len).sum();
    let dir = tempfile::tempdir()?;
    let swapping = app(&dir.path().join("swapping")).await?;
    let steady = app(&dir.path().join("steady")).await?;
    let modules = [variant("a"), variant("b")];
    let mut durations = Vec::new();
    let mut after_swap = Vec::new();
    let mut pending: Option<tokio::task::JoinHandle<()>> = None;
    for (i, batch) in input.iter().enumerate() {
        if i > 0 && i % every == 0 {
            // The swap lands once the candidate passed its checks; batches flow meanwhile.
            if let Some(p) = pending.take() {
                p.await?;
            }
            let deployer = swapping.deployer.clone();
            let bytes = modules[(i / every) % 2].clone();
            pending = Some(tokio::spawn(async move {
                deployer.submit(bytes, "bench", Mode::Active).await.expect("the variant passes");
            }));
            // Let it land before the next batch, so the next batch is the first on the new module.
            if let Some(p) = pending.take() {
                p.await?;
            }
            after_swap.push(i);
        }
        let t = Instant::now();
        swapping.pipeline.process(batch.clone()).await?;
        durations.push(t.elapsed().as_secs_f64() * 1000.0);
        steady.pipeline.process(batch.clone()).await?;
    }
    let normal: Vec<f64> = durations.iter().enumerate().filter(|(i, _)| !after_swap.contains(i)).map(|(_, d)| *d).collect();
    let (median_batch, _) = median_spread(&normal);
    let mut pauses: Vec<f64> = after_swap.iter().map(|i| (durations[*i] - median_batch).max(0.0)).collect();
    let (p50, p99) = (percentile(&mut pauses.clone(), 50.0), percentile(&mut pauses, 99.0));
    let processed = swapping.metrics.total("liveviewer_events_total") as usize;
    let (a, b) = (profiles(&swapping).await?, profiles(&steady).await?);
    let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count() + a.len().abs_diff(b.len());
    Ok((
        vec![
            Figure::new("swap", format!("pause around a swap, p50 of {swaps}"), "ms", vec![p50]).against("a batch", median_batch),
            Figure::new("swap", format!("pause around a swap, p99 of {swaps}"), "ms", vec![p99]).against("a batch", median_batch),
            Figure::new("swap", format!("batch of {size} events (no swap), median"), "ms", normal),
            Figure::new("swap", "events lost or applied twice", "events", vec![total.abs_diff(processed) as f64])
                .goal("0", total == processed),
            Figure::new("swap", "profiles differing from a run without swaps", "profiles", vec![differing as f64]).goal("0", differing == 0),
        ],
        vec![format!("swap: {total} simulated events in batches of {size}, in process on the embedded store, a swap every {every} batches between two versions of the built-in logic (module_version aside, the profiles must equal a run that never swapped).")],
    ))
}
