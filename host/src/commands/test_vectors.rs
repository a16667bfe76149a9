//! `liveviewer test-vectors [--module PATH] [--native] [DIR]`

use crate::module::{Limits, Module, NativeTransform, Transform, BUILTIN_WASM};
use crate::vectors::{print_table, run_all, VectorSet};
use anyhow::Context;
use std::path::PathBuf;

pub struct Args {
    /// A wasm module file; the module built into this binary when absent.
    pub module: Option<PathBuf>,
    /// Run the native build of the built-in logic instead of a wasm module.
    pub native: bool,
    /// A vector directory; the vectors built into this binary when absent.
    pub dir: Option<PathBuf>,
}

/// Runs every case and prints the table; `Ok(false)` when any case failed.
pub fn run(args: Args) -> anyhow::Result<bool> {
    let set = match &args.dir {
        Some(dir) => VectorSet::from_dir(dir).map_err(anyhow::Error::msg)?,
        None => VectorSet::embedded(),
    };
    let cases = set.cases().map_err(anyhow::Error::msg)?;
    let mut transform: Box<dyn Transform> = if args.native {
        Box::new(NativeTransform::new())
    } else {
        let (bytes, origin) = match &args.module {
            Some(p) => (std::fs::read(p).with_context(|| format!("reading {}", p.display()))?, p.display().to_string()),
            None => (BUILTIN_WASM.to_vec(), "built into this binary".to_string()),
        };
        let module = Module::load(&bytes, &Limits::default())
            .map_err(|e| anyhow::anyhow!("module refused at step `{}`: {e}", e.step()))?;
        println!(
            "module:  {} ({} {}, ABI {}; {origin})",
            module.version(),
            module.abi().name,
            module.abi().version,
            module.abi().abi_version
        );
        Box::new(module.instance().map_err(|e| anyhow::anyhow!("{e}"))?)
    };
    if args.native {
        println!("module:  {} (native build)", transform.version());
    }
    println!("vectors: {} ({} cases)\n", set.origin, cases.len());
    let reports = run_all(&cases, transform.as_mut());
    print_table(&reports, &mut std::io::stdout().lock())?;
    Ok(reports.iter().all(|r| r.passed()))
}
