//! The module's batch framing: any bytes give a batch of outcomes or a frame error, and the
//! module's own (ABI v2) output passes the host's checks.
#![no_main]
use liveviewer_profile::output::{decode, Format};
use liveviewer_wire::v2::NameTable;
use std::sync::OnceLock;

fn format() -> &'static Format {
    static FORMAT: OnceLock<Format> = OnceLock::new();
    FORMAT.get_or_init(|| Format::V2(NameTable::new(transform::names::names().iter().map(|n| n.to_string()).collect()).unwrap()))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(out) = transform::transform_batch(data) {
        let n = liveviewer_wire::frames::decode(data).expect("the module decoded it").len();
        let outcomes = decode(format(), &out, n, &Default::default());
        assert!(outcomes.is_ok(), "the module's own output fails the host's checks: {outcomes:?}");
    }
});
