//! The viewer profile: the CRDT the deltas merge into and its v1 JSON, from the
//! `liveviewer-profile` crate (pure code, kept apart so the fuzzers build it alone).
//! `render` names both the module and its function.

pub use liveviewer_profile::render::ProfileV1;
pub use liveviewer_profile::{key, output, render, state, Bounds, Clock, ProfileState, RenderContext};
