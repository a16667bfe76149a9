//! The profile changelog: a compacted Kafka topic (default `liveviewer.profiles`), key = the
//! viewer id, value = the profile's v1 JSON with its revision. Every host publishes the
//! profiles it changes ([`publisher`]) and reads the whole topic into its live view
//! ([`reader`]), so every host shows the whole fleet. It is the product's public stream too:
//! docs/changelog.md says what other services may rely on.

pub mod publisher;
pub mod reader;

/// The record header naming the live view a record was published from (8 bytes, big-endian):
/// the publishing host applied the record to its own view when it sent it, so its reader
/// skips it instead of parsing the profile back. Other consumers may ignore it.
pub const ORIGIN_HEADER: &str = "liveviewer-origin";

pub use publisher::ChangelogPublisher;
