//! # reloop-edge
//!
//! The npm package's crate: the WebAssembly binding of
//! [`reloop_runtime`] (the ONNX model and the scoring session) over
//! [`reloop_core`] (the error memory). It only converts: JS values in,
//! typed arrays and coded errors out; every decision (how options combine
//! with a saved memory, what a model mismatch does, how a field is encoded)
//! is made in the crates below, so Rust callers get the same behaviour.
//!
//! Two JS classes: [`Model`] (`Model.bundled()`, `Model.fromOnnx(bytes,
//! spec)`; loaded once, shared) and [`Session`] (`new Session(model,
//! options, saved)`; `score`, `scoreDetailed`, `record`,
//! `recordImpression`, `save`, `reset`). One ES module (wasm-bindgen
//! `--target web`) and one init for every host: a Worker passes its compiled
//! module synchronously (`initSync({ module })`), a browser lets
//! `await init()` fetch the `.wasm` next to the JS, Node passes the bytes.
//!
//! ```js
//! import init, { Model, Session } from "reloop-edge";
//! await init();                                   // browser; see above for Worker / Node
//! const model = Model.bundled();                  // once per page / isolate
//! const session = new Session(model, { halfLife: 50 }, savedBytes);
//! const scores = session.score(items, context);   // Float32Array, one per item
//! session.record(items[3], true, context);        // the user clicked item 3
//! ```
//!
//! One file per concern: [`model`] and [`session`] (the classes),
//! `options` (the options object and the resolved view), `reader` (how
//! items are read: one definition for every call) and `cells` (the form
//! they cross into wasm in), `error` (coded
//! `ReloopError`s), `lifetime` (start-up, `free()`, the model table); the
//! JS snippets they import are in `src/js/`, the shared TypeScript types in
//! `src/types.d.ts`.
//!
//! Guarantees at the boundary:
//! * nothing from JS reaches a panic: every argument arrives as a `JsValue`
//!   and is checked (type, finiteness, batch size) before the crates below
//!   see it, and whatever a getter or a Proxy throws becomes a coded error;
//! * errors are `Error` objects with `name = "ReloopError"` and a `code`
//!   (`E_INVALID_INPUT`, `E_INVALID_CONFIG`, `E_MODEL`, `E_CORRUPT_MEMORY`,
//!   `E_MODEL_MISMATCH`, `E_UNSUPPORTED_VERSION`); a failed call leaves the
//!   session as it was;
//! * `free()` is final and idempotent: using a freed `Model` or `Session`
//!   throws an `E_INVALID_INPUT` error; `free()` inside the object's own
//!   call (from a getter of an argument) takes effect when the call returns;
//! * a method called on anything but a live instance of its class (detached,
//!   on a plain object, on another class's instance) or on an object inside
//!   one of its own calls (re-entrancy) throws `E_INVALID_INPUT`
//!   (`src/js/guard.js`); typed arrays and buffers are copied in JS from
//!   their internal slots before wasm reads them, and option values must be
//!   scalars, so no caller code runs (and throws) from inside wasm;
//! * `new Session(x)` with anything but a live `Model` throws
//!   `E_INVALID_INPUT`.

#![cfg(target_arch = "wasm32")]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

use js_sys::Uint8Array;

/// std's allocator with large blocks kept apart
/// ([`reloop_runtime::allocator`]): loading a model grows linear memory
/// by about twice its weights instead of up to four times.
#[global_allocator]
static ALLOCATOR: reloop_runtime::allocator::LargeBlocks<std::alloc::System> =
    reloop_runtime::allocator::LargeBlocks::new(std::alloc::System);
use reloop_core::Error;
use wasm_bindgen::prelude::*;

pub mod catalog;
pub(crate) mod cells;
pub(crate) mod error;
pub(crate) mod lifetime;
pub mod model;
pub(crate) mod options;
pub(crate) mod reader;
pub mod session;
pub(crate) mod tensors;

pub use catalog::Catalog;
pub use model::Model;
pub use session::Session;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = include_str!("types.d.ts");

/// Once per instance, before any model or session: see [`lifetime::start`].
pub(crate) fn start() {
    lifetime::start(|| {
        [
            (JsValue::from(Model::probe()), "Model"),
            (JsValue::from(Session::probe()), "Session"),
            (JsValue::from(Catalog::probe()), "Catalog"),
        ]
    });
}

/// An `E_INVALID_INPUT` error.
pub(crate) fn input(message: impl Into<String>) -> Error {
    Error::input(message)
}

/// A `Uint8Array` or `ArrayBuffer` argument, copied into wasm memory.
///
/// The copy is made in JS first (`reloop_copy_typed`), from the array's
/// internal slots: reading a Proxy, a fake (an object with a typed array's
/// prototype) or an array with a throwing `length` from here would throw a
/// `TypeError` through the module, uncaught, and leave the object whose
/// method was running borrowed for good.
pub(crate) fn bytes_arg(name: &str, value: &JsValue) -> Result<Vec<u8>, Error> {
    match reader::copy_typed(value, "Uint8Array").dyn_into::<Uint8Array>() {
        Ok(array) => Ok(array.to_vec()),
        Err(_) => Err(input(format!("{name} must be a Uint8Array or an ArrayBuffer, got {}", error::js_type(value)))),
    }
}
