//! What the black-box tests and the benchmarks run against, all real and on loopback: Apache
//! Kafka ([`kafka`], with TLS and SASL where asked, [`tls`]), DynamoDB-API servers
//! ([`dynamo`]), Snowbridge ([`snowbridge`]), and the `liveviewer` binary itself ([`host`]);
//! the events they feed it ([`mod@workload`]) and modules that misbehave ([`modules`]). Every
//! process dies with its handle.
//! The tools come from `scripts/setup.sh`, by `LIVEVIEWER_*` variables; without them a test
//! fails saying so, it is never skipped.

pub mod dynamo;
pub mod holding_proxy;
pub mod host;
pub mod kafka;
pub mod modules;
pub mod process;
pub mod snowbridge;
pub mod tls;
pub mod workload;

pub use dynamo::{Dynalite, Moto};
pub use holding_proxy::HoldingProxy;
pub use host::{admin, assert_same_profiles, aws_env, bin, cli, cli_output, http_get, post_json, profiles, replayed_profiles, write_config, Host};
pub use kafka::{Codec, Kafka};
pub use process::{block_on, free_port, serial, try_wait_until, wait_until, Proc};
pub use workload::{events_file, fixture_lines, now_ms, play_event, tsv_time, viewer_key, workload};
