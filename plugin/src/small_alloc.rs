//! The module's allocator in wasm: small blocks from per-size free lists, the rest from the
//! standard one (dlmalloc). An event's work is hundreds of small allocations (strings, delta
//! vectors, JSON values) that live for one event; dlmalloc's general bookkeeping was a tenth of
//! the module's time, where a free list is a pointer swap. Memory is reused from event to event,
//! so a call's footprint stays that of one event plus its input and output. Single-threaded: a
//! `wasm32-unknown-unknown` module has one thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

/// Blocks of 16, 32, ..., 2048 bytes (powers of two, so every block is 16-aligned).
const CLASSES: usize = 8;
const MIN_SHIFT: u32 = 4;
const MAX_SMALL: usize = 16 << (CLASSES - 1);
/// Small blocks are cut from chunks this large.
const CHUNK: usize = 64 << 10;

pub struct SizeClasses {
    state: UnsafeCell<State>,
}

struct State {
    /// Per class, the first free block; each free block holds the address of the next.
    free: [*mut u8; CLASSES],
    /// The part of the current chunk not yet cut into blocks.
    next: *mut u8,
    end: *mut u8,
}

// The module has one thread; see the module comment.
unsafe impl Sync for SizeClasses {}

impl SizeClasses {
    pub const fn new() -> Self {
        SizeClasses { state: UnsafeCell::new(State { free: [ptr::null_mut(); CLASSES], next: ptr::null_mut(), end: ptr::null_mut() }) }
    }
}

impl Default for SizeClasses {
    fn default() -> Self {
        Self::new()
    }
}

/// The class of a small block, or `None` when the standard allocator takes it.
fn class(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align());
    if size > MAX_SMALL || layout.align() > 16 {
        return None;
    }
    let shift = usize::BITS - (size.max(1) - 1).leading_zeros();
    Some(shift.saturating_sub(MIN_SHIFT) as usize)
}

unsafe impl GlobalAlloc for SizeClasses {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(c) = class(layout) else { return System.alloc(layout) };
        let s = &mut *self.state.get();
        let head = s.free[c];
        if !head.is_null() {
            s.free[c] = *(head as *mut *mut u8);
            return head;
        }
        let size = 16usize << c;
        if (s.end as usize) - (s.next as usize) < size {
            // The rest of the chunk is too small for this block: a few bytes lost per chunk.
            let chunk = System.alloc(Layout::from_size_align_unchecked(CHUNK, 16));
            if chunk.is_null() {
                return chunk;
            }
            s.next = chunk;
            s.end = chunk.add(CHUNK);
        }
        let block = s.next;
        s.next = block.add(size);
        block
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        let Some(c) = class(layout) else { return System.dealloc(p, layout) };
        let s = &mut *self.state.get();
        *(p as *mut *mut u8) = s.free[c];
        s.free[c] = p;
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = Layout::from_size_align_unchecked(new_size, layout.align());
        match (class(layout), class(new)) {
            (Some(a), Some(b)) if a == b => p,
            (None, None) => System.realloc(p, layout, new_size),
            _ => {
                let q = self.alloc(new);
                if !q.is_null() {
                    ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                    self.dealloc(p, layout);
                }
                q
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_cover_sizes_and_alignments() {
        let l = |size, align| Layout::from_size_align(size, align).unwrap();
        assert_eq!(class(l(0, 1)), Some(0));
        assert_eq!(class(l(16, 8)), Some(0));
        assert_eq!(class(l(17, 1)), Some(1));
        assert_eq!(class(l(2048, 8)), Some(7));
        assert_eq!(class(l(2049, 8)), None);
        assert_eq!(class(l(8, 16)), Some(0));
        assert_eq!(class(l(8, 32)), None);
        assert_eq!(class(l(1, 64)), None);
    }

    /// Blocks in use never overlap, keep their contents through reallocations, and freed ones
    /// are reused; a deterministic mix of sizes, frees and reallocations.
    #[test]
    fn blocks_do_not_overlap_and_keep_their_bytes() {
        let a = SizeClasses::new();
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let size = match x % 10 {
                0 => (x >> 8) as usize % 6000,
                _ => (x >> 8) as usize % 300,
            };
            let align = [1, 2, 4, 8, 16][(x >> 20) as usize % 5];
            let fill = step as u8;
            unsafe {
                match (x >> 30) % 4 {
                    0 | 1 => {
                        let layout = Layout::from_size_align(size, align).unwrap();
                        let p = a.alloc(layout);
                        assert!(!p.is_null() && (p as usize).is_multiple_of(align));
                        ptr::write_bytes(p, fill, size);
                        live.push((p, layout, fill));
                    }
                    2 if !live.is_empty() => {
                        let (p, layout, f) = live.swap_remove((x >> 40) as usize % live.len());
                        assert!((0..layout.size()).all(|i| *p.add(i) == f));
                        a.dealloc(p, layout);
                    }
                    _ if !live.is_empty() => {
                        let i = (x >> 40) as usize % live.len();
                        let (p, layout, f) = live[i];
                        let q = a.realloc(p, layout, size);
                        assert!((0..layout.size().min(size)).all(|k| *q.add(k) == f));
                        ptr::write_bytes(q, fill, size);
                        live[i] = (q, Layout::from_size_align(size, layout.align()).unwrap(), fill);
                    }
                    _ => {}
                }
            }
            // No two live blocks overlap.
            if step % 1000 == 0 {
                let mut spans: Vec<(usize, usize)> = live.iter().map(|(p, l, _)| (*p as usize, *p as usize + l.size())).collect();
                spans.sort();
                assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0));
            }
        }
        for (p, layout, f) in live {
            unsafe {
                assert!((0..layout.size()).all(|i| *p.add(i) == f));
                a.dealloc(p, layout);
            }
        }
    }
}
