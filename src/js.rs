//! The JavaScript binding: the one module that knows wasm-bindgen (wasm32
//! only). It turns the core's [`Scorer`] / [`ScoringSession`] into two JS
//! classes, `Model` (loaded once, shared) and `Session` (one per user or
//! page), converts items and options from plain JS objects with
//! serde-wasm-bindgen, returns scores as `Float32Array`s, and throws real
//! `Error` objects whose `code` is the stable [`ErrorKind::code`].
//!
//! One ES module (wasm-bindgen `--target web`) and one init for every host:
//! a Worker passes its compiled module synchronously
//! (`import wasm from "reloop-edge/reloop_edge_bg.wasm"; initSync({ module: wasm })`),
//! a browser lets `await init()` fetch the `.wasm` next to the JS (or passes
//! a URL), Node passes the bytes (`await init({ module_or_path: bytes })`).
//!
//! ```js
//! import init, { Model, Session } from "reloop-edge";
//! await init();                                   // browser; see above for Worker / Node
//! const model = Model.bundled();                  // once per page / isolate
//! const session = new Session(model, { halfLife: 50 }, savedBytes);
//! const scores = session.score(items, context);   // Float32Array, one per item
//! session.record(items[3], true, context);        // the user clicked item 3
//! localStorage.memory = btoa(String.fromCharCode(...session.save()));
//! ```
//!
//! Guarantees at the boundary:
//! * nothing from JS reaches a panic: every argument arrives as a `JsValue`
//!   and is checked here (type, finiteness, batch size) before the core sees it;
//! * errors are `Error` objects with `name = "ReloopError"` and a `code`
//!   (`E_INVALID_INPUT`, `E_INVALID_CONFIG`, `E_MODEL`, `E_CORRUPT_MEMORY`,
//!   `E_MODEL_MISMATCH`, `E_UNSUPPORTED_VERSION`); a failed call leaves the
//!   session as it was;
//! * `free()` is final and idempotent: using a freed `Model` or `Session`
//!   (calling a method, or passing the model to `new Session`) throws an
//!   `E_INVALID_INPUT` error instead of wasm-bindgen's uncoded
//!   "null pointer passed to rust";
//! * `new Session(x)` with anything but a live `Model` throws
//!   `E_INVALID_INPUT` (wasm-bindgen's own class check throws an uncoded
//!   "expected instance of Model"): the constructor takes the value as it
//!   is and finds the model through [`MODELS`].

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use js_sys::{Array, ArrayBuffer, Float32Array, Object, Reflect, Uint8Array};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use wasm_bindgen::prelude::*;

use crate::error::{Error, ErrorKind};
use crate::estimate::{Estimator, PaperParams};
use crate::features::Item;
use crate::model::Model;
use crate::scorer::{DEFAULT_IMPRESSIONS, MAX_IMPRESSIONS, RestorePolicy, Scorer, ScoringSession};
use crate::session::SessionConfig;
use crate::spec::FieldSpec;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/*
 * Initialise once per page, Worker isolate or process, before using Model/Session:
 *   Worker (compiled module):  import wasm from "reloop-edge/reloop_edge_bg.wasm"; initSync({ module: wasm });
 *   Browser (URL, fetched):    await init();   // or await init({ module_or_path: new URL(".../reloop_edge_bg.wasm") })
 *   Node (bytes):              await init({ module_or_path: await readFile(wasmPath) });
 * Then: const model = Model.bundled(); const session = new Session(model, options, savedBytes);
 */
/** One item, or the shared context (e.g. the user's features): field name → value.
 * Fields the model does not read are ignored; a field missing from both the item and
 * the context takes the spec's default or is an `E_INVALID_INPUT` error naming it. */
export type Item = { [field: string]: FieldValue | unknown };
/** What a field the model reads may hold. `null`/`undefined` count as missing;
 * numbers must be finite. */
export type FieldValue = string | number | boolean | null | undefined | Array<string | number | boolean>;

/** An item of the bundled MovieLens model (`Model.bundled()`). */
export interface MovieLensItem { itemId: number; genres?: string[]; year?: number; [other: string]: unknown }
/** The context of the bundled MovieLens model: the user and the moment (UTC). */
export interface MovieLensContext {
  userId: number; age: number; gender: "M" | "F"; occupation: string; zip: string;
  hour: number; weekday: number; [other: string]: unknown
}

/** Options of `new Session(model, options, saved)`. Every key is optional; unknown keys,
 * wrong types and out-of-range values are `E_INVALID_CONFIG` errors. Defaults are the
 * recommended setup tuned on MovieLens (see `session.options` and the README). With saved
 * bytes, memory keys must match the saved memory and estimator keys replace the saved ones. */
export interface SessionOptions {
  /** "residual" (default): the model's logit-space error on similar recent items, shrunk when
   * evidence is thin. "paper": ReLoop2 as published (pulls scores toward bucket means). */
  estimator?: "residual" | "paper";
  /** Correction strength, in [0, 100] (residual: logit units, default 1; paper: default 0.5). */
  lambda?: number;
  /** Attention temperature over bucket shares, > 0 (residual default 0.1; paper 1). */
  tau?: number;
  /** Residual only: evidence at which a bucket gets half weight, ≥ 0 (default 1). */
  n0?: number;
  /** Residual only: pseudo-count smoothing toward the model's p0, ≥ 0 (default 2). */
  alpha?: number;
  /** Residual only: pseudo-samples pulling each bucket toward the whole memory's residual, ≥ 0 (default 10; 0 = buckets only). */
  pool?: number;
  /** Paper only: mix of label mean vs base mean, in [0, 1] (default 1). */
  gamma?: number;
  /** L, sign bits per array (2^L buckets), 0..=16 (default 4). */
  bits?: number;
  /** K, independent hash arrays, 1..=64 (default 4). */
  arrays?: number;
  /** Seed of the hash planes (a saved memory is only read with the same seed). Default 0x5EED. */
  seed?: number | bigint;
  /** σ: record an outcome only if |y − y_base| ≥ σ, in [0, 1] (default 0.1). */
  errorFilter?: number;
  /** Half-life of old evidence, in recorded outcomes, > 0 (default 15); null/absent = the default. */
  halfLife?: number | null;
  /** How many recent impressions (ids given to `score`) are kept for `recordImpression`. Default 256. */
  impressions?: number;
  /** A saved memory written under another model (or another bits/arrays/seed/errorFilter/halfLife):
   * "reset" (default) starts a fresh memory and sets `session.restoreError`; "error" throws
   * `E_MODEL_MISMATCH`. Corrupt or unknown-version bytes always throw. */
  onModelMismatch?: "reset" | "error";
}

/** The options a session actually runs with (`session.options`). */
export interface ResolvedOptions {
  estimator: "residual" | "paper"; lambda: number; tau: number;
  n0?: number; alpha?: number; p0?: number; pool?: number; gamma?: number;
  bits: number; arrays: number; seed: number | bigint; errorFilter: number; halfLife: number | null;
  impressions: number; onModelMismatch: "reset" | "error";
}

/** `session.scoreDetailed(...)`: per item, the compensated score, the model's own
 * probability and their difference. */
export interface ScoreDetail { scores: Float32Array; base: Float32Array; corrections: Float32Array }

/** Every error thrown by reloop-edge. */
export interface ReloopError extends Error {
  name: "ReloopError";
  code: "E_INVALID_INPUT" | "E_INVALID_CONFIG" | "E_MODEL" | "E_CORRUPT_MEMORY"
      | "E_MODEL_MISMATCH" | "E_UNSUPPORTED_VERSION";
}
"#;

// Installs the use-after-free guard on a wasm-bindgen class (see `guard_classes`).
#[wasm_bindgen(inline_js = r#"
const FREED = new WeakSet();
function freedError(name) {
  const e = new Error(`${name} was freed with free(); it cannot be used any more`);
  e.name = "ReloopError";
  e.code = "E_INVALID_INPUT";
  return e;
}
export function reloop_guard_free(instance, name) {
  const proto = Object.getPrototypeOf(instance);
  if (!proto || Object.prototype.hasOwnProperty.call(proto, "__reloopGuarded")) return;
  const free = proto.free;
  const guarded = function () {
    if (FREED.has(this)) return;
    free.call(this);
    FREED.add(this);
    // wasm-bindgen's glue reads `__wbg_ptr` on every method call and when the
    // object is passed to Rust: after free() that read throws a coded error.
    Object.defineProperty(this, "__wbg_ptr", {
      configurable: true,
      get() { throw freedError(name); },
      set(_) {},
    });
  };
  Object.defineProperty(proto, "free", { value: guarded, writable: true, configurable: true });
  if (typeof Symbol.dispose === "symbol") {
    Object.defineProperty(proto, Symbol.dispose, { value: guarded, writable: true, configurable: true });
  }
  Object.defineProperty(proto, "__reloopGuarded", { value: true });
}
"#)]
extern "C" {
    fn reloop_guard_free(instance: &JsValue, name: &str);
}

// The JSON fast path's way in (see `read_batch_json`): `JSON.stringify` and
// the UTF-8 encoding both native, then one copy into wasm memory. Passing the
// string itself goes through a JS loop over its characters in wasm-bindgen's
// glue (≈ 8% of `score` of 100 items in a CPU profile; this way is ≈ 2%
// faster overall in an A/B). `undefined` when the value has no JSON text (a
// throwing getter or `toJSON`, a BigInt, a cycle).
#[wasm_bindgen(inline_js = r#"
const UTF8 = new TextEncoder();
export function reloop_json_bytes(value) {
  let text;
  try { text = JSON.stringify(value); } catch { return undefined; }
  return typeof text === "string" ? UTF8.encode(text) : undefined;
}
"#)]
extern "C" {
    fn reloop_json_bytes(value: &JsValue) -> JsValue;
}

unsafe extern "C" {
    /// Synthesised by the wasm linker: runs the static constructors (tract
    /// registers its kernels through `inventory`).
    fn __wasm_call_ctors();
}

thread_local! {
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    static BUNDLED: OnceCell<Model> = const { OnceCell::new() };
    /// The model behind each live JS `Model`, by its handle.
    static MODELS: RefCell<ModelTable> = RefCell::new(ModelTable::default());
}

/// How `new Session(model)` reaches the Rust model of a JS `Model` without
/// wasm-bindgen's class check: each `Model` gets a handle (its hidden
/// `__reloopHandle` getter) when made and gives it up when freed. Safe code
/// only: a forged handle finds some live model or none, never memory.
#[derive(Default)]
struct ModelTable {
    /// The last handle given out; 0 is never one.
    last: u32,
    live: HashMap<u32, Model>,
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
/// * `free()`: a throw-away instance of each class gives access to its
///   prototype. Every path to a `Session` goes through a `Model` factory,
///   so guarding there covers all instances.
fn guard_classes() {
    if GUARDED.with(|g| g.replace(true)) {
        return;
    }
    // SAFETY: the linker-synthesised constructor list, run exactly once per
    // instance (guarded by GUARDED above) before any code that reads the
    // registries it fills; `inventory`'s constructors are idempotent anyway.
    unsafe { __wasm_call_ctors() };
    for (probe, name) in
        [(JsValue::from(JsModel { model: None, handle: 0 }), "Model"), (JsValue::from(JsSession::dead()), "Session")]
    {
        reloop_guard_free(&probe, name);
        if let Ok(free) = Reflect::get(&probe, &JsValue::from_str("free")) {
            if let Some(free) = free.dyn_ref::<js_sys::Function>() {
                let _ = free.call0(&probe);
            }
        }
    }
}

// ---------------------------------------------------------------- errors

/// A JS `Error` with `name = "ReloopError"` and a `code`.
fn coded(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("ReloopError");
    let _ = Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}

fn to_js(e: &Error) -> JsValue {
    coded(e.code(), e.message())
}

fn input(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidInput, message)
}

fn config(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidConfig, message)
}

/// The message of an error raised inside serde-wasm-bindgen.
fn serde_message(e: serde_wasm_bindgen::Error) -> String {
    thrown(&JsValue::from(e))
}

type JsResult<T> = std::result::Result<T, JsValue>;

// ---------------------------------------------------------------- Model

/// A loaded, optimised ONNX model with its spec (JS class `Model`). Load it
/// once and share it between sessions.
#[wasm_bindgen(js_name = Model)]
pub struct JsModel {
    /// `None` only for the throw-away probe of [`guard_classes`].
    model: Option<Model>,
    /// Its entry in [`MODELS`] (0: none).
    handle: u32,
}

#[wasm_bindgen(js_class = Model)]
impl JsModel {
    /// The bundled MovieLens-100K model (see `MovieLensItem` /
    /// `MovieLensContext` for its fields). Loaded on the first call and
    /// shared by every later one.
    ///
    /// @throws {ReloopError} `E_MODEL` only if the build is broken.
    pub fn bundled() -> JsResult<JsModel> {
        guard_classes();
        let model = BUNDLED.with(|cell| -> Result<Model, Error> {
            if let Some(m) = cell.get() {
                return Ok(m.clone());
            }
            let m = crate::bundled::model()?;
            Ok(cell.get_or_init(|| m).clone())
        });
        model.map(JsModel::register).map_err(|e| to_js(&e))
    }

    /// Loads an ONNX model (bytes: `Uint8Array` or `ArrayBuffer`) with its
    /// spec (JSON text or the parsed object).
    ///
    /// @throws {ReloopError} `E_MODEL` for bytes tract cannot load or a graph that does
    /// not fit the spec; `E_INVALID_CONFIG` for an invalid spec; `E_INVALID_INPUT` for
    /// arguments of the wrong type.
    #[wasm_bindgen(js_name = fromOnnx)]
    pub fn from_onnx(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] onnx: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | object")] spec: JsValue,
    ) -> JsResult<JsModel> {
        guard_classes();
        let bytes = bytes_arg("onnx", &onnx).map_err(|e| to_js(&e))?;
        let spec_text = if let Some(text) = spec.as_string() {
            text
        } else if spec.is_object() {
            js_sys::JSON::stringify(&spec)
                .ok()
                .and_then(|s| s.as_string())
                .ok_or_else(|| to_js(&config("model spec: the object cannot be turned into JSON")))?
        } else {
            return Err(to_js(&input("spec must be JSON text or an object")));
        };
        let model = Model::from_json(&bytes, &spec_text).map_err(|e| to_js(&e))?;
        Ok(JsModel::register(model))
    }

    /// The model identity (hex SHA-256 of the ONNX bytes and the spec) that
    /// binds saved memories.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> JsResult<String> {
        Ok(self.get()?.id().to_hex())
    }

    /// The handle `new Session` finds this model by (internal; not typed).
    #[wasm_bindgen(getter = __reloopHandle, skip_typescript)]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Width of the hidden key vector the memory hashes.
    #[wasm_bindgen(getter, js_name = hiddenDim)]
    pub fn hidden_dim(&self) -> JsResult<u32> {
        Ok(u32::try_from(self.get()?.hidden_dim()).unwrap_or(u32::MAX))
    }

    /// The training label rate `p0` from the spec.
    #[wasm_bindgen(getter)]
    pub fn p0(&self) -> JsResult<f32> {
        Ok(self.get()?.p0())
    }

    /// Largest batch `score` accepts.
    #[wasm_bindgen(getter, js_name = maxBatch)]
    pub fn max_batch(&self) -> JsResult<u32> {
        Ok(u32::try_from(self.get()?.spec().max_batch).unwrap_or(u32::MAX))
    }

    /// The field names the model reads (from items or the context).
    #[wasm_bindgen(getter)]
    pub fn fields(&self) -> JsResult<Vec<String>> {
        Ok(self.get()?.spec().fields.keys().cloned().collect())
    }

    /// The spec as canonical JSON text.
    #[wasm_bindgen(js_name = specJson)]
    pub fn spec_json(&self) -> JsResult<String> {
        let bytes = self.get()?.spec().canonical_bytes();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl JsModel {
    fn get(&self) -> JsResult<&Model> {
        self.model.as_ref().ok_or_else(|| coded(ErrorKind::InvalidInput.code(), "this Model is not loaded"))
    }

    /// A JS `Model` over `model`, entered in [`MODELS`].
    fn register(model: Model) -> JsModel {
        let handle = MODELS.with(|table| {
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
        });
        JsModel { model: Some(model), handle }
    }

    /// The model behind `value`, which JS passed as a `Model`.
    fn lookup(value: &JsValue) -> JsResult<Model> {
        let not_a_model = || {
            let got = js_type(value);
            to_js(&input(format!("model must be a Model from Model.bundled() or Model.fromOnnx(), got {got}")))
        };
        if !value.is_object() {
            return Err(not_a_model());
        }
        // On a freed Model the getter throws its coded "was freed" error;
        // anything else thrown (a Proxy, a forged getter) is not a Model.
        let handle = Reflect::get(value, &JsValue::from_str(HANDLE_PROPERTY)).map_err(|e| {
            let coded = Reflect::get(&e, &JsValue::from_str("code")).is_ok_and(|c| c.is_string());
            if coded { e } else { not_a_model() }
        })?;
        let handle = handle.as_f64().filter(|h| h.fract() == 0.0 && *h >= 1.0 && *h <= f64::from(u32::MAX));
        let model = handle.and_then(|h| MODELS.with(|table| table.borrow().live.get(&(h as u32)).cloned()));
        model.ok_or_else(not_a_model)
    }
}

/// The hidden getter through which [`JsModel::lookup`] finds a model.
const HANDLE_PROPERTY: &str = "__reloopHandle";

impl Drop for JsModel {
    /// `free()` (or the garbage collector) drops the model's table entry;
    /// sessions keep their own reference.
    fn drop(&mut self) {
        if self.handle != 0 {
            // `try_with`: during thread teardown the table may be gone already.
            let _ = MODELS.try_with(|table| table.borrow_mut().live.remove(&self.handle));
        }
    }
}

/// A `Uint8Array` or `ArrayBuffer` argument, copied into wasm memory.
fn bytes_arg(name: &str, value: &JsValue) -> Result<Vec<u8>, Error> {
    if let Some(array) = value.dyn_ref::<Uint8Array>() {
        Ok(array.to_vec())
    } else if let Some(buffer) = value.dyn_ref::<ArrayBuffer>() {
        Ok(Uint8Array::new(buffer).to_vec())
    } else {
        Err(input(format!("{name} must be a Uint8Array or an ArrayBuffer")))
    }
}

// ---------------------------------------------------------------- options

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum EstimatorName {
    Residual,
    Paper,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Mismatch {
    #[default]
    Reset,
    Error,
}

/// Every key of `SessionOptions`.
const OPTION_KEYS: [&str; 14] = [
    "estimator",
    "lambda",
    "tau",
    "n0",
    "alpha",
    "gamma",
    "pool",
    "bits",
    "arrays",
    "seed",
    "errorFilter",
    "halfLife",
    "impressions",
    "onModelMismatch",
];

/// `SessionOptions` as given: `None` = not given (take the saved memory's
/// value when restoring, else the default).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Options {
    #[serde(default)]
    estimator: Option<EstimatorName>,
    #[serde(default)]
    lambda: Option<f32>,
    #[serde(default)]
    tau: Option<f32>,
    #[serde(default)]
    n0: Option<f32>,
    #[serde(default)]
    alpha: Option<f32>,
    #[serde(default)]
    gamma: Option<f32>,
    #[serde(default)]
    pool: Option<f32>,
    #[serde(default)]
    bits: Option<u8>,
    #[serde(default)]
    arrays: Option<u8>,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    error_filter: Option<f32>,
    #[serde(default)]
    half_life: Option<f32>,
    #[serde(default)]
    impressions: Option<u32>,
    #[serde(default)]
    on_model_mismatch: Option<Mismatch>,
}

impl Options {
    fn from_js(value: &JsValue) -> Result<Options, Error> {
        if value.is_undefined() || value.is_null() {
            return Ok(Options::default());
        }
        if !value.is_object() || Array::is_array(value) {
            return Err(config("options must be an object"));
        }
        // serde-wasm-bindgen looks struct fields up by name and never sees
        // other keys, so `deny_unknown_fields` alone would not catch typos.
        for key in Object::keys(value.unchecked_ref::<Object>()).iter() {
            let key = key.as_string().unwrap_or_default();
            if !OPTION_KEYS.contains(&key.as_str()) {
                return Err(config(format!(
                    "options: unknown key `{key}`, expected one of {}",
                    OPTION_KEYS.join(", ")
                )));
            }
        }
        serde_wasm_bindgen::from_value(value.clone()).map_err(|e| config(format!("options: {}", serde_message(e))))
    }

    /// The estimator: `base` (the saved or default one) with the given keys applied.
    fn estimator(&self, base: Estimator, p0: f32) -> Result<Estimator, Error> {
        let base_name = match base {
            Estimator::Paper(_) => EstimatorName::Paper,
            Estimator::Residual(_) => EstimatorName::Residual,
        };
        let mut estimator = match self.estimator {
            Some(name) if name != base_name => match name {
                EstimatorName::Paper => Estimator::Paper(PaperParams::default()),
                EstimatorName::Residual => SessionConfig::recommended(1, p0).estimator,
            },
            _ => base,
        };
        match &mut estimator {
            Estimator::Paper(p) => {
                if self.n0.is_some() || self.alpha.is_some() || self.pool.is_some() {
                    return Err(config("options: n0, alpha and pool apply to the residual estimator, not paper"));
                }
                set(&mut p.lambda, self.lambda);
                set(&mut p.tau, self.tau);
                set(&mut p.gamma, self.gamma);
            }
            Estimator::Residual(r) => {
                if self.gamma.is_some() {
                    return Err(config("options: gamma applies to the paper estimator, not residual"));
                }
                set(&mut r.lambda, self.lambda);
                set(&mut r.tau, self.tau);
                set(&mut r.n0, self.n0);
                set(&mut r.alpha, self.alpha);
                set(&mut r.pool, self.pool);
            }
        }
        estimator.validate()?;
        Ok(estimator)
    }

    /// The first memory option given that differs from `saved`.
    fn layout_conflict(&self, saved: &crate::sketch::SketchConfig) -> Option<String> {
        let differs = |name: &str, given: String, has: String| {
            Some(format!("options.{name} is {given} but the saved memory has {has}"))
        };
        if let Some(b) = self.bits.filter(|b| *b != saved.bits) {
            return differs("bits", b.to_string(), saved.bits.to_string());
        }
        if let Some(a) = self.arrays.filter(|a| *a != saved.arrays) {
            return differs("arrays", a.to_string(), saved.arrays.to_string());
        }
        if let Some(s) = self.seed.filter(|s| *s != saved.seed) {
            return differs("seed", s.to_string(), saved.seed.to_string());
        }
        if let Some(f) = self.error_filter.filter(|f| f.to_bits() != saved.error_filter.to_bits()) {
            return differs("errorFilter", f.to_string(), saved.error_filter.to_string());
        }
        if self.half_life.is_some() && self.half_life.map(f32::to_bits) != saved.half_life.map(f32::to_bits) {
            let has = saved.half_life.map_or("none".to_string(), |h| h.to_string());
            return differs("halfLife", format!("{:?}", self.half_life.unwrap_or(0.0)), has);
        }
        None
    }
}

fn set(slot: &mut f32, value: Option<f32>) {
    if let Some(v) = value {
        *slot = v;
    }
}

// ---------------------------------------------------------------- items

/// Reads one item of the JSON fast path ([`read_batch_json`]) into an
/// [`Item`], keeping only the fields the model reads (others are skipped
/// without converting them) and refusing nested objects and lists in
/// those fields; [`read_item`] is the exact path for plain JS objects.
struct ItemSeed<'a> {
    fields: &'a BTreeMap<String, FieldSpec>,
    out: &'a mut Item,
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of field values")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if self.fields.contains_key(&key) {
                let value = map.next_value_seed(ValueSeed { field: &key, depth: 0 })?;
                self.out.insert(key, value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// One field value: a scalar or a list of scalars.
struct ValueSeed<'a> {
    field: &'a str,
    depth: u8,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "field `{}`: a string, number, boolean or a list of them", self.field)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("field `{}` must be a finite number, got {v}", self.field)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth > 0 {
            return Err(de::Error::custom(format!("field `{}`: lists inside lists are not accepted", self.field)));
        }
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(ValueSeed { field: self.field, depth: self.depth + 1 })? {
            values.push(v);
        }
        Ok(Value::Array(values))
    }
    fn visit_map<A: MapAccess<'de>>(self, _map: A) -> Result<Value, A::Error> {
        Err(de::Error::custom(format!(
            "field `{}` is an object; expected a string, number, boolean or a list of them",
            self.field
        )))
    }
}

/// Which argument an object is, for error messages (formatted only on error).
#[derive(Clone, Copy)]
enum Arg {
    Item(usize),
    OneItem,
    Context,
}

impl fmt::Display for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Item(i) => write!(f, "item {i}"),
            Arg::OneItem => f.write_str("item"),
            Arg::Context => f.write_str("context"),
        }
    }
}

/// Reads the fields the model uses from one JS object (item or context)
/// into `out`, one `Reflect.get` per field. Each get catches what a getter
/// or a Proxy throws, so a hostile object is a coded error rather than an
/// exception unwinding through the module (which would leave the session
/// borrowed and unusable). Exact where JSON is not: NaN and ±Infinity are
/// refused by name, BigInts within i64 are integers.
fn read_item(fields: &BTreeMap<String, FieldSpec>, value: &JsValue, what: Arg, out: &mut Item) -> Result<(), Error> {
    out.clear();
    if !value.is_object() || Array::is_array(value) || value.is_function() {
        return Err(input(format!("{what} must be an object of field values")));
    }
    for name in fields.keys() {
        let v = Reflect::get(value, &JsValue::from_str(name))
            .map_err(|e| input(format!("{what}: reading field `{name}` threw: {}", thrown(&e))))?;
        if v.is_undefined() || v.is_null() {
            continue;
        }
        let v = field_value(name, &v, true).map_err(|m| input(format!("{what}: {m}")))?;
        out.insert(name.clone(), v);
    }
    Ok(())
}

/// One field value from JS: a string, finite number, boolean, integer
/// BigInt, or (at the top level) an array of those.
fn field_value(name: &str, v: &JsValue, top: bool) -> std::result::Result<Value, String> {
    if let Some(s) = v.as_string() {
        return Ok(Value::String(s));
    }
    if let Some(b) = v.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(x) = v.as_f64() {
        const SAFE: f64 = 9_007_199_254_740_991.0;
        if !x.is_finite() {
            return Err(format!("field `{name}` must be a finite number, got {x}"));
        }
        // Integral numbers as integers, like the JSON path (`196` and `196.0` are one key).
        if x.fract() == 0.0 && x.abs() <= SAFE {
            return Ok(Value::from(x as i64));
        }
        return serde_json::Number::from_f64(x).map(Value::Number).ok_or_else(|| format!("field `{name}`: {x}"));
    }
    if v.is_bigint() {
        return i64::try_from(v.clone())
            .map(Value::from)
            .map_err(|_| format!("field `{name}` is a BigInt outside the 64-bit integer range"));
    }
    if v.is_undefined() || v.is_null() {
        return Ok(Value::Null);
    }
    if Array::is_array(v) {
        if !top {
            return Err(format!("field `{name}`: lists inside lists are not accepted"));
        }
        let n = js_length(v).map_err(|e| format!("field `{name}`: {e}"))?;
        let mut values = Vec::with_capacity(n.min(64));
        for i in 0..n {
            let element = Reflect::get(v, &JsValue::from(i as u32))
                .map_err(|e| format!("field `{name}`: reading element {i} threw: {}", thrown(&e)))?;
            values.push(field_value(name, &element, false)?);
        }
        return Ok(Value::Array(values));
    }
    if ArrayBuffer::is_view(v) || v.is_instance_of::<ArrayBuffer>() {
        return Err(format!("field `{name}` is a typed array or buffer; pass a plain array"));
    }
    Err(format!("field `{name}` is {}; expected a string, number, boolean or a list of them", js_type(v)))
}

/// `array.length` through `Reflect.get` (a Proxy may throw or lie).
fn js_length(array: &JsValue) -> std::result::Result<usize, String> {
    let length = Reflect::get(array, &JsValue::from_str("length"))
        .map_err(|e| format!("reading its length threw: {}", thrown(&e)))?;
    match length.as_f64() {
        Some(n) if n >= 0.0 && n.fract() == 0.0 && n <= f64::from(u32::MAX) => Ok(n as usize),
        _ => Err("its length is not a valid array length".into()),
    }
}

/// What kind of JS value `v` is, for error messages.
fn js_type(v: &JsValue) -> &'static str {
    if v.is_null() {
        "null"
    } else if v.is_undefined() {
        "undefined"
    } else if v.as_bool().is_some() {
        "a boolean"
    } else if v.as_f64().is_some() || v.is_bigint() {
        "a number"
    } else if v.is_string() {
        "a string"
    } else if v.is_function() {
        "a function"
    } else if v.is_symbol() {
        "a symbol"
    } else if v.is_object() {
        "an object"
    } else {
        "an unsupported value"
    }
}

/// The message of something JS threw.
fn thrown(e: &JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(error) => String::from(error.message()),
        None => e.as_string().unwrap_or_else(|| "a non-Error value".into()),
    }
}

/// The fast way in for a batch: one `JSON.stringify` (native, one boundary
/// crossing) parsed with the same seeds, instead of a dozen crossings per
/// field. JSON turns NaN and ±Infinity into `null` and cannot represent
/// some JS values, so the result is used only if it parsed cleanly and no
/// field the model reads is `null`; otherwise the caller re-reads the value
/// field by field ([`read_item`]), which is exact and names the culprit.
/// Returns whether `items` holds the batch.
fn read_batch_json(fields: &BTreeMap<String, FieldSpec>, array: &Array, items: &mut Vec<Item>) -> bool {
    let Some(text) = json_bytes(array) else {
        return false;
    };
    let mut de = serde_json::Deserializer::from_slice(&text);
    let parsed = BatchSeed { fields, items }.deserialize(&mut de).is_ok() && de.end().is_ok();
    parsed && items.iter().all(no_nulls)
}

/// The context through JSON (see [`read_batch_json`]).
fn read_context_json(fields: &BTreeMap<String, FieldSpec>, value: &JsValue, out: &mut Item) -> bool {
    out.clear();
    if !value.is_object() || Array::is_array(value) {
        return false;
    }
    let Some(text) = json_bytes(value) else {
        return false;
    };
    let mut de = serde_json::Deserializer::from_slice(&text);
    let parsed = ItemSeed { fields, out: &mut *out }.deserialize(&mut de).is_ok() && de.end().is_ok();
    parsed && no_nulls(out)
}

/// The UTF-8 JSON text of a JS value, if it has one.
fn json_bytes(value: &JsValue) -> Option<Vec<u8>> {
    reloop_json_bytes(value).dyn_into::<Uint8Array>().ok().map(|bytes| bytes.to_vec())
}

fn no_nulls(item: &Item) -> bool {
    item.values().all(|v| match v {
        Value::Null => false,
        Value::Array(values) => !values.iter().any(Value::is_null),
        _ => true,
    })
}

/// A JSON array of items into `items` (reusing its maps).
struct BatchSeed<'a> {
    fields: &'a BTreeMap<String, FieldSpec>,
    items: &'a mut Vec<Item>,
}

impl<'de> DeserializeSeed<'de> for BatchSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of items")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut n = 0;
        loop {
            if n == self.items.len() {
                self.items.push(Item::new());
            }
            let Some(slot) = self.items.get_mut(n) else { break };
            slot.clear();
            match seq.next_element_seed(ItemSeed { fields: self.fields, out: slot })? {
                Some(()) => n += 1,
                None => break,
            }
        }
        self.items.truncate(n);
        Ok(())
    }
}

/// The optional context argument: `undefined`/`null` = empty.
fn read_context(fields: &BTreeMap<String, FieldSpec>, value: &JsValue, out: &mut Item) -> Result<(), Error> {
    if value.is_undefined() || value.is_null() {
        out.clear();
        return Ok(());
    }
    read_item(fields, value, Arg::Context, out)
}

// ---------------------------------------------------------------- Session

/// One user's (or page's) error memory over a shared model (JS class
/// `Session`).
#[wasm_bindgen(js_name = Session)]
pub struct JsSession {
    /// `None` only for the throw-away probe of [`guard_classes`].
    live: Option<Box<Live>>,
}

struct Live {
    model: Model,
    session: ScoringSession,
    mismatch: Mismatch,
    impressions: usize,
    /// Why a saved memory given to the constructor was discarded.
    discarded: Option<Error>,
    // Reused per call.
    items: Vec<Item>,
    context: Item,
    ids: Vec<String>,
    scores: Vec<f32>,
}

impl JsSession {
    fn dead() -> JsSession {
        JsSession { live: None }
    }

    fn live(&mut self) -> JsResult<&mut Live> {
        self.live.as_deref_mut().ok_or_else(|| coded(ErrorKind::InvalidInput.code(), "this Session is not set up"))
    }

    fn live_ref(&self) -> JsResult<&Live> {
        self.live.as_deref().ok_or_else(|| coded(ErrorKind::InvalidInput.code(), "this Session is not set up"))
    }
}

#[wasm_bindgen(js_class = Session)]
impl JsSession {
    /// A session over `model`. With `saved` (bytes from `save()`), the memory
    /// is restored: its layout (bits, arrays, seed, errorFilter, halfLife)
    /// comes from the bytes, and estimator options given here replace the
    /// saved ones.
    ///
    /// @throws {ReloopError} `E_INVALID_CONFIG` for bad options; `E_CORRUPT_MEMORY` /
    /// `E_UNSUPPORTED_VERSION` for unreadable saved bytes; `E_MODEL_MISMATCH` for a
    /// memory of another model or layout when `onModelMismatch` is "error".
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Model")] model: &JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SessionOptions")] options: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Uint8Array | ArrayBuffer | null")] saved: JsValue,
    ) -> JsResult<JsSession> {
        guard_classes();
        let model = JsModel::lookup(model)?;
        let live = Live::new(model, &options, &saved).map_err(|e| to_js(&e))?;
        Ok(JsSession { live: Some(Box::new(live)) })
    }

    /// Scores `items` (each an object of fields; `context` fills what they
    /// lack): the compensated click probability of each, in order. With
    /// `ids` (one string per item), each impression is remembered so its
    /// outcome can be recorded later with `recordImpression(id, clicked)`.
    ///
    /// @throws {ReloopError} `E_INVALID_INPUT` naming the item and field (wrong type,
    /// missing field, non-finite number, batch above `model.maxBatch`); `E_MODEL` if
    /// the model fails. The session is unchanged then.
    #[wasm_bindgen(unchecked_return_type = "Float32Array")]
    pub fn score(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Item[]")] items: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Item | null")] context: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string[] | null")] ids: JsValue,
    ) -> JsResult<JsValue> {
        let live = self.live()?;
        live.score(&items, &context, &ids).map_err(|e| to_js(&e))?;
        let out = Float32Array::new_with_length(live.scores.len() as u32);
        out.copy_from(&live.scores);
        Ok(out.into())
    }

    /// As `score`, returning the compensated scores, the model's own
    /// probabilities and the corrections (`scores − base`).
    #[wasm_bindgen(js_name = scoreDetailed, unchecked_return_type = "ScoreDetail")]
    pub fn score_detailed(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Item[]")] items: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Item | null")] context: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string[] | null")] ids: JsValue,
    ) -> JsResult<JsValue> {
        let live = self.live()?;
        let predictions = live.score(&items, &context, &ids).map_err(|e| to_js(&e))?;
        let n = predictions.len();
        let mut base = Vec::with_capacity(n);
        let mut corrections = Vec::with_capacity(n);
        for p in predictions {
            base.push(p.base);
            corrections.push(p.correction);
        }
        let out = Object::new();
        for (key, values) in [("scores", &live.scores), ("base", &base), ("corrections", &corrections)] {
            let array = Float32Array::new_with_length(n as u32);
            array.copy_from(values);
            Reflect::set(&out, &JsValue::from_str(key), &array)?;
        }
        Ok(out.into())
    }

    /// Records whether the user clicked `item` (seen with `context`): the
    /// model is run on it again. Returns whether the memory stored it (the
    /// error filter may skip small errors).
    ///
    /// @throws {ReloopError} `E_INVALID_INPUT` for a bad item or a `clicked` that is
    /// not a boolean; the memory is unchanged then.
    pub fn record(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Item")] item: JsValue,
        #[wasm_bindgen(unchecked_param_type = "boolean")] clicked: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Item | null")] context: JsValue,
    ) -> JsResult<bool> {
        let live = self.live()?;
        live.record(&item, &clicked, &context).map_err(|e| to_js(&e))
    }

    /// Records the outcome of an impression scored with ids. Each
    /// impression records at most one outcome.
    ///
    /// @throws {ReloopError} `E_INVALID_INPUT` if `id` is not among the recent
    /// impressions (never scored, already recorded or evicted).
    #[wasm_bindgen(js_name = recordImpression)]
    pub fn record_impression(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "boolean")] clicked: JsValue,
    ) -> JsResult<bool> {
        let live = self.live()?;
        let clicked = clicked_arg(&clicked).map_err(|e| to_js(&e))?;
        let id = id.as_string().ok_or_else(|| to_js(&input("id must be a string")))?;
        live.session.record_impression(&id, clicked).map_err(|e| to_js(&e))
    }

    /// The memory as compact bytes (the versioned saved format): keep them
    /// (localStorage, a cookie token) and pass them to `new Session` later.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn save(&self) -> JsResult<JsValue> {
        let bytes = self.live_ref()?.session.save();
        Ok(Uint8Array::from(&bytes[..]).into())
    }

    /// Forgets everything recorded (and the remembered impressions).
    pub fn reset(&mut self) -> JsResult<()> {
        let live = self.live()?;
        live.session.reset();
        Ok(())
    }

    /// Outcomes stored in the memory (after the error filter).
    #[wasm_bindgen(getter)]
    pub fn events(&self) -> JsResult<f64> {
        Ok(self.live_ref()?.session.session().sketch().len() as f64)
    }

    /// Heap bytes the memory uses (buckets, hash planes, centre).
    #[wasm_bindgen(getter, js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> JsResult<u32> {
        Ok(u32::try_from(self.live_ref()?.session.session().sketch().heap_bytes()).unwrap_or(u32::MAX))
    }

    /// Impressions currently remembered for `recordImpression`.
    #[wasm_bindgen(getter)]
    pub fn impressions(&self) -> JsResult<u32> {
        Ok(u32::try_from(self.live_ref()?.session.impressions()).unwrap_or(u32::MAX))
    }

    /// The identity (hex) of the model the memory belongs to.
    #[wasm_bindgen(getter, js_name = modelId)]
    pub fn model_id(&self) -> JsResult<String> {
        Ok(self.live_ref()?.session.session().model_id().to_hex())
    }

    /// Why the saved memory given to the constructor was discarded
    /// (`E_MODEL_MISMATCH` under `onModelMismatch: "reset"`), else `undefined`.
    #[wasm_bindgen(getter, js_name = restoreError, unchecked_return_type = "ReloopError | undefined")]
    pub fn restore_error(&self) -> JsResult<JsValue> {
        Ok(self.live_ref()?.discarded.as_ref().map_or(JsValue::UNDEFINED, to_js))
    }

    /// The options the session runs with, defaults filled in.
    #[wasm_bindgen(getter, unchecked_return_type = "ResolvedOptions")]
    pub fn options(&self) -> JsResult<JsValue> {
        self.live_ref()?.resolved_options()
    }
}

fn clicked_arg(value: &JsValue) -> Result<bool, Error> {
    value.as_bool().ok_or_else(|| input("clicked must be a boolean"))
}

impl Live {
    fn new(model: Model, options: &JsValue, saved: &JsValue) -> Result<Live, Error> {
        let options = Options::from_js(options)?;
        let impressions = options.impressions.map_or(DEFAULT_IMPRESSIONS, |n| n as usize);
        if impressions > MAX_IMPRESSIONS {
            return Err(config(format!("options.impressions must be in 0..={MAX_IMPRESSIONS}, got {impressions}")));
        }
        let scorer = Scorer::new(model.clone()).with_impression_capacity(impressions)?;
        let mismatch = options.on_model_mismatch.unwrap_or_default();
        let mut discarded = None;
        let restored = if saved.is_undefined() || saved.is_null() {
            None
        } else {
            let bytes = bytes_arg("saved", saved)?;
            let restored = scorer.restore(&bytes, RestorePolicy::Refuse).and_then(|r| {
                match options.layout_conflict(r.session.session().sketch().config()) {
                    Some(why) => Err(Error::new(ErrorKind::ModelMismatch, why)),
                    None => Ok(r.session),
                }
            });
            match restored {
                Ok(session) => Some(session),
                Err(e) if e.kind() == ErrorKind::ModelMismatch && mismatch == Mismatch::Reset => {
                    discarded = Some(e);
                    None
                }
                Err(e) => return Err(e),
            }
        };
        let session = match restored {
            Some(mut session) => {
                let estimator = options.estimator(*session.session().estimator(), model.p0())?;
                session.session_mut().set_estimator(estimator)?;
                session
            }
            None => {
                let defaults = scorer.default_config();
                let mut sketch = defaults.sketch;
                set_u8(&mut sketch.bits, options.bits);
                set_u8(&mut sketch.arrays, options.arrays);
                if let Some(seed) = options.seed {
                    sketch.seed = seed;
                }
                set(&mut sketch.error_filter, options.error_filter);
                if options.half_life.is_some() {
                    sketch.half_life = options.half_life;
                }
                let estimator = options.estimator(defaults.estimator, model.p0())?;
                scorer.session_with(SessionConfig { sketch, estimator })?
            }
        };
        Ok(Live {
            model,
            session,
            mismatch,
            impressions,
            discarded,
            items: Vec::new(),
            context: Item::new(),
            ids: Vec::new(),
            scores: Vec::new(),
        })
    }

    fn score(
        &mut self,
        items: &JsValue,
        context: &JsValue,
        ids: &JsValue,
    ) -> Result<&[crate::estimate::Prediction], Error> {
        let fields = &self.model.spec().fields;
        let Some(array) = items.dyn_ref::<Array>() else {
            return Err(input("items must be an array of objects"));
        };
        let n = js_length(array).map_err(|e| input(format!("items: {e}")))?;
        let max = self.model.spec().max_batch;
        if n > max {
            return Err(input(format!("batch of {n} items is larger than maxBatch {max}")));
        }
        let no_context = context.is_undefined() || context.is_null();
        if no_context || !read_context_json(fields, context, &mut self.context) {
            read_context(fields, context, &mut self.context)?;
        }
        if !read_batch_json(fields, array, &mut self.items) || self.items.len() != n {
            self.items.resize_with(n, Item::new);
            for (i, slot) in self.items.iter_mut().enumerate() {
                let item = Reflect::get(array, &JsValue::from(i as u32))
                    .map_err(|e| input(format!("reading item {i} threw: {}", thrown(&e))))?;
                read_item(fields, &item, Arg::Item(i), slot)?;
            }
        }
        let with_ids = !(ids.is_undefined() || ids.is_null());
        let predictions = if with_ids {
            let Some(ids) = ids.dyn_ref::<Array>() else {
                return Err(input("ids must be an array of strings"));
            };
            self.ids.clear();
            let count = js_length(ids).map_err(|e| input(format!("ids: {e}")))?;
            for i in 0..count {
                let id = Reflect::get(ids, &JsValue::from(i as u32))
                    .map_err(|e| input(format!("reading ids[{i}] threw: {}", thrown(&e))))?;
                let id = id.as_string().ok_or_else(|| input(format!("ids[{i}] must be a string")))?;
                self.ids.push(id);
            }
            self.session.score_impressions(&self.items, &self.context, &self.ids)?
        } else {
            self.session.score(&self.items, &self.context)?
        };
        self.scores.clear();
        self.scores.extend(predictions.iter().map(|p| p.score));
        Ok(predictions)
    }

    fn record(&mut self, item: &JsValue, clicked: &JsValue, context: &JsValue) -> Result<bool, Error> {
        let clicked = clicked_arg(clicked)?;
        let fields = &self.model.spec().fields;
        read_context(fields, context, &mut self.context)?;
        self.items.resize_with(1, Item::new);
        let slot = self.items.first_mut().ok_or_else(|| input("item"))?;
        read_item(fields, item, Arg::OneItem, slot)?;
        self.session.record(slot, &self.context, clicked)
    }

    fn resolved_options(&self) -> JsResult<JsValue> {
        let out = Object::new();
        let put = |key: &str, value: JsValue| Reflect::set(&out, &JsValue::from_str(key), &value).map(|_| ());
        let session = self.session.session();
        match session.estimator() {
            Estimator::Paper(p) => {
                put("estimator", "paper".into())?;
                put("lambda", p.lambda.into())?;
                put("tau", p.tau.into())?;
                put("gamma", p.gamma.into())?;
            }
            Estimator::Residual(r) => {
                put("estimator", "residual".into())?;
                put("lambda", r.lambda.into())?;
                put("tau", r.tau.into())?;
                put("n0", r.n0.into())?;
                put("alpha", r.alpha.into())?;
                put("p0", r.p0.into())?;
                put("pool", r.pool.into())?;
            }
        }
        let sketch = session.sketch().config();
        put("bits", sketch.bits.into())?;
        put("arrays", sketch.arrays.into())?;
        // Seeds beyond 2^53 are not exact as JS numbers.
        let seed =
            if sketch.seed <= (1u64 << 53) { JsValue::from(sketch.seed as f64) } else { JsValue::from(sketch.seed) };
        put("seed", seed)?;
        put("errorFilter", sketch.error_filter.into())?;
        put("halfLife", sketch.half_life.map_or(JsValue::NULL, JsValue::from))?;
        put("impressions", (self.impressions as u32).into())?;
        let policy = match self.mismatch {
            Mismatch::Reset => "reset",
            Mismatch::Error => "error",
        };
        put("onModelMismatch", policy.into())?;
        Ok(out.into())
    }
}

fn set_u8(slot: &mut u8, value: Option<u8>) {
    if let Some(v) = value {
        *slot = v;
    }
}
