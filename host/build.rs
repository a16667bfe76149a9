//! Builds `transform.wasm` from `plugin/` and embeds it, with the test vectors, in the host:
//! the binary always carries the module and vectors of its own source tree, so `liveviewer
//! demo` needs no file, and a stale module cannot be picked up by mistake.
//!
//! Set `LIVEVIEWER_WASM=path` to embed a module built elsewhere (e.g. a Docker build stage).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().to_path_buf();
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());

    println!("cargo:rerun-if-env-changed=LIVEVIEWER_WASM");
    let wasm = match env::var_os("LIVEVIEWER_WASM") {
        Some(path) => {
            println!("cargo:rerun-if-changed={}", Path::new(&path).display());
            PathBuf::from(path)
        }
        None => build_plugin(&root),
    };
    fs::copy(&wasm, out.join("transform.wasm"))
        .unwrap_or_else(|e| panic!("copying {} into the build: {e}", wasm.display()));

    embed_vectors(&root.join("test-vectors"), &out.join("vectors.rs"));
    embed_dashboard(&root.join("dashboard"), &out.join("dashboard.rs"));
}

/// Generates `static DASHBOARD_FILES: &[(&str, &[u8])]`: the page's top-level static files
/// (not its tests or node_modules).
fn embed_dashboard(dir: &Path, dest: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<(String, PathBuf)> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("html" | "js" | "css" | "svg" | "png" | "ico")))
                .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut code = String::from("pub static DASHBOARD_FILES: &[(&str, &[u8])] = &[\n");
    for (name, path) in files {
        code.push_str(&format!("    ({name:?}, include_bytes!({:?})),\n", path.display().to_string()));
    }
    code.push_str("];\n");
    fs::write(dest, code).unwrap();
}

fn build_plugin(root: &Path) -> PathBuf {
    for watched in ["plugin/src", "plugin/Cargo.toml", "wire/src", "wire/Cargo.toml", "Cargo.lock", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_root = env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    // A target directory of its own: the outer cargo holds the lock on the main one.
    let target_dir = target_root.join("wasm-build");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "-p", "viewer-profile", "--lib", "--target", "wasm32-unknown-unknown", "--profile", "wasm"])
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags (sanitizers, coverage, a native --target) are not for the module.
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "CARGO_BUILD_RUSTFLAGS"] {
        cmd.env_remove(var);
    }
    for (key, _) in env::vars_os() {
        if let Some(k) = key.to_str() {
            if k.starts_with("CARGO_PROFILE_") || k.starts_with("CARGO_CFG_") || k.starts_with("CARGO_FEATURE_") {
                cmd.env_remove(k);
            }
        }
    }
    let status = cmd.status().expect("running cargo for the wasm module");
    if !status.success() {
        panic!(
            "building plugin/ for wasm32-unknown-unknown failed (is the target installed? \
             `rustup target add wasm32-unknown-unknown`)"
        );
    }
    let wasm = target_dir.join("wasm32-unknown-unknown/wasm/transform.wasm");
    // Where people look for it: target/transform.wasm.
    let _ = fs::copy(&wasm, target_root.join("transform.wasm"));
    wasm
}

/// Generates `static VECTOR_FILES: &[(&str, &str)]`: the cases and the fixtures they read
/// (not the bad-input corpus, which is for the pipeline tests).
fn embed_vectors(dir: &Path, dest: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    collect(dir, &dir.join("cases"), &mut files);
    collect(dir, &dir.join("fixtures"), &mut files);
    files.sort();
    let mut code = String::from("pub static VECTOR_FILES: &[(&str, &str)] = &[\n");
    for (rel, abs) in files {
        code.push_str(&format!("    ({rel:?}, include_str!({:?})),\n", abs.display().to_string()));
    }
    code.push_str("];\n");
    fs::write(dest, code).unwrap();
}

fn collect(base: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(base, &path, files);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("json" | "tsv" | "jsonl")) {
            let rel = path.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/");
            files.push((rel, path));
        }
    }
}
