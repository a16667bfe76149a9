//! One worker's instance of a module. Not shared between threads: each worker makes its own,
//! and fuel (the per-call budget) is counted per instance, so one instance's runaway call
//! cannot interrupt another's.

use super::{classify, output, Module, ModuleFault, ModuleVersion, Transform};
use extism::Plugin;
use liveviewer_wire::{frames, Outcome, EXPORT_TRANSFORM_BATCH};

pub struct ModuleInstance {
    module: Module,
    batch: Option<Plugin>,
    single: Option<Plugin>,
    last_fuel: Option<u64>,
}

impl ModuleInstance {
    pub(super) fn new(module: Module) -> Result<Self, ModuleFault> {
        let batch = Some(instantiate(module.batch_plugin())?);
        Ok(ModuleInstance { module, batch, single: None, last_fuel: None })
    }

    pub fn module(&self) -> &Module {
        &self.module
    }

    /// Runs one event alone, with the budget of one event: the retry after a batch fault.
    pub fn transform_one(&mut self, message: &[u8]) -> Result<Outcome, ModuleFault> {
        if self.single.is_none() {
            self.single = Some(instantiate(self.module.single_plugin()?)?);
        }
        let plugin = self.single.as_mut().expect("just made");
        let result = call(plugin, &[message], &self.module);
        self.last_fuel = plugin.fuel_consumed();
        if result.is_err() {
            // A faulted instance may have left its memory in any state: start the next call afresh.
            self.single = None;
        }
        result.map(|mut v| v.pop().expect("decode checked the count"))
    }

    /// Runs a batch; when the batch faults, retries it event by event so that only the guilty
    /// events carry the fault. One result per message, in order.
    pub fn transform_contained(&mut self, messages: &[&[u8]]) -> Vec<Result<Outcome, ModuleFault>> {
        match self.transform_batch(messages) {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(fault) if messages.len() == 1 => vec![Err(fault)],
            Err(fault) => {
                tracing::debug!(%fault, events = messages.len(), "batch faulted; retrying event by event");
                messages.iter().map(|m| self.transform_one(m)).collect()
            }
        }
    }
}

impl Transform for ModuleInstance {
    fn version(&self) -> &ModuleVersion {
        self.module.version()
    }

    fn transform_batch(&mut self, messages: &[&[u8]]) -> Result<Vec<Outcome>, ModuleFault> {
        let max = self.module.limits().max_batch;
        let mut out = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(max) {
            if self.batch.is_none() {
                self.batch = Some(instantiate(self.module.batch_plugin())?);
            }
            let plugin = self.batch.as_mut().expect("just made");
            let result = call(plugin, chunk, &self.module);
            self.last_fuel = plugin.fuel_consumed();
            match result {
                Ok(outcomes) => out.extend(outcomes),
                Err(fault) => {
                    self.batch = None;
                    return Err(fault);
                }
            }
        }
        Ok(out)
    }

    fn last_fuel(&self) -> Option<u64> {
        self.last_fuel
    }
}

fn instantiate(compiled: &extism::CompiledPlugin) -> Result<Plugin, ModuleFault> {
    Plugin::new_from_compiled(compiled).map_err(|e| ModuleFault::Failed(format!("cannot instantiate: {e:#}")))
}

fn call(plugin: &mut Plugin, messages: &[&[u8]], module: &Module) -> Result<Vec<Outcome>, ModuleFault> {
    let input = frames::encode(messages.iter().copied());
    let bytes: &[u8] = plugin.call(EXPORT_TRANSFORM_BATCH, input.as_slice()).map_err(|e| classify(&e))?;
    output::decode(bytes, messages.len(), &module.limits().output)
}
