//! Runs cases through a [`Transform`] (the wasm module through the pipeline's own runtime, or
//! the native build) and merges with the pipeline's own profile code.

use super::case::{Case, Expected, Order};
use super::matcher;
use crate::module::{ModuleVersion, Transform};
use crate::profile::key::fnv1a;
use crate::profile::{render, Bounds, ProfileState, RenderContext};
use liveviewer_wire::Outcome;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

/// Profiles are rendered as of the newest event (a recording's "now"), with this window.
const ACTIVE_WINDOW_MS: i64 = 90_000;

#[derive(Debug, Clone)]
pub struct CaseReport {
    pub name: String,
    pub events: usize,
    pub elapsed: Duration,
    /// Fuel the module used for the case's events (wasm only).
    pub fuel: Option<u64>,
    pub failures: Vec<String>,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Merges the applies among `outcomes` in order into one state per viewer.
pub fn merge_outcomes(outcomes: &[Outcome], version: &ModuleVersion) -> BTreeMap<String, ProfileState> {
    let bounds = Bounds::default();
    let mut states: BTreeMap<String, ProfileState> = BTreeMap::new();
    for o in outcomes {
        if let Outcome::Apply(a) = o {
            let s = states.entry(a.viewer.clone()).or_insert_with(|| ProfileState::new(&a.viewer));
            let _ = s.apply(a, &bounds);
            s.module_version = version.0.clone();
        }
    }
    states
}

/// The v1 JSON of each viewer, "now" being the newest event time among them.
pub fn render_all(states: &BTreeMap<String, ProfileState>) -> BTreeMap<String, Value> {
    let now_ms = states.values().filter_map(|s| s.last_seen).max().unwrap_or(0);
    let ctx = RenderContext { now_ms, active_window_ms: ACTIVE_WINDOW_MS };
    states
        .iter()
        .map(|(k, s)| (k.clone(), serde_json::to_value(render(s, &ctx)).expect("profiles serialize")))
        .collect()
}

pub fn run_case(case: &Case, t: &mut dyn Transform) -> CaseReport {
    let start = Instant::now();
    let mut failures = Vec::new();
    let messages: Vec<&[u8]> = case.messages.iter().map(Vec::as_slice).collect();
    let result = t.transform_batch(&messages);
    let fuel = t.last_fuel();
    match result {
        Err(fault) => failures.push(format!("module fault: {fault}")),
        Ok(outcomes) => {
            if let Some(expected) = &case.outcomes {
                for (i, (e, o)) in expected.iter().zip(&outcomes).enumerate() {
                    check_outcome(i, e, o, &mut failures);
                }
            }
            if let Some(expected) = &case.profiles {
                let version = t.version().clone();
                let rendered = render_all(&merge_outcomes(&outcomes, &version));
                for (viewer, e) in expected {
                    match rendered.get(viewer) {
                        Some(actual) => matcher::subset(&format!("profile[{viewer}]"), e, actual, &mut failures),
                        None => failures.push(format!("profile[{viewer}]: no such viewer among {:?}", rendered.keys().collect::<Vec<_>>())),
                    }
                }
                for order in &case.orders {
                    check_order(case, order, t, &rendered, &mut failures);
                }
            }
        }
    }
    CaseReport { name: case.name.clone(), events: case.messages.len(), elapsed: start.elapsed(), fuel, failures }
}

fn check_outcome(i: usize, expected: &Expected, actual: &Outcome, failures: &mut Vec<String>) {
    let path = format!("outcome[{}]", i + 1);
    match (expected, actual) {
        (Expected::Apply(e), Outcome::Apply(a)) => {
            let a = serde_json::to_value(a).expect("applies serialize");
            matcher::subset(&path, e, &a, failures);
        }
        (Expected::Skip(e), Outcome::Skip { reason }) | (Expected::Reject(e), Outcome::Reject { reason }) => {
            if !reason.contains(e.as_str()) {
                failures.push(format!("{path}: reason {reason:?} does not contain {e:?}"));
            }
        }
        (e, a) => {
            let want = match e {
                Expected::Apply(_) => "apply".to_string(),
                Expected::Skip(r) => format!("skip ({r})"),
                Expected::Reject(r) => format!("reject ({r})"),
            };
            failures.push(format!("{path}: expected {want}, got {}", describe(a)));
        }
    }
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Apply(a) => format!("apply ({} for {})", a.event, a.viewer),
        Outcome::Skip { reason } => format!("skip ({reason})"),
        Outcome::Reject { reason } => format!("reject ({reason})"),
    }
}

/// The same events in another arrival order must give exactly the same profiles.
fn check_order(
    case: &Case,
    order: &Order,
    t: &mut dyn Transform,
    in_order: &BTreeMap<String, Value>,
    failures: &mut Vec<String>,
) {
    let base: Vec<&[u8]> = case.messages.iter().map(Vec::as_slice).collect();
    let variants: Vec<(String, Vec<&[u8]>)> = match order {
        Order::Reverse => vec![("reverse".into(), base.iter().rev().copied().collect())],
        Order::Duplicate => {
            vec![("duplicate".into(), base.iter().copied().chain(base.iter().rev().copied()).collect())]
        }
        Order::Shuffle => (0..3)
            .map(|i| {
                let mut v = base.clone();
                shuffle(&mut v, fnv1a(case.name.as_bytes()) ^ (i + 1));
                (format!("shuffle #{}", i + 1), v)
            })
            .collect(),
    };
    for (label, messages) in variants {
        match t.transform_batch(&messages) {
            Err(fault) => failures.push(format!("{label}: module fault: {fault}")),
            Ok(outcomes) => {
                let rendered = render_all(&merge_outcomes(&outcomes, t.version()));
                let mut diffs = Vec::new();
                matcher::diff("profiles", &serde_json::to_value(in_order).unwrap(), &serde_json::to_value(&rendered).unwrap(), &mut diffs);
                failures.extend(diffs.into_iter().map(|d| format!("{label} differs from in-order: {d}")));
            }
        }
    }
}

/// Fisher-Yates with xorshift64: deterministic, so a failure reproduces.
fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut x = seed | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

pub fn run_all(cases: &[Case], t: &mut dyn Transform) -> Vec<CaseReport> {
    cases.iter().map(|c| run_case(c, t)).collect()
}

/// The table `liveviewer test-vectors` prints, failures with their differences under them.
pub fn print_table(reports: &[CaseReport], out: &mut impl Write) -> std::io::Result<()> {
    let width = reports.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    writeln!(out, "{:<width$}  {:<6}  {:>6}  {:>10}  {:>12}", "case", "result", "events", "time", "fuel/event")?;
    for r in reports {
        let result = if r.passed() { "ok" } else { "FAIL" };
        let micros = r.elapsed.as_secs_f64() * 1e6;
        let fuel = r.fuel.map_or("-".to_string(), |f| (f / r.events.max(1) as u64).to_string());
        writeln!(out, "{:<width$}  {:<6}  {:>6}  {:>8.0}us  {:>12}", r.name, result, r.events, micros, fuel)?;
        for f in &r.failures {
            writeln!(out, "{:width$}    - {f}", "")?;
        }
    }
    let failed = reports.iter().filter(|r| !r.passed()).count();
    writeln!(out, "{} cases, {} passed, {} failed", reports.len(), reports.len() - failed, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffles_are_permutations_and_repeatable() {
        let mut a: Vec<u32> = (0..50).collect();
        let mut b = a.clone();
        shuffle(&mut a, 7);
        shuffle(&mut b, 7);
        assert_eq!(a, b);
        assert_ne!(a, (0..50).collect::<Vec<_>>());
        a.sort();
        assert_eq!(a, (0..50).collect::<Vec<_>>());
    }
}
