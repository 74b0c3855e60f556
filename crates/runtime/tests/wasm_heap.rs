//! Loading a model grows wasm linear memory by at most twice its weights
//! (+ 1 MiB), with the allocator the wasm binding installs:
//! [`LargeBlocks`] over the dlmalloc std uses on wasm32, on an emulated
//! linear memory (`linear_memory/`). `wasm_heap_dlmalloc.rs` is the same
//! measurement without `LargeBlocks`, showing what it fixes.
//!
//! `cargo test -p reloop-runtime --test wasm_heap -- --nocapture` prints
//! the figures.

mod common;
mod linear_memory;

use linear_memory::Emulated;
use reloop_runtime::allocator::LargeBlocks;

#[global_allocator]
static HEAP: LargeBlocks<Emulated> = LargeBlocks::new(Emulated::new());

/// What tract's structures may take beyond the weights, whatever their size.
const ALLOWANCE: usize = 1 << 20;

#[test]
fn child() {
    linear_memory::child();
}

#[test]
fn loading_grows_linear_memory_by_at_most_twice_the_weights() {
    for (name, grown, weights) in linear_memory::loads(|_| true) {
        assert!(
            grown <= 2 * weights + ALLOWANCE,
            "{name}: linear memory grew by {grown} bytes, more than twice the {weights} bytes of weights (+ {ALLOWANCE})"
        );
    }
}
