//! The host's decoder of ABI v2 output: any bytes are refused or decoded; what is decoded
//! encodes back to the same outcomes, and merges into profiles that render within the
//! profile's bounds. Names are read with the built-in module's table.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    liveviewer_profile::output::check_output_v2(data, transform::names::names());
});
