//! Shadow mode: a candidate runs on the same live batches beside the active module; its
//! deltas are never written. What it would have done differently is counted, with a few
//! examples, so that it can be promoted or dropped on evidence.

use super::{Deployed, DeployedSummary};
use crate::module::ModuleFault;
use crate::source::Origin;
use liveviewer_wire::Outcome;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

const EXAMPLES: usize = 5;

pub struct Shadow {
    pub deployed: Arc<Deployed>,
    events: AtomicU64,
    differing: AtomicU64,
    faults: AtomicU64,
    examples: Mutex<Vec<Difference>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Difference {
    pub origin: Origin,
    pub active: Value,
    pub shadow: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShadowSummary {
    pub module: DeployedSummary,
    pub events_seen: u64,
    pub differing: u64,
    pub faults: u64,
    pub examples: Vec<Difference>,
}

fn describe(r: &Result<Outcome, ModuleFault>) -> Value {
    match r {
        Ok(o) => serde_json::to_value(o).unwrap_or(Value::Null),
        Err(f) => json!({"fault": f.to_string()}),
    }
}

fn same(a: &Result<Outcome, ModuleFault>, b: &Result<Outcome, ModuleFault>) -> bool {
    match (a, b) {
        (Ok(x), Ok(y)) => x == y,
        (Err(x), Err(y)) => x.kind() == y.kind(),
        _ => false,
    }
}

impl Shadow {
    pub fn new(deployed: Arc<Deployed>) -> Arc<Self> {
        Arc::new(Shadow {
            deployed,
            events: AtomicU64::new(0),
            differing: AtomicU64::new(0),
            faults: AtomicU64::new(0),
            examples: Mutex::new(Vec::new()),
        })
    }

    /// Compares one batch's results, event by event; returns how many differed.
    pub fn compare(
        &self,
        origins: &[&Origin],
        active: &[Result<Outcome, ModuleFault>],
        shadow: &[Result<Outcome, ModuleFault>],
    ) -> u64 {
        let mut differing = 0;
        for ((origin, a), s) in origins.iter().zip(active).zip(shadow) {
            if s.is_err() {
                self.faults.fetch_add(1, Ordering::Relaxed);
            }
            if !same(a, s) {
                differing += 1;
                let mut examples = self.examples.lock().expect("shadow examples");
                if examples.len() < EXAMPLES {
                    examples.push(Difference { origin: (*origin).clone(), active: describe(a), shadow: describe(s) });
                }
            }
        }
        self.events.fetch_add(active.len() as u64, Ordering::Relaxed);
        self.differing.fetch_add(differing, Ordering::Relaxed);
        self.deployed.record(active.len() as u64, shadow.iter().filter(|s| s.is_err()).count() as u64);
        differing
    }

    pub fn summary(&self) -> ShadowSummary {
        ShadowSummary {
            module: self.deployed.summary(),
            events_seen: self.events.load(Ordering::Relaxed),
            differing: self.differing.load(Ordering::Relaxed),
            faults: self.faults.load(Ordering::Relaxed),
            examples: self.examples.lock().expect("shadow examples").clone(),
        }
    }
}
