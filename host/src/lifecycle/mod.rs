//! The module lifecycle: which module is active, which came before it (kept warm for
//! rollback), which runs in shadow, and which candidate was last refused and why.
//!
//! A candidate goes through size -> imports -> compile -> ABI version -> every test vector
//! ([`candidate::check`]) before it may run on live events. The pipeline takes the active
//! module at the start of each batch, so a swap lands between two batches and every event is
//! processed by exactly one module version.

pub mod candidate;
pub mod health;
pub mod shadow;
pub mod watch;

use crate::metrics::Metrics;
use crate::module::Module;
use health::HealthPolicy;
use serde::Serialize;
use shadow::Shadow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    pub unhealthy: AtomicBool,
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
            unhealthy: AtomicBool::new(false),
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
            healthy: !self.unhealthy.load(Ordering::Relaxed),
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
    pub healthy: bool,
}

/// Why a candidate was refused.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Refusal {
    /// The check that failed.
    pub step: crate::module::CheckStep,
    pub reason: String,
    pub version: String,
    pub origin: String,
    pub at: String,
}

/// What a swap did.
#[derive(Debug, Clone, Serialize)]
pub struct Swapped {
    pub active: DeployedSummary,
    pub previous: Option<DeployedSummary>,
}

pub struct Lifecycle {
    state: Mutex<State>,
    pub policy: HealthPolicy,
    metrics: Arc<Metrics>,
    /// Where the active module is kept so that a restart resumes with it (in the data
    /// directory, never elsewhere); none for commands that do not serve.
    keep_dir: Option<PathBuf>,
    /// The last automatic rollback: (the unhealthy version, the version back in service),
    /// which a fleet turns into a rollback of every host.
    auto_rolled_back: tokio::sync::watch::Sender<Option<(String, String)>>,
}

/// The file in the keep directory that holds the active module.
pub const KEPT_MODULE: &str = "active.wasm";

struct State {
    active: Arc<Deployed>,
    previous: Option<Arc<Deployed>>,
    shadow: Option<Arc<Shadow>>,
    last_refused: Option<Refusal>,
}

impl Lifecycle {
    pub fn new(active: Arc<Deployed>, policy: HealthPolicy, metrics: Arc<Metrics>, keep_dir: Option<PathBuf>) -> Arc<Self> {
        metrics.set("liveviewer_module_healthy", &[("module_version", &active.module.version().0)], 1.0);
        Arc::new(Lifecycle {
            state: Mutex::new(State { active, previous: None, shadow: None, last_refused: None }),
            policy,
            metrics,
            keep_dir,
            auto_rolled_back: tokio::sync::watch::channel(None).0,
        })
    }

    /// Automatic rollbacks as they happen.
    pub fn auto_rollbacks(&self) -> tokio::sync::watch::Receiver<Option<(String, String)>> {
        self.auto_rolled_back.subscribe()
    }

    /// The module kept by an earlier run, if any.
    pub fn kept(keep_dir: &Path) -> Option<Vec<u8>> {
        std::fs::read(keep_dir.join(KEPT_MODULE)).ok()
    }

    fn keep(&self, active: &Deployed) {
        let Some(dir) = &self.keep_dir else { return };
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!("{KEPT_MODULE}.tmp"));
            std::fs::write(&tmp, active.module.bytes())?;
            std::fs::rename(&tmp, dir.join(KEPT_MODULE))
        };
        if let Err(e) = write() {
            tracing::warn!(dir = %dir.display(), error = %e, "could not keep the active module for restarts");
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("lifecycle")
    }

    pub fn active(&self) -> Arc<Deployed> {
        self.lock().active.clone()
    }

    pub fn previous(&self) -> Option<Arc<Deployed>> {
        self.lock().previous.clone()
    }

    pub fn shadow(&self) -> Option<Arc<Shadow>> {
        self.lock().shadow.clone()
    }

    pub fn last_refused(&self) -> Option<Refusal> {
        self.lock().last_refused.clone()
    }

    /// Makes a checked module the active one; the active one becomes the previous. The module
    /// already active stays as it is (its counters, and the previous one to roll back to): an
    /// upload repeated, or the fleet's record of this host's own upload arriving once the
    /// upload has taken over, would otherwise make it its own previous, and a rollback (the
    /// fleet's automatic one too) would stay on the module it means to leave.
    pub fn activate(&self, next: Arc<Deployed>) -> Swapped {
        let mut s = self.lock();
        if s.active.module.version() == next.module.version() {
            tracing::info!(active = %s.active.module.version().short(), origin = %next.origin, "module already active; nothing to swap");
            return Swapped { active: s.active.summary(), previous: s.previous.as_ref().map(|p| p.summary()) };
        }
        let old = std::mem::replace(&mut s.active, next);
        s.previous = Some(old);
        self.keep(&s.active);
        self.metrics.inc("liveviewer_module_swaps_total", &[("result", "accepted")], 1);
        self.metrics.set("liveviewer_module_healthy", &[("module_version", &s.active.module.version().0)], 1.0);
        tracing::info!(
            active = %s.active.module.version().short(),
            previous = %s.previous.as_ref().map(|p| p.module.version().short().to_owned()).unwrap_or_default(),
            origin = %s.active.origin,
            "module swapped in; it takes over at the next batch"
        );
        Swapped { active: s.active.summary(), previous: s.previous.as_ref().map(|p| p.summary()) }
    }

    /// Back to the previous module; the active one becomes the previous (a second rollback
    /// undoes the first).
    pub fn rollback(&self, reason: &str) -> Option<Swapped> {
        let mut s = self.lock();
        self.rollback_locked(&mut s, reason)
    }

    fn rollback_locked(&self, s: &mut State, reason: &str) -> Option<Swapped> {
        let previous = s.previous.take()?;
        let old = std::mem::replace(&mut s.active, previous);
        s.previous = Some(old);
        self.keep(&s.active);
        self.metrics.inc("liveviewer_module_rollbacks_total", &[("reason", reason)], 1);
        tracing::warn!(active = %s.active.module.version().short(), reason, "rolled back to the previous module");
        Some(Swapped { active: s.active.summary(), previous: s.previous.as_ref().map(|p| p.summary()) })
    }

    pub fn refused(&self, refusal: Refusal) {
        self.metrics.inc("liveviewer_module_swaps_total", &[("result", "refused")], 1);
        tracing::warn!(step = %refusal.step, reason = %refusal.reason, origin = %refusal.origin, "module candidate refused");
        self.lock().last_refused = Some(refusal);
    }

    pub fn set_shadow(&self, shadow: Option<Arc<Shadow>>) -> Option<Arc<Shadow>> {
        std::mem::replace(&mut self.lock().shadow, shadow)
    }

    /// The shadow module becomes the active one.
    pub fn promote(&self) -> Option<Swapped> {
        let shadow = self.lock().shadow.take()?;
        Some(self.activate(shadow.deployed.clone()))
    }

    /// After a batch: marks the active module unhealthy past the fault limit, and rolls back
    /// one that was just swapped in. Returns whether it rolled back.
    pub fn check_health(&self) -> bool {
        let mut s = self.lock();
        let active = s.active.clone();
        let events = active.events.load(Ordering::Relaxed);
        let faults = active.faults.load(Ordering::Relaxed);
        if !self.policy.unhealthy(events, faults) || active.unhealthy.swap(true, Ordering::Relaxed) {
            return false;
        }
        self.metrics.set("liveviewer_module_healthy", &[("module_version", &active.module.version().0)], 0.0);
        tracing::error!(
            module = %active.module.version().short(),
            events,
            faults,
            "module faults on more than {:.1}% of events: unhealthy",
            self.policy.max_fault_share * 100.0
        );
        let rolled = s.previous.is_some() && self.policy.on_probation(events) && self.rollback_locked(&mut s, "unhealthy").is_some();
        if rolled {
            let back = s.active.module.version().0.clone();
            let _ = self.auto_rolled_back.send(Some((active.module.version().0.clone(), back)));
        }
        rolled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::{Limits, BUILTIN_WASM};

    /// The fleet's record of this host's own upload can arrive once the upload has taken over;
    /// following it swaps in the module already active. That must not make the module its own
    /// previous: the fleet's automatic rollback then stayed on the module it meant to leave.
    #[test]
    fn swapping_in_the_active_module_again_changes_nothing() {
        let module = Module::load(BUILTIN_WASM, &Limits::default()).unwrap();
        let lifecycle = Lifecycle::new(Deployed::new(module.clone(), "built-in", 0, 0), HealthPolicy::default(), Arc::new(Metrics::default()), None);
        lifecycle.active().record(10, 1);
        let swapped = lifecycle.activate(Deployed::new(module, "fleet", 0, 1));
        assert!(swapped.previous.is_none(), "no module before the active one");
        assert!(lifecycle.previous().is_none());
        assert_eq!(lifecycle.active().origin, "built-in", "the active one kept, with its counters");
        assert_eq!(lifecycle.active().events.load(Ordering::Relaxed), 10);
        assert!(lifecycle.rollback("test").is_none(), "nothing to roll back to");
    }
}
