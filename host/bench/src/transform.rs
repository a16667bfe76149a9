//! Transform stage: the same logic on the same events, natively in-process and through
//! transform.wasm in the host's runtime, at several batch sizes, on one thread (so: per core).

use super::{BenchResult, Figure, Options};
use liveviewer::module::{Limits, Module, NativeTransform, Transform, BUILTIN_WASM};
use liveviewer::simulator::Simulator;
use std::time::{Duration, Instant};

/// Where the wasm path's time goes, per event, at `batch`: the module call alone (framing,
/// the call, the output copied out), the host's decoding and checking of the module's JSON
/// output, and the native logic plus the same JSON round trip (what native would cost if it
/// crossed the same boundary).
fn breakdown(events: &[Vec<u8>], batch: usize, runs: usize, min: Duration) -> anyhow::Result<Vec<Figure>> {
    let refs: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    let limits = liveviewer::module::OutputLimits::default();
    let manifest = extism::Manifest::new([extism::Wasm::data(BUILTIN_WASM.to_vec())]);
    let mut plugin = extism::Plugin::new(manifest, [], false)?;
    let outputs: Vec<Vec<u8>> = refs
        .chunks(batch)
        .map(|c| plugin.call::<&[u8], &[u8]>(liveviewer_wire::EXPORT_TRANSFORM_BATCH, &liveviewer_wire::frames::encode(c.iter().copied())).map(<[u8]>::to_vec))
        .collect::<Result<_, _>>()?;
    let per_event = |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<f64> {
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed() < min {
            f()?;
            n += events.len();
        }
        Ok(start.elapsed().as_secs_f64() * 1e6 / n as f64)
    };
    let (mut call, mut decode, mut native) = (Vec::new(), Vec::new(), Vec::new());
    let mut logic = NativeTransform::new();
    for _ in 0..runs {
        call.push(per_event(&mut || {
            for c in refs.chunks(batch) {
                let input = liveviewer_wire::frames::encode(c.iter().copied());
                plugin.call::<&[u8], &[u8]>(liveviewer_wire::EXPORT_TRANSFORM_BATCH, &input)?;
            }
            Ok(())
        })?);
        decode.push(per_event(&mut || {
            for (o, c) in outputs.iter().zip(refs.chunks(batch)) {
                liveviewer::module::output::decode(o, c.len(), &limits)?;
            }
            Ok(())
        })?);
        native.push(per_event(&mut || {
            for c in refs.chunks(batch) {
                let out = logic.transform_batch(c)?;
                let json = serde_json::to_vec(&out)?;
                liveviewer::module::output::decode(&json, c.len(), &limits)?;
            }
            Ok(())
        })?);
    }
    let out_bytes = outputs.iter().map(Vec::len).sum::<usize>() / events.len();
    Ok(vec![
        Figure::new("transform", format!("wasm call alone, batch {batch} ({out_bytes} B of JSON out per event)"), "us/event", call),
        Figure::new("transform", format!("host decode and checks of that JSON, batch {batch}"), "us/event", decode),
        Figure::new("transform", format!("native + the same JSON round trip, batch {batch}"), "us/event", native),
    ])
}

/// The real session plus simulated viewers: enriched TSV of 2-4 KB, most of them media events.
pub fn events(simulated: usize) -> Vec<Vec<u8>> {
    let fixture = include_str!("../../../test-vectors/fixtures/snowplow-micro-media.tsv");
    let mut out: Vec<Vec<u8>> = fixture.lines().filter(|l| !l.is_empty()).map(|l| l.as_bytes().to_vec()).collect();
    let mut sim = Simulator::new(200, 5, 10, 1_763_000_000_000);
    out.extend((0..simulated).map(|_| sim.next_event().line.into_bytes()));
    out
}

/// Events per second through `t`, in calls of `batch` events, for at least `min`.
fn rate(t: &mut dyn Transform, events: &[Vec<u8>], batch: usize, min: Duration) -> f64 {
    let refs: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < min {
        for chunk in refs.chunks(batch) {
            let out = t.transform_batch(chunk).expect("the built-in module does not fault");
            n += out.len();
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

pub async fn run(o: Options) -> BenchResult {
    tokio::task::spawn_blocking(move || run_blocking(&o)).await?
}

fn run_blocking(o: &Options) -> BenchResult {
    let events = events(if o.smoke { 200 } else { 3000 });
    let mean = events.iter().map(Vec::len).sum::<usize>() / events.len();
    let (runs, min) = if o.smoke { (1, Duration::from_millis(50)) } else { (5, Duration::from_millis(700)) };
    let mut figures = Vec::new();
    let default_batch = Limits::default().max_batch;
    for batch in [1, 16, 128, default_batch, 1024] {
        let limits = Limits { max_batch: batch, max_call_bytes: 64 << 20, fuel_per_call: 20_000_000_000, ..Limits::default() };
        let module = Module::load(BUILTIN_WASM, &limits)?;
        let mut wasm = module.instance()?;
        let mut native = NativeTransform::new();
        // Warm both (instance memory, caches) before measuring.
        rate(&mut wasm, &events, batch, Duration::from_millis(20));
        rate(&mut native, &events, batch, Duration::from_millis(20));
        let (mut w, mut n) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            n.push(rate(&mut native, &events, batch, min));
            w.push(rate(&mut wasm, &events, batch, min));
        }
        let native_fig = Figure::new("transform", format!("native, batch {batch}"), "events/s/core", n);
        let mut wasm_fig = Figure::new("transform", format!("wasm, batch {batch}"), "events/s/core", w)
            .against(format!("native, batch {batch}"), native_fig.value);
        if batch == default_batch {
            let ok = wasm_fig.ratio.unwrap_or(0.0) >= 0.6 && wasm_fig.value >= 100_000.0;
            wasm_fig = wasm_fig.goal("wasm >= 0.6x native and >= 100k events/s/core (default batch)", ok);
        }
        figures.push(native_fig);
        figures.push(wasm_fig);
    }
    figures.extend(breakdown(&events, default_batch, runs, min)?);
    let note = format!(
        "transform: {} events ({} real, the rest simulated), {mean} bytes on average; one thread; native is the plugin crate linked in, wasm is transform.wasm through the host's Extism runtime (input framing, call, output JSON decoded and checked).",
        events.len(),
        73
    );
    Ok((figures, vec![note]))
}
