//! Untrusted field values (what a page or a Worker request puts in items
//! and the context) encoded against the bundled model's spec: Ok or an
//! `E_INVALID_INPUT` error, never a panic; the same values read as `Item`
//! maps and as `FieldValues` (the JS binding's form) encode identically;
//! and whatever encodes, the model runs on, to probabilities.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use reloop_core::ErrorKind;
use reloop_runtime::encoder::EncodedBatch;
use reloop_runtime::{FieldValues, Item, ModelOutput};
use reloop_runtime_fuzz::{bundled_model, item};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let model = bundled_model();
    let names: Vec<&str> = model.field_names().collect();
    let mut u = Unstructured::new(data);
    let Ok(context) = item(&mut u, &names) else { return };
    let n = u.int_in_range(0..=6).unwrap_or(1);
    let items: Vec<Item> = (0..n).map_while(|_| item(&mut u, &names).ok()).collect();

    let encoder = model.encoder();
    let mut by_name = EncodedBatch::default();
    let named = encoder.encode(&items, &context, &mut by_name);
    if let Err(e) = &named {
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    let values = |i: &Item| FieldValues(names.iter().map(|n| i.get(*n).cloned().unwrap_or(Value::Null)).collect());
    let mut by_position = EncodedBatch::default();
    let positional = encoder.encode(&items.iter().map(values).collect::<Vec<_>>(), &values(&context), &mut by_position);
    match (&named, &positional) {
        (Ok(()), Ok(())) => {
            for k in 0..encoder.input_count() {
                assert_eq!(by_name.i64_data(k), by_position.i64_data(k), "input {k}");
                let bits = |d: Option<&[f32]>| d.map(|d| d.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
                assert_eq!(bits(by_name.f32_data(k)), bits(by_position.f32_data(k)), "input {k}");
                assert!(by_name.f32_data(k).is_none_or(|d| d.iter().all(|v| v.is_finite())), "input {k}");
            }
        }
        (Err(a), Err(b)) => assert_eq!((a.kind(), a.message()), (b.kind(), b.message())),
        _ => panic!("Item and FieldValues disagree: {named:?} vs {positional:?}"),
    }

    let mut out = ModelOutput::default();
    match model.run(&items, &context, &mut out) {
        Ok(()) => {
            assert!(named.is_ok(), "the model ran what the encoder refused");
            assert!(out.y_base().iter().all(|p| p.is_finite() && *p >= 0.0 && *p <= 1.0));
        }
        Err(e) => {
            assert!(named.is_err(), "the bundled model failed on what the encoder wrote: {e}");
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        }
    }
});
