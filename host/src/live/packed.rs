//! A viewer's profile JSON as the live view holds it: as text while the viewer is active, and
//! compressed once the viewer has been idle a while (`pipeline.pack_idle_after_ms`).
//!
//! The live view holds every viewer seen recently, up to a million, and the JSON (about 1.3 KB)
//! was most of each entry. Profiles are small and alike, so zstd alone does little (a median
//! of 602 bytes on 5,166 simulated profiles); with one profile as a dictionary (raw content:
//! every key name and most values' shapes) it gives 244. The dictionary is only ever used in
//! this process, so any profile serves; a test keeps it in step with the profile's keys.
//! Packing happens away from the requests (see [`super::Live::pack_idle`]); reading a packed
//! profile (an API page, a push channel's first look) decompresses it, a few microseconds.

use std::sync::{Arc, OnceLock};

/// A rendered profile, compact JSON: the dictionary the packed profiles are compressed with.
pub(super) const DICTIONARY: &[u8] = include_bytes!("dictionary.json");
/// Fast: a viewer is packed once per idle spell, on a background thread.
const LEVEL: i32 = 1;

#[derive(Debug, Clone)]
pub enum ProfileJson {
    Text(Arc<str>),
    /// zstd with [`DICTIONARY`], and the text's length.
    Packed { bytes: Box<[u8]>, len: u32 },
}

fn encoder() -> &'static zstd::dict::EncoderDictionary<'static> {
    static D: OnceLock<zstd::dict::EncoderDictionary<'static>> = OnceLock::new();
    D.get_or_init(|| zstd::dict::EncoderDictionary::copy(DICTIONARY, LEVEL))
}

fn decoder() -> &'static zstd::dict::DecoderDictionary<'static> {
    static D: OnceLock<zstd::dict::DecoderDictionary<'static>> = OnceLock::new();
    D.get_or_init(|| zstd::dict::DecoderDictionary::copy(DICTIONARY))
}

/// Compresses many profiles with one context.
pub struct Packer(zstd::bulk::Compressor<'static>);

impl Packer {
    pub fn new() -> Packer {
        Packer(zstd::bulk::Compressor::with_prepared_dictionary(encoder()).expect("a zstd context"))
    }

    /// The packed form of `text` (`None`: already packed, or larger packed than as text).
    pub fn pack(&mut self, json: &ProfileJson) -> Option<ProfileJson> {
        let ProfileJson::Text(text) = json else { return None };
        let len = u32::try_from(text.len()).ok()?;
        let bytes = self.0.compress(text.as_bytes()).ok()?;
        (bytes.len() < text.len()).then(|| ProfileJson::Packed { bytes: bytes.into_boxed_slice(), len })
    }
}

impl ProfileJson {
    /// The text (decompressed, when packed).
    pub fn text(&self) -> Arc<str> {
        match self {
            ProfileJson::Text(text) => text.clone(),
            ProfileJson::Packed { bytes, len } => {
                thread_local! {
                    static UNPACKER: std::cell::RefCell<zstd::bulk::Decompressor<'static>> =
                        std::cell::RefCell::new(zstd::bulk::Decompressor::with_prepared_dictionary(decoder()).expect("a zstd context"));
                }
                // Our own compression of a UTF-8 text a moment before, with the same dictionary:
                // failing here would be a bug in zstd or in this file, not bad input.
                let raw = UNPACKER.with(|u| u.borrow_mut().decompress(bytes, *len as usize)).expect("a packed profile decompresses");
                Arc::from(String::from_utf8(raw).expect("a packed profile is the UTF-8 it was"))
            }
        }
    }

    pub fn is_packed(&self) -> bool {
        matches!(self, ProfileJson::Packed { .. })
    }

    /// Bytes held for the JSON.
    #[cfg(test)]
    pub fn held_bytes(&self) -> usize {
        match self {
            ProfileJson::Text(text) => text.len(),
            ProfileJson::Packed { bytes, .. } => bytes.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_profile_reads_back_as_its_text_and_is_smaller() {
        let dict = std::str::from_utf8(DICTIONARY).unwrap();
        let other = dict.replace("Sintel", "Big Buck Bunny").replace("WATCHING_AD", "PAUSED_VIDEO").replace("3.991", "17.25");
        let mut packer = Packer::new();
        for text in [dict.to_owned(), other, "{}".to_owned(), "{\"viewer_id\":\"ü\"}".to_owned()] {
            let json = ProfileJson::Text(Arc::from(text.as_str()));
            match packer.pack(&json) {
                Some(packed) => {
                    assert!(packed.is_packed());
                    assert_eq!(&*packed.text(), text);
                    assert!(packed.held_bytes() < text.len() / 3 || text.len() < 100, "{} of {}", packed.held_bytes(), text.len());
                    assert!(packer.pack(&packed).is_none(), "packed once");
                }
                None => assert!(text.len() < 40, "only tiny texts stay as they are: {text}"),
            }
        }
    }

    /// The dictionary is a profile as this host renders it: its keys are the profile's keys.
    #[test]
    fn the_dictionary_is_a_profile_record() {
        let record: super::super::ProfileRecord = serde_json::from_slice(DICTIONARY).expect("a profile record");
        assert!(record.revision > 0 && record.profile.ad.is_object() && record.profile.session.is_object() && record.profile.totals.is_object());
    }
}
