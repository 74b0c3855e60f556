//! Object lifetimes at the boundary: the module's one-time start-up, `free()`
//! made final on both classes, and the table through which `new Session`
//! finds the model of a JS `Model` without wasm-bindgen's uncoded class
//! check.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/js/guard.js")]
extern "C" {
    fn reloop_guard_free(instance: &JsValue, name: &str);
}

unsafe extern "C" {
    /// Synthesised by the wasm linker: runs the static constructors (tract
    /// registers its kernels through `inventory`).
    fn __wasm_call_ctors();
}

thread_local! {
    static STARTED: Cell<bool> = const { Cell::new(false) };
    /// The model behind each live JS `Model`, by its handle.
    static MODELS: RefCell<ModelTable> = RefCell::new(ModelTable::default());
}

/// The hidden getter through which [`lookup`] finds a model.
pub(crate) const HANDLE_PROPERTY: &str = "__reloopHandle";

/// How `new Session(model)` reaches the Rust model of a JS `Model`: each
/// `Model` gets a handle (its hidden `__reloopHandle` getter) when made and
/// gives it up when freed. Safe code only: a forged handle finds some live
/// model or none, never memory.
#[derive(Default)]
struct ModelTable {
    /// The last handle given out; 0 is never one.
    last: u32,
    live: HashMap<u32, reloop_runtime::Model>,
}

/// Once per instance, before the first model: runs the static
/// constructors, and makes `free()` final on both classes.
///
/// * Constructors: a module that never calls `__wasm_call_ctors` is linked
///   "command-style", and the linker then re-runs every constructor at the
///   top of *every* export — including the allocator and externref-table
///   exports wasm-bindgen's glue calls for each value crossing the boundary.
///   Measured: 12 ms instead of well under 1 ms for 100 items. Calling it
///   here, once, makes the module a reactor.
/// * `free()`: a throw-away instance of each class (made by `probes`, named
///   for messages) gives access to its prototype. Every path to a `Session`
///   goes through a `Model` factory, so guarding there covers all instances.
pub(crate) fn start<const N: usize>(probes: impl FnOnce() -> [(JsValue, &'static str); N]) {
    if STARTED.with(|g| g.replace(true)) {
        return;
    }
    // SAFETY: the linker-synthesised constructor list, run exactly once per
    // instance (guarded by STARTED above) before any code that reads the
    // registries it fills; `inventory`'s constructors are idempotent anyway.
    unsafe { __wasm_call_ctors() };
    for (probe, name) in probes() {
        reloop_guard_free(&probe, name);
        if let Ok(free) = Reflect::get(&probe, &JsValue::from_str("free")) {
            if let Some(free) = free.dyn_ref::<js_sys::Function>() {
                let _ = free.call0(&probe);
            }
        }
    }
}

/// Enters `model` in the table; returns its handle.
pub(crate) fn register(model: &reloop_runtime::Model) -> u32 {
    MODELS.with(|table| {
        let mut table = table.borrow_mut();
        // Wraps after 4 billion models; a handle still in use is skipped.
        let mut handle = table.last;
        loop {
            handle = handle.wrapping_add(1);
            if handle != 0 && !table.live.contains_key(&handle) {
                break;
            }
        }
        table.last = handle;
        table.live.insert(handle, model.clone());
        handle
    })
}

/// Drops the table's entry of `handle` (a `Model` was freed or collected).
pub(crate) fn unregister(handle: u32) {
    if handle != 0 {
        // `try_with`: during thread teardown the table may be gone already.
        let _ = MODELS.try_with(|table| table.borrow_mut().live.remove(&handle));
    }
}

/// The live model with `handle`, if any.
pub(crate) fn lookup(handle: u32) -> Option<reloop_runtime::Model> {
    MODELS.with(|table| table.borrow().live.get(&handle).cloned())
}
