//! The viewer profile: [`state::ProfileState`] is what stores keep and deltas merge into;
//! [`render`] turns it into the v1 JSON that the API, the dashboard and `profiles` speak.

pub mod key;
pub mod render;
pub mod state;

pub use render::{render, Clock, RenderContext};
pub use state::{Bounds, ProfileState};
