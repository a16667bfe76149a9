//! Test vectors: data files of events and what must come of them (outcomes, final profiles,
//! order independence). `liveviewer test-vectors`, `cargo test` and the hot-swap gate all run
//! them through [`runner`], on the wasm module or the native build.

pub mod case;
pub mod matcher;
pub mod runner;

pub use case::{Case, VectorSet};
pub use runner::{print_table, run_all, CaseReport};

include!(concat!(env!("OUT_DIR"), "/vectors.rs"));
