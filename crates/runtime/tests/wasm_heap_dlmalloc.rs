//! The measurement of `wasm_heap.rs` on plain dlmalloc, as std's wasm32
//! target allocates without `LargeBlocks`: it grows linear memory by the
//! whole request whenever the free space at the top falls short, so a
//! 20 MB matrix took more than twice its weights. This checks that the
//! emulation shows that (else `wasm_heap.rs` would prove nothing).

mod common;
mod linear_memory;

use linear_memory::Emulated;

#[global_allocator]
static HEAP: Emulated = Emulated::new();

#[test]
fn child() {
    linear_memory::child();
}

#[test]
fn plain_dlmalloc_grows_linear_memory_by_more_than_twice_a_large_matrix() {
    let loads = linear_memory::loads(|name| name == "20 MB matrix");
    let [(name, grown, weights)] = loads[..] else { panic!("{loads:?}") };
    assert!(grown > 2 * weights, "{name}: {grown} bytes for {weights} bytes of weights");
}
