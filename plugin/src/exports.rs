//! The wasm exports (ABI v2). Thin on purpose: all logic is in the library, testable natively.

use extism_pdk::{plugin_fn, FnResult, WithReturnCode};

#[plugin_fn]
pub fn abi() -> FnResult<String> {
    Ok(serde_json::to_string(&crate::info())?)
}

#[plugin_fn]
pub fn transform_batch(batch: Vec<u8>) -> FnResult<Vec<u8>> {
    crate::transform_batch(&batch)
        .map_err(|e| WithReturnCode::new(extism_pdk::Error::msg(e.to_string()), 1))
}
