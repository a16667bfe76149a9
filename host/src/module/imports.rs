//! What a module may import: Extism's kernel functions for memory, input, output, errors and
//! logging, nothing else. No WASI (clock, files, randomness), no HTTP, no config or variables
//! (state between calls), no host functions. Checked before compiling, so a module that
//! reaches for any of them is refused with its name.

use wasmparser::{Parser, Payload, TypeRef};

const KERNEL: &str = "extism:host/env";

const ALLOWED: &[&str] = &[
    "alloc",
    "free",
    "length",
    "length_unsafe",
    "load_u8",
    "load_u64",
    "store_u8",
    "store_u64",
    "input_offset",
    "input_length",
    "input_load_u8",
    "input_load_u64",
    "output_set",
    "error_set",
    "log_trace",
    "log_debug",
    "log_info",
    "log_warn",
    "log_error",
    "get_log_level",
];

pub fn check(bytes: &[u8]) -> Result<(), String> {
    let mut refused = Vec::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(|e| format!("not a valid wasm module: {e}"))?;
        match payload {
            Payload::Version { encoding: wasmparser::Encoding::Component, .. } => {
                return Err("a wasm component, not a core module".into());
            }
            Payload::ImportSection(section) => {
                for import in section.into_imports() {
                    let import = import.map_err(|e| format!("not a valid wasm module: {e}"))?;
                    let is_func = matches!(import.ty, TypeRef::Func(_) | TypeRef::FuncExact(_));
                    if import.module != KERNEL || !is_func || !ALLOWED.contains(&import.name) {
                        refused.push(format!("{}::{}", import.module, import.name));
                    }
                }
            }
            _ => {}
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        refused.sort();
        refused.dedup();
        Err(format!(
            "module imports what the sandbox does not provide: {} (allowed: Extism kernel memory, input, output, error and log functions)",
            refused.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Minimal modules, hand-assembled: header, a type section `() -> ()`, an import section.
    fn module_importing(module: &str, name: &str) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend([1, 4, 1, 0x60, 0, 0]);
        let mut body = vec![1u8];
        body.push(module.len() as u8);
        body.extend(module.as_bytes());
        body.push(name.len() as u8);
        body.extend(name.as_bytes());
        body.extend([0, 0]);
        m.push(2);
        m.push(body.len() as u8);
        m.extend(body);
        m
    }

    #[test]
    fn kernel_functions_pass() {
        check(&module_importing(KERNEL, "output_set")).unwrap();
    }

    #[test]
    fn wasi_http_vars_and_host_functions_are_refused() {
        for (module, name) in [
            ("wasi_snapshot_preview1", "fd_write"),
            (KERNEL, "http_request"),
            (KERNEL, "var_set"),
            (KERNEL, "config_get"),
            ("extism:host/user", "lookup"),
            ("env", "now"),
        ] {
            let err = check(&module_importing(module, name)).unwrap_err();
            assert!(err.contains(&format!("{module}::{name}")), "{err}");
        }
    }

    #[test]
    fn garbage_is_not_a_module() {
        assert!(check(b"not wasm at all").unwrap_err().contains("not a valid wasm module"));
    }
}
