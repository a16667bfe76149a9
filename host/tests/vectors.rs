//! The test vectors through the real compiled module (ABI v2, the pipeline's own runtime) and
//! through the native build: every case passes on both, and both give the same outcome for
//! every event. ABI v1 modules pass them too. A module built from a deliberately broken plugin
//! fails them.

use liveviewer::module::{Format, Limits, Module, NativeTransform, Transform, BUILTIN_WASM};
use liveviewer::vectors::{run_all, VectorSet};
use std::path::Path;
use std::process::Command;

use liveviewer_testkit::modules::{build_mutant, Mutation};

#[test]
fn every_vector_passes_through_the_wasm_module_and_natively_with_the_same_outcomes() {
    let cases = VectorSet::embedded().cases().unwrap();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let module = Module::load(BUILTIN_WASM, &Limits::default()).unwrap();
    let mut wasm = module.instance().unwrap();
    let mut native = NativeTransform::new();
    for (name, t) in [("wasm", &mut wasm as &mut dyn Transform), ("native", &mut native)] {
        let failed: Vec<String> =
            run_all(&cases, t).into_iter().filter(|r| !r.passed()).map(|r| format!("{}: {:?}", r.name, r.failures)).collect();
        assert!(failed.is_empty(), "{name}: {failed:#?}");
    }
    for case in &cases {
        let msgs: Vec<&[u8]> = case.messages.iter().map(Vec::as_slice).collect();
        assert_eq!(wasm.transform_batch(&msgs).unwrap(), native.transform_batch(&msgs).unwrap(), "{}", case.name);
    }
}

/// The wasm build has code of its own (SIMD scans, its allocator): on every input the fuzzers
/// keep (thousands of odd messages) and on the real session, it says what the native build says.
#[test]
fn wasm_and_native_agree_on_the_fuzzers_corpora() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut messages: Vec<Vec<u8>> = Vec::new();
    for dir in ["fuzz/corpus/tsv", "fuzz/corpus/json"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            messages.push(std::fs::read(entry.unwrap().path()).unwrap());
        }
    }
    let fixture = std::fs::read_to_string(root.join("../test-vectors/fixtures/snowplow-micro-media.tsv")).unwrap();
    messages.extend(fixture.lines().map(|l| l.as_bytes().to_vec()));
    assert!(messages.len() > 1000, "{} messages", messages.len());
    let module = Module::load(BUILTIN_WASM, &Limits::default()).unwrap();
    let mut wasm = module.instance().unwrap();
    let mut native = NativeTransform::new();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    for chunk in refs.chunks(64) {
        assert_eq!(wasm.transform_batch(chunk).unwrap(), native.transform_batch(chunk).unwrap());
    }
}

/// A host speaks ABI v1 as well: the module of the release before ABI v2 (as it shipped:
/// tests/modules/README.md), and today's logic built with `abi-v1`, each load as v1, pass every
/// vector and give the native build's outcomes.
#[test]
fn v1_modules_load_pass_the_vectors_and_run() {
    let cases = VectorSet::embedded().cases().unwrap();
    let released = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modules/abi-v1-release.wasm");
    for wasm in [released, build_mutant("abi-v1", &Mutation::abi_v1())] {
        let module = Module::load(&std::fs::read(&wasm).unwrap(), &Limits::default()).unwrap();
        assert_eq!((module.abi().abi_version, module.format()), (1, &Format::V1), "{}", wasm.display());
        let mut v1 = module.instance().unwrap();
        let failed: Vec<String> = run_all(&cases, &mut v1).into_iter().filter(|r| !r.passed()).map(|r| format!("{}: {:?}", r.name, r.failures)).collect();
        assert!(failed.is_empty(), "{}: {failed:#?}", wasm.display());
        let mut native = NativeTransform::new();
        for case in &cases {
            let msgs: Vec<&[u8]> = case.messages.iter().map(Vec::as_slice).collect();
            assert_eq!(v1.transform_batch(&msgs).unwrap(), native.transform_batch(&msgs).unwrap(), "{}", case.name);
        }
    }
}

#[test]
fn the_directory_and_the_embedded_copy_are_the_same_vectors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors");
    let on_disk: Vec<String> = VectorSet::from_dir(&dir).unwrap().cases().unwrap().into_iter().map(|c| c.name).collect();
    let embedded: Vec<String> = VectorSet::embedded().cases().unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(on_disk, embedded);
}

#[test]
fn a_module_built_from_a_broken_plugin_fails_the_vectors() {
    // The mistake a tired author makes: a paused player reported as watching.
    let wasm = build_mutant(
        "paused-as-watching",
        &Mutation::logic(|l| l.replace("} else if player.paused {\n            PAUSED_VIDEO", "} else if player.paused {\n            WATCHING_VIDEO")),
    );
    let out = Command::new(env!("CARGO_BIN_EXE_liveviewer")).args(["test-vectors", "--module"]).arg(&wasm).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "the runner fails: {table}");
    assert!(table.contains("005-event-pause") && table.contains("FAIL"), "{table}");
    assert!(table.contains("expected \"PAUSED_VIDEO\", got \"WATCHING_VIDEO\""), "a readable diff: {table}");
    // And the same binary passes the module as built.
    let ok = Command::new(env!("CARGO_BIN_EXE_liveviewer")).arg("test-vectors").output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
}
