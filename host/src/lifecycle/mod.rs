//! The module lifecycle: which module is active, which came before it (kept warm for
//! rollback), which runs in shadow, and which candidate was last refused and why. The pipeline
//! takes the active module at the start of each batch, so every event is processed by exactly
//! one module version and a swap lands between two batches.

use crate::module::Module;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A module in service, with what it has done.
pub struct Deployed {
    pub module: Module,
    /// Where it came from: `built-in`, a file path, `upload`.
    pub origin: String,
    pub loaded_at_ms: i64,
    pub vectors_passed: usize,
    pub events: AtomicU64,
    pub faults: AtomicU64,
}

impl Deployed {
    pub fn new(module: Module, origin: &str, vectors_passed: usize, now_ms: i64) -> Arc<Self> {
        Arc::new(Deployed {
            module,
            origin: origin.to_owned(),
            loaded_at_ms: now_ms,
            vectors_passed,
            events: AtomicU64::new(0),
            faults: AtomicU64::new(0),
        })
    }

    pub fn record(&self, events: u64, faults: u64) {
        self.events.fetch_add(events, Ordering::Relaxed);
        self.faults.fetch_add(faults, Ordering::Relaxed);
    }

    pub fn summary(&self) -> DeployedSummary {
        DeployedSummary {
            version: self.module.version().0.clone(),
            name: self.module.abi().name.clone(),
            module_semver: self.module.abi().version.clone(),
            abi_version: self.module.abi().abi_version,
            origin: self.origin.clone(),
            size_bytes: self.module.size(),
            loaded_at: liveviewer_wire::time::format_millis(self.loaded_at_ms),
            vectors_passed: self.vectors_passed,
            events_processed: self.events.load(Ordering::Relaxed),
            errors: self.faults.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployedSummary {
    pub version: String,
    pub name: String,
    pub module_semver: String,
    pub abi_version: u32,
    pub origin: String,
    pub size_bytes: usize,
    pub loaded_at: String,
    pub vectors_passed: usize,
    pub events_processed: u64,
    pub errors: u64,
}

pub struct Lifecycle {
    state: Mutex<State>,
}

struct State {
    active: Arc<Deployed>,
    previous: Option<Arc<Deployed>>,
}

impl Lifecycle {
    pub fn new(active: Arc<Deployed>) -> Arc<Self> {
        Arc::new(Lifecycle { state: Mutex::new(State { active, previous: None }) })
    }

    pub fn active(&self) -> Arc<Deployed> {
        self.state.lock().expect("lifecycle").active.clone()
    }

    pub fn previous(&self) -> Option<Arc<Deployed>> {
        self.state.lock().expect("lifecycle").previous.clone()
    }
}
