//! The test vectors through the real compiled module (the pipeline's own runtime) and through
//! the native build: every case passes on both, and both give the same outcome for every
//! event. A module built from a deliberately broken plugin fails them.

use liveviewer::module::{Limits, Module, NativeTransform, Transform, BUILTIN_WASM};
use liveviewer::vectors::{run_all, VectorSet};
use std::path::{Path, PathBuf};
use std::process::Command;

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

#[test]
fn the_directory_and_the_embedded_copy_are_the_same_vectors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors");
    let on_disk: Vec<String> = VectorSet::from_dir(&dir).unwrap().cases().unwrap().into_iter().map(|c| c.name).collect();
    let embedded: Vec<String> = VectorSet::embedded().cases().unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(on_disk, embedded);
}

/// Copies plugin/ to a scratch crate, applies `edit` to its logic, builds it for wasm.
fn build_mutant(edit: impl Fn(String) -> String) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let scratch = tempfile::tempdir().unwrap().keep();
    let crate_dir = scratch.join("mutant");
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    for entry in std::fs::read_dir(root.join("plugin/src")).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, crate_dir.join("src").join(p.file_name().unwrap())).unwrap();
    }
    let logic = crate_dir.join("src/logic.rs");
    let text = std::fs::read_to_string(&logic).unwrap();
    let mutated = edit(text.clone());
    assert_ne!(text, mutated, "the mutation must change the logic");
    std::fs::write(&logic, mutated).unwrap();
    let manifest = std::fs::read_to_string(root.join("plugin/Cargo.toml"))
        .unwrap()
        .replace("rust-version.workspace = true", "")
        .replace("version.workspace = true", "version = \"0.0.0-mutant\"")
        .replace("edition.workspace = true", "edition = \"2021\"")
        .replace("license.workspace = true", "")
        .replace("serde.workspace = true", "serde = { version = \"1\", features = [\"derive\"] }")
        .replace("serde_json = { workspace = true, features = [\"raw_value\"] }", "serde_json = { version = \"1\", features = [\"raw_value\"] }")
        .replace("path = \"../wire\"", &format!("path = {:?}", root.join("wire").display().to_string()))
        + "\n[workspace]\n";
    std::fs::write(crate_dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(root.join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target")).join("mutant-build");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&crate_dir)
        .args(["build", "--release", "--offline", "--target", "wasm32-unknown-unknown", "--target-dir"])
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .status()
        .unwrap();
    assert!(status.success(), "building the mutant plugin");
    target.join("wasm32-unknown-unknown/release/transform.wasm")
}

#[test]
fn a_module_built_from_a_broken_plugin_fails_the_vectors() {
    // The mistake a tired author makes: a paused player reported as watching.
    let wasm = build_mutant(|logic| logic.replace("} else if player.paused {\n            PAUSED_VIDEO", "} else if player.paused {\n            WATCHING_VIDEO"));
    let out = Command::new(env!("CARGO_BIN_EXE_liveviewer")).args(["test-vectors", "--module"]).arg(&wasm).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "the runner fails: {table}");
    assert!(table.contains("005-event-pause") && table.contains("FAIL"), "{table}");
    assert!(table.contains("expected \"PAUSED_VIDEO\", got \"WATCHING_VIDEO\""), "a readable diff: {table}");
    // And the same binary passes the module as built.
    let ok = Command::new(env!("CARGO_BIN_EXE_liveviewer")).arg("test-vectors").output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stdout));
}
