//! One worker's way of running a module. Not shared between threads: each worker has its own.
//!
//! Every batch runs on a fresh Extism instance of the module, dropped after the batch: a
//! module cannot keep state from one batch to the next (and so cannot pass the test vectors,
//! each case a batch, and then behave differently, or differently per worker). Within a batch
//! the module sees every event anyway; its calls (a batch larger than `max_batch` is split)
//! and, after a fault, its event-by-event retry share an instance, except that an instance
//! that faulted is never called again. Fuel (the per-call budget) is counted per instance, so
//! one call's runaway cannot interrupt another's. The engine's pool (see `engine.rs`) makes a
//! fresh instance cheap.

use super::{classify, output, Module, ModuleFault, ModuleVersion, Transform};
use extism::Plugin;
use liveviewer_wire::{frames, Outcome, EXPORT_TRANSFORM_BATCH};

pub struct ModuleInstance {
    module: Module,
    /// The next batch's instance, made ahead, so that a module that cannot be instantiated is
    /// known when the worker starts, not at its first event.
    next: Option<Plugin>,
    /// The framed input, kept between calls to spare the allocation.
    input: Vec<u8>,
    last_fuel: Option<u64>,
}

impl ModuleInstance {
    pub(super) fn new(module: Module) -> Result<Self, ModuleFault> {
        let next = Some(module.new_plugin()?);
        Ok(ModuleInstance { module, next, input: Vec::new(), last_fuel: None })
    }

    pub fn module(&self) -> &Module {
        &self.module
    }

    /// A fresh instance.
    fn fresh(&mut self) -> Result<Plugin, ModuleFault> {
        match self.next.take() {
            Some(p) => Ok(p),
            None => self.module.new_plugin(),
        }
    }

    /// One call, faults classified.
    fn call(&mut self, plugin: &mut Plugin, messages: &[&[u8]]) -> Result<Vec<Outcome>, ModuleFault> {
        frames::encode_into(&mut self.input, messages.iter().copied());
        let result = call(plugin, &self.input, messages.len(), &self.module);
        let fuel = plugin.fuel_consumed().unwrap_or(0);
        self.last_fuel = Some(self.last_fuel.unwrap_or(0) + fuel);
        result
    }

    /// Calls of at most `max_batch` events and `max_call_bytes` of input each, on `plugin`.
    fn run(&mut self, plugin: &mut Plugin, messages: &[&[u8]]) -> Result<Vec<Outcome>, ModuleFault> {
        let limits = self.module.limits();
        let (max_events, max_bytes) = (limits.max_batch, limits.max_call_bytes);
        let mut out = Vec::with_capacity(messages.len());
        let mut start = 0;
        while start < messages.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < messages.len() && end - start < max_events && (end == start || bytes + messages[end].len() <= max_bytes) {
                bytes += messages[end].len();
                end += 1;
            }
            out.extend(self.call(plugin, &messages[start..end])?);
            start = end;
        }
        Ok(out)
    }

    /// Runs a batch; when the batch faults, retries it event by event so that only the guilty
    /// events carry the fault. One result per message, in order.
    pub fn transform_contained(&mut self, messages: &[&[u8]]) -> Vec<Result<Outcome, ModuleFault>> {
        match self.transform_batch(messages) {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(fault) if messages.len() == 1 => vec![Err(fault)],
            Err(fault) => {
                tracing::debug!(%fault, events = messages.len(), "batch faulted; retrying event by event");
                let mut plugin: Option<Plugin> = None;
                messages
                    .iter()
                    .map(|m| {
                        let mut p = match plugin.take() {
                            Some(p) => p,
                            None => self.module.new_plugin()?,
                        };
                        let result = self.call(&mut p, &[m]).map(|mut v| v.pop().expect("decode checked the count"));
                        // A faulted instance may be in any state: the next event gets a new one.
                        if result.is_ok() {
                            plugin = Some(p);
                        }
                        result
                    })
                    .collect()
            }
        }
    }
}

impl Transform for ModuleInstance {
    fn version(&self) -> &ModuleVersion {
        self.module.version()
    }

    /// One batch on a fresh instance.
    fn transform_batch(&mut self, messages: &[&[u8]]) -> Result<Vec<Outcome>, ModuleFault> {
        self.last_fuel = None;
        let mut plugin = self.fresh()?;
        self.run(&mut plugin, messages)
    }

    fn last_fuel(&self) -> Option<u64> {
        self.last_fuel
    }
}

fn call(plugin: &mut Plugin, input: &[u8], events: usize, module: &Module) -> Result<Vec<Outcome>, ModuleFault> {
    let bytes: &[u8] = plugin.call(EXPORT_TRANSFORM_BATCH, input).map_err(|e| classify(&e))?;
    Ok(output::decode(module.format(), bytes, events, &module.limits().output)?)
}
