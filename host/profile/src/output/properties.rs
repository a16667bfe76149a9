//! The fuzzers' properties (and their regression tests'): what must hold for any input to the
//! module and for any bytes a module returns.

use super::{decode, validate_outcome, Format, OutputLimits};
use liveviewer_wire::outcome::Apply;
use liveviewer_wire::v2::{Encoder, NameIds, NameTable};
use liveviewer_wire::Outcome;

/// The fuzzers' property for the module's input parsing (and its regression tests): the
/// module's outcome for any message passes the host's checks, fits the per-event output cap,
/// and, when it applies, merges into a profile that renders and round-trips its storage form.
pub fn check_message(message: &[u8], outcome: Outcome) {
    let limits = OutputLimits::default();
    let mut checked = outcome.clone();
    if let Err(e) = validate_outcome(&mut checked, &limits) {
        panic!("the module's outcome fails the host's checks ({e}) for {:?}", String::from_utf8_lossy(&message[..message.len().min(200)]));
    }
    assert_eq!(checked, outcome, "the module's reasons fit the host's limit");
    let size = serde_json::to_vec(&outcome).expect("outcomes serialize").len();
    assert!(size <= limits.max_bytes_per_event, "an outcome of {size} bytes would be refused as too large");
    if let Outcome::Apply(apply) = &outcome {
        merge_and_render(std::slice::from_ref(apply));
    }
}

/// The fuzzers' property for the host's handling of module output: any bytes are refused or
/// decoded, and decoded outcomes merge into profiles that render and round-trip.
pub fn check_output(data: &[u8]) {
    let Some((&count, rest)) = data.split_first() else { return };
    let expected = usize::from(count % 4) + 1;
    if let Ok(outcomes) = decode(&Format::V1, rest, expected, &OutputLimits::default()) {
        assert_eq!(outcomes.len(), expected);
        merge_and_render(&applies(outcomes));
    }
}

/// The same property for v2 output, read with `names` (the fuzzers use the built-in module's
/// table); and what is decoded encodes back to outcomes that decode the same.
pub fn check_output_v2(data: &[u8], names: &[&'static str]) {
    let Some((&count, rest)) = data.split_first() else { return };
    let expected = usize::from(count % 4) + 1;
    let table = NameTable::new(names.iter().map(|n| n.to_string()).collect()).expect("a valid table");
    let limits = OutputLimits::default();
    if let Ok(outcomes) = decode(&Format::V2(table.clone()), rest, expected, &limits) {
        assert_eq!(outcomes.len(), expected);
        let ids = NameIds::new(names);
        let mut encoder = Encoder::new(&ids, outcomes.len());
        for o in &outcomes {
            encoder.outcome(o);
        }
        // The re-encoding may scope deltas differently, never spell them out larger.
        let again = liveviewer_wire::v2::decode(&encoder.finish(), &table, expected, usize::MAX).expect("re-encoded output decodes");
        assert_eq!(again, outcomes, "v2 round trip");
        merge_and_render(&applies(outcomes));
    }
}

fn applies(outcomes: Vec<Outcome>) -> Vec<Apply> {
    outcomes
        .into_iter()
        .filter_map(|o| match o {
            Outcome::Apply(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn merge_and_render(applies: &[Apply]) {
    let bounds = crate::Bounds::default();
    let mut states: std::collections::BTreeMap<&str, crate::ProfileState> = std::collections::BTreeMap::new();
    for a in applies {
        let _ = states.entry(a.viewer.as_str()).or_insert_with(|| crate::ProfileState::new(&a.viewer)).apply(a, &bounds);
    }
    let ctx = crate::RenderContext { now_ms: 0, active_window_ms: 90_000 };
    for s in states.values() {
        serde_json::to_vec(&crate::render(s, &ctx)).expect("profiles serialize");
        assert_eq!(&crate::ProfileState::decode(&s.encode()).expect("decodes"), s, "storage round trip");
    }
}
