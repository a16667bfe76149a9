//! What wasmtime may allocate for a module, all of it capped: each module gets its own engine
//! with a pooling allocator sized for `max_instances` instances at once, so its memories,
//! tables, instances and GC heaps come from fixed pools with fixed maxima. Extism's own limiter
//! caps memory per instance but lets tables grow without end; a table capped here fails to
//! grow (`table.grow` returns -1) instead of taking the host's memory. The pool also makes a
//! fresh instance cheap (slots are reused, memory is reset copy-on-write), which is what lets
//! every call start from a fresh instance.

use super::Limits;
use wasmparser::WasmFeatures;
use wasmtime::{Config, InstanceAllocationStrategy, PoolingAllocationConfig};

/// WebAssembly 2.0: what Rust and other compilers emit for `wasm32` by default. Later
/// proposals (multiple memories, memory64, threads, GC, exceptions, ...) bring allocations or
/// behaviour the sandbox does not bound; a module using one is refused before it compiles.
pub const FEATURES: WasmFeatures = WasmFeatures::WASM2;

/// Per instance of a module: the module itself and the Extism kernel beside it.
const CORE_INSTANCES_PER_INSTANCE: u32 = 2;
/// Per instance: the module's memory, the kernel's (input and output), and the GC heap that
/// Extism's host context lives in.
const MEMORIES_PER_INSTANCE: u32 = 3;
/// Memory kept resident per memory slot between instances (see `config`).
const KEEP_RESIDENT: usize = 4 << 20;

pub fn config(limits: &Limits) -> Config {
    // Extism's limiter holds an instance to `memory_max_pages` for its memories' initial sizes
    // and as much again for their growth; this ceiling is above what it allows, so that a
    // module reaching the cap is stopped by the limiter (a fault the host names: out of
    // memory) and not by a failed `memory.grow`, which a module would turn into a trap.
    let max_memory = 2 * limits.memory_max_pages as usize * 65536;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(limits.max_instances * CORE_INSTANCES_PER_INSTANCE)
        .total_memories(limits.max_instances * MEMORIES_PER_INSTANCE)
        .total_tables(limits.max_instances)
        .total_gc_heaps(limits.max_instances)
        .max_memories_per_module(1)
        .max_tables_per_module(1)
        .table_elements(limits.table_max_elements as usize)
        .max_memory_size(max_memory)
        // Every call gets a fresh instance, which touches a few MiB (its input, its heap): the
        // first KEEP_RESIDENT bytes of a finished instance's memory are zeroed and kept for the
        // next one, rather than given back and faulted in again page by page; past them,
        // memory (and any table) is given back, so a module that grew large holds nothing.
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(0);
    let mut config = Config::new();
    config
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool))
        // Refused before compiling too (FEATURES); twice, because these bypass the caps above.
        .wasm_multi_memory(false)
        .wasm_memory64(false);
    config
}
