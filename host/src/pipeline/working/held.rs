//! How the working set holds a profile: as a tree while its viewer is active, and, once the
//! profile is written and its viewer idle, packed in its stored encoding.
//!
//! A profile as a tree (B-tree maps of owned names, a window per state field, a record per
//! session) takes about five times the bytes of its encoding: 5.2 KB against 952 bytes after
//! one event of the fixture's play. The working set keeps up to `pipeline.max_cached_profiles`
//! of them (50,000) so that a viewer's next event needs no store read, and as trees they were
//! most of a host's memory at 100,000 viewers. Packed, a viewer's next event pays a decode
//! instead (a few microseconds, against a store round trip); its profile is a tree again until
//! it is idle once more.

use crate::profile::ProfileState;
use std::borrow::Cow;

/// The tree is boxed so that a packed entry does not keep the tree's room (312 bytes).
#[derive(Debug)]
pub enum Held {
    Tree(Box<ProfileState>),
    /// [`ProfileState::encode`]d: what the store holds, revision included.
    Packed(Box<[u8]>),
}

impl Held {
    /// The profile, borrowed from the tree or decoded from the packed bytes.
    pub fn state(&self) -> Cow<'_, ProfileState> {
        match self {
            Held::Tree(state) => Cow::Borrowed(state),
            Held::Packed(bytes) => Cow::Owned(*unpack(bytes)),
        }
    }

    /// The profile as a tree, unpacked in place if it was packed.
    pub fn tree(&mut self) -> &mut ProfileState {
        if let Held::Packed(bytes) = self {
            *self = Held::Tree(unpack(bytes));
        }
        match self {
            Held::Tree(state) => state,
            Held::Packed(_) => unreachable!("unpacked above"),
        }
    }

    /// Packs a tree; returns whether it was one.
    pub fn pack(&mut self) -> bool {
        match self {
            Held::Tree(state) => {
                *self = Held::Packed(state.encode().into_boxed_slice());
                true
            }
            Held::Packed(_) => false,
        }
    }

    pub fn is_packed(&self) -> bool {
        matches!(self, Held::Packed(_))
    }

    /// At least the size the profile's encoding has (exactly it, when packed).
    pub fn size_hint(&self) -> usize {
        match self {
            Held::Tree(state) => state.size_hint(),
            Held::Packed(bytes) => bytes.len(),
        }
    }
}

fn unpack(bytes: &[u8]) -> Box<ProfileState> {
    // The bytes are this process's own encoding of a profile it held a moment before, in the
    // current format; the stored format's tests hold encode and decode to each other, so a
    // failure here is a bug in them, not bad input.
    Box::new(ProfileState::decode(bytes).expect("a packed profile decodes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::merge::{merge_viewer, Event};
    use crate::pipeline::working::fixtures::event;
    use crate::profile::Bounds;

    fn merged() -> ProfileState {
        let events = [event(1, "WATCHING", 1.0), event(2, "PAUSED", 7.5)];
        let refs: Vec<Event<'_>> = events.iter().enumerate().map(|(i, (a, w, _))| Event { index: i, apply: a, watermark: w.clone() }).collect();
        merge_viewer(ProfileState::new("v"), &refs, "m", &Bounds::default()).state
    }

    #[test]
    fn a_packed_profile_is_the_same_profile_and_smaller() {
        let state = merged();
        assert_eq!(state.revision, 2);
        let mut held = Held::Tree(Box::new(state.clone()));
        assert!(held.pack());
        assert!(held.is_packed());
        assert!(!held.pack(), "packed once");
        assert_eq!(held.size_hint(), state.encode().len(), "exact when packed");
        assert!(held.size_hint() <= state.size_hint());
        assert_eq!(*held.state(), state, "revision included");
        assert!(held.is_packed(), "reading does not unpack");
        held.tree().revision += 1;
        assert!(!held.is_packed(), "a tree again until packed once more");
        assert_eq!(held.state().revision, 3);
    }
}
