//! One worker's instance of a module. Not shared between threads: each worker makes its own,
//! and fuel (the per-call budget) is counted per instance, so one instance's runaway call
//! cannot interrupt another's.

use super::{classify, output, Module, ModuleFault, ModuleVersion, Transform};
use extism::Plugin;
use liveviewer_wire::{frames, Outcome, EXPORT_TRANSFORM_BATCH};

pub struct ModuleInstance {
    module: Module,
    plugin: Option<Plugin>,
    last_fuel: Option<u64>,
}

impl ModuleInstance {
    pub(super) fn new(module: Module) -> Result<Self, ModuleFault> {
        let plugin = Some(module.new_plugin()?);
        Ok(ModuleInstance { module, plugin, last_fuel: None })
    }

    pub fn module(&self) -> &Module {
        &self.module
    }

    /// One call, faults classified; a faulted instance is dropped, since its memory may be in
    /// any state, and the next call starts afresh.
    fn call(&mut self, messages: &[&[u8]]) -> Result<Vec<Outcome>, ModuleFault> {
        if self.plugin.is_none() {
            self.plugin = Some(self.module.new_plugin()?);
        }
        let plugin = self.plugin.as_mut().expect("just made");
        let result = call(plugin, messages, &self.module);
        let fuel = plugin.fuel_consumed().unwrap_or(0);
        self.last_fuel = Some(self.last_fuel.unwrap_or(0) + fuel);
        if result.is_err() {
            self.plugin = None;
        }
        result
    }

    /// Runs one event alone: the retry after a batch fault.
    pub fn transform_one(&mut self, message: &[u8]) -> Result<Outcome, ModuleFault> {
        self.last_fuel = None;
        self.call(&[message]).map(|mut v| v.pop().expect("decode checked the count"))
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

    /// Calls of at most `max_batch` events and `max_call_bytes` of input each.
    fn transform_batch(&mut self, messages: &[&[u8]]) -> Result<Vec<Outcome>, ModuleFault> {
        let limits = self.module.limits();
        let (max_events, max_bytes) = (limits.max_batch, limits.max_call_bytes);
        self.last_fuel = None;
        let mut out = Vec::with_capacity(messages.len());
        let mut start = 0;
        while start < messages.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < messages.len() && end - start < max_events && (end == start || bytes + messages[end].len() <= max_bytes) {
                bytes += messages[end].len();
                end += 1;
            }
            out.extend(self.call(&messages[start..end])?);
            start = end;
        }
        Ok(out)
    }

    fn last_fuel(&self) -> Option<u64> {
        self.last_fuel
    }
}

fn call(plugin: &mut Plugin, messages: &[&[u8]], module: &Module) -> Result<Vec<Outcome>, ModuleFault> {
    let input = frames::encode(messages.iter().copied());
    let bytes: &[u8] = plugin.call(EXPORT_TRANSFORM_BATCH, input.as_slice()).map_err(|e| classify(&e))?;
    Ok(output::decode(module.format(), bytes, messages.len(), &module.limits().output)?)
}
