//! Modules made in the test suite: variants of the real plugin (a crate copied and edited,
//! built for wasm) and small hand-written ones in WebAssembly text, for each way a module can
//! misbehave.
use std::path::{Path, PathBuf};
use std::process::Command;

/// How a variant differs from plugin/.
pub struct Mutation {
    pub logic: Box<dyn Fn(String) -> String>,
    pub exports: Box<dyn Fn(String) -> String>,
    /// Cargo features of plugin/ to build with.
    pub features: Vec<&'static str>,
}

impl Mutation {
    pub fn logic(f: impl Fn(String) -> String + 'static) -> Self {
        Mutation { logic: Box::new(f), ..Mutation::none() }
    }

    pub fn exports(f: impl Fn(String) -> String + 'static) -> Self {
        Mutation { exports: Box::new(f), ..Mutation::none() }
    }

    /// The same logic; only the crate version (and so the bytes) differ.
    pub fn none() -> Self {
        Mutation { logic: Box::new(|s| s), exports: Box::new(|s| s), features: Vec::new() }
    }

    /// The same logic speaking ABI v1 (JSON output), as plugin/ builds with `abi-v1`.
    pub fn abi_v1() -> Self {
        Mutation { features: vec!["abi-v1"], ..Mutation::none() }
    }
}

fn root() -> PathBuf {
    crate::workload::repo_root()
}

/// A target directory shared by every variant, so their dependencies build once.
pub fn mutant_target() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target")).join("mutant-build")
}

/// Writes a copy of plugin/ as its own crate `name` under a scratch directory, edited.
pub fn mutant_crate(name: &str, m: &Mutation) -> PathBuf {
    crate_from(&root(), name, m)
}

/// The same from the plugin/ and wire/ of the source tree at `source`.
fn crate_from(source: &Path, name: &str, m: &Mutation) -> PathBuf {
    let scratch = tempfile::tempdir().unwrap().keep();
    let dir = scratch.join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    for entry in std::fs::read_dir(source.join("plugin/src")).unwrap() {
        let p = entry.unwrap().path();
        let file = p.file_name().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&p).unwrap();
        let text = match file.as_str() {
            "logic.rs" => (m.logic)(text),
            "exports.rs" => (m.exports)(text),
            _ => text,
        };
        std::fs::write(dir.join("src").join(&file), text).unwrap();
    }
    let manifest = standalone(&std::fs::read_to_string(source.join("plugin/Cargo.toml")).unwrap(), name)
        .replace("path = \"../wire\"", &format!("path = {:?}", source.join("wire").display().to_string()))
        + "\n[workspace]\n";
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::copy(source.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    dir
}

/// A member's manifest with what it takes from the workspace written out.
fn standalone(manifest: &str, name: &str) -> String {
    manifest
        .replace("rust-version.workspace = true", "")
        .replace("version.workspace = true", &format!("version = \"0.0.0-{name}\""))
        .replace("edition.workspace = true", "edition = \"2021\"")
        .replace("license.workspace = true", "")
        .replace("serde.workspace = true", "serde = { version = \"1\", features = [\"derive\"] }")
        .replace("serde_json.workspace = true", "serde_json = \"1\"")
        .replace("serde_json = { workspace = true, features = [\"raw_value\"] }", "serde_json = { version = \"1\", features = [\"raw_value\"] }")
}

/// Builds a variant of plugin/ and returns its wasm file.
pub fn build_mutant(name: &str, m: &Mutation) -> PathBuf {
    build_crate(name, mutant_crate(name, m), m)
}

/// The last commit whose plugin/ speaks ABI v1 only: the release before ABI v2.
pub const ABI_V1_RELEASE: &str = "1304e9162a7aa84a4b9acf67a788ed58c8dc4cb3";

/// Builds plugin/ as it was at `commit` (taken from the repository's history with `git
/// archive`), the way a module of that release was built.
pub fn build_released(name: &str, commit: &str) -> PathBuf {
    let source = tempfile::tempdir().unwrap().keep();
    let archive = Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["archive", "--format=tar", commit, "plugin", "wire", "Cargo.lock"])
        .output()
        .expect("running git");
    assert!(archive.status.success(), "git archive {commit}: {} (a clone with its history is needed)", String::from_utf8_lossy(&archive.stderr));
    let mut tar = Command::new("tar").arg("-x").arg("-C").arg(&source).stdin(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(tar.stdin.as_mut().unwrap(), &archive.stdout).unwrap();
    drop(tar.stdin.take());
    assert!(tar.wait().unwrap().success(), "unpacking {commit}");
    let wire = source.join("wire/Cargo.toml");
    let text = standalone(&std::fs::read_to_string(&wire).unwrap(), name) + "\n[workspace]\n";
    std::fs::write(&wire, text).unwrap();
    let m = Mutation::none();
    build_crate(name, crate_from(&source, name, &m), &m)
}

fn build_crate(name: &str, dir: PathBuf, m: &Mutation) -> PathBuf {
    let target = mutant_target();
    std::fs::create_dir_all(&target).unwrap();
    // Test binaries run at the same time share the target directory: one build-and-copy at a
    // time, so that no variant picks up another's freshly built file.
    let lock = std::fs::File::create(target.join(".variants.lock")).unwrap();
    unsafe {
        libc::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), libc::LOCK_EX);
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&dir)
        .args(["build", "--release", "--offline", "--target", "wasm32-unknown-unknown", "--target-dir"])
        .arg(&target)
        .args(if m.features.is_empty() { Vec::new() } else { vec!["--features".to_owned(), m.features.join(",")] })
        .env_remove("RUSTFLAGS")
        .status()
        .unwrap();
    assert!(status.success(), "building the {name} variant");
    // Each variant is its own package with the same library name: copy the file out before
    // the next build overwrites it.
    let built = target.join("wasm32-unknown-unknown/release/transform.wasm");
    let out = dir.join(format!("{name}.wasm"));
    std::fs::copy(built, &out).unwrap();
    drop(lock);
    out
}

/// The real plugin, faulting in a chosen way when an event contains a trigger word: it passes
/// the vectors (which contain no trigger) and misbehaves only on live events.
pub fn trigger_mutant() -> PathBuf {
    build_mutant(
        "triggers",
        &Mutation::exports(|s| {
            s.replace(
                "    crate::transform_batch(&batch)",
                r#"    let text = String::from_utf8_lossy(&batch);
    if text.contains("TRIGGER-LOOP") {
        let mut x = 0u64;
        loop {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    }
    if text.contains("TRIGGER-TRAP") {
        panic!("asked to trap");
    }
    if text.contains("TRIGGER-OOM") {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![7u8; 1 << 20]));
        }
    }
    if text.contains("TRIGGER-HUGE") {
        return Ok(vec![b' '; 8 << 20]);
    }
    if text.contains("TRIGGER-GARBAGE") {
        return Ok(b"this is not JSON".to_vec());
    }
    if text.contains("TRIGGER-COUNT") {
        // ABI v2: the format byte and no outcomes.
        return Ok(vec![2, 0]);
    }
    crate::transform_batch(&batch)"#,
            )
        }),
    )
}

/// A module in WebAssembly text that speaks the Extism kernel ABI by hand: `abi` answers
/// with `abi_version`; `transform_batch` runs `body` (which may use `$emit`, `$nothing`),
/// and the module imports `extra_imports` besides.
pub fn wat_module(abi_version: u32, body: &str, extra_imports: &str) -> Vec<u8> {
    let abi = format!(r#"{{"abi_version":{abi_version},"name":"wat","version":"0"}}"#);
    let text = format!(
        r#"(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  {extra_imports}
  (memory (export "memory") 1)
  (data (i32.const 0) "{abi_escaped}")
  (data (i32.const 1024) "this is not JSON")
  (data (i32.const 2048) "[]")
  (func $emit (param $ptr i32) (param $len i32)
    (local $off i64) (local $i i32)
    (local.set $off (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (call $store_u8
          (i64.add (local.get $off) (i64.extend_i32_u (local.get $i)))
          (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $output_set (local.get $off) (i64.extend_i32_u (local.get $len))))
  (func (export "abi") (result i32)
    (call $emit (i32.const 0) (i32.const {abi_len}))
    (i32.const 0))
  (func (export "transform_batch") (result i32)
    {body}
    (i32.const 0))
)"#,
        abi_escaped = abi.replace('"', "\\\""),
        abi_len = abi.len(),
    );
    wat::parse_str(&text).expect("valid WebAssembly text")
}

/// The misbehaviours, as bodies of `transform_batch`.
pub const LOOP: &str = "(loop $forever (br $forever))";
pub const TRAP: &str = "unreachable";
pub const MEMORY_BOMB: &str = "(loop $more (br_if $more (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))";
pub const HUGE_OUTPUT: &str = "(call $output_set (call $alloc (i64.const 8388608)) (i64.const 8388608))";
pub const NOT_JSON: &str = "(call $emit (i32.const 1024) (i32.const 16))";
pub const NO_RESULTS: &str = "(call $emit (i32.const 2048) (i32.const 2))";

/// The module of issue 13's report: both exports grow a table by `entries` (`table.grow`
/// returns -1 when the host refuses). `transform_batch` then traps if the table grew, and
/// answers `[]` (a wrong count) if it did not, so the fault's kind says which happened.
pub fn table_grower(entries: u32) -> Vec<u8> {
    let abi = r#"{"abi_version":1,"name":"tables","version":"0"}"#;
    let text = format!(
        r#"(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (data (i32.const 0) "{abi_escaped}")
  (data (i32.const 1024) "[]")
  (func $emit (param $ptr i32) (param $len i32)
    (local $off i64) (local $i i32)
    (local.set $off (call $alloc (i64.extend_i32_u (local.get $len))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (call $store_u8
          (i64.add (local.get $off) (i64.extend_i32_u (local.get $i)))
          (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $output_set (local.get $off) (i64.extend_i32_u (local.get $len))))
  (func (export "abi") (result i32)
    (drop (table.grow $t (ref.null func) (i32.const {entries})))
    (call $emit (i32.const 0) (i32.const {abi_len}))
    (i32.const 0))
  (func (export "transform_batch") (result i32)
    (if (i32.ne (table.grow $t (ref.null func) (i32.const {entries})) (i32.const -1))
      (then unreachable))
    (call $emit (i32.const 1024) (i32.const 2))
    (i32.const 0))
)"#,
        abi_escaped = abi.replace('"', "\\\""),
        abi_len = abi.len(),
    );
    wat::parse_str(&text).expect("valid WebAssembly text")
}

/// The real plugin with state kept between calls: it counts its calls and, from call
/// `after`, answers every event with a skip. Passing the test vectors takes fewer calls, so
/// it passes them on an instance that is reused, and misbehaves later.
pub fn stateful_mutant(after: u32) -> PathBuf {
    build_mutant(
        "stateful",
        &Mutation::exports(move |s| {
            s.replace(
                "    crate::transform_batch(&batch)",
                &format!(
                    r#"    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    if CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= {after} {{
        let n = liveviewer_wire::frames::decode(&batch).map(|m| m.len()).unwrap_or(0);
        let mut out = liveviewer_wire::v2::Encoder::new(crate::names::ids(), n);
        for _ in 0..n {{
            out.outcome(&liveviewer_wire::Outcome::Skip {{ reason: "changed my mind".into() }});
        }}
        return Ok(out.finish());
    }}
    crate::transform_batch(&batch)"#
                ),
            )
        }),
    )
}
