//! The encoder on its own: every field kind, context merging, defaults and
//! every error (naming field and item). No model involved.

mod common;

use common::item;
use reloop_core::ErrorKind;
use reloop_runtime::Item;
use reloop_runtime::encoder::{EncodedBatch, Encoder, InputBuffer, Scratch, fnv1a64};
use reloop_runtime::{EstimatorKind, ModelSpec, SessionOptions};
use serde_json::{Value, json};

fn spec(inputs: Value, fields: Value) -> ModelSpec {
    let v = json!({
        "inputs": inputs,
        "fields": fields,
        "outputs": { "probability": "y", "hidden": "h" },
        "p0": 0.5,
        "maxBatch": 4
    });
    ModelSpec::from_json(&v.to_string()).unwrap()
}

fn encode_one(spec: &ModelSpec, it: Value) -> EncodedBatch {
    let mut batch = EncodedBatch::default();
    Encoder::new(spec).unwrap().encode(&[item(it)], &Item::new(), &mut batch).unwrap();
    batch
}

fn err(spec: &ModelSpec, items: Vec<Value>, context: Value) -> reloop_core::Error {
    let items: Vec<Item> = items.into_iter().map(item).collect();
    let mut batch = EncodedBatch::default();
    Encoder::new(spec).unwrap().encode(&items, &item(context), &mut batch).unwrap_err()
}

#[test]
fn categorical_vocabulary_with_oov_and_numeric_keys() {
    let s = spec(
        json!([{ "name": "x", "dtype": "i64", "columns": ["g", "year"] }]),
        json!({
            "g": { "kind": "categorical", "vocabulary": { "Drama": 3, "Comedy": 5 }, "oovIndex": 1 },
            "year": { "kind": "categorical", "vocabulary": { "1997": 2, "true": 4 } }
        }),
    );
    assert_eq!(encode_one(&s, json!({ "g": "Comedy", "year": 1997 })).i64_data(0), Some(&[5, 2][..]));
    assert_eq!(encode_one(&s, json!({ "g": "Western", "year": "1997" })).i64_data(0), Some(&[1, 2][..]));
    assert_eq!(encode_one(&s, json!({ "g": "Drama", "year": 1997.0 })).i64_data(0), Some(&[3, 2][..]));
    assert_eq!(encode_one(&s, json!({ "g": "Drama", "year": true })).i64_data(0), Some(&[3, 4][..]));
    assert_eq!(encode_one(&s, json!({ "g": "Drama", "year": 1998 })).i64_data(0), Some(&[3, 0][..]));
}

#[test]
fn categorical_hashing_is_fnv1a_mod_buckets_plus_offset() {
    let s = spec(
        json!([{ "name": "x", "dtype": "i64", "columns": ["u"] }]),
        json!({ "u": { "kind": "categorical", "hashBuckets": 1000, "hashOffset": 7 } }),
    );
    let want = 7 + (fnv1a64(b"user-42") % 1000) as i64;
    assert_eq!(encode_one(&s, json!({ "u": "user-42" })).i64_data(0), Some(&[want][..]));
    let want = 7 + (fnv1a64(b"42") % 1000) as i64;
    assert_eq!(encode_one(&s, json!({ "u": 42 })).i64_data(0), Some(&[want][..]));
}

#[test]
fn one_hot_into_f32() {
    let s = spec(
        json!([{ "name": "x", "dtype": "f32", "columns": ["g"] }]),
        json!({ "g": { "kind": "categorical", "vocabulary": { "a": 1, "b": 2 }, "oneHot": true } }),
    );
    assert_eq!(encode_one(&s, json!({ "g": "b" })).f32_data(0), Some(&[0.0, 0.0, 1.0][..]));
    assert_eq!(encode_one(&s, json!({ "g": "zz" })).f32_data(0), Some(&[1.0, 0.0, 0.0][..]));
}

#[test]
fn multi_valued_pad_truncates_and_pads() {
    let s = spec(
        json!([{ "name": "x", "dtype": "i64", "columns": ["genres"] }]),
        json!({ "genres": { "kind": "multiCategorical", "vocabulary": { "a": 1, "b": 2, "c": 3 }, "oovIndex": 4,
                            "pooling": "pad", "maxLen": 3, "padIndex": 9, "default": [] } }),
    );
    assert_eq!(encode_one(&s, json!({ "genres": ["a", "z"] })).i64_data(0), Some(&[1, 4, 9][..]));
    assert_eq!(encode_one(&s, json!({ "genres": ["a", "b", "c", "a"] })).i64_data(0), Some(&[1, 2, 3][..]));
    assert_eq!(encode_one(&s, json!({ "genres": "c" })).i64_data(0), Some(&[3, 9, 9][..]));
    assert_eq!(encode_one(&s, json!({})).i64_data(0), Some(&[9, 9, 9][..]));
}

#[test]
fn multi_valued_multi_hot_and_mean() {
    let s = spec(
        json!([{ "name": "x", "dtype": "f32", "columns": ["hot", "avg"] }]),
        json!({
            "hot": { "kind": "multiCategorical", "vocabulary": { "a": 0, "b": 1, "c": 2 }, "pooling": "multiHot" },
            "avg": { "kind": "multiCategorical", "vocabulary": { "a": 0, "b": 1, "c": 2 }, "pooling": "mean" }
        }),
    );
    let b = encode_one(&s, json!({ "hot": ["a", "c", "a"], "avg": ["a", "c", "a", "b"] }));
    assert_eq!(b.f32_data(0), Some(&[1.0, 0.0, 1.0, 0.5, 0.25, 0.25][..]));
    let b = encode_one(&s, json!({ "hot": [], "avg": [] }));
    assert_eq!(b.f32_data(0), Some(&[0.0; 6][..]));
}

#[test]
fn numeric_normalises_and_defaults() {
    let s = spec(
        json!([{ "name": "x", "dtype": "f32", "columns": ["age", "flag"] }]),
        json!({
            "age": { "kind": "numeric", "mean": 30, "std": 10, "default": 40 },
            "flag": { "kind": "numeric" }
        }),
    );
    assert_eq!(encode_one(&s, json!({ "age": 25, "flag": true })).f32_data(0), Some(&[-0.5, 1.0][..]));
    assert_eq!(encode_one(&s, json!({ "age": null, "flag": 2.5 })).f32_data(0), Some(&[1.0, 2.5][..]));
}

#[test]
fn bucketized_index_and_one_hot() {
    let s = spec(
        json!([{ "name": "x", "dtype": "f32", "columns": ["y", "h"] }]),
        json!({
            "y": { "kind": "bucketized", "boundaries": [1980, 1990, 2000], "offset": 1 },
            "h": { "kind": "bucketized", "boundaries": [6, 12, 18], "oneHot": true, "default": 0 }
        }),
    );
    assert_eq!(encode_one(&s, json!({ "y": 1975, "h": 12 })).f32_data(0), Some(&[1.0, 0.0, 0.0, 1.0, 0.0][..]));
    assert_eq!(encode_one(&s, json!({ "y": 1990 })).f32_data(0), Some(&[3.0, 1.0, 0.0, 0.0, 0.0][..]));
    assert_eq!(encode_one(&s, json!({ "y": 2024.5, "h": 23 })).f32_data(0), Some(&[4.0, 0.0, 0.0, 0.0, 1.0][..]));
}

fn two_field_spec() -> ModelSpec {
    spec(
        json!([{ "name": "ids", "dtype": "i64", "columns": ["user", "item"] },
               { "name": "dense", "dtype": "f32", "columns": ["age"] }]),
        json!({
            "user": { "kind": "categorical", "vocabulary": { "u1": 1, "u2": 2 } },
            "item": { "kind": "categorical", "vocabulary": { "a": 1, "b": 2 } },
            "age": { "kind": "numeric" }
        }),
    )
}

#[test]
fn batch_layout_context_and_override() {
    let s = two_field_spec();
    let items: Vec<Item> =
        vec![item(json!({ "item": "a", "title": "ignored" })), item(json!({ "item": "b", "user": "u1", "age": 9 }))];
    let mut batch = EncodedBatch::default();
    let enc = Encoder::new(&s).unwrap();
    enc.encode(&items, &item(json!({ "user": "u2", "age": 3 })), &mut batch).unwrap();
    assert_eq!(batch.rows(), 2);
    assert_eq!(batch.i64_data(0), Some(&[2, 1, 1, 2][..]));
    assert_eq!(batch.f32_data(1), Some(&[3.0, 9.0][..]));
    assert_eq!(enc.input(0), Some(("ids", reloop_runtime::spec::DType::I64, 2)));
    // Reusing the batch for a smaller call resizes it.
    enc.encode(&items[..1], &item(json!({ "user": "u1", "age": 1 })), &mut batch).unwrap();
    assert_eq!(batch.i64_data(0), Some(&[1, 1][..]));
}

#[test]
fn missing_fields_are_named_with_the_item() {
    let e = err(
        &two_field_spec(),
        vec![json!({ "user": "u1", "item": "a", "age": 1 }), json!({ "user": "u1", "age": 1 })],
        json!({}),
    );
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("item 1") && e.message().contains("`item`") && e.message().contains("missing"), "{e}");
}

#[test]
fn wrong_types_are_named_with_the_item() {
    let s = two_field_spec();
    let cases = [
        (json!({ "user": ["u1"], "item": "a", "age": 1 }), "`user`"),
        (json!({ "user": "u1", "item": { "x": 1 }, "age": 1 }), "`item`"),
        (json!({ "user": "u1", "item": "a", "age": "old" }), "`age`"),
        (json!({ "user": "u1", "item": "a", "age": 1e300 }), "`age`"),
    ];
    for (it, field) in cases {
        let e = err(&s, vec![json!({ "user": "u1", "item": "a", "age": 1 }), it], json!({}));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().contains("item 1") && e.message().contains(field), "{field}: {e}");
    }
    let e = err(&s, vec![json!({ "item": "a" })], json!({ "user": "u1", "age": "x" }));
    assert!(e.message().contains("context field `age`"), "{e}");
    let m = spec(
        json!([{ "name": "x", "dtype": "i64", "columns": ["g"] }]),
        json!({ "g": { "kind": "multiCategorical", "hashBuckets": 3, "pooling": "pad", "maxLen": 2 } }),
    );
    let e = err(&m, vec![json!({ "g": ["a", ["b"]] })], json!({}));
    assert!(e.message().contains("item 0") && e.message().contains("`g`"), "{e}");
}

#[test]
fn oversized_batch_is_refused() {
    let items: Vec<Value> = (0..5).map(|_| json!({ "user": "u1", "item": "a", "age": 1 })).collect();
    let e = err(&two_field_spec(), items, json!({}));
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("maxBatch 4"), "{e}");
}

#[test]
fn encode_into_checks_buffers() {
    let enc = Encoder::new(&two_field_spec()).unwrap();
    let items = vec![item(json!({ "user": "u1", "item": "a", "age": 1 }))];
    let mut ids = [0i64; 2];
    let mut dense = [0f32; 1];
    let mut scratch = Scratch::default();
    enc.encode_into(
        &items,
        &Item::new(),
        &mut [InputBuffer::I64(&mut ids), InputBuffer::F32(&mut dense)],
        &mut scratch,
    )
    .unwrap();
    assert_eq!((ids, dense), ([1, 1], [1.0]));
    let mut short = [0i64; 1];
    let e = enc
        .encode_into(
            &items,
            &Item::new(),
            &mut [InputBuffer::I64(&mut short), InputBuffer::F32(&mut dense)],
            &mut scratch,
        )
        .unwrap_err();
    assert!(e.message().contains("ids"), "{e}");
    let mut wrong = [0f32; 2];
    assert!(
        enc.encode_into(
            &items,
            &Item::new(),
            &mut [InputBuffer::F32(&mut wrong), InputBuffer::F32(&mut dense)],
            &mut scratch
        )
        .is_err()
    );
}

fn spec_err(inputs: Value, fields: Value) -> reloop_core::Error {
    let v = json!({ "inputs": inputs, "fields": fields, "outputs": { "probability": "y", "hidden": "h" }, "p0": 0.5 });
    ModelSpec::from_json(&v.to_string()).unwrap_err()
}

#[test]
fn spec_errors_name_the_key() {
    let x = |cols: Value| json!([{ "name": "x", "dtype": "f32", "columns": cols }]);
    let cases = [
        (spec_err(x(json!(["a"])), json!({ "a": { "kind": "categorical" } })), "fields.a"),
        (
            spec_err(x(json!(["a"])), json!({ "a": { "kind": "categorical", "hashBuckets": 3, "vocabulary": {} } })),
            "not both",
        ),
        (spec_err(x(json!(["a"])), json!({ "a": { "kind": "numeric", "std": 0 } })), "fields.a.std"),
        (
            spec_err(
                x(json!(["a"])),
                json!({ "a": { "kind": "multiCategorical", "hashBuckets": 3, "pooling": "pad" } }),
            ),
            "fields.a.maxLen",
        ),
        (
            spec_err(x(json!(["a"])), json!({ "a": { "kind": "bucketized", "boundaries": [2, 1] } })),
            "fields.a.boundaries[1]",
        ),
        (spec_err(x(json!(["b"])), json!({ "a": { "kind": "numeric" } })), "inputs[0].columns[0]"),
        (spec_err(x(json!(["a"])), json!({ "a": { "kind": "numeric" }, "b": { "kind": "numeric" } })), "fields.b"),
        (
            spec_err(json!([{ "name": "x", "dtype": "i64", "columns": ["a"] }]), json!({ "a": { "kind": "numeric" } })),
            "needs an f32 input",
        ),
        (spec_err(x(json!(["a"])), json!({ "a": { "kind": "numeric", "unit": "s" } })), "unit"),
        (spec_err(x(json!(["a"])), json!({ "a": { "kind": "embedding" } })), "embedding"),
        (
            spec_err(x(json!(["a"])), json!({ "a": { "kind": "categorical", "vocabulary": { "q": -1 } } })),
            "fields.a.vocabulary.q",
        ),
    ];
    for (e, key) in cases {
        assert_eq!(e.kind(), ErrorKind::InvalidConfig);
        assert!(e.message().contains(key), "expected `{key}` in: {e}");
    }
    let base = json!({ "inputs": x(json!(["a"])), "fields": { "a": { "kind": "numeric" } },
                       "outputs": { "probability": "y", "hidden": "h" }, "p0": 0.5 });
    for (key, value, named) in [
        ("p0", json!(1.0), "p0"),
        ("maxBatch", json!(0), "maxBatch"),
        ("version", json!(2), "version"),
        ("mu", json!([]), "mu"),
    ] {
        let mut v = base.clone();
        v[key] = value;
        let e = ModelSpec::from_json(&v.to_string()).unwrap_err();
        assert!(e.message().contains(named), "{e}");
    }
    assert!(ModelSpec::from_json("{ not json").is_err());
}

#[test]
fn bucket_edges_close_left_or_right_like_numpy_and_pandas() {
    let s = |extra: Value| {
        let mut field = json!({ "kind": "bucketized", "boundaries": [0, 10, 20] });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            field[k] = v;
        }
        spec(json!([{ "name": "x", "dtype": "i64", "columns": ["b"] }]), json!({ "b": field }))
    };
    let index = |s: &ModelSpec, x: f64| encode_one(s, json!({ "b": x })).i64_data(0).unwrap()[0];
    // Left-closed [b_i, b_i+1) (np.digitize, pd.cut(right=False)): 10 goes up.
    let left = s(json!({}));
    assert_eq!([-1.0, 0.0, 5.0, 10.0, 20.0, 25.0].map(|x| index(&left, x)), [0, 1, 1, 2, 3, 3]);
    // Right-closed (b_i, b_i+1] (pd.cut's default): 10 goes down.
    let right = s(json!({ "closed": "right" }));
    assert_eq!([-1.0, 0.0, 5.0, 10.0, 20.0, 25.0].map(|x| index(&right, x)), [0, 0, 1, 1, 2, 3]);
    // With outOfRange, pd.cut(x, [0, 10, 20], labels=False): (0,10] → 0, (10,20] → 1,
    // anything else (NaN in pandas) → the given index.
    let cut = s(json!({ "closed": "right", "outOfRange": 7 }));
    assert_eq!([-1.0, 0.0, 0.5, 10.0, 10.5, 20.0, 20.5].map(|x| index(&cut, x)), [7, 7, 0, 0, 1, 1, 7]);
    let cut_left = s(json!({ "outOfRange": 2, "offset": 3 }));
    assert_eq!([-1.0, 0.0, 10.0, 19.9, 20.0].map(|x| index(&cut_left, x)), [2, 3, 4, 4, 2]);
    // One-hot of the cardinality max(offset + buckets, outOfRange + 1).
    let one_hot = spec(
        json!([{ "name": "x", "dtype": "f32", "columns": ["b"] }]),
        json!({ "b": { "kind": "bucketized", "boundaries": [0, 10, 20], "outOfRange": 0, "offset": 1, "oneHot": true } }),
    );
    assert_eq!(encode_one(&one_hot, json!({ "b": 15 })).f32_data(0), Some(&[0.0, 0.0, 1.0][..]));
    assert_eq!(encode_one(&one_hot, json!({ "b": 99 })).f32_data(0), Some(&[1.0, 0.0, 0.0][..]));
    let e = spec_err(
        json!([{ "name": "x", "dtype": "i64", "columns": ["b"] }]),
        json!({ "b": { "kind": "bucketized", "boundaries": [0], "outOfRange": 0 } }),
    );
    assert!(e.message().contains("fields.b.boundaries") && e.message().contains("two"), "{e}");
    let e = spec_err(
        json!([{ "name": "x", "dtype": "i64", "columns": ["b"] }]),
        json!({ "b": { "kind": "bucketized", "boundaries": [0, 1], "closed": "both" } }),
    );
    assert!(e.message().contains("fields.b.closed") || e.message().contains("both"), "{e}");
}

#[test]
fn an_unknown_category_can_be_all_zeros_like_sklearn_ignore() {
    let s = spec(
        json!([{ "name": "x", "dtype": "f32", "columns": ["c", "m", "mean"] }]),
        json!({
            "c": { "kind": "categorical", "vocabulary": { "a": 0, "b": 1 }, "oovIndex": "none", "oneHot": true },
            "m": { "kind": "multiCategorical", "vocabulary": { "a": 0, "b": 1 }, "oovIndex": "none", "pooling": "multiHot" },
            "mean": { "kind": "multiCategorical", "vocabulary": { "a": 0, "b": 1 }, "oovIndex": "none", "pooling": "mean" }
        }),
    );
    let row = |v: Value| encode_one(&s, v).f32_data(0).unwrap().to_vec();
    assert_eq!(row(json!({ "c": "b", "m": ["a"], "mean": ["a", "b"] })), [0.0, 1.0, 1.0, 0.0, 0.5, 0.5]);
    // Width 2 (no extra column for unknowns); unknowns write nothing, the mean is over known values.
    assert_eq!(row(json!({ "c": "zz", "m": ["zz", "b"], "mean": ["zz", "b"] })), [0.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
    assert_eq!(row(json!({ "c": "zz", "m": ["zz"], "mean": ["zz"] })), [0.0; 6]);
    // Padded lists leave unknown values out.
    let pad = spec(
        json!([{ "name": "x", "dtype": "i64", "columns": ["p"] }]),
        json!({ "p": { "kind": "multiCategorical", "vocabulary": { "a": 1, "b": 2 }, "oovIndex": "none",
                       "pooling": "pad", "maxLen": 3 } }),
    );
    assert_eq!(encode_one(&pad, json!({ "p": ["zz", "b", "zz", "a", "b"] })).i64_data(0), Some(&[2, 1, 2][..]));
    // An index column must get an index; hashing has no unknowns.
    let e = spec_err(
        json!([{ "name": "x", "dtype": "i64", "columns": ["c"] }]),
        json!({ "c": { "kind": "categorical", "vocabulary": { "a": 1 }, "oovIndex": "none" } }),
    );
    assert!(e.message().contains("fields.c.oovIndex") && e.message().contains("oneHot"), "{e}");
    let e = spec_err(
        json!([{ "name": "x", "dtype": "i64", "columns": ["c"] }]),
        json!({ "c": { "kind": "categorical", "hashBuckets": 4, "oovIndex": "none" } }),
    );
    assert!(e.message().contains("fields.c.oovIndex"), "{e}");
    let e = spec_err(
        json!([{ "name": "x", "dtype": "i64", "columns": ["c"] }]),
        json!({ "c": { "kind": "categorical", "vocabulary": { "a": 1 }, "oovIndex": "unknown" } }),
    );
    assert!(e.message().contains("oovIndex") && e.message().contains("\"none\""), "{e}");
}

#[test]
fn p0_may_be_left_out_of_the_file_but_a_session_needs_it() {
    let v = json!({
        "inputs": [{ "name": "x", "dtype": "f32", "columns": ["a"] }],
        "fields": { "a": { "kind": "numeric" } },
        "outputs": { "probability": "y", "hidden": "h" }
    });
    let s = ModelSpec::from_json(&v.to_string()).unwrap();
    assert_eq!(s.p0, None);
    assert!(!String::from_utf8(s.canonical_bytes()).unwrap().contains("p0"));
    // A model loads without it; a session needs it, from the spec or its options.
    let mut bundled: Value = serde_json::from_str(reloop_runtime::bundled::spec_json()).unwrap();
    bundled.as_object_mut().unwrap().remove("p0");
    let model = reloop_runtime::Model::from_json(reloop_runtime::bundled::onnx(), &bundled.to_string()).unwrap();
    assert_eq!(model.p0(), None);
    let e = reloop_runtime::Session::new(&model, &SessionOptions::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    assert!(e.message().starts_with("p0:") && e.message().contains("reloop check"), "{e}");
    let given = SessionOptions { p0: Some(0.3), ..SessionOptions::default() };
    assert_eq!(reloop_runtime::Session::new(&model, &given).unwrap().options().p0, Some(0.3));
    let paper = SessionOptions { estimator: Some(EstimatorKind::Paper), ..SessionOptions::default() };
    reloop_runtime::Session::new(&model, &paper).unwrap();
}
