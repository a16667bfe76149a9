//! The host's handling of module output: any bytes are refused or decoded, and what is
//! decoded merges into profiles and renders within the profile's bounds.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    liveviewer_profile::output::check_output(data);
});
