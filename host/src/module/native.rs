//! The same logic as `transform.wasm`, linked in natively: the reference the wasm path is
//! checked against (test vectors) and measured against (benchmarks).

use super::{validate_outcome, ModuleFault, ModuleVersion, OutputLimits, Transform};
use liveviewer_wire::Outcome;

pub struct NativeTransform {
    version: ModuleVersion,
    limits: OutputLimits,
}

impl NativeTransform {
    pub fn new() -> Self {
        let info = transform::info();
        NativeTransform {
            version: ModuleVersion(format!("native:{}-{}", info.name, info.version)),
            limits: OutputLimits::default(),
        }
    }
}

impl Default for NativeTransform {
    fn default() -> Self {
        Self::new()
    }
}

impl Transform for NativeTransform {
    fn version(&self) -> &ModuleVersion {
        &self.version
    }

    fn transform_batch(&mut self, messages: &[&[u8]]) -> Result<Vec<Outcome>, ModuleFault> {
        messages
            .iter()
            .map(|m| {
                let mut outcome = transform::transform(m);
                validate_outcome(&mut outcome, &self.limits).map_err(ModuleFault::MalformedOutput)?;
                Ok(outcome)
            })
            .collect()
    }
}
