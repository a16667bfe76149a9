//! The viewer-profile module as the host runs it: a candidate is checked (size, imports,
//! compile, ABI version) into a [`Module`]; a [`ModuleInstance`] runs batches of raw messages
//! through it; faults come back classified so the caller can contain them.
//!
//! The native build of the same logic ([`NativeTransform`]) implements the same [`Transform`]
//! trait, so the test vectors and benchmarks run both paths through one code path.

mod engine;
mod imports;
mod instance;
mod native;

pub use instance::ModuleInstance;
pub use liveviewer_profile::output::{self, validate_outcome, Format, OutputError, OutputLimits};
pub use native::NativeTransform;

use extism::{CompiledPlugin, Manifest, PluginBuilder, Wasm};
use liveviewer_wire::v2::NameTable;
use liveviewer_wire::{AbiInfo, AbiVersion, Outcome, EXPORT_ABI, EXPORT_TRANSFORM_BATCH};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

/// The module built from this source tree's `plugin/` (see build.rs).
pub static BUILTIN_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/transform.wasm"));

/// A module's identity: the sha256 of its bytes, `sha256:<hex>`. Stamped on every profile,
/// dead letter and metric it produces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ModuleVersion(pub String);

impl ModuleVersion {
    pub fn of_bytes(bytes: &[u8]) -> Self {
        ModuleVersion(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    /// The short form for logs and tables: `sha256:` and 12 hex digits.
    pub fn short(&self) -> &str {
        &self.0[..self.0.len().min(19)]
    }
}

impl fmt::Display for ModuleVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a module may use. Every limit holds per instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest module file accepted.
    pub max_module_bytes: usize,
    /// Memory cap per instance, in 64 KiB wasm pages: the module's linear memory and the
    /// Extism kernel's (which holds the call's input and output) together.
    pub memory_max_pages: u32,
    /// Most elements of a table (`table.grow` past it fails); a module has at most one table.
    pub table_max_elements: u32,
    /// Most instances of one module at once (the pipeline's workers, a candidate's check).
    /// With the caps above, this bounds everything a module can make the host allocate:
    /// `max_instances * (memory_max_pages * 64 KiB + table_max_elements * 8 bytes)`.
    pub max_instances: u32,
    /// Fuel (about one unit per wasm instruction) allowed per module call. Fuel is
    /// deterministic and counted per instance, unlike a wall-clock timeout. The viewer-profile
    /// module uses about 100 000 per event (40 per input byte).
    pub fuel_per_call: u64,
    /// Most events per module call.
    pub max_batch: usize,
    /// Most input bytes per module call (a single larger message is still sent alone), so that
    /// a call's work, and so its budget, is bounded whatever the batch.
    pub max_call_bytes: usize,
    /// Caps on what one event's result may hold.
    pub output: OutputLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_module_bytes: 16 << 20,
            memory_max_pages: 1024,
            table_max_elements: 65536,
            max_instances: 16,
            fuel_per_call: 400_000_000,
            max_batch: 256,
            max_call_bytes: 1 << 20,
            output: OutputLimits::default(),
        }
    }
}

impl Limits {
    pub fn validate(&self) -> Result<(), String> {
        if self.max_module_bytes < 1024 {
            return Err("module.limits.max_module_bytes must be at least 1024".into());
        }
        if !(17..=32768).contains(&self.memory_max_pages) {
            return Err("module.limits.memory_max_pages must be between 17 (about 1 MiB) and 32768 (2 GiB)".into());
        }
        if !(1024..=1 << 24).contains(&self.table_max_elements) {
            return Err("module.limits.table_max_elements must be between 1024 and 16777216".into());
        }
        if !(2..=256).contains(&self.max_instances) {
            return Err("module.limits.max_instances must be between 2 and 256".into());
        }
        if self.fuel_per_call < 1_000_000 {
            return Err("module.limits.fuel_per_call must be at least 1000000".into());
        }
        if self.max_call_bytes < 4096 {
            return Err("module.limits.max_call_bytes must be at least 4096".into());
        }
        if self.max_batch == 0 || self.max_batch > 100_000 {
            return Err("module.limits.max_batch must be between 1 and 100000".into());
        }
        self.output.validate()
    }
}

/// The check a candidate module failed, in the order they run. Its name is part of the admin
/// API's answer and of the fleet's records, so it never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStep {
    /// More bytes than `module.limits.max_module_bytes`.
    Size,
    /// Imports something the host does not provide.
    Imports,
    /// Not valid WebAssembly for this runtime.
    Compile,
    /// Exports or ABI version the host does not speak.
    Abi,
    /// Fails or faults on the test vectors.
    Vectors,
}

impl CheckStep {
    pub fn name(self) -> &'static str {
        match self {
            CheckStep::Size => "size",
            CheckStep::Imports => "imports",
            CheckStep::Compile => "compile",
            CheckStep::Abi => "abi",
            CheckStep::Vectors => "vectors",
        }
    }
}

impl std::fmt::Display for CheckStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a candidate module was refused; [`LoadError::step`] names the check that failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    #[error("module is {size} bytes, more than the limit of {max}")]
    TooLarge { size: usize, max: usize },
    #[error("{0}")]
    Imports(String),
    #[error("does not compile: {0}")]
    Compile(String),
    #[error("{0}")]
    Abi(String),
    #[error("module speaks ABI version {found}; this host speaks versions 1 and 2")]
    AbiVersion { found: u32 },
}

impl LoadError {
    pub fn step(&self) -> CheckStep {
        match self {
            LoadError::TooLarge { .. } => CheckStep::Size,
            LoadError::Imports(_) => CheckStep::Imports,
            LoadError::Compile(_) => CheckStep::Compile,
            LoadError::Abi(_) | LoadError::AbiVersion { .. } => CheckStep::Abi,
        }
    }
}

/// A module failure while running a batch. The host contains it: the batch is retried event by
/// event so that only the guilty events are dead-lettered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModuleFault {
    #[error("module trapped: {0}")]
    Trap(String),
    #[error("module ran out of fuel (per-call budget)")]
    OutOfFuel,
    #[error("module exceeded its memory cap")]
    OutOfMemory,
    #[error("module returned an error: {0}")]
    Failed(String),
    #[error("module output too large: {0}")]
    OutputTooLarge(String),
    #[error("module output malformed: {0}")]
    MalformedOutput(String),
    #[error("module returned {got} results for {expected} events")]
    WrongCount { expected: usize, got: usize },
}

impl From<OutputError> for ModuleFault {
    fn from(e: OutputError) -> Self {
        match e {
            OutputError::TooLarge(m) => ModuleFault::OutputTooLarge(m),
            OutputError::Malformed(m) => ModuleFault::MalformedOutput(m),
            OutputError::WrongCount { expected, got } => ModuleFault::WrongCount { expected, got },
        }
    }
}

impl ModuleFault {
    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ModuleFault::Trap(_) => "trap",
            ModuleFault::OutOfFuel => "out_of_fuel",
            ModuleFault::OutOfMemory => "out_of_memory",
            ModuleFault::Failed(_) => "error",
            ModuleFault::OutputTooLarge(_) => "output_too_large",
            ModuleFault::MalformedOutput(_) => "malformed_output",
            ModuleFault::WrongCount { .. } => "wrong_count",
        }
    }
}

/// Anything that turns a batch of raw messages into one outcome per message: the wasm module
/// or the native build of the same logic.
pub trait Transform {
    fn version(&self) -> &ModuleVersion;
    fn transform_batch(&mut self, messages: &[&[u8]]) -> Result<Vec<Outcome>, ModuleFault>;
    /// Fuel the last call used, where the runtime measures it.
    fn last_fuel(&self) -> Option<u64> {
        None
    }
}

/// A checked, compiled module. Cheap to clone; instances are made from it per worker.
#[derive(Clone)]
pub struct Module {
    inner: Arc<Inner>,
}

struct Inner {
    version: ModuleVersion,
    abi: AbiInfo,
    format: Format,
    size: usize,
    limits: Limits,
    bytes: Arc<[u8]>,
    compiled: CompiledPlugin,
}

impl Module {
    /// size -> imports -> compile -> ABI version. Compiling takes a while: call it off the
    /// hot path (a blocking thread).
    pub fn load(bytes: &[u8], limits: &Limits) -> Result<Module, LoadError> {
        if bytes.len() > limits.max_module_bytes {
            return Err(LoadError::TooLarge { size: bytes.len(), max: limits.max_module_bytes });
        }
        wasmparser::Validator::new_with_features(engine::FEATURES)
            .validate_all(bytes)
            .map_err(|e| LoadError::Compile(format!("not a valid wasm module (WebAssembly 2.0): {e}")))?;
        imports::check(bytes).map_err(LoadError::Imports)?;
        let bytes: Arc<[u8]> = Arc::from(bytes);
        let compiled = compile(&bytes, limits).map_err(LoadError::Compile)?;
        let abi = read_abi(&compiled)?;
        let format = match AbiVersion::from_u32(abi.abi_version) {
            Some(AbiVersion::V1) => Format::V1,
            Some(AbiVersion::V2) => Format::V2(
                NameTable::new(abi.names.clone())
                    .map_err(|e| LoadError::Abi(format!("`{EXPORT_ABI}` declares a name table the host refuses: {e}")))?,
            ),
            None => return Err(LoadError::AbiVersion { found: abi.abi_version }),
        };
        Ok(Module {
            inner: Arc::new(Inner {
                version: ModuleVersion::of_bytes(&bytes),
                abi,
                format,
                size: bytes.len(),
                limits: limits.clone(),
                bytes,
                compiled,
            }),
        })
    }

    pub fn version(&self) -> &ModuleVersion {
        &self.inner.version
    }

    pub fn abi(&self) -> &AbiInfo {
        &self.inner.abi
    }

    /// How this module's output is read (its ABI version).
    pub fn format(&self) -> &Format {
        &self.inner.format
    }

    pub fn size(&self) -> usize {
        self.inner.size
    }

    pub fn bytes(&self) -> &[u8] {
        &self.inner.bytes
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// A fresh instance for one worker.
    pub fn instance(&self) -> Result<ModuleInstance, ModuleFault> {
        ModuleInstance::new(self.clone())
    }

    /// A new Extism instance of the module (its own store, memory and kernel), as every batch
    /// gets one; public for the benchmarks, which measure what that costs.
    pub fn new_plugin(&self) -> Result<extism::Plugin, ModuleFault> {
        extism::Plugin::new_from_compiled(&self.inner.compiled)
            .map_err(|e| ModuleFault::Failed(format!("cannot instantiate: {e:#}")))
    }
}

fn compile(bytes: &[u8], limits: &Limits) -> Result<CompiledPlugin, String> {
    let manifest = Manifest::new([Wasm::data(bytes.to_vec())]).with_memory_max(limits.memory_max_pages);
    let builder = PluginBuilder::new(manifest)
        .with_wasmtime_config(engine::config(limits))
        .with_wasi(false)
        .with_fuel_limit(limits.fuel_per_call)
        // No compilation cache on disk: the host writes nothing outside its data directory.
        .with_cache_disabled();
    CompiledPlugin::new(builder).map_err(|e| format!("{e:#}"))
}

/// Largest answer of the `abi` export: a v2 name table of a few hundred names fits many times.
const MAX_ABI_BYTES: usize = 64 << 10;

fn read_abi(compiled: &CompiledPlugin) -> Result<AbiInfo, LoadError> {
    let mut plugin = extism::Plugin::new_from_compiled(compiled)
        .map_err(|e| LoadError::Compile(format!("cannot instantiate: {e:#}")))?;
    if !plugin.function_exists(EXPORT_ABI) {
        return Err(LoadError::Abi(format!("module has no `{EXPORT_ABI}` export")));
    }
    if !plugin.function_exists(EXPORT_TRANSFORM_BATCH) {
        return Err(LoadError::Abi(format!("module has no `{EXPORT_TRANSFORM_BATCH}` export")));
    }
    let out: Vec<u8> = plugin
        .call(EXPORT_ABI, Vec::<u8>::new())
        .map_err(|e| LoadError::Abi(format!("`{EXPORT_ABI}` failed: {e:#}")))?;
    if out.len() > MAX_ABI_BYTES {
        return Err(LoadError::Abi(format!("`{EXPORT_ABI}` returned {} bytes (at most {MAX_ABI_BYTES})", out.len())));
    }
    serde_json::from_slice(&out)
        .map_err(|e| LoadError::Abi(format!("`{EXPORT_ABI}` returned something other than ABI info: {e}")))
}

/// Sorts extism's errors into the faults the pipeline reacts to.
pub(crate) fn classify(err: &extism::Error) -> ModuleFault {
    let text = format!("{err:#}");
    let root = err.root_cause().to_string();
    if text.contains("ran out of fuel") || text.contains("all fuel consumed") {
        ModuleFault::OutOfFuel
    } else if root == "oom" || text.contains("oom") && text.contains("memory") {
        ModuleFault::OutOfMemory
    } else if err.downcast_ref::<extism::convert::Error>().is_some() {
        ModuleFault::MalformedOutput(text)
    } else if text.contains("wasm trap") || text.contains("wasm backtrace") || text.contains("unreachable") {
        ModuleFault::Trap(first_line(&text))
    } else {
        ModuleFault::Failed(first_line(&text))
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(500).collect()
}
