//! Property: whatever the arrival order and however many times an event arrives, the final
//! profiles are the same. Checked on the real Snowplow Micro session and on simulated
//! sessions of many viewers, through the module's logic (native build, same code as the wasm)
//! and the host's merge.

use liveviewer::module::{NativeTransform, Transform};
use liveviewer::simulator::Simulator;
use liveviewer::vectors::runner::{merge_outcomes, render_all};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn fixture() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/fixtures/snowplow-micro-media.tsv")).unwrap();
    text.lines().filter(|l| !l.is_empty()).map(|l| l.as_bytes().to_vec()).collect()
}

fn simulated(seed: u64, viewers: usize, events: usize) -> Vec<Vec<u8>> {
    let mut sim = Simulator::new(viewers, seed, 5, 1_763_000_000_000);
    (0..events).map(|_| sim.next_event().line.into_bytes()).collect()
}

fn profiles(messages: &[Vec<u8>]) -> BTreeMap<String, Value> {
    let mut t = NativeTransform::new();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let outcomes = t.transform_batch(&refs).unwrap();
    render_all(&merge_outcomes(&outcomes, t.version()))
}

/// A permutation of `events` with some of them repeated (anywhere, any number of times).
fn arrival(events: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<Vec<u8>>> {
    let n = events.len();
    (Just(events), proptest::collection::vec(0..n, 0..n)).prop_flat_map(|(events, repeats)| {
        let mut all = events.clone();
        all.extend(repeats.iter().map(|i| events[*i].clone()));
        Just(all).prop_shuffle()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_real_session_gives_one_profile_in_any_order(events in arrival(fixture())) {
        prop_assert_eq!(profiles(&events), profiles(&fixture()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn simulated_sessions_give_the_same_profiles_in_any_order(
        seed in 0u64..1_000,
        shuffled in any::<u64>(),
    ) {
        let events = simulated(seed, 12, 600);
        let expected = profiles(&events);
        prop_assume!(expected.len() >= 5);
        // A seeded permutation with a third of the events repeated.
        let mut rng = shuffled | 1;
        let mut arrived: Vec<Vec<u8>> = events.clone();
        for i in (0..events.len()).step_by(3) {
            arrived.push(events[i].clone());
        }
        for i in (1..arrived.len()).rev() {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            arrived.swap(i, (rng % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(profiles(&arrived), expected);
    }
}

#[test]
fn the_property_can_fail() {
    // Not a vacuous check: dropping the last pause of the session changes the profile.
    let all = fixture();
    let without: Vec<Vec<u8>> =
        all.iter().enumerate().filter(|(i, _)| *i != 66).map(|(_, e)| e.clone()).collect();
    assert_ne!(profiles(&without), profiles(&all));
}
