//! The module's input parsing, seeded with Snowbridge JSON events (the same function as the
//! TSV target; the seeds steer it into the other form).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    liveviewer_profile::output::check_message(data, transform::transform(data));
});
