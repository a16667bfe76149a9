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
        let call = find(figures, "transform", "ABI v2: module call").map_or(f64::NAN, |f| f.value);
        let fresh = find(figures, "transform", "ABI v2: of the call, the fresh instance").map_or(f64::NAN, |f| f.value);
        let decode = find(figures, "transform", "ABI v2: host decode").map_or(f64::NAN, |f| f.value);
        let v1_call = find(figures, "transform", "ABI v1: module call").map_or(f64::NAN, |f| f.value);
        let v1_decode = find(figures, "transform", "ABI v1: host decode").map_or(f64::NAN, |f| f.value);
        let v1 = find(figures, "transform", "wasm ABI v1 (JSON)").map_or(f64::NAN, |f| f.value);
        let native_us = 1e6 / n;
        let made = find(figures, "transform", "ABI v2: of the call, making the instance").map_or(f64::NAN, |f| f.value);
        let dropped = find(figures, "transform", "ABI v2: of the call, dropping the instance").map_or(f64::NAN, |f| f.value);
        let inside = call - made - dropped;
        out.push(format!(
            "**Transform stage (goal not met).** At batch {default_batch}, wasm (ABI v2) runs {:.0} events/s per core against {n:.0} natively ({:.2}x; the goals are \
             0.6x and 100k); the same logic speaking ABI v1 runs {v1:.0} in the same run, so v2 is {:.1}x v1. Per event: the host's decoding and checking of the \
             output fell from {v1_decode:.1} us (v1, JSON) to {decode:.1} us (v2, binary), and the module call from {v1_call:.1} to {call:.1} us, while the native \
             logic, TSV parsing included, takes {native_us:.1} us. Of the call, making the batch's fresh instance takes {made:.2} us per event and dropping it \
             {dropped:.2} us (the drop resets every page the batch wrote: the input twice, in Extism's kernel memory and in the module's, and the output twice; an \
             empty call's instance, {fresh:.2} us, does not show it); the rest, {inside:.1} us, is the call itself, {:.1}x the native logic. So the boundary is no \
             longer the cost: the code inside the call is. Where its time goes, from `perf record -g` over the v2 calls at batch 256 (wasmtime keeps frame \
             pointers in its JIT code, so every sample inside a call is found by the module's frames under it; a build of the module keeping its name section; \
             wasmtime's perf map), by the innermost frame: the logic's JSON parsing of the event's contexts (serde_json, skipping the entities it does not read \
             included) 33%, the v2 encoder (name lookups, values) 15%, splitting the TSV line and the schema URIs 12%, the media logic itself 11%, Extism's input \
             path 11% (the PDK reads the input from the kernel's memory eight bytes per call into the kernel: some 300 calls per event), wasmtime's libcalls \
             for `memory.copy` and `memory.fill` 7% (every non-constant copy or zeroing inside a module leaves the JIT code), building and dropping \
             `serde_json::Value`s 5%, the kernel's output path 1.5%. Fuel metering, which instruments every basic block, is part of why the same Rust \
             code runs slower inside than natively: the same benchmark with fuel metering switched off (a throwaway build, back to back) took \
             the module call from 24.3 to 20.4 us and from 30.9 to 22.4 us in two pairs of runs on a noisy machine, a sixth to a quarter less, not enough \
             to reach either goal; kept, since fuel is what makes a module's budget deterministic (the same event passes or faults on every host, however \
             loaded). Tried and not kept: the module built with `+simd128` (the same figures in pairs of runs back to back); \
             `-bulk-memory`, to keep small copies inside the JIT code, gives a byte-identical module with this toolchain. What Extism itself \
             costs per event, about {:.1} us (instance made and dropped, and the input path), goes only with a contract that hands the module its input in \
             its own memory and takes the output from there (a plain wasmtime ABI without Extism's kernel); what the logic costs, only with less work in \
             it (outcomes encoded straight from the parsed event instead of through `serde_json::Value`s). Tried in this round and not kept: the contexts read \
             in one pass, each entity of ours typed as the parser reaches it instead of every entity's data kept as raw JSON and ours parsed again \
             afterwards (the reference reading kept for anything the one pass would have to decide, a test holding both to the same entities on every \
             vector): module calls of 21.0 and 21.3 us per event against 20.5 and 19.5 for the current module, back to back, so no gain; the skip over raw \
             JSON is cheap, the typed parsing itself is the cost. The wasm path would have to run {:.1}x faster to reach 0.6x native ({:.1}x for 100k events/s); neither \
             change does that alone. Since release builds are optimised as one program (LTO), the native logic and the host's side \
             of the call run faster (in the round that made the change: native 159k -> 196k events/s per core, the host's decoding \
             3.4 -> 2.4 us, the call 19.5 -> 15.5 us) while the module's own code is what it was, so wasm rose (41.9k -> 45.7k) and \
             its ratio to native fell (0.26x -> 0.23x). `LIVEVIEWER_BENCH_TRANSFORM_WASM=FILE` runs this benchmark on another build of the \
             module, and `LIVEVIEWER_BENCH_TRANSFORM_BATCHES=256` on fewer batch sizes, for such comparisons. Measured that way in the \
             latest round (the module built before and after each change, five pairs back to back, medians): serde_json reading numbers \
             exactly (`float_roundtrip`, on since a v1 module's doubles reached the host a unit in the last place off) costs the module nothing \
             measurable (call 16.3 against 16.7 us per event without it); a delta's session shared instead of copied per delta (about fifteen \
             allocations fewer per event inside the module) moved it as little (17.2 against 17.2 us): allocation is not where the module's time goes.",
            w.value,
            w.ratio.unwrap_or(f64::NAN),
            w.value / v1,
            inside / native_us,
            made + dropped + 0.11 * inside,
            0.6 / w.ratio.unwrap_or(f64::NAN),
            100_000.0 / w.value,
        ));
    }
    let host = find(figures, "pipeline", "host into embedded store");
    if unmet(host) {
        let h = host.unwrap();
        let bare = find(figures, "pipeline", "bare consumer").map_or(f64::NAN, |f| f.value);
        let per_core = wasm.map_or(f64::NAN, |f| f.value);
        let cpu = match (find(figures, "pipeline", "host CPU time per event"), find(figures, "pipeline", "host cores busy")) {
            (Some(c), Some(k)) => format!(
                "It spends {:.0} us of CPU per event ({:.2} cores busy); 50k events/s on two cores leaves 40 us per event for the host and the broker \
                 together, and the host alone spends {:.1}x that now. ",
                c.value,
                k.value,
                c.value / 40.0
            ),
            _ => String::new(),
        };
        out.push(format!(
            "**Pipeline (goal not met).** The host consumes {:.0} events/s into the embedded store against {bare:.0} for a consumer that only counts ({:.2}x; the goals \
             are 0.5x and 50k). {cpu}The module alone does {per_core:.0} events/s per core (above), so on this machine's cores it caps the host near {:.0} events/s before \
             anything is merged or written. Phase timings of a replay (100k simulated events, 5000 viewers, batches of 512) showed per batch: module 23 ms, merge and \
             write 26 ms (redb: one transaction with fsync per batch, about 45 us per profile written), one after the other on one core. Fixed in this round: the next \
             batch runs the module while the previous one is merged and written (writes stay in order, offsets are committed in order as batches become durable), a \
             batch is split across one module instance per core, the store's revision check reads 8 bytes instead of decoding the stored profile, and retries share the \
             batch's writes instead of cloning them (5.7k -> ~10k events/s on this benchmark). Since then ABI v2 took the JSON boundary out (above), and write-behind \
             (`store.flush_interval_ms`) writes a viewer's profile once per interval however many of its events arrived. Profiled again after ABI v2 (`perf \
             record` on `liveviewer replay` of 200k simulated events, 5000 viewers, about 17k events/s): the host keeps only 1.2 of the 2 cores busy (the stages \
             hand batches on in order, and merge + publish of a batch runs on one task); of its samples, the kernel zeroing fresh pages the allocator faults in \
             (transparent huge pages, 15-17%), the allocator itself (about 15%), the module's JIT code (15%), and rendering changed profiles as JSON for the \
             live view and the changelog (about 8%). Profiled once more on this benchmark itself (`perf record --call-graph dwarf` on the host, Kafka \
             source): the host used about one core of two; of its samples, the batch path 36% (rendering changed profiles 12%, merging 12%, the module's \
             share of the batch path small: the module stage is 7% of all), the background writer 9% (redb 8%; dropping the outcomes kept until a write, 6%), \
             and reading the changelog back into the live view 8% (parsing each profile's JSON, 6%). Measured in the next round, with the changelog's \
             acknowledgements awaited after a batch's turn: the host is CPU-bound, not waiting: it used 1.48 cores, the broker 0.3, the machine was 9% idle, \
             so about 165 us of CPU per event at 9k events/s (per batch of ~500 events: module stage 130 ms, most of it waiting for a worker among four \
             batches in flight; merge 47 ms; broker acknowledgement 33 ms). Its samples (dwarf, 15 s) spread thin: rendering changed profiles 11% (half of it \
             `serde_json::Value`: registers kept as JSON text are parsed back and printed again), merging 12% (`ProfileState::apply` 9.5%, field cells \
             7.8%), the module 9% and its output's decoding 6%, redb 7%, freeing settled outcomes 5% (under the working set's lock, holding up the merge), \
             librdkafka (fetching, zstd) 9%, and, across all of these, the allocator about 18% and memmove 6%. Changed in this round: a host applies its own \
             changelog records as it sends them and skips them when they come back (no JSON parse), a set value's JSON is rendered once instead of twice, \
             and settled outcomes are freed outside the lock. Left, none of it alone a large share: render profiles straight to bytes from the registers' \
             JSON text (no `Value` in between), keep outcomes compactly until their write, fewer allocations in the merge, and merge viewers' events on \
             more than one task. Done in the round after: changed profiles are written as JSON straight from the state (a register's JSON text copied as it \
             is, strings and numbers written into one buffer; the same bytes, a test holds them equal): measured alone on 7,333 simulated profiles \
             of 1.3 KB, 12.5 against 13.8 us per profile with the live view's entry (1.1x), so the `Value`s were not what made rendering \
             expensive; what is left is the same in both (the key-ordered maps of the session and the totals, summed over every session on each \
             publish). And the module's parts of a batch run on the runtime's blocking threads instead of a thread started per batch: that thread \
             built half of every batch's outcomes in a fresh allocator heap and exited, so freeing them after their write went through the \
             allocator's cross-thread path into abandoned pages (freeing outcomes 6.7% of the samples, 3.9% of it that path; after: 5.4%, 2.5%). \
             Pipeline runs of this round moved within this machine's noise (single runs 8.2k-12.2k events/s, 7.6-8.6k with perf attached). Still ahead, in the profile's order: the module (its JIT code, \
             call and decoding, about a quarter), rendering, merging (`ProfileState::apply` 7%), redb 8.5%, librdkafka 10% (fetching and decompressing the \
             topic and the changelog; compressing the changelog with zstd, 3.5%), freeing outcomes. Profiled again in the latest round \
             (`perf record --call-graph dwarf`, 10 s on the host at about 9k events/s, 1.6 cores busy): the module stage 13% of the host's samples \
             (its output's decoding 7.6% of them) besides its JIT code (18% of all samples in a flat profile), rendering changed profiles 11%, merging \
             10%, the embedded store's commits 7.8%, dropping outcomes after their write 6.3% (mostly the allocator's cross-thread free: they are \
             decoded on the module's threads and freed on the writer's), librdkafka's broker threads 6.3% and zstd about 6% (compressing the \
             changelog, decompressing it as it is read back). An allocator setting that never gives pages back (`MIMALLOC_PURGE_DELAY=-1`) moved a \
             single run from 8.7k to 9.5k events/s, within this machine's noise, and is not kept. Profiled once more in the latest round \
             (`perf record --call-graph dwarf`, 12 s on the host at about 11k events/s, 1.4 cores busy): the module's JIT code 17% of the \
             samples (flat), the module stage besides it 11.5% (its output's decoding 6.6%), rendering changed profiles 12.6%, merging \
             10.6%, the embedded store's commits 8%, librdkafka's broker threads 11% (zstd: compressing the changelog 2.6%, decompressing \
             it as it is read back 2.8%), dropping outcomes after their write 5%. One cost runs across the stages, `serde_json::Value`, \
             more than 7% in all: a set delta's value is built as a `Value` when the module's output is decoded, printed to JSON text when \
             it merges (2.8%) and dropped after the write (2.4%); and the live view's entry parses the media object back out of each \
             rendered profile (2%). The round after measured instructions as well as time (`valgrind --tool=callgrind` on a \
             replay of 20k simulated events, every flush at once so that runs write the same profiles: counts that repeat where CPU \
             time on this machine moves by a tenth). The live view's entry now picks the six members of the media object it reads \
             out of the text instead of parsing the whole object (2.1% of a replay's samples): 1.5% fewer instructions per event. \
             Carrying a set value as JSON text from the decoder to the register was built and measured: 2% more instructions per \
             event, not fewer (the text is copied into the register, as the outcome is kept until its write, and the windowed \
             metrics must read the content key back out of the text), and reading such a text back as a tree does not give every \
             float exactly (serde_json's default float parsing; the fuzz corpus found one), so it was not kept. Release builds are \
             now optimised as one program (LTO): 3.8-4.1% fewer instructions per event, about 6% less CPU on a replay of 200k \
             events. The kernel zeroing pages the allocator faults in is 9% of a replay's samples; the allocator without huge pages \
             (`MIMALLOC_ALLOW_THP=0`) or without giving pages back (`MIMALLOC_PURGE_DELAY=-1`) moved CPU time within noise (three \
             runs each). In the latest round, a delta's session is one shared id per event instead of a copy per delta (the v2 decoder made \
             about fifteen allocations per event for it, kept until the write and freed on another thread): 405.0k instructions per event \
             against 410.0k (-1.2%, callgrind as above). Measured again: the kernel zeroing huge pages (`clear_page_erms`) is 15-20% of a \
             50k-event replay's samples, nearly all under mimalloc's page allocation; on 200k-event replays (four interleaved pairs) \
             without huge pages the kernel's time fell by 1.1-1.6 s of 15-22 s and user time rose by 0.3-1.1 s; never purging \
             (`MIMALLOC_PURGE_DELAY=-1`) or purging with `MADV_FREE` (`MIMALLOC_PURGE_DECOMMITS=0`) left a 50k replay's task-clock within \
             noise (3.3-3.7 s against 3.6 s, three runs each). None of these is the 4x the \
             goal needs.",
            h.value,
            h.ratio.unwrap_or(f64::NAN),
            per_core * std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
        ));
    }
    let p99 = find(figures, "latency", "p99 at 10000");
    if unmet(p99) {
        let capacity = host.map_or(f64::NAN, |f| f.value);
        let low = find(figures, "latency", "p99 at 1000 ").map_or(f64::NAN, |f| f.value);
        let kafka = |rate: &str| find(figures, "latency", &format!("p99 at {rate} events/s, Kafka alone")).map_or(f64::NAN, |f| f.value);
        let (kafka_low, kafka_high) = (kafka("1000"), kafka("10000"));
        let p50 = find(figures, "latency", "p50 at 10000").map_or(f64::NAN, |f| f.value);
        let p99_value = p99.map_or(f64::NAN, |f| f.value);
        let why = if p50 < 1_000.0 {
            format!(
                "p99 {p99_value:.0} ms, p50 {p50:.0} ms: the host keeps up (its capacity here, {capacity:.0} events/s with the machine to itself, is above \
                 the offered rate; p50 is a few tens of ms), and the tail is this machine's: Kafka alone, a bare consumer reading the same events in the \
                 same run, has p99 {kafka_high:.0} ms. Run five times one after the other in the latest round: this round's build 282, 308 and 199 ms \
                 (the table has the first), the round before's build 233 and 110 ms, Kafka alone 28-89 ms; the goal is met in some runs and missed in \
                 others. In the round before, on a machine busier at the time (host capacity 13.2k events/s), the host did not keep up at 10k/s: \
                 a backlog built for the whole run (p50 2.0 s, p99 2.7 s). Below capacity, at 1k events/s, p99 is {low:.0} ms (Kafka alone \
                 {kafka_low:.0} ms)."
            )
        } else {
            format!(
                "The host's capacity here ({capacity:.0} events/s, pipeline figure, with the machine to itself) is not above the offered rate once the \
                 broker and this bench's own producer and push-channel reader share the two cores (at 10k/s: the host one core, the broker half of \
                 one, the bench a third), so a backlog builds for the whole run (p50 {p50:.0} ms) and the figure measures the backlog, not the path. \
                 Kafka alone, a bare consumer reading the same events in the same run, has p99 {kafka_high:.0} ms at 10k/s on this loaded machine. \
                 Below capacity, at 1k events/s, p99 is {low:.0} ms (Kafka alone {kafka_low:.0} ms)."
            )
        };
        out.push(format!(
            "**Latency at 10k events/s (goal not met).** {why} \
             Found in an earlier round: the erratic tail at 1k events/s of the rounds before (p99 \
             0.3-1.3 s, p50 under 50 ms) was the freshly started broker's first seconds of traffic, not the host. A bare consumer beside the host saw \
             events up to 0.3 s late in the first three seconds and under 10 ms from then on (per-second maxima 299, 184, 208, 7, then 0 ms), and the \
             host's latencies followed it (485, 346, 265, 101, then 30-66 ms); a longer pause before the first send (12 s instead of 3) left it in place, so it \
             comes with the traffic, not the clock. The bench now sends 4 s at the first rate before measuring and gives that warm-up's p99 in its notes. \
             Fixed in an earlier round: librdkafka's default `fetch.wait.max.ms` (500 ms) against a broker that does not answer a fetch early when data \
             arrives put up to half a second on every event (p50 about 470 ms at 1k/s); the host sets 50 ms."
        ));
    }
    let missed: Vec<&Figure> = figures.iter().filter(|f| f.bench == "memory" && f.met == Some(false)).collect();
    if !missed.is_empty() {
        let cached = liveviewer::config::PipelineConfig::default().max_cached_profiles;
        let per = |n: &str| find(figures, "memory", &format!("resident memory per tracked viewer at {n} viewers")).map_or(f64::NAN, |f| f.value);
        let named: Vec<String> = missed.iter().map(|f| format!("{} = {:.0} bytes", f.name, f.value)).collect();
        out.push(format!(
            "**Memory (goal not met): {}** (at 1000000 viewers: {:.0} bytes). A host holds two things per viewer: in the live view (every \
             viewer of the fleet, served from memory with no store reads) a summary and the profile JSON; in the working set (up to \
             `pipeline.max_cached_profiles`, {cached}) the profile it merges into. Since the latest round a viewer idle for \
             `pipeline.pack_idle_after_ms` (1 s) is held compactly in both: its written profile as its stored encoding (952 bytes against 5.2 KB as \
             a tree, B-tree maps of owned names, for the fixture's play event), its JSON compressed with zstd and a rendered profile as the dictionary \
             (median 244 bytes against 1,328 on 5,166 simulated profiles; 602 without the dictionary). That took this figure from {prev} (the \
             round before, release builds) to {:.0} and {:.0}, although the figure now also counts each viewer's open media session in the \
             windowed metrics (see below). Measured apart (a debug build, 100k viewers through the same ingest, one run each, every viewer still \
             in one session): 6,854 bytes per viewer holding both as before, 4,341 with the working set packed, 3,597 with both, 2,511 with both \
             and the working set held to 1,000 profiles. The price is CPU: a viewer's event after an idle spell decodes its profile, and the \
             write after it packs it again; callgrind on a replay of 20k events in which every event found its profile packed counted 14.9k \
             instructions per event more (+3.7%). What is left at 100k viewers: the working set's {cached} entries (about 1.1 KB per viewer at \
             100k: the encoded profile, its key and entry, and the allocator's pages that the trees they were left partly used), the embedded \
             store's page cache (64 MiB: 670 bytes per viewer at 100k), the live view's entries (summary, key and packed JSON, about 0.7 KB), \
             each viewer's open media session in the windowed metrics, and the module's instance pool (up to 4 MiB kept resident per memory \
             slot); the fixed part weighs less as viewers grow. Found on the way: every viewer of this benchmark shared the fixture's media \
             session, so the windowed metrics held one session of a million events, and placing each event looked through all of them (two \
             thirds of the host's time at 830k viewers; ingest fell to 460 events/s): a session now holds at most 1,024 events, and each \
             simulated viewer has a session of its own.",
            named.join("; "),
            per("1000000"),
            per("100000"),
            per("1000000"),
            prev = "6,769 (100k viewers) and 2,418 bytes (1M)"
        ));
    }
    let lag = find(figures, "store", "changelog behind the events, p99, flush_interval 5 s");
    if let Some(l) = lag {
        let value = |name: &str| find(figures, "store", name).map_or(f64::NAN, |f| f.value);
        let p50 = value("changelog behind the events, p50, flush_interval 5 s");
        let host = value("of the lag, event to the host's send, p99, flush_interval 5 s");
        let delivery = value("of the lag, the host's send to the consumer, p99, flush_interval 5 s");
        let cold = value("changelog behind the events, first round (cold), p99, flush_interval 5 s");
        out.push(format!(
            "**Changelog lag ({}): p99 {:.0} ms at a 5 s flush interval** (p50 {p50:.0} ms; in the first round, when each viewer's profile is read from \
             the store first, p99 {cold:.0} ms). The changelog is published as each batch is merged, before and independently of the store's write-behind. Split at \
             the changelog record's create time, nearly all of the lag is before the host's send (p99 {host:.0} ms), little after it (broker and consumer, p99 \
             {delivery:.0} ms). How it got there, over two rounds. First, a batch read the profiles of viewers it had not seen yet from the store inside its \
             turn to merge, so every batch behind it waited for the store; new viewers arrive all the time (about 25 a second here) and nearly every batch had one: \
             p99 was 2.4-5.2 s. The read now happens before the turn, overlapping the merge of the batch before, with four batches in flight (p99 0.5-1.9 s). \
             Second, why moto took ~100 ms (up to 700 ms) to answer those reads: the write-behind kept 32 profile writes in flight, and moto serves one request \
             at a time, so each read queued behind them (per-batch timings: read p50 44 / p90 249 ms). The host now keeps as many writes in flight as the store \
             serves without its round trip growing (from one, up to `store.dynamodb.write_concurrency`; DynamoDB, which serves writes in parallel, gets the \
             maximum), and writes at most 1,000 profiles a round so that offsets are committed as rounds land: read p50 6 / p90 36 ms; changelog p99 158 and \
             201 ms in two runs before this one (p50 56-68 ms), on a machine whose own sender was up to 56 ms late in this run (p99).",
            if unmet(lag) { "goal not met" } else { "goal met" },
            l.value
        ));
    }
    if unmet(find(figures, "swap", "events lost")) || unmet(find(figures, "swap", "profiles differing")) {
        out.push("**Hot swap (goal not met): events were lost or applied twice.** This is a correctness failure; see the swap figures and the hot-swap tests.".into());
    }
    out
}
