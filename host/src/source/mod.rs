//! Where events come from: a Kafka consumer group, files (replay), the simulator, or HTTP
//! (Snowbridge's HTTP target). Each yields [`Message`]s that remember where they came from, so
//! that a dead letter can point back at its origin and a redelivery can be recognised.

pub mod kafka;
pub mod replay;
pub mod simulated;

pub use crate::message::{Message, Origin};
