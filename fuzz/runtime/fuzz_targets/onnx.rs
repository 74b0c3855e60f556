//! Untrusted ONNX bytes (seeded with the bundled model and the runtime
//! tests' fixtures): loading with every spec whose inputs the graph
//! declares returns Ok or a coded error, and a model that loads warms up,
//! scores a small batch (and items at its tables' edges), records and
//! saves without a panic. Never a panic or an abort: in wasm either one
//! kills the instance.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reloop_runtime::Model;
use reloop_runtime_fuzz::{bases, bases_for, exercise, extreme_items, graph_inputs, loaded};

fuzz_target!(|data: &[u8]| {
    let inputs = graph_inputs(data).unwrap_or_default();
    let mut any = false;
    for base in bases_for(&inputs) {
        any = true;
        if let Some(model) = loaded(Model::load(data, base.spec.clone())) {
            exercise(&model, &base.items, &base.context, &extreme_items(&base.spec));
        }
    }
    if !any {
        // Not ONNX, or no spec fits its inputs: still a coded error.
        let _ = loaded(Model::load(data, bases()[0].spec.clone()));
    }
});
