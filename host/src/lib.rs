//! liveviewer: live viewer profiles from Snowplow media events, with the profile logic as a
//! hot-swappable WebAssembly module.
//!
//! How an event flows: a source yields raw messages -> [`module`] runs them through
//! `transform.wasm` (a pure function, one call per batch) -> each outcome is applied to the
//! viewer's [`profile`] (a CRDT, so order and repeats do not matter) -> a store keeps it.
//!
//! - [`module`]: loading, checking and running the wasm module (and the same logic natively).
//! - [`profile`]: the profile state, its merge, and the v1 JSON.
//! - [`vectors`]: the test vectors and their runner.

pub mod commands;
pub mod module;
pub mod profile;
pub mod vectors;
