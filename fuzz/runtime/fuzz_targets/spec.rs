//! Untrusted model-spec JSON: parsing and validation return Ok or an
//! `E_INVALID_CONFIG` error, never panic. A spec that validates compiles
//! into an encoder, survives its canonical form, and, when its inputs are
//! those of a test fixture, either fails to load with that model with a
//! coded error or loads and runs on items that reach its
//! every table's edges (so a vocabulary index past an embedding table must
//! be refused at load, not trap on the first score).
#![no_main]

use libfuzzer_sys::fuzz_target;
use reloop_core::ErrorKind;
use reloop_runtime::encoder::{EncodedBatch, Encoder};
use reloop_runtime::{Item, Model, ModelSpec};
use reloop_runtime_fuzz::{bases_for, exercise, extreme_items, loaded};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let spec = match ModelSpec::from_json(text) {
        Ok(spec) => spec,
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{e}");
            return;
        }
    };
    let encoder = Encoder::new(&spec).expect("a validated spec compiles");
    let widths = spec.input_widths();
    assert_eq!(encoder.input_count(), spec.inputs.len());
    for (k, width) in widths.iter().enumerate() {
        assert_eq!(encoder.input(k).map(|(_, _, w)| w), Some(*width));
    }
    for field in spec.fields.values() {
        let _ = (field.width(), field.value_range());
    }
    // The identity hashes the canonical form: it must read back as the same spec.
    let canonical = spec.canonical_bytes();
    let again = std::str::from_utf8(&canonical).ok().map(ModelSpec::from_json);
    match again {
        Some(Ok(back)) => assert_eq!(back.canonical_bytes(), canonical),
        other => panic!("canonical form of a valid spec does not read back: {other:?}"),
    }
    // Encoding the spec's own extremes: Ok or E_INVALID_INPUT.
    let extremes = extreme_items(&spec);
    let mut batch = EncodedBatch::default();
    for items in [&extremes[..], &[Item::new()][..]] {
        if let Err(e) = encoder.encode(items, &Item::new(), &mut batch) {
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        }
    }
    let inputs: Vec<String> = spec.inputs.iter().map(|i| i.name.clone()).collect();
    // Loads with the test fixtures only: they take about a millisecond where
    // the bundled model takes tens, which would cut this target to a few
    // hundred runs a second (its bytes are the onnx targets' job).
    for base in bases_for(&inputs).filter(|b| b.name != "bundled") {
        if let Some(model) = loaded(Model::load(&base.onnx, spec.clone())) {
            exercise(&model, &base.items, &base.context, &extremes);
        }
    }
});
