//! The viewer profile as the host keeps it.
//!
//! - [`state`]: the stored form, a state-based CRDT that the module's deltas merge into.
//! - [`bounds`]: how far one profile may grow.
//! - [`window`]: a state field's latest events, its value and since when it holds.
//! - [`key`]: the compact event key it orders by.
//! - [`cells`]: attributes, maxima and counters, bounded by name.
//! - [`counter`]: the additive counter, bounded by event time.
//! - [`mod@render`]: the v1 JSON the API, the dashboard and `profiles` speak.
//! - [`json`]: the same JSON written straight from the state, for the hot path.
//! - [`media`]: the members of the `media` object the live view reads, picked from its text.
//! - [`output`]: reading and checking a module's output before any of it is merged.

pub mod bounds;
pub mod cells;
pub mod counter;
pub mod json;
pub mod key;
pub mod media;
mod stored;
pub mod output;
pub mod render;
pub mod state;
pub mod window;

pub use render::{render, Clock, RenderContext};
pub use state::{Bounds, ProfileState};
