//! Object lifetimes at the boundary: the module's one-time start-up, `free()`
//! made final on both classes, and the table through which `new Session`
//! finds the model of a JS `Model` (and a method the catalog of a JS
//! `Catalog`) without wasm-bindgen's uncoded class check.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use js_sys::Reflect;
use reloop_core::ErrorKind;
use wasm_bindgen::prelude::*;

use crate::error::coded;

#[wasm_bindgen(module = "/src/js/guard.js")]
extern "C" {
    fn reloop_guard_free(instance: &JsValue, name: &str);
    fn reloop_is_guard_error(e: &JsValue) -> bool;
    fn reloop_is_stack_error(e: &JsValue) -> bool;
}

unsafe extern "C" {
    /// Synthesised by the wasm linker: runs the static constructors (tract
    /// registers its kernels through `inventory`).
    fn __wasm_call_ctors();
}

thread_local! {
    static STARTED: Cell<bool> = const { Cell::new(false) };
    /// The model behind each live JS `Model`, by its handle.
    static MODELS: RefCell<Table<reloop_runtime::Model>> = RefCell::new(Table::default());
    /// The catalog behind each live JS `Catalog`, by its handle.
    static CATALOGS: RefCell<Table<SharedCatalog>> = RefCell::new(Table::default());
}

/// A catalog shared by its JS `Catalog` and the calls that read it.
pub(crate) type SharedCatalog = Rc<RefCell<reloop_runtime::Catalog>>;

/// The hidden getter through which [`lookup`] finds a model.
pub(crate) const HANDLE_PROPERTY: &str = "__reloopHandle";
/// The hidden getter through which [`lookup_catalog`] finds a catalog.
pub(crate) const CATALOG_HANDLE_PROPERTY: &str = "__reloopCatalog";

/// How a method reaches the Rust object behind a JS `Model` (or `Catalog`)
/// passed to it: each object gets a handle (its hidden getter) when made
/// and gives it up when freed. Safe code only: a forged handle finds some
/// live object or none, never memory.
struct Table<T> {
    /// The last handle given out; 0 is never one.
    last: u32,
    live: HashMap<u32, T>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table { last: 0, live: HashMap::new() }
    }
}

impl<T: Clone> Table<T> {
    fn register(&mut self, value: T) -> u32 {
        // Wraps after 4 billion objects; a handle still in use is skipped.
        let mut handle = self.last;
        loop {
            handle = handle.wrapping_add(1);
            if handle != 0 && !self.live.contains_key(&handle) {
                break;
            }
        }
        self.last = handle;
        self.live.insert(handle, value);
        handle
    }
}

/// Once per instance, before the first model: runs the static
/// constructors, and guards every class (`src/js/guard.js`): `free()` made
/// final, receivers checked, re-entrant calls refused with coded errors.
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
    MODELS.with(|table| table.borrow_mut().register(model.clone()))
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

/// Enters `catalog` in the catalog table; returns its handle.
pub(crate) fn register_catalog(catalog: &SharedCatalog) -> u32 {
    CATALOGS.with(|table| table.borrow_mut().register(catalog.clone()))
}

/// Drops the catalog table's entry of `handle`.
pub(crate) fn unregister_catalog(handle: u32) {
    if handle != 0 {
        let _ = CATALOGS.try_with(|table| table.borrow_mut().live.remove(&handle));
    }
}

/// The live catalog with `handle`, if any.
pub(crate) fn lookup_catalog(handle: u32) -> Option<SharedCatalog> {
    CATALOGS.with(|table| table.borrow().live.get(&handle).cloned())
}

/// The handle a JS object carries under `property` (a hidden getter), or
/// `Err` with what it threw: the guard's coded error for a freed object or
/// one inside a call of its own (src/js/guard.js), a coded error of ours when
/// the JS stack ran out on the way (src/entries/stack.js), or `None` for
/// anything else a Proxy or forged getter throws (never passed on: it may be
/// any value).
pub(crate) fn handle_of(value: &JsValue, property: &str) -> Result<Option<u32>, Option<JsValue>> {
    if !value.is_object() {
        return Ok(None);
    }
    let handle = Reflect::get(value, &JsValue::from_str(property)).map_err(|e| {
        if reloop_is_guard_error(&e) {
            Some(e)
        } else if reloop_is_stack_error(&e) {
            // Our own error: what was thrown may be any value.
            Some(coded(
                ErrorKind::InvalidInput.code(),
                "too little JS stack left to read a Model or Catalog argument (called from deep recursion?); nothing was changed",
            ))
        } else {
            None
        }
    })?;
    Ok(handle.as_f64().filter(|h| h.fract() == 0.0 && *h >= 1.0 && *h <= f64::from(u32::MAX)).map(|h| h as u32))
}
