//! [`LargeBlocks`]: the global allocator the wasm binding installs, std's
//! allocator with large blocks kept apart, so that loading a model grows
//! linear memory by about what it holds at once.
//!
//! Why: wasm linear memory never shrinks, and the allocator std uses there
//! (dlmalloc) grows it by the *whole* request whenever no free chunk fits,
//! even when the free space at the top falls short by a few bytes. Loading
//! a model allocates and frees blocks of about its weights' size several
//! times (the ONNX bytes, the decoded tensor, tract's aligned copy, its
//! packed copy), each a little different in size. A freed block was carved
//! up by the many small allocations that follow, or was a little too small
//! for the next one, so a 20 MB matrix grew linear memory by 4× its weights
//! while only two copies were ever alive.
//!
//! Here a request of [`LARGE`] bytes or more gets a block with 1/128 more
//! room than it needs (tract's packed copy of a matrix is a few columns
//! wider than the matrix it replaces). A freed large block is not given
//! back to the inner allocator but kept (up to [`KEPT`] of them) for the
//! next large request, which takes the smallest kept block it fits; if that
//! block is more than 1/8 too big, it is shrunk in place first (the tail
//! goes back to the inner allocator, which splits it off without moving).
//! A large request that no kept block fits first gives them all back (freed
//! next to each other, they merge) and then asks the inner allocator.
//! Smaller requests go to the inner allocator unchanged.
//!
//! Each large block stores its size and the offset of the aligned pointer
//! just before that pointer.
//!
//! `crates/runtime/tests/wasm_heap.rs` loads models on the same dlmalloc
//! as std's wasm32 target, over an emulated linear memory, with and
//! without this wrapper.

use std::alloc::{GlobalAlloc, Layout};
use std::ptr::{self, NonNull};
use std::sync::Mutex;

/// Requests of this many bytes or more get large blocks.
pub const LARGE: usize = 1 << 20;

/// How many freed large blocks are kept for reuse.
pub const KEPT: usize = 16;

/// Alignments above this go to the inner allocator unchanged (nothing in
/// tract or here asks for more than a few hundred bytes).
const MAX_ALIGN: usize = 1 << 16;

/// The block's size and the aligned pointer's offset, before that pointer.
const HEADER: usize = 2 * size_of::<usize>();

/// A freed large block kept for reuse.
#[derive(Clone, Copy)]
struct Kept {
    start: NonNull<u8>,
    size: usize,
}

struct Shelf([Option<Kept>; KEPT]);

// SAFETY: the kept blocks are owned by the allocator alone; the pointers
// are only handed out again under the lock.
unsafe impl Send for Shelf {}

/// The inner allocator `A` with large blocks kept apart (module docs).
pub struct LargeBlocks<A> {
    inner: A,
    shelf: Mutex<Shelf>,
}

impl<A> LargeBlocks<A> {
    /// Wraps `inner`.
    pub const fn new(inner: A) -> LargeBlocks<A> {
        LargeBlocks { inner, shelf: Mutex::new(Shelf([None; KEPT])) }
    }
}

/// What a large request needs from its block's start: the size, room to
/// align, and the header. `None`: not large (or an alignment left as is).
fn needed(layout: Layout) -> Option<usize> {
    if layout.size() < LARGE || layout.align() > MAX_ALIGN {
        return None;
    }
    layout.size().checked_add(layout.align())?.checked_add(HEADER)
}

/// The size of a new block for `needed` bytes: 1/128 more.
fn fresh_size(needed: usize) -> Option<usize> {
    needed.checked_add(needed / 128)?.checked_next_multiple_of(align_of::<usize>())
}

/// The layout blocks are allocated and freed with in the inner allocator.
fn block_layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size, align_of::<usize>()).ok()
}

/// The aligned pointer inside the block at `start`, with the header
/// written before it.
///
/// # Safety
/// `start` is a live block of `size` bytes, aligned to `usize`, with
/// `size ≥ needed(layout)`.
unsafe fn place(start: NonNull<u8>, size: usize, align: usize) -> *mut u8 {
    let at = start.as_ptr() as usize;
    let offset = (at + HEADER).next_multiple_of(align) - at;
    // SAFETY: HEADER ≤ offset < HEADER + align, inside the block; the
    // header's two words are just before the pointer.
    unsafe {
        let p = start.as_ptr().add(offset);
        p.sub(HEADER).cast::<usize>().write_unaligned(size);
        p.sub(HEADER / 2).cast::<usize>().write_unaligned(offset);
        p
    }
}

/// The block a pointer from [`place`] sits in: its start and size.
///
/// # Safety
/// `p` was returned by [`place`] and its block is still allocated.
unsafe fn block_of(p: *mut u8) -> (NonNull<u8>, usize) {
    // SAFETY: the header was written before `p` by `place`; `p - offset`
    // is the start of the same block, non-null as the block is.
    unsafe {
        let size = p.sub(HEADER).cast::<usize>().read_unaligned();
        let offset = p.sub(HEADER / 2).cast::<usize>().read_unaligned();
        (NonNull::new_unchecked(p.sub(offset)), size)
    }
}

impl<A: GlobalAlloc> LargeBlocks<A> {
    fn shelf(&self) -> std::sync::MutexGuard<'_, Shelf> {
        self.shelf.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A block of at least `needed` bytes: the smallest kept one it fits
    /// (shrunk if more than 1/8 too big), else a new one from the inner
    /// allocator once every kept block is given back.
    ///
    /// # Safety
    /// As `GlobalAlloc::alloc`; `needed` comes from [`needed`].
    unsafe fn take(&self, needed: usize, zeroed: bool) -> Option<(NonNull<u8>, usize)> {
        let fresh = fresh_size(needed)?;
        let mut shelf = self.shelf();
        let best = (0..KEPT)
            .filter(|&i| shelf.0[i].is_some_and(|k| k.size >= needed))
            .min_by_key(|&i| shelf.0[i].map(|k| k.size));
        if let Some(i) = best {
            let mut kept = shelf.0[i].take()?;
            drop(shelf);
            if kept.size - needed > kept.size / 8 {
                // Too big: shrink it in place, the tail back to the inner
                // allocator (dlmalloc splits it off without moving).
                // SAFETY: a live block of the inner allocator, with its layout.
                let p = unsafe { self.inner.realloc(kept.start.as_ptr(), block_layout(kept.size)?, fresh) };
                // If the inner allocator cannot, the block is unchanged and
                // still fits: use it whole rather than lose it.
                if let Some(start) = NonNull::new(p) {
                    kept = Kept { start, size: fresh };
                }
            }
            if zeroed {
                // SAFETY: the block is ours and `size` bytes long.
                unsafe { ptr::write_bytes(kept.start.as_ptr(), 0, kept.size) };
            }
            return Some((kept.start, kept.size));
        }
        for slot in &mut shelf.0 {
            if let Some(kept) = slot.take() {
                // SAFETY: allocated from `inner` with this layout.
                unsafe { self.inner.dealloc(kept.start.as_ptr(), block_layout(kept.size)?) };
            }
        }
        drop(shelf);
        let layout = block_layout(fresh)?;
        // SAFETY: a non-zero size.
        let start = unsafe { if zeroed { self.inner.alloc_zeroed(layout) } else { self.inner.alloc(layout) } };
        Some((NonNull::new(start)?, fresh))
    }

    /// A large request's pointer (its block all zeros if `zeroed`), or
    /// null if no block can be had.
    ///
    /// # Safety
    /// `needed` comes from [`needed`] for a layout of alignment `align`.
    unsafe fn alloc_large(&self, needed: usize, align: usize, zeroed: bool) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        match unsafe { self.take(needed, zeroed) } {
            // SAFETY: the block holds `needed` bytes.
            Some((start, size)) => unsafe { place(start, size, align) },
            None => ptr::null_mut(),
        }
    }

    /// Keeps a freed block, giving back the smallest kept one if the shelf
    /// is full (or this one, if it is the smallest).
    ///
    /// # Safety
    /// The block came from [`take`] and is no longer used.
    unsafe fn keep(&self, start: NonNull<u8>, size: usize) {
        let mut shelf = self.shelf();
        let mut block = Kept { start, size };
        if let Some(slot) = shelf.0.iter_mut().find(|s| s.is_none()) {
            *slot = Some(block);
            return;
        }
        if let Some(smallest) = shelf.0.iter_mut().flatten().min_by_key(|k| k.size) {
            if smallest.size < block.size {
                std::mem::swap(smallest, &mut block);
            }
        }
        if let Some(layout) = block_layout(block.size) {
            // SAFETY: allocated from `inner` with this layout.
            unsafe { self.inner.dealloc(block.start.as_ptr(), layout) };
        }
    }
}

// SAFETY: small requests go to the inner allocator as they are. A large
// request's pointer is aligned as asked, inside a block of the inner
// allocator with at least `size` bytes after it; the block is used by one
// allocation at a time (kept blocks are on the shelf only while free) and
// goes back to the inner allocator with the layout it was allocated with.
unsafe impl<A: GlobalAlloc> GlobalAlloc for LargeBlocks<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match needed(layout) {
            // SAFETY: the caller's contract, passed on.
            None => unsafe { self.inner.alloc(layout) },
            // SAFETY: `n` comes from `needed`.
            Some(n) => unsafe { self.alloc_large(n, layout.align(), false) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match needed(layout) {
            // SAFETY: the caller's contract, passed on.
            None => unsafe { self.inner.alloc_zeroed(layout) },
            // SAFETY: `n` comes from `needed`.
            Some(n) => unsafe { self.alloc_large(n, layout.align(), true) },
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        match needed(layout) {
            // SAFETY: the caller's contract, passed on.
            None => unsafe { self.inner.dealloc(p, layout) },
            // SAFETY: `p` came from `alloc` with this layout, so from
            // `place` in a block from `take`.
            Some(_) => unsafe {
                let (start, size) = block_of(p);
                self.keep(start, size)
            },
        }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees `new_size`, rounded up to
        // `layout.align()`, does not overflow isize.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (needed(layout), needed(new_layout)) {
            // SAFETY: the caller's contract, passed on.
            (None, None) => unsafe { self.inner.realloc(p, layout, new_size) },
            (Some(_), Some(n))
                if {
                    // SAFETY: `p` is a live large allocation.
                    let (start, size) = unsafe { block_of(p) };
                    let used = p as usize - start.as_ptr() as usize;
                    // Room after `p`, without wasting more than 1/8 of the block.
                    size - used >= new_size && size - n <= size / 8
                } =>
            {
                p
            }
            _ => {
                // SAFETY: `new_layout` has a non-zero size (the caller's).
                let q = unsafe { self.alloc(new_layout) };
                if !q.is_null() {
                    // SAFETY: both are live, distinct, and hold at least the
                    // smaller size; `p` is freed with its own layout.
                    unsafe {
                        ptr::copy_nonoverlapping(p, q, layout.size().min(new_size));
                        self.dealloc(p, layout);
                    }
                }
                q
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;

    #[test]
    fn new_blocks_have_a_hundred_and_twenty_eighth_more_room() {
        for size in [LARGE, LARGE + 1, 3 << 20, 19_998_784, 20_070_400, 1 << 30] {
            for align in [1, 8, 64, 512, 4096] {
                let n = needed(Layout::from_size_align(size, align).unwrap()).unwrap();
                let fresh = fresh_size(n).unwrap();
                assert!(fresh >= n + n / 128 && fresh < n + n / 128 + 8, "{size} {align}");
            }
        }
        // The load of a 20 MB matrix: tract's packed copy fits the block
        // the decoded tensor leaves.
        let decoded = fresh_size(needed(Layout::from_size_align(19_998_784, 1).unwrap()).unwrap()).unwrap();
        assert!(decoded >= needed(Layout::from_size_align(20_070_400, 512).unwrap()).unwrap());
        assert_eq!(needed(Layout::from_size_align(LARGE - 1, 8).unwrap()), None);
        assert_eq!(needed(Layout::from_size_align(LARGE, 1 << 17).unwrap()), None);
        let huge = Layout::from_size_align(isize::MAX as usize - 7, 8).unwrap();
        assert_eq!(needed(huge).and_then(fresh_size).and_then(block_layout), None);
    }

    #[test]
    fn blocks_are_aligned_hold_their_bytes_and_survive_realloc_and_reuse() {
        let a = LargeBlocks::new(System);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
        for _ in 0..400 {
            let align = 1usize << (next() % 13);
            let sizes = [LARGE - 1 + (next() % 3) as usize, (next() % (6 << 20)) as usize + 1];
            let size = sizes[(next() % 2) as usize];
            let layout = Layout::from_size_align(size, align).unwrap();
            let zeroed = next() % 2 == 0;
            // SAFETY: non-zero sizes; each block is freed once, with the
            // layout it has then.
            unsafe {
                let p = if zeroed { a.alloc_zeroed(layout) } else { a.alloc(layout) };
                assert!(!p.is_null());
                assert_eq!(p as usize % align, 0);
                if zeroed {
                    assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                }
                let fill = (next() % 251) as u8;
                ptr::write_bytes(p, fill, size);
                let new_size = (next() % (6 << 20)) as usize + 1;
                let q = a.realloc(p, layout, new_size);
                assert!(!q.is_null());
                assert_eq!(q as usize % align, 0);
                let kept = size.min(new_size);
                assert!(std::slice::from_raw_parts(q, kept).iter().all(|&b| b == fill), "{size} -> {new_size}");
                ptr::write_bytes(q, !fill, new_size);
                live.push((q, Layout::from_size_align(new_size, align).unwrap(), !fill));
                // Free about half, in random order, so blocks are kept and
                // taken again while others are live.
                while live.len() > 4 || (!live.is_empty() && next() % 2 == 0) {
                    let (q, layout, fill) = live.swap_remove((next() % live.len() as u64) as usize);
                    assert!(std::slice::from_raw_parts(q, layout.size()).iter().all(|&b| b == fill));
                    a.dealloc(q, layout);
                }
            }
        }
        for (q, layout, _) in live {
            // SAFETY: live, with this layout.
            unsafe { a.dealloc(q, layout) };
        }
    }
}
