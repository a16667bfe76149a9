//! A candidate module's way in: size -> imports -> compile -> ABI version -> every test vector,
//! then the swap (or the shadow slot). A candidate that fails a step is refused with the step
//! and the reason, and never runs on live events; the active module runs on untouched.

use super::shadow::{Shadow, ShadowSummary};
use super::{Deployed, Lifecycle, Refusal, Swapped};
use crate::live::wall_ms;
use crate::module::{CheckStep, Limits, Module, ModuleVersion};
use crate::vectors::runner::run_case;
use crate::vectors::VectorSet;
use liveviewer_wire::time::format_millis;
use serde::Serialize;
use std::sync::Arc;

/// Where a checked candidate goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Takes over at the next batch.
    Active,
    /// Runs beside the active module without writing.
    Shadow,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Submitted {
    Active(Swapped),
    Shadow(ShadowSummary),
    /// The candidate is the module already active.
    Unchanged(String),
}

/// Failing vector cases reported before giving up (a broken module fails most of them).
const MAX_FAILURES: usize = 3;

/// Checks a candidate, off the hot path (it compiles and runs every vector).
pub fn check(bytes: &[u8], limits: &Limits, vectors: &VectorSet, origin: &str) -> Result<Arc<Deployed>, Refusal> {
    let refusal = |step: CheckStep, reason: String| Refusal {
        step,
        reason,
        version: ModuleVersion::of_bytes(bytes).0,
        origin: origin.to_owned(),
        at: format_millis(wall_ms()),
    };
    let module = Module::load(bytes, limits).map_err(|e| refusal(e.step(), e.to_string()))?;
    let cases = vectors.cases().map_err(|e| refusal(CheckStep::Vectors, e))?;
    if cases.is_empty() {
        return Err(refusal(CheckStep::Vectors, "there are no test vectors to check the module against".into()));
    }
    let mut instance = module.instance().map_err(|e| refusal(CheckStep::Vectors, e.to_string()))?;
    let mut failures = Vec::new();
    let mut passed = 0;
    for case in &cases {
        let report = run_case(case, &mut instance);
        if report.passed() {
            passed += 1;
            continue;
        }
        let first = report.failures.first().cloned().unwrap_or_default();
        let faulted = first.starts_with("module fault");
        failures.push(format!("{}: {first}", report.name));
        // A module that faults will fault on the rest too, each time burning its budget.
        if faulted || failures.len() >= MAX_FAILURES {
            break;
        }
    }
    if !failures.is_empty() {
        return Err(refusal(CheckStep::Vectors, format!("test vectors failed ({} of {} cases passed): {}", passed, cases.len(), failures.join("; "))));
    }
    Ok(Deployed::new(module, origin, passed, wall_ms()))
}

/// Submits candidates to a running host's lifecycle.
pub struct Deployer {
    pub lifecycle: Arc<Lifecycle>,
    limits: Limits,
    vectors: Arc<VectorSet>,
}

impl Deployer {
    pub fn new(lifecycle: Arc<Lifecycle>, limits: Limits, vectors: Arc<VectorSet>) -> Arc<Self> {
        Arc::new(Deployer { lifecycle, limits, vectors })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub async fn submit(&self, bytes: Vec<u8>, origin: &str, mode: Mode) -> Result<Submitted, Refusal> {
        let version = ModuleVersion::of_bytes(&bytes);
        if mode == Mode::Active && self.lifecycle.active().module.version() == &version {
            return Ok(Submitted::Unchanged(version.0));
        }
        let deployed = self.gate(bytes, origin).await?;
        Ok(self.install(deployed, mode))
    }

    /// Every check, off the hot path; a refusal is recorded as the last one.
    pub async fn gate(&self, bytes: Vec<u8>, origin: &str) -> Result<Arc<Deployed>, Refusal> {
        let version = ModuleVersion::of_bytes(&bytes);
        let (limits, vectors, o) = (self.limits.clone(), self.vectors.clone(), origin.to_owned());
        let checked = tokio::task::spawn_blocking(move || check(&bytes, &limits, &vectors, &o))
            .await
            .map_err(|e| Refusal {
                step: CheckStep::Compile,
                reason: format!("checking the module crashed: {e}"),
                version: version.0.clone(),
                origin: origin.to_owned(),
                at: format_millis(wall_ms()),
            })?;
        checked.inspect_err(|refusal| self.lifecycle.refused(refusal.clone()))
    }

    /// Puts a checked module in service: active at the next batch, or in the shadow slot.
    pub fn install(&self, deployed: Arc<Deployed>, mode: Mode) -> Submitted {
        match mode {
            Mode::Active => Submitted::Active(self.lifecycle.activate(deployed)),
            Mode::Shadow => {
                let shadow = Shadow::new(deployed);
                let summary = shadow.summary();
                tracing::info!(version = %shadow.deployed.module.version().short(), origin = %shadow.deployed.origin, "module running in shadow");
                self.lifecycle.set_shadow(Some(shadow));
                Submitted::Shadow(summary)
            }
        }
    }
}
