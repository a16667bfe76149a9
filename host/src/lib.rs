//! liveviewer: live viewer profiles from Snowplow media events, with the profile logic as a
//! hot-swappable WebAssembly module.
//!
//! How an event flows: a source yields raw messages -> [`module`] runs them through
//! `transform.wasm` (a pure function, one call per batch) -> each outcome is applied to the
//! viewer's [`profile`] (a CRDT, so order and repeats do not matter) -> a store keeps it.
//!
//! - [`source`]: Kafka (consumer group), replay files, the simulator, Snowbridge's HTTP target.
//! - [`kafka`]: the Kafka client settings (TLS, SASL), their context, the start-up check.
//! - [`pipeline`]: batch -> module -> merge -> conditional writes -> dead letters, in order.
//! - [`module`]: loading, checking and running the wasm module (and the same logic natively).
//! - [`lifecycle`]: candidate checks, swap between batches, shadow mode, health and rollback.
//! - [`fleet`]: one module lifecycle for every host, through a compacted control topic.
//! - [`profile`]: the profile state, its merge, and the v1 JSON.
//! - [`store`]: DynamoDB and the embedded database; [`dead_letter`]: where bad input goes.
//! - [`live`]: the live view of the fleet's viewers (lists, per-content summary); [`changelog`]:
//!   the profile topic that fills it.
//! - [`windows`]: windowed metrics by event time (5 min, 1 h, per content) and the concurrency
//!   series, counted once per changelog partition and the same on every host.
//! - [`http`], [`metrics`]: the API, the dashboard and its push channel, the figures.
//! - [`vectors`]: the test vectors and their runner; [`simulator`]: realistic viewers.
//! - [`app`], [`server`], [`config`], [`commands`]: wiring, validated configuration, the CLI.

pub mod app;
pub mod changelog;
pub mod clock;
pub mod commands;
pub mod config;
pub mod dead_letter;
pub mod fleet;
pub mod http;
pub mod kafka;
pub mod lifecycle;
pub mod message;
pub mod live;
pub mod metrics;
pub mod module;
pub mod pipeline;
pub mod profile;
pub mod server;
pub mod simulator;
pub mod source;
pub mod store;
pub mod vectors;
pub mod windows;
