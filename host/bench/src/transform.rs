//! Transform stage: the same logic on the same events, natively in-process and through
//! transform.wasm in the host's runtime (ABI v2, and the same logic built for ABI v1), at
//! several batch sizes, on one thread (so: per core).

use super::{BenchResult, Figure, Options};
use liveviewer::module::{output, Limits, Module, NativeTransform, Transform, BUILTIN_WASM};
use liveviewer::simulator::Simulator;
use liveviewer_wire::{frames, EXPORT_TRANSFORM_BATCH};
use std::time::{Duration, Instant};

/// The built-in logic speaking ABI v1 (host/bench/build.rs).
static V1_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/transform-v1.wasm"));

/// Where the wasm path's time goes, per event, at `batch`, as the host runs a module: the
/// module call (a fresh instance of the module's pooled engine per batch, as the host makes
/// one, the call with its fuel budget; the output is not copied out, since the host decodes
/// it where the call leaves it), of which the fresh instance alone (made, first called with
/// no events, dropped), and, timed apart in the real calls, making the instance and dropping
/// it after its batch; and the host's decoding and checking of the output (from copies taken
/// before the timing).
fn breakdown(label: &str, module: &Module, events: &[Vec<u8>], batch: usize, runs: usize, min: Duration) -> anyhow::Result<Vec<Figure>> {
    let refs: Vec<&[u8]> = events.iter().map(Vec::as_slice).collect();
    let limits = module.limits().output.clone();
    let call = |c: &[&[u8]]| -> anyhow::Result<Vec<u8>> {
        let mut plugin = module.new_plugin()?;
        Ok(plugin.call::<&[u8], &[u8]>(EXPORT_TRANSFORM_BATCH, &frames::encode(c.iter().copied()))?.to_vec())
    };
    let outputs: Vec<Vec<u8>> = refs.chunks(batch).map(call).collect::<Result<_, _>>()?;
    let per_event = |f: &mut dyn FnMut() -> anyhow::Result<()>| -> anyhow::Result<f64> {
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed() < min {
            f()?;
            n += events.len();
        }
        Ok(start.elapsed().as_secs_f64() * 1e6 / n as f64)
    };
    let (mut calls, mut decodes, mut fresh, mut made, mut dropped) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let calls_per_pass = refs.chunks(batch).count();
    let empty = frames::encode(std::iter::empty::<&[u8]>());
    for _ in 0..runs {
        // The same calls, their instance's making and dropping timed apart: dropping resets
        // every page the batch wrote, which an empty call (below) does not show.
        let (mut make_s, mut drop_s) = (0.0, 0.0);
        let mut events_called = 0usize;
        calls.push(per_event(&mut || {
            for c in refs.chunks(batch) {
                let t0 = Instant::now();
                let mut plugin = module.new_plugin()?;
                make_s += t0.elapsed().as_secs_f64();
                plugin.call::<&[u8], &[u8]>(EXPORT_TRANSFORM_BATCH, &frames::encode(c.iter().copied()))?;
                let t1 = Instant::now();
                drop(plugin);
                drop_s += t1.elapsed().as_secs_f64();
                events_called += c.len();
            }
            Ok(())
        })?);
        made.push(make_s * 1e6 / events_called as f64);
        dropped.push(drop_s * 1e6 / events_called as f64);
        decodes.push(per_event(&mut || {
            for (o, c) in outputs.iter().zip(refs.chunks(batch)) {
                output::decode(module.format(), o, c.len(), &limits)?;
            }
            Ok(())
        })?);
        fresh.push(per_event(&mut || {
            for _ in 0..calls_per_pass {
                module.new_plugin()?.call::<&[u8], &[u8]>(EXPORT_TRANSFORM_BATCH, &empty)?;
            }
            Ok(())
        })?);
    }
    let out_bytes = outputs.iter().map(Vec::len).sum::<usize>() / events.len();
    let per_call: Vec<f64> = fresh.iter().map(|us| us * events.len() as f64 / calls_per_pass as f64).collect();
    Ok(vec![
        Figure::new("transform", format!("{label}: module call on a fresh instance, batch {batch} ({out_bytes} B out per event)"), "us/event", calls),
        Figure::new("transform", format!("{label}: host decode and checks, batch {batch}"), "us/event", decodes),
        Figure::new("transform", format!("{label}: of the call, the fresh instance, batch {batch}"), "us/event", fresh),
        Figure::new("transform", format!("{label}: of the call, making the instance, batch {batch}"), "us/event", made),
        Figure::new("transform", format!("{label}: of the call, dropping the instance after its batch, batch {batch}"), "us/event", dropped),
        Figure::new("transform", format!("{label}: a fresh instance (made, first called, dropped)"), "us/call", per_call),
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
    let limits_for = |batch| Limits { max_batch: batch, max_call_bytes: 64 << 20, fuel_per_call: 20_000_000_000, ..Limits::default() };
    // LIVEVIEWER_BENCH_TRANSFORM_WASM=FILE measures another build of the module (flags, a
    // toolchain) in the built-in one's place; LIVEVIEWER_BENCH_TRANSFORM_BATCHES=256 fewer sizes.
    let wasm_bytes = match std::env::var_os("LIVEVIEWER_BENCH_TRANSFORM_WASM") {
        Some(path) => std::fs::read(path)?,
        None => BUILTIN_WASM.to_vec(),
    };
    let batches: Vec<usize> = match std::env::var("LIVEVIEWER_BENCH_TRANSFORM_BATCHES") {
        Ok(list) => list
            .split(',')
            .map(|b| b.trim().parse().ok().filter(|&n: &usize| n > 0).ok_or_else(|| anyhow::anyhow!("LIVEVIEWER_BENCH_TRANSFORM_BATCHES: {b:?} is not a batch size")))
            .collect::<Result<_, _>>()?,
        Err(_) => vec![1, 16, 128, default_batch, 1024],
    };
    for batch in batches {
        let module = Module::load(&wasm_bytes, &limits_for(batch))?;
        let mut wasm = module.instance()?;
        let mut native = NativeTransform::new();
        // The same logic speaking v1, at the default batch only.
        let mut v1 = if batch == default_batch { Some(Module::load(V1_WASM, &limits_for(batch))?.instance()?) } else { None };
        // Warm them (instance memory, caches) before measuring.
        rate(&mut wasm, &events, batch, Duration::from_millis(20));
        rate(&mut native, &events, batch, Duration::from_millis(20));
        if let Some(v1) = &mut v1 {
            rate(v1, &events, batch, Duration::from_millis(20));
        }
        let (mut w, mut n, mut w1) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            n.push(rate(&mut native, &events, batch, min));
            w.push(rate(&mut wasm, &events, batch, min));
            if let Some(v1) = &mut v1 {
                w1.push(rate(v1, &events, batch, min));
            }
        }
        let native_fig = Figure::new("transform", format!("native, batch {batch}"), "events/s/core", n);
        let mut wasm_fig = Figure::new("transform", format!("wasm, batch {batch}"), "events/s/core", w)
            .against(format!("native, batch {batch}"), native_fig.value);
        if batch == default_batch {
            let ok = wasm_fig.ratio.unwrap_or(0.0) >= 0.6 && wasm_fig.value >= 100_000.0;
            wasm_fig = wasm_fig.goal("wasm >= 0.6x native and >= 100k events/s/core (default batch)", ok);
        }
        let v2_value = wasm_fig.value;
        figures.push(native_fig);
        figures.push(wasm_fig);
        if !w1.is_empty() {
            figures.push(
                Figure::new("transform", format!("wasm ABI v1 (JSON), batch {batch}"), "events/s/core", w1)
                    .against(format!("wasm (ABI v2), batch {batch}"), v2_value),
            );
        }
    }
    let v2 = Module::load(&wasm_bytes, &Limits::default())?;
    let v1 = Module::load(V1_WASM, &Limits::default())?;
    figures.extend(breakdown("ABI v2", &v2, &events, default_batch, runs, min)?);
    figures.extend(breakdown("ABI v1", &v1, &events, default_batch, runs, min)?);
    let note = format!(
        "transform: {} events ({} real, the rest simulated), {mean} bytes on average; one thread; native is the plugin crate linked in (outcomes checked as the host checks a module's), wasm is transform.wasm through the host's runtime (input framing, a fresh instance per batch, the call with its fuel budget, the output decoded and checked); ABI v1 is the same logic built with plugin/'s `abi-v1` feature.",
        events.len(),
        73
    );
    Ok((figures, vec![note]))
}
