//! Misbehaving modules: each is refused at swap time with the step that failed, or contained
//! at run time (the batch retried event by event, only the guilty events dead-lettered with
//! the fault as reason), while events keep flowing. A module faulting too often is marked
//! unhealthy and, just swapped in, rolled back.


use liveviewer::lifecycle::candidate;
use liveviewer::module::{CheckStep, Limits, Module, Transform};
use liveviewer::vectors::VectorSet;
use serde_json::Value;
use std::time::{Duration, Instant};
use liveviewer_testkit::modules::*;
use liveviewer_testkit::*;

/// A small budget keeps runaway modules cheap in tests; 64 events a call fit in it easily.
fn limits() -> Limits {
    Limits { fuel_per_call: 50_000_000, max_batch: 64, ..Limits::default() }
}

const WASI: &str = r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#;
const HOST_FN: &str = r#"(import "env" "now" (func (result i64)))"#;

#[test]
fn runtime_faults_are_classified_event_by_event() {
    for (body, kind) in [
        (LOOP, "out_of_fuel"),
        (TRAP, "trap"),
        (MEMORY_BOMB, "out_of_memory"),
        (HUGE_OUTPUT, "output_too_large"),
        (NOT_JSON, "malformed_output"),
        (NO_RESULTS, "wrong_count"),
    ] {
        let module = Module::load(&wat_module(1, body, ""), &limits()).unwrap();
        let mut instance = module.instance().unwrap();
        let results = instance.transform_contained(&[b"one", b"two", b"three"]);
        assert_eq!(results.len(), 3, "{kind}: one result per event");
        for r in results {
            assert_eq!(r.unwrap_err().kind(), kind, "{body}");
        }
        // The instance recovers: it can be called again.
        assert_eq!(instance.transform_contained(&[b"four"]).len(), 1);
    }
}

#[test]
fn candidates_are_refused_at_the_step_that_fails() {
    let vectors = VectorSet::embedded();
    let no_abi = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "transform_batch") (result i32) (i32.const 0)))"#).unwrap();
    let cases: Vec<(CheckStep, Vec<u8>, &str)> = vec![
        (CheckStep::Size, vec![0u8; 17 << 20], "more than the limit"),
        (CheckStep::Compile, b"this is not a wasm module".to_vec(), "not a valid wasm module"),
        // Proposals past WebAssembly 2.0 allocate outside the caps: two memories, 64-bit ones.
        (CheckStep::Compile, wat::parse_str("(module (memory 1) (memory 1))").unwrap(), "WebAssembly 2.0"),
        (CheckStep::Compile, wat::parse_str("(module (memory i64 1))").unwrap(), "WebAssembly 2.0"),
        (CheckStep::Imports, wat_module(1, NOT_JSON, WASI), "wasi_snapshot_preview1::fd_write"),
        (CheckStep::Imports, wat_module(1, NOT_JSON, HOST_FN), "env::now"),
        (CheckStep::Abi, no_abi, "has no `abi` export"),
        (CheckStep::Abi, wat_module(3, NOT_JSON, ""), "module speaks ABI version 3; this host speaks versions 1 and 2"),
        (CheckStep::Vectors, wat_module(1, LOOP, ""), "ran out of fuel"),
        (CheckStep::Vectors, wat_module(1, TRAP, ""), "trapped"),
        (CheckStep::Vectors, wat_module(1, MEMORY_BOMB, ""), "memory cap"),
        (CheckStep::Vectors, wat_module(1, HUGE_OUTPUT, ""), "output too large"),
        (CheckStep::Vectors, wat_module(1, NOT_JSON, ""), "output malformed"),
        (CheckStep::Vectors, wat_module(1, NO_RESULTS, ""), "returned 0 results for"),
    ];
    for (step, bytes, reason) in cases {
        let started = Instant::now();
        let refusal = candidate::check(&bytes, &limits(), &vectors, "test").err().unwrap_or_else(|| panic!("{step}: accepted"));
        assert_eq!(refusal.step, step, "{reason}: {}", refusal.reason);
        assert!(refusal.reason.contains(reason), "{step}: {}", refusal.reason);
        assert!(started.elapsed() < Duration::from_secs(20), "{step}: refused in {:?}", started.elapsed());
    }
    // A plugin whose logic is wrong compiles and speaks the ABI, and still fails the vectors.
    let wrong = build_mutant(
        "paused-as-watching",
        &Mutation::logic(|l| l.replace("} else if player.paused {\n            PAUSED_VIDEO", "} else if player.paused {\n            WATCHING_VIDEO")),
    );
    let refusal = candidate::check(&std::fs::read(wrong).unwrap(), &limits(), &vectors, "test").err().expect("refused");
    assert_eq!(refusal.step, CheckStep::Vectors);
    assert!(refusal.reason.contains("005-event-pause") && refusal.reason.contains("PAUSED_VIDEO"), "{}", refusal.reason);
}

/// Issue 13, item 2: tables were outside the memory cap; a module growing one by 64 M entries
/// took the host's memory up by half a gigabyte, for good.
#[test]
fn a_module_cannot_grow_its_tables_past_the_cap() {
    let bomb = table_grower(64 << 20);
    let module = Module::load(&bomb, &limits()).expect("loads: the grown table is refused, not the module");
    let mut instance = module.instance().unwrap();
    let fault = instance.transform_contained(&[b"one"]).pop().unwrap().unwrap_err();
    assert_eq!(fault.kind(), "wrong_count", "table.grow by 64 M entries must fail (a trap means it grew): {fault}");

    // From outside: the host's resident memory, before and after three such candidates.
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(
        &["demo", "--listen", "127.0.0.1:0", "--viewers", "0", "--data-dir", dir.path().to_str().unwrap()],
        &[("LIVEVIEWER_ADMIN_TOKEN", TOKEN)],
    );
    admin(&host, "GET", "/admin/module", vec![], TOKEN);
    let before = host.proc.rss_bytes();
    for _ in 0..3 {
        let (code, answer) = admin(&host, "PUT", "/admin/module", bomb.clone(), TOKEN);
        assert_eq!((code, answer["step"].as_str()), (422, Some("vectors")), "{answer}");
    }
    let after = host.proc.rss_bytes();
    eprintln!("resident memory before the candidates {} MiB, after {} MiB", before >> 20, after >> 20);
    assert!(after < before + (64 << 20), "resident memory went from {} MiB to {} MiB", before >> 20, after >> 20);
}

/// What a module holds is counted across its instances: each has the caps above, and there
/// are at most `max_instances` of them at once.
#[test]
fn a_module_has_at_most_max_instances_at_once() {
    let module = Module::load(&wat_module(1, NO_RESULTS, ""), &Limits { max_instances: 2, ..limits() }).unwrap();
    let (one, two) = (module.instance().unwrap(), module.instance().unwrap());
    let third = module.instance().err().expect("a third instance is refused");
    assert_eq!(third.kind(), "error", "{third}");
    drop((one, two));
    module.instance().expect("an instance again once the others are gone");
}

/// Issue 13, item 8: instances were reused from call to call, so a module could keep state,
/// pass the vectors, and answer differently later. Each batch now gets a fresh instance.
#[test]
fn a_module_keeps_no_state_from_one_batch_to_the_next() {
    let wasm = std::fs::read(stateful_mutant(300)).unwrap();
    let deployed = candidate::check(&wasm, &limits(), &VectorSet::embedded(), "test").expect("it passes the vectors");
    let mut instance = deployed.module.instance().unwrap();
    let mut native = liveviewer::module::NativeTransform::new();
    let lines = sim_lines(400, 8);
    for (i, line) in lines.iter().enumerate() {
        let event = [line.as_bytes()];
        let got = instance.transform_batch(&event).unwrap();
        assert_eq!(got, native.transform_batch(&event).unwrap(), "batch {i} after the vectors");
    }
}

fn sim_lines(n: usize, seed: u64) -> Vec<String> {
    let text = cli(&["simulate", "--viewers", "20", "--events", &n.to_string(), "--seed", &seed.to_string()], &[]);
    text.lines().map(str::to_owned).collect()
}

/// A simulated event carrying a trigger word in its page title (field 31).
fn with_trigger(line: &str, trigger: &str) -> String {
    let mut f: Vec<&str> = line.split('\t').collect();
    f[30] = trigger;
    f.join("\t")
}

fn ingest(host: &Host, lines: &[String]) -> Value {
    let body = serde_json::to_vec(lines).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new().post(format!("{}ingest/snowbridge", host.url)).body(body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    })
}

const TOKEN: &str = "admin-token-for-tests-0123";

/// Announces a 17 MiB module and sends only its first bytes: the host must refuse it from the
/// head. (Sending it whole races the refusal: the host answers and closes while the client
/// still writes, and the client sees a broken pipe instead of the answer.)
fn announce_oversized_module(host: &Host) -> String {
    use std::io::{BufRead, BufReader, Write};
    let addr = host.url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "PUT /admin/module HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n", 17 << 20).unwrap();
    s.write_all(&[0u8; 4096]).unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line.trim_end().to_owned()
}

#[test]
fn a_running_host_refuses_bad_modules_contains_faulty_ones_and_rolls_back_an_unhealthy_one() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(
        &["demo", "--listen", "127.0.0.1:0", "--viewers", "0", "--data-dir", dir.path().to_str().unwrap()],
        &[
            ("LIVEVIEWER_ADMIN_TOKEN", TOKEN),
            ("LIVEVIEWER__MODULE__LIMITS__FUEL_PER_CALL", "50000000"),
            ("LIVEVIEWER__MODULE__LIMITS__MAX_BATCH", "64"),
        ],
    );
    let (_, status) = admin(&host, "GET", "/admin/module", vec![], TOKEN);
    let builtin = status["active"]["version"].as_str().unwrap().to_owned();
    assert_eq!(admin(&host, "GET", "/admin/module", vec![], "wrong-token-0123456789").0, 401);
    let lines = sim_lines(600, 3);

    // Refused at swap time, each with its step; events flow in between.
    for (bytes, step) in [
        (wat_module(1, NOT_JSON, WASI), "imports"),
        (wat_module(3, NOT_JSON, ""), "abi"),
        (wat_module(1, LOOP, ""), "vectors"),
        (b"garbage".to_vec(), "compile"),
    ] {
        let (code, answer) = admin(&host, "PUT", "/admin/module", bytes, TOKEN);
        assert_eq!(code, 422, "{answer}");
        assert_eq!(answer["accepted"], false);
        assert_eq!(answer["step"], step, "{answer}");
        let (_, status) = admin(&host, "GET", "/admin/module", vec![], TOKEN);
        assert_eq!(status["last_refused"]["step"], step);
        assert_eq!(status["active"]["version"], builtin.as_str(), "the active module runs on");
        assert_eq!(ingest(&host, &lines[..10])["accepted"], 10);
    }
    assert_eq!(announce_oversized_module(&host), "HTTP/1.1 413 Payload Too Large");

    // A module that passes the vectors but faults on some live events: only those are
    // dead-lettered, with the fault as reason.
    let mutant = std::fs::read(trigger_mutant()).unwrap();
    let (code, answer) = admin(&host, "PUT", "/admin/module", mutant, TOKEN);
    assert_eq!(code, 200, "{answer}");
    let triggers = ["TRIGGER-LOOP", "TRIGGER-TRAP", "TRIGGER-OOM", "TRIGGER-HUGE", "TRIGGER-GARBAGE", "TRIGGER-COUNT"];
    let mut batch: Vec<String> = lines[40..240].to_vec();
    for (i, t) in triggers.iter().enumerate() {
        batch.insert(i * 30, with_trigger(&lines[300 + i], t));
    }
    let answer = ingest(&host, &batch);
    assert_eq!(answer["accepted"], 206);
    assert_eq!(answer["dead_lettered"], 6, "{answer}");
    let letters: Vec<Value> = std::fs::read_to_string(dir.path().join("dead-letters.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &Value| l["kind"] == "module_fault")
        .collect();
    let reasons: Vec<&str> = letters.iter().map(|l| l["reason"].as_str().unwrap()).collect();
    for expected in ["out of fuel", "trapped", "memory cap", "output too large", "output malformed", "0 results for 1"] {
        assert!(reasons.iter().any(|r| r.contains(expected)), "{expected} in {reasons:?}");
    }
    assert!(letters.iter().all(|l| l["payload"].as_str().unwrap().contains("TRIGGER-")), "only the guilty events");
    let (_, status) = admin(&host, "GET", "/admin/module", vec![], TOKEN);
    assert_eq!(status["active"]["errors"], 6);
    assert_eq!(status["active"]["healthy"], true, "{status}");
    assert_ne!(status["active"]["version"], builtin.as_str());

    // Faulting on too many events: unhealthy, and rolled back because it was just swapped in.
    let bad: Vec<String> = lines[400..430].iter().map(|l| with_trigger(l, "TRIGGER-TRAP")).collect();
    ingest(&host, &bad);
    let (_, status) = admin(&host, "GET", "/admin/module", vec![], TOKEN);
    assert_eq!(status["active"]["version"], builtin.as_str(), "rolled back: {status}");
    assert_eq!(status["previous"]["healthy"], false);
    assert!(host.metric("liveviewer_module_rollbacks_total") >= 1.0);
    // And events flow on the built-in module again.
    assert_eq!(ingest(&host, &lines[430..450])["dead_lettered"], 0);
    // The events' profiles say which module wrote them.
    let viewers = host.get("/api/viewers?all=true&limit=1000");
    assert!(viewers["viewers"].as_array().unwrap().iter().all(|p| p["module_version"].as_str().unwrap().starts_with("sha256:")));
}
