//! The module's batch framing: any bytes give a batch of outcomes or a frame error.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(out) = transform::transform_batch(data) {
        let n = liveviewer_wire::frames::decode(data).expect("the module decoded it").len();
        let outcomes = liveviewer_profile::output::decode(&out, n, &Default::default());
        assert!(outcomes.is_ok(), "the module's own output fails the host's checks: {outcomes:?}");
    }
});
