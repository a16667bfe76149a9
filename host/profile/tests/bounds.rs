//! Order-independence right at the profile's bounds (issue 13, item 10). Inside them the
//! profile is a CRDT: the same events give the same profile whatever the arrival order and the
//! repeats. The bounds themselves are decided by event time wherever bounded memory allows
//! (which dedupe keys a counter keeps); where it does not (which media sessions are folded),
//! the exact limits are stated in SECURITY.md and tested here on both sides.

use liveviewer_profile::state::SumCell;
use liveviewer_profile::{Bounds, ProfileState};
use liveviewer_wire::outcome::Apply;
use liveviewer_wire::{Delta, OrderKey};
use proptest::prelude::*;

const HOUR: i64 = 3600 * 1000;
const T0: i64 = 1_763_000_000_000;

fn event(ts: i64, id: &str, deltas: Vec<Delta>) -> Apply {
    Apply { viewer: "v".into(), event: "e".into(), at: OrderKey { ts, rank: 30, id: id.into() }, deltas }
}

fn add(dedupe: &str, value: f64) -> Delta {
    Delta::Add { field: "seeks".into(), value, dedupe: dedupe.into(), session: None }
}

fn played(session: &str, value: f64) -> Delta {
    Delta::Max { field: "time_played".into(), value, session: Some(session.into()) }
}

/// The merged profile, without the revision (it counts repeats, which is the point here).
fn merged(events: &[Apply]) -> ProfileState {
    let mut s = ProfileState::new("v");
    for e in events {
        s.apply(e, &Bounds::default());
    }
    s.revision = 0;
    s
}

/// `events` with some of them repeated, in a seeded order.
fn arrival(events: &[Apply], repeats: &[usize], seed: u64) -> Vec<Apply> {
    let mut all: Vec<Apply> = events.to_vec();
    all.extend(repeats.iter().map(|i| events[i % events.len()].clone()));
    let mut rng = seed | 1;
    for i in (1..all.len()).rev() {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        all.swap(i, (rng % (i as u64 + 1)) as usize);
    }
    all
}

/// One `add` per distinct key, each at its own event time (some share one).
fn counted(keys: usize, times: &[i64]) -> Vec<Apply> {
    (0..keys).map(|k| event(T0 + times[k % times.len()], &format!("e{k}"), vec![add(&format!("k{k}"), 1.0)])).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// 1024 dedupe keys per counter: at it, one under and past it, the counter is the same in
    /// any order and with any repeats.
    #[test]
    fn a_counter_is_the_same_in_any_order_at_and_past_its_dedupe_bound(
        keys in 1016usize..1040,
        times in proptest::collection::vec(0i64..600_000, 1..64),
        repeats in proptest::collection::vec(any::<usize>(), 0..600),
        seeds in (any::<u64>(), any::<u64>()),
    ) {
        let events = counted(keys, &times);
        let a = merged(&arrival(&events, &repeats, seeds.0));
        let b = merged(&arrival(&events, &repeats, seeds.1));
        let reference = merged(&events);
        prop_assert_eq!(&a.cells.sums["seeks"], &reference.cells.sums["seeks"]);
        prop_assert_eq!(&b.cells.sums["seeks"], &reference.cells.sums["seeks"]);
        // Each key counts once, up to the bound; past it the counter holds.
        prop_assert_eq!(reference.cells.sums["seeks"].total, keys.min(1024) as f64);
    }

    /// Past the bound the counter keeps the earliest keys by event time, whatever came first.
    #[test]
    fn past_its_bound_a_counter_keeps_the_earliest_keys(
        extra in 1usize..64,
        values in proptest::collection::vec(1u8..10, 1..32),
        seed in any::<u64>(),
    ) {
        let keys = 1024 + extra;
        // Key k at time k, worth a value of its own: the 1024 earliest are keys 0..1024.
        let events: Vec<Apply> = (0..keys)
            .map(|k| event(T0 + k as i64, &format!("e{k}"), vec![add(&format!("k{k}"), f64::from(values[k % values.len()]))]))
            .collect();
        let expected: f64 = (0..1024).map(|k| f64::from(values[k % values.len()])).sum();
        let s = merged(&arrival(&events, &[], seed));
        prop_assert_eq!(s.cells.sums["seeks"].total, expected);
        prop_assert_eq!(s.cells.sums["seeks"].len(), 1024);
    }

    /// Sixteen media sessions whose events all lie within the 24 h before the viewer's newest
    /// event, the boundary included: nothing is folded, in any order.
    #[test]
    fn sixteen_sessions_within_a_day_give_one_profile_in_any_order(
        spans in proptest::collection::vec((0i64..24 * HOUR, 1usize..5), 16),
        repeats in proptest::collection::vec(any::<usize>(), 0..40),
        seeds in (any::<u64>(), any::<u64>()),
    ) {
        let newest = T0 + 24 * HOUR;
        let mut events = vec![event(newest, "newest", vec![Delta::State { field: "status".into(), value: "W".into() }])];
        for (s, (start, n)) in spans.iter().enumerate() {
            let sid = format!("s{s}");
            // The first session starts exactly 24 h before the newest event.
            let start = if s == 0 { T0 } else { T0 + start };
            for i in 0..*n {
                events.push(event(start + i as i64 * 1000, &format!("{sid}-{i}"), vec![played(&sid, (i + 1) as f64)]));
            }
        }
        let a = merged(&arrival(&events, &repeats, seeds.0));
        let b = merged(&arrival(&events, &repeats, seeds.1));
        prop_assert_eq!(a.sessions.len(), 16);
        prop_assert_eq!(a.retired.sessions, 0);
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(&a, &merged(&events));
    }
}

/// Past sixteen sessions the oldest (by its last event) is folded into the totals, and an
/// event of it that arrives after the fold is not counted: the documented limit of
/// order-independence, shown on both of its sides.
#[test]
fn past_sixteen_sessions_a_late_event_of_a_folded_session_is_not_counted() {
    let sessions: Vec<Apply> = (0..17).map(|s| event(T0 + s * HOUR, &format!("s{s}"), vec![played(&format!("s{s}"), 10.0)])).collect();
    let late = event(T0 + 1, "s0-late", vec![played("s0", 25.0)]);
    // The late event before the seventeenth session: counted.
    let mut early = sessions[..16].to_vec();
    early.push(late.clone());
    early.push(sessions[16].clone());
    let early = merged(&early);
    assert_eq!(early.retired.sessions, 1);
    assert_eq!(early.retired.numbers["time_played"], 25.0);
    // After it: s0 is folded already, and the late event is not counted.
    let mut after = sessions.clone();
    after.push(late);
    let after = merged(&after);
    assert_eq!(after.retired.sessions, 1);
    assert_eq!(after.retired.numbers["time_played"], 10.0);
    // At sixteen sessions nothing is folded, so the order does not matter.
    let mut sixteen = sessions[..16].to_vec();
    sixteen.push(event(T0 + 1, "s0-late", vec![played("s0", 25.0)]));
    let forward = merged(&sixteen);
    sixteen.reverse();
    assert_eq!(forward, merged(&sixteen));
    assert_eq!(forward.retired.sessions, 0);
}

/// A session whose last event is exactly 24 h before the viewer's newest stays; one
/// millisecond older, it is folded.
#[test]
fn the_session_horizon_is_24_hours_to_the_millisecond() {
    let newest = event(T0 + 24 * HOUR, "newest", vec![played("new", 1.0)]);
    let at_horizon = merged(&[newest.clone(), event(T0, "old", vec![played("old", 5.0)])]);
    assert_eq!(at_horizon.sessions.len(), 2);
    let past = merged(&[newest, event(T0 - 1, "old", vec![played("old", 5.0)])]);
    assert_eq!(past.sessions.len(), 1);
    assert_eq!(past.retired.numbers["time_played"], 5.0);
}

#[test]
fn a_sum_cell_reports_how_many_keys_it_holds() {
    let s = merged(&counted(3, &[0]));
    let cell: &SumCell = &s.cells.sums["seeks"];
    assert_eq!(cell.len(), 3);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// 128 attribute fields and 128 states per profile, 64 fields per media session: at the
    /// bound and past it, the fields a profile keeps are the same in any order (the smallest
    /// names), each with everything that was merged into it.
    #[test]
    fn the_fields_kept_past_their_bound_are_the_same_in_any_order(
        fields in 120usize..140,
        states in 120usize..140,
        session_fields in 60usize..70,
        seeds in (any::<u64>(), any::<u64>()),
    ) {
        let mut events: Vec<Apply> = (0..fields)
            .flat_map(|f| {
                let name = format!("f{f:03}");
                let delta = |v: usize| match f % 2 {
                    0 => Delta::Set { field: name.clone(), value: serde_json::json!(v), session: None },
                    _ => Delta::Max { field: name.clone(), value: v as f64, session: None },
                };
                // Two events per field, so that a field's value depends on both being merged.
                [event(T0 + f as i64, &format!("p{f}"), vec![delta(f)]), event(T0 + 1000 + f as i64, &format!("q{f}"), vec![delta(f + 1)])]
            })
            .collect();
        events.extend((0..states).map(|f| event(T0 + f as i64, &format!("t{f}"), vec![Delta::State { field: format!("s{f:03}"), value: "x".into() }])));
        events.extend((0..session_fields).map(|f| event(T0 + f as i64, &format!("g{f}"), vec![played_field("s", &format!("g{f:03}"))])));
        let a = merged(&arrival(&events, &[], seeds.0));
        let b = merged(&arrival(&events, &[], seeds.1));
        prop_assert_eq!(&a, &b);
        let cells: Vec<String> = a.cells.fields.keys().chain(a.cells.maxes.keys()).cloned().collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let smallest: Vec<String> = (0..fields.min(128)).map(|f| format!("f{f:03}")).collect();
        prop_assert_eq!(cells, smallest);
        prop_assert_eq!(a.states.len(), states.min(128));
        prop_assert_eq!(a.sessions["s"].cells.maxes.len(), session_fields.min(64));
        // A kept field has both of its events.
        prop_assert_eq!(&a.cells.maxes["f001"], &2.0);
    }
}

fn played_field(session: &str, field: &str) -> Delta {
    Delta::Max { field: field.into(), value: 1.0, session: Some(session.into()) }
}
