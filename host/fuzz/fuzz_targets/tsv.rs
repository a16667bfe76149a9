//! The module's input parsing, seeded with enriched TSV lines: any bytes give an outcome,
//! never a panic, and the outcome passes the host's checks on module output.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    liveviewer_profile::output::check_message(data, transform::transform(data));
});
