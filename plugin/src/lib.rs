//! The viewer-profile module: a pure function from one raw Kafka message (a Snowplow enriched
//! event, as TSV or as Snowbridge JSON) to an [`Outcome`] for the viewer's profile.
//!
//! - [`raw`]: the event as both forms reduce it (atomic fields, payload, media entities).
//! - [`tsv`], [`snowbridge_json`]: the two input forms.
//! - [`entities`]: the media entities and event payloads, typed and checked.
//! - [`identity`]: the viewer key and the event time.
//! - [`logic`]: status, media, ad and session deltas of one media event.
//! - [`names`]: the name table the module declares (ABI v2).
//! - [`scan`], [`small_alloc`]: what makes the wasm build fast (byte scans, the allocator).
//!
//! Built for `wasm32-unknown-unknown` it is `transform.wasm` (exports `abi` and
//! `transform_batch`, ABI v2, see `liveviewer_wire`); built natively it is the same logic as a
//! library, which the host's tests and benchmarks run beside the wasm.

pub mod entities;
pub mod identity;
pub mod logic;
pub mod names;
pub mod raw;
pub mod scan;
pub mod small_alloc;
pub mod snowbridge_json;
pub mod tsv;

#[cfg(target_arch = "wasm32")]
mod exports;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: small_alloc::SizeClasses = small_alloc::SizeClasses::new();

use liveviewer_wire::{frames, v2, AbiInfo, AbiVersion, Outcome};
use raw::{RawEvent, MEDIA_VENDOR};

/// The ABI version the `transform_batch` export speaks (v2 unless built with `abi-v1`).
pub const ABI: AbiVersion = if cfg!(feature = "abi-v1") { AbiVersion::V1 } else { AbiVersion::V2 };

/// What this module reports through the `abi` export.
pub fn info() -> AbiInfo {
    AbiInfo {
        abi_version: ABI as u32,
        name: env!("CARGO_PKG_NAME").to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        names: match ABI {
            AbiVersion::V1 => Vec::new(),
            AbiVersion::V2 => names::names().iter().map(|n| n.to_string()).collect(),
        },
    }
}

/// Longest reason given: reasons quote the input, and the input may be hostile.
pub const MAX_REASON: usize = 512;

/// Transforms one raw message. Never panics on any input: bad input is a `Reject`.
pub fn transform(message: &[u8]) -> Outcome {
    match run(message) {
        Ok(Outcome::Skip { reason }) => Outcome::Skip { reason: cut(reason) },
        Ok(outcome) => outcome,
        Err(reason) => Outcome::Reject { reason: cut(reason) },
    }
}

fn cut(mut reason: String) -> String {
    liveviewer_wire::outcome::cut_reason(&mut reason, MAX_REASON);
    reason
}

/// The `transform_batch` export: framed messages in, their outcomes out, in order, in the
/// form of [`ABI`].
pub fn transform_batch(batch: &[u8]) -> Result<Vec<u8>, frames::FrameError> {
    match ABI {
        AbiVersion::V1 => transform_batch_v1(batch),
        AbiVersion::V2 => transform_batch_v2(batch),
    }
}

/// ABI v2: the outcomes as binary, names from [`names::names`].
pub fn transform_batch_v2(batch: &[u8]) -> Result<Vec<u8>, frames::FrameError> {
    let messages = frames::decode(batch)?;
    let mut out = v2::Encoder::new(names::ids(), messages.len());
    for message in messages {
        out.outcome(&transform(message));
    }
    Ok(out.finish())
}

/// ABI v1: the outcomes as a JSON array.
pub fn transform_batch_v1(batch: &[u8]) -> Result<Vec<u8>, frames::FrameError> {
    let messages = frames::decode(batch)?;
    let outcomes: Vec<Outcome> = messages.into_iter().map(transform).collect();
    Ok(serde_json::to_vec(&outcomes).expect("outcomes always serialize"))
}

fn run(message: &[u8]) -> Result<Outcome, String> {
    if message.iter().all(u8::is_ascii_whitespace) {
        return Err("empty message".into());
    }
    let text = if scan::is_ascii(message) {
        // SAFETY: ASCII is UTF-8; most messages are ASCII, and this is checked at SIMD speed.
        unsafe { std::str::from_utf8_unchecked(message) }
    } else {
        std::str::from_utf8(message)
            .map_err(|e| format!("message is not valid UTF-8 (bad byte at offset {})", e.valid_up_to()))?
    };
    if text.trim_start().starts_with('{') {
        let raw = snowbridge_json::parse(text)?;
        let event = match classify(&raw) {
            Ok(event) => event,
            Err(reason) => return Ok(Outcome::Skip { reason }),
        };
        return media_event(&raw, event);
    }
    let (mut raw, payloads) = tsv::parse(text)?;
    if raw.event_vendor.is_none() || raw.event_name.is_none() {
        tsv::fill_unstruct(&mut raw, &payloads)?;
    }
    // Classify before parsing the JSON payloads: most of a site's events are not media events.
    let event = match classify(&raw) {
        Ok(event) => event,
        Err(reason) => return Ok(Outcome::Skip { reason }),
    };
    if raw.unstruct.is_none() {
        tsv::fill_unstruct(&mut raw, &payloads)?;
    }
    tsv::fill_contexts(&mut raw, &payloads)?;
    media_event(&raw, event)
}

/// The media event's name, or why this is not a media event this logic handles.
fn classify(raw: &RawEvent<'_>) -> Result<&'static str, String> {
    let (vendor, name) = match (&raw.event_vendor, &raw.event_name, &raw.unstruct) {
        (Some(v), Some(n), _) => (v.as_str(), n.as_str()),
        (_, _, Some(u)) => (u.vendor.as_ref(), u.name.as_ref()),
        _ => {
            let kind = raw.event.as_ref().map_or("unknown", |e| e.as_str());
            return Err(format!("not a media event ({kind})"));
        }
    };
    if vendor != MEDIA_VENDOR {
        return Err(format!("not a media event ({vendor}/{name})"));
    }
    logic::MEDIA_EVENTS
        .iter()
        .find(|known| **known == name)
        .copied()
        .ok_or_else(|| format!("unknown media event {name:?}"))
}

fn media_event(raw: &RawEvent<'_>, event: &'static str) -> Result<Outcome, String> {
    let Some(u) = &raw.unstruct else {
        return Err(format!("{event} without its unstruct_event payload"));
    };
    if u.vendor != MEDIA_VENDOR || u.name != event {
        return Err(format!("event_name is {event} but unstruct_event is {}/{}", u.vendor, u.name));
    }
    if u.major != 1 {
        return Ok(Outcome::Skip {
            reason: format!("{event} schema version {}-*-* is not supported (1-*-* is)", u.major),
        });
    }
    logic::apply(raw, event).map(Outcome::Apply)
}
