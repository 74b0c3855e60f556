//! The catalog path and caller-made tensors on the bundled model: on pages
//! shorter than `SPLIT_MIN_ROWS`, the same scores, bit for bit, as scoring
//! the items themselves (longer ones: `tests/split.rs`); replacement and
//! extension in place; every bad input a coded error that leaves the
//! catalog and the session as they were.

mod common;

use common::item;
use reloop_core::ErrorKind;
use reloop_runtime::encoder::EncodedBatch;
use reloop_runtime::{Catalog, InputTensor, Item, Model, Session, SessionOptions};
use serde_json::json;

fn model() -> Model {
    reloop_runtime::bundled::model().unwrap()
}

fn items() -> Vec<Item> {
    vec![
        item(json!({ "itemId": 50, "genres": ["Sci-Fi", "Action"], "year": 1977 })),
        item(json!({ "itemId": 181, "genres": ["Action"], "year": 1983 })),
        // No year: the context's (if any), else the spec's default.
        item(json!({ "itemId": 1, "genres": ["Comedy"] })),
        // Overrides a context field.
        item(json!({ "itemId": 7, "genres": ["Horror"], "year": 1995, "hour": 3 })),
        item(json!({ "itemId": "unknown-id", "genres": [] })),
    ]
}

fn ids() -> Vec<String> {
    (0..items().len()).map(|i| format!("m{i}")).collect()
}

fn contexts() -> Vec<Item> {
    common::bundled_contexts()
}

fn catalog(model: &Model) -> Catalog {
    let mut c = Catalog::new(model);
    c.insert(&ids(), &items()).unwrap();
    c
}

/// A session with some evidence, so scores are corrected.
fn trained(model: &Model) -> Session {
    let mut s = Session::new(model, &SessionOptions::default()).unwrap();
    for (i, it) in items().iter().enumerate() {
        s.record(it, &contexts()[0], i % 2 == 0).unwrap();
    }
    s
}

#[test]
fn catalog_scores_equal_item_scores_bit_for_bit() {
    let model = model();
    let catalog = catalog(&model);
    let mut a = trained(&model);
    let mut b = trained(&model);
    let order = [3u32, 0, 4, 1, 2, 0];
    let chosen: Vec<Item> = order.iter().map(|&i| items()[i as usize].clone()).collect();
    for context in contexts() {
        let want = a.score(&chosen, &context).unwrap().to_vec();
        let want_hidden = a.last_output().clone();
        let got = b.score_catalog(&catalog, &order, &context).unwrap().to_vec();
        assert_eq!(got, want);
        assert_eq!(b.last_output(), &want_hidden);
    }
}

#[test]
fn record_by_entry_equals_record_by_item() {
    let model = model();
    let catalog = catalog(&model);
    let (mut a, mut b) = (trained(&model), trained(&model));
    let context = &contexts()[1];
    assert_eq!(a.record(&items()[3], context, true).unwrap(), b.record_catalog(&catalog, 3, context, true).unwrap());
    assert_eq!(a.save(), b.save());
}

#[test]
fn insert_replaces_in_place_and_extends() {
    let model = model();
    let mut catalog = catalog(&model);
    assert_eq!(catalog.len(), 5);
    assert_eq!(catalog.index_of("m3"), Some(3));
    let replacement = item(json!({ "itemId": 181, "genres": ["Action"], "year": 1983 }));
    catalog.insert(&["m3", "new"], &[replacement.clone(), items()[0].clone()]).unwrap();
    assert_eq!((catalog.len(), catalog.index_of("m3"), catalog.index_of("new")), (6, Some(3), Some(5)));
    let mut s = Session::new(&model, &SessionOptions::default()).unwrap();
    let context = &contexts()[0];
    let by_entry = s.score_catalog(&catalog, &[3, 5], context).unwrap().to_vec();
    let by_item = s.score(&[replacement, items()[0].clone()], context).unwrap().to_vec();
    assert_eq!(by_entry, by_item);
    catalog.clear();
    assert!(catalog.is_empty());
    let e = s.score_catalog(&catalog, &[0], context).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

/// What the package's JS cache of id lookups relies on (`src/js/reader.js`).
#[test]
fn the_revision_changes_with_the_entries_and_is_never_shared() {
    let model = model();
    let mut a = catalog(&model);
    let b = catalog(&model);
    assert_ne!(a.revision(), b.revision(), "two catalogs with the same entries");
    let first = a.revision();
    let mut s = trained(&model);
    s.score_catalog(&a, &[0, 1], &contexts()[0]).unwrap();
    assert_eq!(a.index_of("m1"), Some(1));
    assert_eq!(a.revision(), first, "scoring and looking up change nothing");
    a.insert(&["m1"], &items()[..1]).unwrap();
    let replaced = a.revision();
    assert_ne!(replaced, first);
    let copy = a.clone();
    assert_eq!(copy.revision(), replaced, "a clone names the same ids and indices");
    a.clear();
    let cleared = a.revision();
    assert!(![first, replaced, b.revision()].contains(&cleared));
    // The index m0 had now names another id.
    a.insert(&["other", "m0"], &items()[..2]).unwrap();
    assert_eq!(a.index_of("m0"), Some(1));
    assert!(![first, replaced, cleared, b.revision()].contains(&a.revision()));
    assert_eq!(copy.revision(), replaced);
}

#[test]
fn bad_inserts_change_nothing() {
    let model = model();
    let mut catalog = catalog(&model);
    let bad = item(json!({ "itemId": 3, "genres": "Comedy", "year": "old" }));
    for (ids, items, what) in [
        (vec!["x", "y"], vec![items()[0].clone()], "ids for"),
        (vec![""], vec![items()[0].clone()], "id 0"),
        (vec!["a", "a"], vec![items()[0].clone(), items()[1].clone()], "both"),
        (vec!["m0", "z"], vec![items()[1].clone(), bad], "`year`"),
    ] {
        let revision = catalog.revision();
        let e = catalog.insert(&ids, &items).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.message().contains(what), "{e}");
        assert_eq!(catalog.len(), 5);
        assert_eq!(catalog.revision(), revision, "a failed insert keeps the revision");
        assert_eq!(catalog.index_of("z"), None);
    }
    // m0 was not replaced by the failed call.
    let mut s = Session::new(&model, &SessionOptions::default()).unwrap();
    let context = &contexts()[0];
    assert_eq!(
        s.score_catalog(&catalog, &[0], context).unwrap().to_vec(),
        s.score(&items()[..1], context).unwrap().to_vec()
    );
}

#[test]
fn unknown_ids_missing_fields_and_foreign_catalogs_are_input_errors() {
    let model = model();
    let catalog = catalog(&model);
    let mut rows = Vec::new();
    let e = catalog.indices_of(&["m1", "nope"], &mut rows).unwrap_err();
    assert!(e.message().contains("`nope` is not in the catalog"), "{e}");
    catalog.indices_of(&["m4", "m1"], &mut rows).unwrap();
    assert_eq!(rows, [4, 1]);

    let mut s = trained(&model);
    let before = s.save();
    let e = s.score_catalog(&catalog, &[0, 99], &contexts()[0]).unwrap_err();
    assert!(e.message().contains("index 99"), "{e}");
    // userId is in no entry and not in this context.
    let e = s.score_catalog(&catalog, &[1], &item(json!({ "age": 3 }))).unwrap_err();
    assert!(e.message().contains("entry 0 (`m1`)") && e.message().contains("userId"), "{e}");
    // A bad context value only matters where an entry needs it.
    let mut context = contexts()[0].clone();
    context.insert("hour".into(), json!("late"));
    assert!(s.score_catalog(&catalog, &[3], &context).is_ok());
    let e = s.score_catalog(&catalog, &[0], &context).unwrap_err();
    assert!(e.message().contains("context field `hour`"), "{e}");
    assert_eq!(s.save(), before);

    let other =
        Model::load(&std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/movielens.onnx")).unwrap(), {
            let mut spec = model.spec().clone();
            spec.max_batch = 10;
            spec
        })
        .unwrap();
    let e = Session::new(&other, &SessionOptions::default())
        .unwrap()
        .score_catalog(&catalog, &[0], &contexts()[0])
        .unwrap_err();
    assert!(e.message().contains("another model"), "{e}");
}

#[test]
fn tensors_score_like_items_and_out_of_range_values_are_refused() {
    let model = model();
    let mut s = trained(&model);
    let context = &contexts()[0];
    let mut batch = EncodedBatch::default();
    model.encoder().encode(&items(), context, &mut batch).unwrap();
    let (ids, genres) = (batch.i64_data(0).unwrap().to_vec(), batch.f32_data(1).unwrap().to_vec());
    let n = items().len();
    let by_tensor = s.score_tensors(&[InputTensor::I64(&ids), InputTensor::F32(&genres)], n).unwrap().to_vec();
    assert_eq!(by_tensor, s.score(&items(), context).unwrap().to_vec());

    let mut past = ids.clone();
    past[1] = 1_000_000; // itemId's column, far past the embedding table
    let e = s.score_tensors(&[InputTensor::I64(&past), InputTensor::F32(&genres)], n).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("row 0 column 1 (field `itemId`)"), "{e}");
    let mut nan = genres.clone();
    nan[3] = f32::NAN;
    assert!(s.score_tensors(&[InputTensor::I64(&ids), InputTensor::F32(&nan)], n).is_err());
    assert!(s.score_tensors(&[InputTensor::I64(&ids)], n).is_err());
    assert!(s.score_tensors(&[InputTensor::F32(&genres), InputTensor::I64(&ids)], n).is_err());
    assert!(s.score_tensors(&[InputTensor::I64(&ids), InputTensor::F32(&genres)], n + 1).is_err());
    // Still scores as before.
    assert_eq!(s.score_tensors(&[InputTensor::I64(&ids), InputTensor::F32(&genres)], n).unwrap().to_vec(), by_tensor);
}

#[test]
fn warm_up_runs_the_model_and_changes_nothing_a_later_call_sees() {
    let model = model();
    let mut out = reloop_runtime::ModelOutput::default();
    model.run(&items(), &contexts()[0], &mut out).unwrap();
    let before = out.y_base().to_vec();
    model.warm_up().unwrap();
    model.warm_up().unwrap();
    // No fixed plan was earned or built by warming up.
    assert!(model.fixed_batch_sizes().is_empty(), "{:?}", model.fixed_batch_sizes());
    model.run(&items(), &contexts()[0], &mut out).unwrap();
    assert_eq!(out.y_base(), &before[..]);
    // Also on a model of another layout (one f32 input, a logit head).
    let other =
        Model::from_json(&common::mlp_onnx(common::Head::Logit), &common::mlp_spec(common::Head::Logit)).unwrap();
    other.warm_up().unwrap();
}

#[test]
fn warm_up_sizes_fixes_their_plans_without_spending_the_rationed_builds() {
    let model = model();
    let items = items();
    let n = items.len();
    let mut out = reloop_runtime::ModelOutput::default();
    model.run(&items, &contexts()[0], &mut out).unwrap();
    let general = out.y_base().to_vec();
    model.warm_up_sizes(&[n]).unwrap();
    assert_eq!(model.fixed_batch_sizes(), [n]);
    // The first call of that size already runs on its fixed plan: the same
    // scores up to the fused kernels' rounding.
    model.run(&items, &contexts()[0], &mut out).unwrap();
    for (a, b) in out.y_base().iter().zip(&general) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    // Traffic then still earns as many builds as sizes may keep a plan; the
    // warmed size, least recently used, makes way.
    let limit = model.fixed_plan_limit();
    let sizes: Vec<usize> = (1..=limit).collect();
    for &rows in &sizes {
        for _ in 0..reloop_runtime::plans::FIX_AFTER {
            model.run(&items[..rows], &contexts()[0], &mut out).unwrap();
        }
    }
    assert_eq!(model.fixed_batch_sizes(), sizes);
    // Asked again, it is fixed again.
    model.warm_up_sizes(&[n]).unwrap();
    assert_eq!(model.fixed_batch_sizes().last(), Some(&n));

    let max_batch = model.spec().max_batch;
    for bad in [vec![0], vec![max_batch + 1], vec![1; limit + 1]] {
        let e = model.warm_up_sizes(&bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad:?}: {e}");
    }
}
