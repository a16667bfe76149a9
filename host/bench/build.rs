//! Builds the built-in logic a second time, speaking ABI v1 (plugin/ with the `abi-v1`
//! feature, the same profile as the host's built-in module), so that the transform benchmark
//! compares v1 with v2 on the same logic in the same run.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
    for watched in ["plugin/src", "plugin/Cargo.toml", "wire/src", "wire/Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    let target_root = env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
    // Its own target directory: the outer cargo holds the main one's lock, and the feature
    // would otherwise rebuild the host's copy back and forth.
    let target_dir = target_root.join("wasm-build-v1");
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&root)
        .args(["build", "-p", "viewer-profile", "--lib", "--target", "wasm32-unknown-unknown", "--profile", "wasm", "--features", "abi-v1"])
        .arg("--target-dir")
        .arg(&target_dir);
    for (key, _) in env::vars_os() {
        if let Some(k) = key.to_str() {
            let outer = ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "CARGO_BUILD_RUSTFLAGS"];
            if outer.contains(&k) || k.starts_with("CARGO_PROFILE_") || k.starts_with("CARGO_CFG_") || k.starts_with("CARGO_FEATURE_") {
                cmd.env_remove(k);
            }
        }
    }
    assert!(cmd.status().expect("running cargo for the v1 module").success(), "building plugin/ with abi-v1 for wasm");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("transform-v1.wasm");
    fs::copy(target_dir.join("wasm32-unknown-unknown/wasm/transform.wasm"), out).unwrap();
}
