//! The module stage: a batch through the active module, split across worker instances that
//! run side by side (the module is a pure function, so contiguous parts of a batch can run at
//! once and their results be joined in order), and through the shadow module when one runs.
//! One batch at a time holds the instances; faults are contained per event by the module
//! runtime.

use crate::lifecycle::shadow::Shadow;
use crate::lifecycle::{Deployed, Lifecycle};
use crate::message::Message;
use crate::metrics::Metrics;
use crate::module::{Module, ModuleFault, ModuleInstance};
use liveviewer_wire::Outcome;
use std::sync::Arc;
use std::time::Instant;

pub type Results = Vec<Result<Outcome, ModuleFault>>;

/// Fewer events than this per worker are not worth a thread.
const MIN_EVENTS_PER_WORKER: usize = 32;

#[derive(Default)]
struct Instances {
    /// One instance per module worker, all of the active module's version.
    active: Vec<Option<ModuleInstance>>,
    shadow: Option<ModuleInstance>,
}

pub struct Workers {
    instances: tokio::sync::Mutex<Instances>,
    module_workers: usize,
}

/// What the module made of a batch.
pub struct Ran {
    pub deployed: Arc<Deployed>,
    pub results: Results,
    /// The shadow module's results on the same batch, when one runs.
    pub shadow: Option<(Arc<Shadow>, Results)>,
}

impl Workers {
    pub fn new(module_workers: usize) -> Self {
        Workers { instances: tokio::sync::Mutex::new(Instances::default()), module_workers: module_workers.max(1) }
    }

    /// Runs `batch` through the module active now (and the shadow); gives the batch back with
    /// one result per message, in order.
    pub async fn run(&self, lifecycle: &Lifecycle, metrics: &Metrics, batch: Vec<Message>) -> (Vec<Message>, Ran) {
        let mut instances = self.instances.lock().await;
        let deployed = lifecycle.active();
        let shadow = lifecycle.shadow();
        let version = deployed.module.version().0.clone();
        let wanted = self.module_workers.min(batch.len().div_ceil(MIN_EVENTS_PER_WORKER)).max(1);
        let mut pool = std::mem::take(&mut instances.active);
        pool.resize_with(pool.len().max(wanted), || None);
        // Instances this batch does not need stay in the pool for the next large one.
        let idle = pool.split_off(wanted);
        let active: Vec<Option<ModuleInstance>> = pool.into_iter().map(|i| instance_for(i, &deployed.module)).collect();
        let mut shadowed = shadow.as_ref().and_then(|s| instance_for(instances.shadow.take(), &s.deployed.module));
        let started = Instant::now();
        let (active, batch, results) = run_parallel(active, batch).await;
        let elapsed = started.elapsed();
        // The shadow sees the same batch; its results are compared, never written.
        let (shadowed, batch, shadow_results) = if shadowed.is_some() {
            tokio::task::spawn_blocking(move || {
                let results = run_module(&mut shadowed, &batch);
                (shadowed, batch, Some(results))
            })
            .await
            .expect("module worker panicked")
        } else {
            (shadowed, batch, None)
        };
        instances.active = active;
        instances.shadow = shadowed;
        let labels = [("module_version", version.as_str())];
        metrics.observe("liveviewer_module_call_seconds", &labels, elapsed.as_secs_f64());
        let fuel: u64 = instances.active.iter().flatten().filter_map(crate::module::Transform::last_fuel).sum();
        if fuel > 0 {
            metrics.inc("liveviewer_module_fuel_total", &labels, fuel);
        }
        instances.active.extend(idle);
        let shadow = shadow.zip(shadow_results);
        (batch, Ran { deployed, results, shadow })
    }
}

/// Runs `batch` through `instances`, split into contiguous parts side by side, and joins the
/// results in the batch's order; gives the instances and the batch back.
///
/// The parts run on the runtime's blocking threads, which live on from batch to batch: a
/// thread started per batch (scoped threads, before) built each part's outcomes in a fresh
/// allocator heap and then exited, so every outcome was later freed into an abandoned heap
/// by the thread that merged and wrote it, the allocator's slowest path (the largest single
/// cost of freeing settled outcomes in the pipeline benchmark's profile).
async fn run_parallel(instances: Vec<Option<ModuleInstance>>, batch: Vec<Message>) -> (Vec<Option<ModuleInstance>>, Vec<Message>, Results) {
    let part = batch.len().div_ceil(instances.len().max(1)).max(1);
    let batch = Arc::new(batch);
    let tasks: Vec<_> = instances
        .into_iter()
        .enumerate()
        .map(|(i, mut instance)| {
            let batch = batch.clone();
            tokio::task::spawn_blocking(move || {
                let range = (i * part).min(batch.len())..((i + 1) * part).min(batch.len());
                let results = if range.is_empty() { Vec::new() } else { run_module(&mut instance, &batch[range]) };
                (instance, results)
            })
        })
        .collect();
    let mut instances = Vec::with_capacity(tasks.len());
    let mut results = Vec::with_capacity(batch.len());
    for task in tasks {
        let (instance, part_results) = task.await.expect("module worker panicked");
        instances.push(instance);
        results.extend(part_results);
    }
    let batch = Arc::try_unwrap(batch).unwrap_or_else(|_| unreachable!("every part has finished"));
    (instances, batch, results)
}

/// An instance of `module`, reusing `current` when it is of the same version.
fn instance_for(current: Option<ModuleInstance>, module: &Module) -> Option<ModuleInstance> {
    match current {
        Some(i) if i.module().version() == module.version() => Some(i),
        _ => match module.instance() {
            Ok(i) => Some(i),
            Err(fault) => {
                tracing::error!(%fault, module = %module.version(), "cannot instantiate the module");
                None
            }
        },
    }
}

fn run_module(instance: &mut Option<ModuleInstance>, batch: &[Message]) -> Results {
    match instance {
        Some(i) => {
            let refs: Vec<&[u8]> = batch.iter().map(|m| m.payload.as_slice()).collect();
            i.transform_contained(&refs)
        }
        None => batch.iter().map(|_| Err(ModuleFault::Failed("module cannot be instantiated".into()))).collect(),
    }
}
