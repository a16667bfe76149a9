//! Byte scans over a whole message, sixteen bytes at a time with WebAssembly SIMD in the wasm
//! build (WebAssembly 2.0 has it; the host refuses modules that need more) and eight at a time
//! natively. Every event goes through both scans byte by byte, and in wasm, without these, they
//! were a tenth of the module's time. The native and wasm builds must agree: the test vectors
//! and `host/tests/vectors.rs` compare them on every case and on the fuzzers' corpora.

/// Calls `found(i)` for every tab at index `i`, in order.
pub fn tabs(bytes: &[u8], found: impl FnMut(usize)) {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: the host runs WebAssembly 2.0 modules only, which includes SIMD.
    unsafe {
        wasm::tabs(bytes, found)
    }
    #[cfg(not(target_arch = "wasm32"))]
    portable::tabs(bytes, found)
}

/// Whether every byte is ASCII (then the message is valid UTF-8 without a closer look).
pub fn is_ascii(bytes: &[u8]) -> bool {
    #[cfg(target_arch = "wasm32")]
    // SAFETY: as above.
    unsafe {
        wasm::is_ascii(bytes)
    }
    #[cfg(not(target_arch = "wasm32"))]
    bytes.is_ascii()
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use core::arch::wasm32::*;

    #[target_feature(enable = "simd128")]
    pub unsafe fn tabs(bytes: &[u8], mut found: impl FnMut(usize)) {
        let tab = u8x16_splat(b'\t');
        let mut i = 0;
        while i + 16 <= bytes.len() {
            // SAFETY: sixteen bytes from `i` are in the slice; wasm loads need no alignment.
            let v = unsafe { v128_load(bytes.as_ptr().add(i) as *const v128) };
            let mut mask = u8x16_bitmask(u8x16_eq(v, tab)) as u32;
            while mask != 0 {
                found(i + mask.trailing_zeros() as usize);
                mask &= mask - 1;
            }
            i += 16;
        }
        for (k, &b) in bytes[i..].iter().enumerate() {
            if b == b'\t' {
                found(i + k);
            }
        }
    }

    #[target_feature(enable = "simd128")]
    pub unsafe fn is_ascii(bytes: &[u8]) -> bool {
        let mut any = u8x16_splat(0);
        let mut i = 0;
        while i + 16 <= bytes.len() {
            // SAFETY: as above.
            any = v128_or(any, unsafe { v128_load(bytes.as_ptr().add(i) as *const v128) });
            i += 16;
        }
        u8x16_bitmask(any) == 0 && bytes[i..].is_ascii()
    }
}

#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
mod portable {
    /// A byte's high bit is set exactly where `x` has a zero byte (no carries between bytes).
    fn zero_bytes(x: u64) -> u64 {
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        !(((x & LOW7) + LOW7) | x | LOW7)
    }

    pub fn tabs(bytes: &[u8], mut found: impl FnMut(usize)) {
        const TABS: u64 = 0x0909_0909_0909_0909;
        let mut chunks = bytes.chunks_exact(8);
        let mut base = 0;
        for chunk in &mut chunks {
            let mut mask = zero_bytes(u64::from_le_bytes(chunk.try_into().expect("eight bytes")) ^ TABS);
            while mask != 0 {
                found(base + (mask.trailing_zeros() / 8) as usize);
                mask &= mask - 1;
            }
            base += 8;
        }
        for (k, &b) in chunks.remainder().iter().enumerate() {
            if b == b'\t' {
                found(base + k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tab_is_found_once_in_order() {
        // Tabs at every offset against the words, next to bytes that differ from a tab by a bit.
        for len in 0..70 {
            let bytes: Vec<u8> = (0..len).map(|i| [b'\t', 0x08, 0x89, b'x', b'\t', 0x0b, b'\t'][(i * 5 + len) % 7]).collect();
            let mut got = Vec::new();
            tabs(&bytes, |i| got.push(i));
            let want: Vec<usize> = bytes.iter().enumerate().filter(|(_, b)| **b == b'\t').map(|(i, _)| i).collect();
            assert_eq!(got, want, "{bytes:?}");
        }
    }

    #[test]
    fn ascii_is_checked_to_the_last_byte() {
        for len in 0..40 {
            let mut bytes = vec![b'a'; len];
            assert!(is_ascii(&bytes));
            if len > 0 {
                bytes[len - 1] = 0x80;
                assert!(!is_ascii(&bytes));
            }
        }
    }
}
