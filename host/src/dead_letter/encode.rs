//! A dead letter as the bytes a sink writes, never bigger than a bound. The payload is the only
//! part that can be large, and its JSON can be six times its size (a control character is
//! `\u0001`), so a letter whose encoding is over the bound keeps only as much of its payload
//! as fits, and says so: `payload_truncated`, the original size, and the SHA-256 of the
//! original bytes to match it against the source.

use super::DeadLetter;
use base64::Engine as _;
use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The letter as one JSON line (without the newline), at most `max` bytes when its fixed
/// fields allow (they are short: the reason is cut by whoever makes it).
pub fn encode(letter: &DeadLetter, max: usize) -> Vec<u8> {
    let full = serde_json::to_vec(letter).expect("a dead letter serializes");
    if full.len() <= max {
        return full;
    }
    let mut cut = letter.clone();
    if cut.payload_sha256.is_none() {
        // Not cut before: what it holds is the whole payload.
        let original = match (&letter.payload, &letter.payload_base64) {
            (Some(text), _) => text.as_bytes().to_vec(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD.decode(b64).unwrap_or_default(),
            (None, None) => Vec::new(),
        };
        cut.payload_sha256 = Some(sha256_hex(&original));
    }
    cut.payload_truncated = true;
    let text = cut.payload.take();
    let b64 = cut.payload_base64.take();
    // What the letter takes with an empty payload of the same kind.
    cut.payload = text.as_ref().map(|_| String::new());
    cut.payload_base64 = b64.as_ref().map(|_| String::new());
    let budget = max.saturating_sub(serde_json::to_vec(&cut).expect("serializes").len());
    if let Some(t) = text {
        cut.payload = Some(escaped_prefix(&t, budget).to_owned());
    }
    if let Some(b) = b64 {
        // Whole groups of four characters: still valid base64, of a prefix of the bytes.
        cut.payload_base64 = Some(b[..(budget / 4 * 4).min(b.len())].to_owned());
    }
    serde_json::to_vec(&cut).expect("a dead letter serializes")
}

/// The longest prefix of `s` whose JSON string escaping takes at most `budget` bytes.
fn escaped_prefix(s: &str, budget: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += escaped_len(c);
        if used > budget {
            return &s[..i];
        }
    }
    s
}

/// Bytes a character takes inside a JSON string, as serde_json writes it.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dead_letter::Kind;
    use crate::source::Origin;
    use serde_json::Value;

    fn letter(payload: &[u8]) -> DeadLetter {
        let origin = Origin::Kafka { topic: "t".into(), partition: 0, offset: 7, timestamp: None };
        DeadLetter::new(Kind::Rejected, "not an event".into(), "sha256:abc", origin, payload, 0)
    }

    #[test]
    fn escaped_lengths_match_serde_json() {
        for c in ['a', '"', '\\', '\n', '\u{1}', '\u{1f}', '\u{7f}', 'é', '€', '😀'] {
            let json = serde_json::to_string(&c.to_string()).unwrap();
            assert_eq!(escaped_len(c), json.len() - 2, "{c:?}");
        }
    }

    #[test]
    fn a_small_letter_is_written_whole() {
        let l = letter(b"hello");
        let v: Value = serde_json::from_slice(&encode(&l, 4096)).unwrap();
        assert_eq!(v["payload"], "hello");
        assert!(v.get("payload_truncated").is_none() && v.get("payload_sha256").is_none());
    }

    #[test]
    fn control_characters_are_cut_to_the_bound_with_the_hash_and_size_of_the_original() {
        // 200 000 bytes that escape to 1.2 MB.
        let payload = vec![1u8; 200_000];
        for max in [4096, 65_536, 512 << 10] {
            let out = encode(&letter(&payload), max);
            assert!(out.len() <= max, "{} > {max}", out.len());
            assert!(out.len() > max - 16, "{} is well under {max}: the cut is too short", out.len());
            let v: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(v["payload_truncated"], true);
            assert_eq!(v["payload_bytes"], 200_000);
            assert_eq!(v["payload_sha256"], sha256_hex(&payload));
            assert!(payload.starts_with(v["payload"].as_str().unwrap().as_bytes()));
        }
    }

    #[test]
    fn a_payload_cut_before_keeps_the_hash_of_the_original_and_base64_stays_valid() {
        let mut payload = vec![0xffu8; 400_000]; // not UTF-8: base64
        payload[0] = 0;
        let l = letter(&payload);
        assert!(l.payload_truncated, "over the 256 KiB kept");
        let v: Value = serde_json::from_slice(&encode(&l, 65_536)).unwrap();
        assert_eq!(v["payload_sha256"], sha256_hex(&payload));
        let kept = base64::engine::general_purpose::STANDARD.decode(v["payload_base64"].as_str().unwrap()).unwrap();
        assert!(!kept.is_empty() && payload.starts_with(&kept));
    }
}
