//! Heap used while loading a model, against the bytes of its weights (the
//! initializer tensors), counted by a global allocator that tracks the live
//! and the peak bytes. Loading must peak at no more than twice the weights
//! plus a small fixed allowance (tract's graph, op and name structures): a
//! copy of the weights kept alive one step too long (the protobuf, the
//! caller's bytes, an intermediate model) breaks that on the large models.
//!
//! `cargo test -p reloop-runtime --test load_memory -- --nocapture` prints
//! the figures; with `RELOOP_LOAD_MODELS=DIR` set it also writes the large
//! models with their spec to `DIR` (for the wasm measurement,
//! `benches/node/load-memory.mjs`).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Head, embedding_model, item, matrix_model, mlp_graph, mlp_spec, raw, weight_bytes, with_large_tensors};
use reloop_runtime::{Item, Model, ModelOutput};
use serde_json::json;

/// The system allocator, counting live bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call goes to `System` unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Counted as a new block then the old one freed: a moving
            // realloc holds both for a moment.
            grew(new_size);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The counters are process-wide: one measurement at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// What tract's structures may take beyond the weights, whatever their size.
const ALLOWANCE: usize = 1 << 20;

const MIB: f64 = (1 << 20) as f64;

/// Heap figures of one load, in bytes above what was live before it.
#[derive(Debug)]
struct Load {
    weights: usize,
    /// High-water mark during the load.
    peak: usize,
    /// Still held once loaded (the model).
    steady: usize,
}

impl Load {
    fn times(&self, bytes: usize) -> f64 {
        bytes as f64 / self.weights.max(1) as f64
    }

    fn print(&self, what: &str) {
        eprintln!(
            "{what}: weights {:.2} MiB, load peak {:.2} MiB ({:.2}x), loaded {:.2} MiB ({:.2}x)",
            self.weights as f64 / MIB,
            self.peak as f64 / MIB,
            self.times(self.peak),
            self.steady as f64 / MIB,
            self.times(self.steady),
        );
    }

    fn assert_within_twice_the_weights(&self, what: &str) {
        assert!(
            self.peak <= 2 * self.weights + ALLOWANCE,
            "{what}: loading peaked at {} bytes, more than twice the {} bytes of weights (+ {ALLOWANCE})",
            self.peak,
            self.weights
        );
    }
}

/// Loads with [`Model::from_json`]: the caller's bytes exist before and
/// after, so they are not counted.
fn load_borrowed(onnx: &[u8], spec: &str) -> (Model, Load) {
    let weights = weight_bytes(onnx);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let model = Model::from_json(onnx, spec).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let steady = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    (model, Load { weights, peak, steady })
}

/// Loads the way the wasm binding does: the bytes are first copied (from
/// JS into linear memory), counted, and handed over with
/// [`Model::from_json_owned`].
fn load_copied(onnx: &[u8], spec: &str) -> (Model, Load) {
    let weights = weight_bytes(onnx);
    let before = LIVE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let copy = onnx.to_vec();
    let model = Model::from_json_owned(copy, spec).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let steady = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    (model, Load { weights, peak, steady })
}

/// Runs batches of 1 to 4 rows twice each, so each size that may gets a
/// fixed plan; the live bytes the model then holds above `before`.
fn with_fixed_plans(model: &Model, before: usize) -> usize {
    let row = item(json!({ "user": "u1", "item": "a", "age": 25 }));
    let mut out = ModelOutput::default();
    for n in 1..=4 {
        let batch = vec![row.clone(); n];
        for _ in 0..2 {
            model.run(&batch, &Item::new(), &mut out).unwrap();
        }
    }
    drop(out);
    LIVE.load(Ordering::Relaxed).saturating_sub(before)
}

#[test]
fn bundled_model_loads_within_twice_its_weights() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (onnx, spec) = (reloop_runtime::bundled::onnx(), reloop_runtime::bundled::spec_json());
    let (model, load) = load_borrowed(onnx, spec);
    load.print("bundled, borrowed bytes");
    load.assert_within_twice_the_weights("bundled");
    drop(model);
    let (model, load) = load_copied(onnx, spec);
    load.print("bundled, copied bytes");
    load.assert_within_twice_the_weights("bundled (copied)");
    drop(model);
}

#[test]
fn large_models_load_within_twice_their_weights() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let spec = mlp_spec(Head::Sigmoid);
    for (what, onnx) in [
        ("20 MB matrix", matrix_model()),
        ("20 MB matrix, float_data", with_large_tensors(2236, 6)),
        ("16 MiB embedding + 4 MiB matrix", embedding_model()),
    ] {
        assert!(weight_bytes(&onnx) > 19_000_000, "{what}");
        let before = LIVE.load(Ordering::Relaxed);
        let (model, load) = load_borrowed(&onnx, &spec);
        load.print(&format!("{what}, borrowed bytes"));
        let fixed = with_fixed_plans(&model, before);
        eprintln!(
            "{what}: with fixed plans for {:?}: {:.2} MiB ({:.2}x)",
            model.fixed_batch_sizes(),
            fixed as f64 / MIB,
            load.times(fixed)
        );
        load.assert_within_twice_the_weights(what);
        drop(model);
        let (model, load) = load_copied(&onnx, &spec);
        load.print(&format!("{what}, copied bytes"));
        load.assert_within_twice_the_weights(&format!("{what} (copied)"));
        drop(model);
    }
}

/// With `RELOOP_LOAD_MODELS=DIR`, writes the large models and their spec
/// for the wasm measurement; without it, checks the fixture spec loads them.
#[test]
fn large_models_for_the_wasm_measurement() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let spec = mlp_spec(Head::Sigmoid);
    let Some(dir) = std::env::var_os("RELOOP_LOAD_MODELS") else {
        // The small fixture in the same encoding loads with the same spec.
        Model::from_json(&raw(mlp_graph(Head::Sigmoid)), &spec).unwrap();
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, onnx) in [("matrix-20mb", matrix_model()), ("embedding-20mb", embedding_model())] {
        std::fs::write(dir.join(format!("{name}.onnx")), onnx).unwrap();
        std::fs::write(dir.join(format!("{name}.spec.json")), &spec).unwrap();
    }
}
