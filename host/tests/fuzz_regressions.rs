//! The fuzzers' corpora and the inputs that once crashed them, run as ordinary tests with the
//! fuzz targets' own properties (`scripts/fuzz.sh` runs the fuzzers themselves).

use liveviewer_profile::output::{decode, Format};
use liveviewer_wire::v2::NameTable;
use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut out = Vec::new();
    for dir in [base.join("corpus").join(target), base.join("regressions").join(target)] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_file() {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn module_input_corpora() {
    let mut n = 0;
    for target in ["tsv", "json"] {
        for (path, data) in inputs(target) {
            let outcome = transform::transform(&data);
            let result = std::panic::catch_unwind(|| liveviewer_profile::output::check_message(&data, outcome));
            assert!(result.is_ok(), "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 100, "the corpora are committed ({n} inputs)");
}

#[test]
fn frames_corpus() {
    let inputs = inputs("frames");
    assert!(!inputs.is_empty());
    let format = Format::V2(NameTable::new(transform::names::names().iter().map(|n| n.to_string()).collect()).unwrap());
    for (path, data) in inputs {
        if let Ok(out) = transform::transform_batch(&data) {
            let n = liveviewer_wire::frames::decode(&data).unwrap().len();
            assert!(decode(&format, &out, n, &Default::default()).is_ok(), "{}", path.display());
        }
    }
}

#[test]
fn module_output_corpus() {
    let inputs = inputs("module_output");
    assert!(!inputs.is_empty());
    for (path, data) in inputs {
        let result = std::panic::catch_unwind(|| liveviewer_profile::output::check_output(&data));
        assert!(result.is_ok(), "{}", path.display());
    }
}

#[test]
fn module_output_v2_corpus() {
    let inputs = inputs("module_output_v2");
    assert!(!inputs.is_empty());
    for (path, data) in inputs {
        let result = std::panic::catch_unwind(|| liveviewer_profile::output::check_output_v2(&data, transform::names::names()));
        assert!(result.is_ok(), "{}", path.display());
    }
}
