//! The wasm test cases, shared by tests/wasm_browser.rs (headless Chromium)
//! and tests/wasm_node.rs (Node).
//!
//! Each case drives the package as JavaScript does: the test bodies are JS
//! run with `new Function(...)` against the real `Model` and `Session`
//! classes that wasm-bindgen generated, so argument conversion, typed-array
//! results, thrown `Error`s and `free()` are those a user gets. Error codes
//! are read back in Rust with `js_sys::Reflect`.

use std::cell::OnceCell;

use js_sys::{Array, Function, Reflect, Uint8Array};
use reloop_core::{Sketch, SketchConfig};
use reloop_edge::{Catalog, Model, Session};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

/// Plane 0 of array 0 for seed 0x5EED, L = 4, K = 4, d = 8: the same
/// constant as `GOLDEN_PLANE_0_0` in tests/sketch.rs (native).
const GOLDEN_PLANE_0_0: [f32; 8] =
    [0.4181736, 0.914754, -0.5898197, -1.4184217, 1.075938, 0.16501798, 2.2653732, 0.6237427];

/// Helpers every JS body sees: a deterministic catalogue of MovieLens-like
/// items and a user context for the bundled model.
const PRELUDE: &str = r#"
"use strict";
const GENRES = ["Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
  "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"];
function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
}
// Items with random known ids; with `fresh`, ids the model has never seen
// (its out-of-vocabulary row), so only genres and year tell items apart.
function catalogue(n, seed, genre, fresh) {
  const r = rng(seed);
  const out = [];
  for (let i = 0; i < n; i++) {
    const g = genre || GENRES[Math.floor(r() * GENRES.length)];
    const itemId = fresh ? 100000 + Math.floor(r() * 100000) : 1 + Math.floor(r() * 1600);
    out.push({ itemId, genres: [g], year: 1970 + Math.floor(r() * 28), title: "t" + i });
  }
  return out;
}
const CONTEXT = { userId: 42, age: 31, gender: "F", occupation: "writer", zip: "9", hour: 21, weekday: 4 };
const same = (a, b) => a.length === b.length && Array.from(a).every((v, i) => Object.is(v, b[i]));
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
"#;

mod catalog;
mod hostile;

thread_local! {
    static CLASSES: OnceCell<(JsValue, JsValue, JsValue)> = const { OnceCell::new() };
}

/// The generated JS classes `Model`, `Session` and `Catalog`, reached
/// through one instance of each made from Rust.
fn classes() -> (JsValue, JsValue, JsValue) {
    CLASSES.with(|cell| {
        cell.get_or_init(|| {
            let model = Model::bundled().unwrap_or_else(|e| panic!("bundled model: {}", describe(&e)));
            let model = JsValue::from(model);
            let session = Session::new(&model, JsValue::UNDEFINED, JsValue::UNDEFINED)
                .unwrap_or_else(|e| panic!("session: {}", describe(&e)));
            let session = JsValue::from(session);
            let m = Reflect::get(&model, &"constructor".into()).expect("Model class");
            let s = Reflect::get(&session, &"constructor".into()).expect("Session class");
            let catalog = Catalog::new(&model, JsValue::UNDEFINED, JsValue::UNDEFINED)
                .unwrap_or_else(|e| panic!("catalog: {}", describe(&e)));
            let c = Reflect::get(&JsValue::from(catalog), &"constructor".into()).expect("Catalog class");
            (m, s, c)
        })
        .clone()
    })
}

/// Runs a JS body with `Model`, `Session`, `Catalog`, the bundled ONNX
/// bytes `ONNX` and spec text `SPEC` in scope; its `return` value or what
/// it threw.
fn run(body: &str) -> Result<JsValue, JsValue> {
    let (model, session, catalog) = classes();
    let onnx = Uint8Array::from(reloop_runtime::bundled::onnx());
    let spec = JsValue::from_str(reloop_runtime::bundled::spec_json());
    let f = Function::new_with_args("Model, Session, ONNX, SPEC, Catalog", &format!("{PRELUDE}\n{body}"));
    let args = Array::of5(&model, &session, &onnx, &spec, &catalog);
    f.apply(&JsValue::NULL, &args)
}

fn ok(body: &str) -> JsValue {
    run(body).unwrap_or_else(|e| panic!("JS threw {} in: {}", describe(&e), tail(body)))
}

/// Runs a body that must throw; returns what it threw after checking it is
/// a real `Error` named `ReloopError`.
fn throws(body: &str) -> JsValue {
    match run(body) {
        Ok(v) => panic!("expected a throw, got {v:?} from: {}", tail(body)),
        Err(e) => {
            assert!(e.is_instance_of::<js_sys::Error>(), "not an Error object: {e:?}");
            let name = Reflect::get(&e, &"name".into()).ok().and_then(|n| n.as_string());
            assert_eq!(name.as_deref(), Some("ReloopError"), "{}", describe(&e));
            e
        }
    }
}

/// The `code` property of a thrown error, read with `Reflect`.
fn code(e: &JsValue) -> String {
    Reflect::get(e, &"code".into()).ok().and_then(|c| c.as_string()).unwrap_or_default()
}

/// The last lines of a JS body (where each case puts its call), for messages.
fn tail(body: &str) -> String {
    let lines: Vec<&str> = body.trim_end().lines().collect();
    lines[lines.len().saturating_sub(3)..].join("\n")
}

fn describe(e: &JsValue) -> String {
    let message = e.dyn_ref::<js_sys::Error>().map(|x| String::from(x.message()));
    format!("[{}] {}", code(e), message.unwrap_or_else(|| format!("{e:?}")))
}

fn number(v: &JsValue) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v:?}"))
}

#[wasm_bindgen_test]
fn hash_planes_are_bit_identical_to_the_native_golden_vector() {
    let config = SketchConfig { bits: 4, arrays: 4, dim: 8, ..SketchConfig::default() };
    assert_eq!(config.seed, 0x5EED);
    let sketch = Sketch::new(config, None).expect("config");
    let plane = sketch.plane(0, 0).expect("plane 0 of array 0");
    let bits: Vec<u32> = plane.iter().map(|v| v.to_bits()).collect();
    let want: Vec<u32> = GOLDEN_PLANE_0_0.iter().map(|v| v.to_bits()).collect();
    assert_eq!(bits, want, "hash planes differ on wasm32: memories saved natively would not read back");
}

#[wasm_bindgen_test]
fn bundled_model_scores_a_batch_into_typed_arrays() {
    let out = ok(r#"
        const model = Model.bundled();
        if (model.hiddenDim !== 28) throw new Error("hiddenDim " + model.hiddenDim);
        if (!/^[0-9a-f]{64}$/.test(model.id)) throw new Error("id " + model.id);
        if (!model.fields.includes("genres") || model.maxBatch < 100) throw new Error("fields/maxBatch");
        if (Model.bundled().id !== model.id) throw new Error("bundled() is not stable");
        const session = new Session(model);
        const items = catalogue(100, 7);
        const scores = session.score(items, CONTEXT);
        if (!(scores instanceof Float32Array) || scores.length !== 100) throw new Error("not a Float32Array of 100");
        if (!scores.every((p) => p > 0 && p < 1)) throw new Error("scores outside (0, 1)");
        const d = session.scoreDetailed(items, CONTEXT);
        if (!(d.base instanceof Float32Array) || !(d.corrections instanceof Float32Array)) throw new Error("detail types");
        if (!same(d.scores, scores)) throw new Error("scoreDetailed differs from score");
        if (!d.corrections.every((c) => c === 0)) throw new Error("a fresh memory corrected something");
        if (session.events !== 0 || session.modelId !== model.id || session.memoryBytes <= 0) throw new Error("info");
        const o = session.options;
        if (o.estimator !== "intent" || o.bits !== 5 || o.arrays !== 4 || o.seed !== 0x5EED
            || !(o.halfLife === null || o.halfLife > 0) || o.onModelMismatch !== "reset" || Math.abs(o.p0 - model.p0) > 1e-7)
          throw new Error("options " + JSON.stringify(o));
        if (session.score([], CONTEXT).length !== 0) throw new Error("empty batch");
        // A page of 48 or more may take the first-layer split: its first
        // items score within 1e-5 of themselves alone (the whole model).
        const three = session.score(items.slice(0, 3), CONTEXT);
        if (!three.every((p, i) => Math.abs(p - scores[i]) <= 1e-5)) throw new Error("page and items differ");
        // Items may carry the context's fields themselves; unread fields are ignored.
        const self = items.slice(0, 3).map((it) => Object.assign({ note: { any: "thing" } }, CONTEXT, it));
        if (!same(session.score(self), three)) throw new Error("context merge");
        // Values JSON cannot carry take the exact field-by-field path and score the same.
        const big = items.slice(0, 3).map((it) => ({ ...it, itemId: BigInt(it.itemId) }));
        if (!same(session.score(big, CONTEXT), three)) throw new Error("BigInt ids");
        const odd = items.slice(0, 3).map((it) => ({ ...it, toJSON() { throw new Error("no JSON"); } }));
        if (!same(session.score(odd, CONTEXT), three)) throw new Error("a throwing toJSON");
        return scores.length;
    "#);
    assert_eq!(number(&out), 100.0);
}

#[wasm_bindgen_test]
fn a_genre_lover_lifts_that_genre_and_barely_moves_the_rest() {
    // A feed of 300 new items (ids the model never saw, so it knows them by
    // genre and year), a tenth of them comedies: the user clicks every comedy
    // and clicks the rest as often as the model predicts, so the model is
    // wrong on comedies only.
    let out = ok(r#"
        const model = Model.bundled();
        const r = rng(5);
        const comedies = catalogue(30, 11, "Comedy", true);
        const others = catalogue(600, 12, null, true).filter((it) => it.genres[0] !== "Comedy").slice(0, 270);
        const feed = [...comedies, ...others];
        for (let i = feed.length - 1; i > 0; i--) {
          const j = Math.floor(r() * (i + 1));
          [feed[i], feed[j]] = [feed[j], feed[i]];
        }
        const base = new Session(model).scoreDetailed(feed, CONTEXT).base;
        const session = new Session(model);
        feed.forEach((it, i) => session.record(it, it.genres[0] === "Comedy" ? true : r() < base[i], CONTEXT));
        if (session.events < 250) throw new Error("events " + session.events);
        // Unseen items: comedies, and items of every other genre.
        const c = session.scoreDetailed(catalogue(100, 99, "Comedy", true), CONTEXT).corrections;
        const o = session.scoreDetailed(catalogue(400, 5, null, true).filter((it) => it.genres[0] !== "Comedy"), CONTEXT).corrections;
        return [mean(Array.from(c)), mean(Array.from(o)), Array.from(c).filter((x) => x > 0).length / c.length,
                Math.max(...Array.from(o, Math.abs))];
    "#);
    let v: Vec<f64> = Array::from(&out).iter().map(|x| number(&x)).collect();
    let (lift_c, lift_o, risen_c, max_abs_o) = (v[0], v[1], v[2], v[3]);
    wasm_bindgen_test::console_log!(
        "genre lover: comedies +{lift_c:.4} (risen {risen_c}), others {lift_o:+.4} (max |Δ| {max_abs_o:.4})"
    );
    assert!(risen_c >= 0.75, "only {risen_c} of unseen comedies rose above their base: {v:?}");
    assert!(lift_c > 0.01, "comedies rose by only {lift_c} on average: {v:?}");
    assert!(lift_c > lift_o, "other genres rose by {lift_o}, comedies by {lift_c}: {v:?}");
    assert!(max_abs_o < 0.15, "an item of another genre moved by {max_abs_o}: {v:?}");
}

#[wasm_bindgen_test]
fn save_then_restore_gives_identical_scores() {
    let out = ok(r#"
        const model = Model.bundled();
        const options = { halfLife: 40, bits: 5, lambda: 1.5 };
        const a = new Session(model, options);
        const seen = catalogue(30, 3);
        seen.forEach((item, i) => a.record(item, i % 3 === 0, CONTEXT));
        const probe = catalogue(50, 4);
        const before = a.score(probe, CONTEXT);
        const bytes = a.save();
        if (!(bytes instanceof Uint8Array) || bytes.length < 120) throw new Error("save() " + bytes);
        const b = new Session(model, options, bytes);
        if (!same(b.score(probe, CONTEXT), before)) throw new Error("restored scores differ");
        if (b.events !== a.events || b.restoreError !== undefined) throw new Error("restored state");
        // Without options the saved config is used; an ArrayBuffer works too.
        const c = new Session(model, undefined, bytes.slice().buffer);
        if (!same(c.score(probe, CONTEXT), before)) throw new Error("restore without options differs");
        if (c.options.halfLife !== 40 || c.options.bits !== 5 || c.options.lambda !== 1.5) throw new Error("saved options lost");
        // Estimator options given at restore replace the saved ones.
        const d = new Session(model, { lambda: 0 }, bytes);
        if (!same(d.score(probe, CONTEXT), d.scoreDetailed(probe, CONTEXT).base)) throw new Error("lambda 0 still corrects");
        // reset() forgets, and the memory keeps working afterwards.
        b.reset();
        if (b.events !== 0 || !b.scoreDetailed(probe, CONTEXT).corrections.every((x) => x === 0)) throw new Error("reset");
        return bytes.length;
    "#);
    assert!(number(&out) > 120.0);
}

#[wasm_bindgen_test]
fn a_memory_of_another_model_is_refused_or_reset() {
    // A second model: the bundled ONNX with another spec (so another identity).
    let body = r#"
        const spec = JSON.parse(SPEC);
        spec.maxBatch = 500;
        const other = Model.fromOnnx(ONNX, spec);
        const model = Model.bundled();
        if (other.id === model.id) throw new Error("same identity");
        const s = new Session(other);
        catalogue(10, 1).forEach((it) => s.record(it, true, CONTEXT));
        globalThis.__reloopForeign = s.save();
    "#;
    ok(body);
    let e = throws(r#"new Session(Model.bundled(), { onModelMismatch: "error" }, globalThis.__reloopForeign);"#);
    assert_eq!(code(&e), "E_MODEL_MISMATCH", "{}", describe(&e));
    let out = ok(r#"
        const s = new Session(Model.bundled(), {}, globalThis.__reloopForeign);
        if (s.events !== 0) throw new Error("a foreign memory was kept");
        return s.restoreError;
    "#);
    assert_eq!(code(&out), "E_MODEL_MISMATCH");
    // The same model with a memory of another layout counts as foreign too.
    let e = throws(
        r#"
        const a = new Session(Model.bundled(), { bits: 4 });
        new Session(Model.bundled(), { bits: 6, onModelMismatch: "error" }, a.save());
    "#,
    );
    assert_eq!(code(&e), "E_MODEL_MISMATCH", "{}", describe(&e));
}

/// A session with some memory, the bad call, then the same scores and
/// events as before: returns what the call threw.
fn bad_call(call: &str) -> JsValue {
    let body = format!(
        r#"
        const model = Model.bundled();
        const s = new Session(model);
        const items = catalogue(20, 21);
        items.slice(0, 8).forEach((it, i) => s.record(it, i % 2 === 0, CONTEXT));
        s.score(items.slice(0, 3), CONTEXT, ["a", "b", "c"]);
        const before = s.score(items, CONTEXT);
        const events = s.events;
        const saved = s.save();
        let error = null;
        try {{ {call}; }} catch (e) {{ error = e; }}
        if (error === null) throw new Error("no error from: " + {call:?});
        if (!same(s.score(items, CONTEXT), before) || s.events !== events) throw new Error("the session changed");
        if (!same(s.save(), saved)) throw new Error("the memory changed");
        const stored = s.record(items[9], true, CONTEXT);
        if (s.events !== events + (stored ? 1 : 0)) throw new Error("the session is not usable after the error");
        return error;
    "#
    );
    let e = ok(&body);
    assert!(e.is_instance_of::<js_sys::Error>(), "not an Error: {e:?} from {call}");
    let name = Reflect::get(&e, &"name".into()).ok().and_then(|n| n.as_string());
    assert_eq!(name.as_deref(), Some("ReloopError"), "{} from {call}", describe(&e));
    e
}

#[wasm_bindgen_test]
fn bad_inputs_throw_coded_errors_and_leave_the_session_usable() {
    let cases: &[(&str, &str)] = &[
        // Wrong types.
        ("s.score({}, CONTEXT)", "E_INVALID_INPUT"),
        ("s.score(\"items\", CONTEXT)", "E_INVALID_INPUT"),
        ("s.score([1, 2], CONTEXT)", "E_INVALID_INPUT"),
        ("s.score([null], CONTEXT)", "E_INVALID_INPUT"),
        ("s.score(items, 5)", "E_INVALID_INPUT"),
        ("s.score([{ ...items[0], itemId: { id: 1 } }], CONTEXT)", "E_INVALID_INPUT"),
        ("s.score([{ ...items[0], year: \"nineteen\" }], CONTEXT)", "E_INVALID_INPUT"),
        ("s.score([{ ...items[0], genres: [[\"Comedy\"]] }], CONTEXT)", "E_INVALID_INPUT"),
        ("s.score([{ ...items[0], genres: new Uint8Array(2) }], CONTEXT)", "E_INVALID_INPUT"),
        ("s.score([{ ...items[0], year: new Date(0) }], CONTEXT)", "E_INVALID_INPUT"),
        ("s.record({ ...items[0], year: new Date(0) }, true, CONTEXT)", "E_INVALID_INPUT"),
        ("s.score([{ ...items[0], genres: [Symbol(\"x\")] }], CONTEXT)", "E_INVALID_INPUT"),
        ("s.score([() => 1], CONTEXT)", "E_INVALID_INPUT"),
        ("s.record(items[0], \"yes\", CONTEXT)", "E_INVALID_INPUT"),
        ("s.record(items[0], 1, CONTEXT)", "E_INVALID_INPUT"),
        ("s.record([items[0]], true, CONTEXT)", "E_INVALID_INPUT"),
        ("s.score(items.slice(0, 2), CONTEXT, [\"x\", 7])", "E_INVALID_INPUT"),
        ("s.recordImpression(7, true)", "E_INVALID_INPUT"),
        // Missing fields.
        ("s.score(items)", "E_INVALID_INPUT"),
        ("s.score([{ genres: [\"Drama\"] }], CONTEXT)", "E_INVALID_INPUT"),
        ("s.score(items, { ...CONTEXT, userId: undefined })", "E_INVALID_INPUT"),
        ("s.record(items[0], true)", "E_INVALID_INPUT"),
        // Non-finite numbers.
        ("s.score([{ ...items[0], year: NaN }], CONTEXT)", "E_INVALID_INPUT"),
        ("s.score(items, { ...CONTEXT, age: Infinity })", "E_INVALID_INPUT"),
        ("s.score([{ ...items[0], itemId: -Infinity }], CONTEXT)", "E_INVALID_INPUT"),
        ("s.record({ ...items[0], year: NaN }, true, CONTEXT)", "E_INVALID_INPUT"),
        // Oversized batch.
        ("s.score(catalogue(model.maxBatch + 1, 1), CONTEXT)", "E_INVALID_INPUT"),
        // Hostile objects: what a getter or a Proxy throws becomes a coded error
        // (before, it unwound through the module and left the session borrowed).
        (
            "s.score([Object.defineProperty({ ...items[0] }, \"year\", { get() { throw new Error(\"boom\"); }, enumerable: true })], CONTEXT)",
            "E_INVALID_INPUT",
        ),
        (
            "s.score(items, Object.defineProperty({ ...CONTEXT }, \"age\", { get() { throw new Error(\"boom\"); }, enumerable: true }))",
            "E_INVALID_INPUT",
        ),
        (
            "s.record(Object.defineProperty({ ...items[0] }, \"genres\", { get() { throw new Error(\"boom\"); }, enumerable: true }), true, CONTEXT)",
            "E_INVALID_INPUT",
        ),
        (
            "s.score(new Proxy(items, { get(t, k) { if (k === \"1\") throw new Error(\"boom\"); return Reflect.get(t, k); } }), CONTEXT)",
            "E_INVALID_INPUT",
        ),
        (
            "s.score(new Proxy(items, { get(t, k) { if (k === \"length\") throw new Error(\"boom\"); return Reflect.get(t, k); } }), CONTEXT)",
            "E_INVALID_INPUT",
        ),
        (
            "s.score([{ ...items[0], genres: [\"Drama\", Object.defineProperty([], \"0\", { get() { throw new Error(\"boom\"); } })] }], CONTEXT)",
            "E_INVALID_INPUT",
        ),
        (
            "s.score(items.slice(0, 2), CONTEXT, new Proxy([\"a\", \"b\"], { get(t, k) { if (k === \"1\") throw new Error(\"boom\"); return Reflect.get(t, k); } }))",
            "E_INVALID_INPUT",
        ),
        ("s.score([{ ...items[0], itemId: 2n ** 70n }], CONTEXT)", "E_INVALID_INPUT"),
        // Impressions.
        ("s.score(items.slice(0, 2), CONTEXT, [\"x\"])", "E_INVALID_INPUT"),
        ("s.recordImpression(\"never-scored\", true)", "E_INVALID_INPUT"),
    ];
    for (call, want) in cases {
        let e = bad_call(call);
        assert_eq!(code(&e), *want, "{call}: {}", describe(&e));
    }
}

#[wasm_bindgen_test]
fn bad_saved_memories_and_options_are_refused_with_their_codes() {
    let setup = r#"
        const model = Model.bundled();
        const s = new Session(model);
        catalogue(20, 8).forEach((it, i) => s.record(it, i % 2 === 0, CONTEXT));
        const bytes = s.save();
        const flip = (i, mask) => { const b = bytes.slice(); b[i] ^= mask; return b; };
        // CRC-32 (IEEE) to forge a well-formed header with another version.
        const crc32 = (b) => { let c = ~0; for (const x of b) { c ^= x; for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xEDB88320 & -(c & 1)); } return ~c >>> 0; };
        const reversion = () => {
          const b = bytes.slice(); b[4] = 200; b[5] = 0; // a version this build does not read
          new DataView(b.buffer).setUint32(b.length - 4, crc32(b.subarray(0, b.length - 4)), true);
          return b;
        };
    "#;
    let cases: &[(&str, &str)] = &[
        ("new Session(model, {}, bytes.subarray(0, bytes.length - 9))", "E_CORRUPT_MEMORY"),
        ("new Session(model, {}, bytes.subarray(0, 10))", "E_CORRUPT_MEMORY"),
        ("new Session(model, {}, new Uint8Array(0))", "E_CORRUPT_MEMORY"),
        ("new Session(model, {}, flip(130, 0x10))", "E_CORRUPT_MEMORY"),
        ("new Session(model, {}, flip(0, 0x01))", "E_CORRUPT_MEMORY"),
        ("new Session(model, { onModelMismatch: \"error\" }, flip(60, 0x80))", "E_CORRUPT_MEMORY"),
        ("new Session(model, {}, reversion())", "E_UNSUPPORTED_VERSION"),
        ("new Session(model, {}, \"bytes\")", "E_INVALID_INPUT"),
        ("new Session(model, {}, [1, 2, 3])", "E_INVALID_INPUT"),
        ("new Session(model, { bogus: 1 })", "E_INVALID_CONFIG"),
        ("new Session(model, { bits: \"4\" })", "E_INVALID_CONFIG"),
        ("new Session(model, { bits: 17 })", "E_INVALID_CONFIG"),
        ("new Session(model, { bits: 4.5 })", "E_INVALID_CONFIG"),
        ("new Session(model, { arrays: 0 })", "E_INVALID_CONFIG"),
        ("new Session(model, { lambda: -1 })", "E_INVALID_CONFIG"),
        ("new Session(model, { lambda: NaN })", "E_INVALID_CONFIG"),
        ("new Session(model, { tau: 0 })", "E_INVALID_CONFIG"),
        ("new Session(model, { halfLife: 0 })", "E_INVALID_CONFIG"),
        ("new Session(model, { errorFilter: 2 })", "E_INVALID_CONFIG"),
        ("new Session(model, { estimator: \"knn\" })", "E_INVALID_CONFIG"),
        ("new Session(model, { gamma: 0.5 })", "E_INVALID_CONFIG"),
        ("new Session(model, { estimator: \"paper\", n0: 3 })", "E_INVALID_CONFIG"),
        ("new Session(model, { estimator: \"paper\", pool: 3 })", "E_INVALID_CONFIG"),
        ("new Session(model, { pool: -1 })", "E_INVALID_CONFIG"),
        ("new Session(model, { onModelMismatch: \"ignore\" })", "E_INVALID_CONFIG"),
        ("new Session(model, { impressions: 1e9 })", "E_INVALID_CONFIG"),
        ("new Session(model, 42)", "E_INVALID_CONFIG"),
        ("new Session(model, [1])", "E_INVALID_CONFIG"),
        ("new Session(model, { get lambda() { throw new Error(\"boom\"); } })", "E_INVALID_CONFIG"),
        ("new Session(model, new Proxy({}, { ownKeys() { throw new Error(\"boom\"); } }))", "E_INVALID_CONFIG"),
        ("new Session(model, { seed: 1.5 })", "E_INVALID_CONFIG"),
        ("Model.fromOnnx(new Uint8Array([8, 7, 18, 0, 1, 2, 3, 250, 251]), SPEC)", "E_MODEL"),
        ("Model.fromOnnx(new Uint8Array(64).fill(255), SPEC)", "E_MODEL"),
        ("Model.fromOnnx(ONNX.subarray(0, ONNX.length >> 1), SPEC)", "E_MODEL"),
        ("Model.fromOnnx(new Uint8Array(0), SPEC)", "E_MODEL"),
        ("Model.fromOnnx(ONNX, SPEC.replace('\"p0\"', '\"p1\"'))", "E_INVALID_CONFIG"),
        ("Model.fromOnnx(ONNX, '{ not json')", "E_INVALID_CONFIG"),
        ("Model.fromOnnx(ONNX, { ...JSON.parse(SPEC), outputs: { probability: 'prob', hidden: 'nope' } })", "E_MODEL"),
        ("Model.fromOnnx([1, 2, 3], SPEC)", "E_INVALID_INPUT"),
        ("Model.fromOnnx(ONNX, 12)", "E_INVALID_INPUT"),
    ];
    for (call, want) in cases {
        let e = throws(&format!("{setup}\n{call};"));
        assert_eq!(code(&e), *want, "{call}: {}", describe(&e));
    }
    // A model using an operator the package leaves out (the bundled model
    // with its first MatMul's op_type, NodeProto field 4, renamed Resize).
    let e = throws(
        r#"
        const from = [0x22, 6, ...[..."MatMul"].map((c) => c.charCodeAt(0))];
        const b = ONNX.slice();
        const at = b.findIndex((_, i) => from.every((x, k) => b[i + k] === x));
        if (at < 0) throw new Error("no MatMul node in the bundled model");
        [..."Resize"].forEach((c, k) => { b[at + 2 + k] = c.charCodeAt(0); });
        Model.fromOnnx(b, SPEC);
    "#,
    );
    assert_eq!(code(&e), "E_MODEL", "{}", describe(&e));
    assert!(describe(&e).contains("no implementation of Resize"), "{}", describe(&e));
    assert!(describe(&e).contains("all-onnx-ops"), "{}", describe(&e));
    // The paper estimator and explicit options are accepted.
    ok(r#"
        const s = new Session(Model.bundled(), { estimator: "paper", gamma: 0.5, lambda: 0.3, seed: 7n, halfLife: null });
        if (s.options.estimator !== "paper" || s.options.seed !== 7) throw new Error(JSON.stringify(s.options));
    "#);
}

#[wasm_bindgen_test]
fn use_after_free_throws_a_coded_error() {
    let cases: &[&str] = &[
        "const s = new Session(Model.bundled()); s.free(); s.score(catalogue(2, 1), CONTEXT);",
        "const s = new Session(Model.bundled()); s.free(); s.events;",
        "const s = new Session(Model.bundled()); s.free(); s.save();",
        "const s = new Session(Model.bundled()); s[Symbol.dispose] ? s[Symbol.dispose]() : s.free(); s.reset();",
        "const m = Model.fromOnnx(ONNX, SPEC); m.free(); m.id;",
        "const m = Model.fromOnnx(ONNX, SPEC); m.free(); new Session(m);",
    ];
    for call in cases {
        let e = throws(call);
        assert_eq!(code(&e), "E_INVALID_INPUT", "{call}: {}", describe(&e));
        let message = e.dyn_ref::<js_sys::Error>().map(|x| String::from(x.message())).unwrap_or_default();
        assert!(message.contains("freed"), "{call}: {message}");
    }
    // free() twice is harmless; a session outlives its freed model (it shares it).
    ok(r#"
        const m = Model.fromOnnx(ONNX, SPEC);
        const s = new Session(m);
        m.free(); m.free();
        if (s.score(catalogue(3, 2), CONTEXT).length !== 3) throw new Error("session lost its model");
        s.free(); s.free();
    "#);
}

#[wasm_bindgen_test]
fn a_session_needs_a_live_model() {
    let cases: &[(&str, &str)] = &[
        ("new Session();", "undefined"),
        ("new Session(null);", "null"),
        ("new Session(42);", "a number"),
        ("new Session(\"model\");", "a string"),
        ("new Session({});", "an object"),
        ("new Session({ __reloopHandle: 999999 });", "an object"),
        ("new Session(new Session(Model.bundled()));", "an object"),
        ("new Session(Model);", "a function"),
        ("new Session({ get __reloopHandle() { throw new Error(\"no\"); } });", "an object"),
    ];
    for (call, got) in cases {
        let e = throws(call);
        assert_eq!(code(&e), "E_INVALID_INPUT", "{call}: {}", describe(&e));
        let message = e.dyn_ref::<js_sys::Error>().map(|x| String::from(x.message())).unwrap_or_default();
        assert!(message.contains("must be a Model") && message.ends_with(got), "{call}: {message}");
    }
    // Freeing one Model leaves the others usable, and its own sessions too.
    ok(r#"
        const a = Model.fromOnnx(ONNX, SPEC);
        const b = Model.fromOnnx(ONNX, SPEC);
        const sa = new Session(a);
        a.free();
        const sb = new Session(b);
        if (sa.score(catalogue(2, 5), CONTEXT).length !== 2) throw new Error("sa lost its model");
        if (sb.score(catalogue(2, 5), CONTEXT).length !== 2) throw new Error("sb has no model");
        if (b.__reloopHandle === 0) throw new Error("b has no handle");
    "#);
}

#[wasm_bindgen_test]
fn impressions_record_by_id() {
    let out = ok(r#"
        const s = new Session(Model.bundled(), { impressions: 4, errorFilter: 0 });
        const items = catalogue(6, 17);
        s.score(items, CONTEXT, items.map((_, i) => "imp" + i));
        if (s.impressions !== 4) throw new Error("impressions " + s.impressions);
        const stored = s.recordImpression("imp5", true);
        if (stored !== true || s.events !== 1 || s.impressions !== 3) throw new Error("recordImpression");
        try { s.recordImpression("imp5", false); throw new Error("recorded twice"); } catch (e) { if (e.code !== "E_INVALID_INPUT") throw e; }
        // The oldest impressions were evicted.
        try { s.recordImpression("imp0", true); } catch (e) { return e.code; }
        throw new Error("an evicted impression was recorded");
    "#);
    assert_eq!(out.as_string().as_deref(), Some("E_INVALID_INPUT"));
}

/// One reading of an item: a class instance with prototype getters, an
/// object inheriting its fields, non-enumerable properties, a `Date` and a
/// `Proxy` carrying the fields, and an object whose `toJSON` says something
/// else, are all read like the plain object with those values — by `score`
/// and by `record` alike, so the memory learns at the hidden vector it
/// corrects (the saved bytes equal those of a session fed the plain object,
/// and the learned correction appears on the item's next score).
#[wasm_bindgen_test]
fn every_call_reads_an_item_the_same_way() {
    let out = ok(r#"
        const model = Model.bundled();
        const plain = { itemId: 50, genres: ["Action", "Sci-Fi"], year: 1977 };
        class Movie {
          constructor(id, genres, year) { this.id_ = id; this.genres_ = genres; this.year_ = year; }
          get itemId() { return this.id_; }
          get genres() { return this.genres_; }
          get year() { return this.year_; }
        }
        class User {
          constructor(fields) { this.fields_ = fields; }
          get userId() { return this.fields_.userId; }
          get age() { return this.fields_.age; }
        }
        const context = Object.assign(new User(CONTEXT), { gender: CONTEXT.gender, occupation: CONTEXT.occupation,
          zip: CONTEXT.zip, hour: CONTEXT.hour, weekday: CONTEXT.weekday });
        const forms = {
          "class instance": new Movie(50, ["Action", "Sci-Fi"], 1977),
          "prototype getters": Object.create({ get itemId() { return 50; }, get genres() { return ["Action", "Sci-Fi"]; }, year: 1977 }),
          "non-enumerable": Object.defineProperties({}, { itemId: { value: 50 }, genres: { value: ["Action", "Sci-Fi"] }, year: { value: 1977 } }),
          "Date": Object.assign(new Date(0), plain),
          "Proxy": new Proxy({}, { get: (_, k) => plain[k] }),
          "toJSON": { ...plain, toJSON() { return { itemId: 1, genres: ["Drama"], year: 1930 }; } },
          "BigInt id": { ...plain, itemId: 50n },
        };
        const options = { pool: 0, errorFilter: 0 };
        const reference = new Session(model, options);
        const before = reference.score([plain], CONTEXT);
        reference.record(plain, true, CONTEXT);
        const after = reference.score([plain], CONTEXT);
        if (!(after[0] > before[0] + 1e-4)) throw new Error(`a click did not lift the item: ${before[0]} -> ${after[0]}`);
        const saved = reference.save();
        let checked = 0;
        for (const [name, form] of Object.entries(forms)) {
          for (const ctx of [CONTEXT, context]) {
            const s = new Session(model, options);
            if (!same(s.score([form], ctx), before)) throw new Error(`${name}: scored unlike the plain object`);
            s.record(form, true, ctx);
            if (!same(s.save(), saved)) throw new Error(`${name}: recorded at another hidden vector than it scores at`);
            if (!same(s.score([form], ctx), after)) throw new Error(`${name}: its learned correction is not on its next score`);
            if (!same(s.scoreDetailed([form, plain], ctx).scores, new Float32Array([after[0], after[0]]))) {
              throw new Error(`${name}: scoreDetailed reads it differently`);
            }
            checked++;
          }
        }
        // A field read once per call: a getter counting its reads.
        let reads = 0;
        const counted = Object.defineProperty({ ...plain }, "year", { get() { reads++; return 1977; } });
        new Session(model, options).score([counted], CONTEXT);
        if (reads !== 1) throw new Error(`year was read ${reads} times`);
        return checked;
    "#);
    assert_eq!(number(&out), 14.0);
}

#[wasm_bindgen_test]
fn score_detailed_returns_the_key_vectors_on_request() {
    let out = ok(r#"
        const model = Model.bundled();
        const d = model.hiddenDim;
        const s = new Session(model);
        const items = [
          { itemId: 50, genres: ["Horror", "Comedy"], year: 1977 },
          { itemId: 50, genres: ["Horror", "Comedy"], year: 1977 },
          { itemId: 181, genres: ["Drama"], year: 1983 },
        ];
        const plain = s.scoreDetailed(items, CONTEXT);
        if ("hidden" in plain) throw new Error("hidden without asking");
        if ("hidden" in s.scoreDetailed(items, CONTEXT, null, { hidden: false })) throw new Error("hidden: false");
        const r = s.scoreDetailed(items, CONTEXT, null, { hidden: true });
        if (!(r.hidden instanceof Float32Array) || r.hidden.length !== 3 * d) throw new Error("hidden length " + r.hidden?.length);
        if (!same(r.scores, plain.scores)) throw new Error("asking for hidden changed the scores");
        const row = (i) => Array.from(r.hidden.slice(i * d, (i + 1) * d));
        if (!same(row(0), row(1))) throw new Error("the same item gave two keys");
        if (same(row(0), row(2))) throw new Error("two items gave one key");
        // The bundled key starts with the mean-pooled genres input: Horror and Comedy at 1/2 each.
        const genres = row(0).slice(0, 20);
        if (genres.filter((v) => v === 0.5).length !== 2 || genres.filter((v) => v !== 0 && v !== 0.5).length !== 0)
          throw new Error("genres part " + genres);
        const mu = model.mu;
        if (!(mu instanceof Float32Array) || mu.length !== d) throw new Error("mu");
        // With ids too; a failed call returns nothing stale.
        const withIds = s.scoreDetailed(items, CONTEXT, ["a", "b", "c"], { hidden: true });
        if (!same(withIds.hidden, r.hidden)) throw new Error("ids changed the keys");
        return s.scoreDetailed([], CONTEXT, null, { hidden: true }).hidden.length;
    "#);
    assert_eq!(number(&out), 0.0);
    for (detail, named) in [("{ hidden: 1 }", "hidden"), ("{ hiden: true }", "hiden"), ("true", "object")] {
        let e = bad_call(&format!("s.scoreDetailed(items, CONTEXT, null, {detail})"));
        assert_eq!(code(&e), "E_INVALID_CONFIG", "{detail}: {}", describe(&e));
        assert!(describe(&e).contains(named), "{detail}: {}", describe(&e));
    }
}

#[wasm_bindgen_test]
fn a_spec_that_indexes_past_a_table_is_refused_at_load() {
    // One more weekday bucket would reach past the bundled embedding table:
    // refused with E_MODEL naming the field, not an abort on the first score.
    let e = throws(
        r#"
        const spec = JSON.parse(SPEC);
        spec.fields.weekday.offset += 1;
        Model.fromOnnx(ONNX, spec);
    "#,
    );
    assert_eq!(code(&e), "E_MODEL", "{}", describe(&e));
    assert!(describe(&e).contains("fields.weekday"), "{}", describe(&e));
    // The instance is fine: the bundled model still scores. A spec without p0
    // loads; a session then needs options.p0 (or the paper estimator).
    let out = ok(r#"
        new Session(Model.bundled()).score(catalogue(5, 3), CONTEXT);
        const spec = JSON.parse(SPEC);
        delete spec.p0;
        const model = Model.fromOnnx(ONNX, spec);
        if (model.p0 !== null) throw new Error("p0 " + model.p0);
        if (Math.abs(new Session(model, { p0: 0.3 }).options.p0 - 0.3) > 1e-7) throw new Error("options.p0");
        new Session(model, { estimator: "paper" }).score(catalogue(5, 3), CONTEXT);
        try { new Session(model); } catch (e) { return e.code + " " + e.message; }
        return "no error";
    "#);
    let p0 = out.as_string().unwrap_or_default();
    assert!(p0.starts_with("E_INVALID_CONFIG p0:"), "{p0}");
}
