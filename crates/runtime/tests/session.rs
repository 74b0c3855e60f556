//! The whole loop through a real (generated) ONNX model: scores move with
//! recorded clicks, the impression-id path, saved memories bound to their
//! model, and options resolved against the model and a saved memory.

mod common;

use common::{Head, item, mlp_onnx, mlp_spec, mlp_spec_value};
use reloop_core::{ErrorKind, Estimator, codec};
use reloop_runtime::{EstimatorKind, FieldValues, Item, Model, OnModelMismatch, Restored, Session, SessionOptions};
use serde_json::json;

fn model() -> Model {
    Model::from_json(&mlp_onnx(Head::Sigmoid), &mlp_spec(Head::Sigmoid)).unwrap()
}

fn session() -> Session {
    Session::new(&model(), &SessionOptions::default()).unwrap()
}

fn options(json: serde_json::Value) -> SessionOptions {
    SessionOptions::from_json(&json.to_string()).unwrap()
}

fn restore(model: &Model, options: &SessionOptions, saved: &[u8]) -> reloop_core::Result<Restored> {
    Session::restore(model, options, saved)
}

fn feed() -> Vec<Item> {
    vec![
        item(json!({ "id": "m1", "item": "a", "age": 22 })),
        item(json!({ "id": "m2", "item": "b", "age": 22 })),
        item(json!({ "id": "m3", "item": 99 })),
    ]
}

fn user() -> Item {
    item(json!({ "user": "u2" }))
}

#[test]
fn default_session_uses_the_models_mu_and_p0() {
    let s = session();
    assert_eq!(s.memory().sketch().centre(), Some(&[0.2f32, 0.3, 0.1][..]));
    assert_eq!(s.memory().sketch().config().dim, 3);
    match s.memory().estimator() {
        Estimator::Intent(r) => assert_eq!(r.p0, 0.4),
        other => panic!("{other:?}"),
    }
}

#[test]
fn fresh_session_scores_equal_the_base_model() {
    let mut s = session();
    let p = s.score(&feed(), &user()).unwrap().to_vec();
    assert_eq!(p.len(), 3);
    for (row, pred) in p.iter().enumerate() {
        assert_eq!(pred.base, s.last_output().y_base()[row]);
        assert!((pred.score - pred.base).abs() < 1e-6);
    }
}

#[test]
fn recorded_clicks_move_the_items_score() {
    let mut s = session();
    let items = feed();
    let before = s.score(&items, &user()).unwrap()[0];
    for _ in 0..8 {
        assert!(s.record(&items[0], &user(), true).unwrap());
    }
    let after = s.score(&items, &user()).unwrap()[0];
    assert!(after.score > before.score + 0.05, "{before:?} -> {after:?}");
    assert_eq!(after.base, before.base);

    let mut s = session();
    for _ in 0..8 {
        s.record(&items[0], &user(), false).unwrap();
    }
    let after = s.score(&items, &user()).unwrap()[0];
    assert!(after.score < before.score - 0.05, "{before:?} -> {after:?}");
}

#[test]
fn impression_ids_record_without_the_item() {
    let items = feed();
    let ids = ["m1", "m2", "m3"];
    let mut by_id = session();
    let mut by_item = session();
    let before = by_id.score_impressions(&items, &user(), &ids).unwrap()[1];
    assert_eq!(by_id.impressions(), 3);
    for _ in 0..6 {
        by_id.score_impressions(&items, &user(), &ids).unwrap();
        assert!(by_id.record_impression("m2", true).unwrap());
        by_item.record(&items[1], &user(), true).unwrap();
    }
    // Both paths wrote exactly the same memory (saved bytes also carry the
    // pending impressions, which only by_id has).
    assert_eq!(codec::encode(by_id.memory()), codec::encode(by_item.memory()));
    let after = by_id.score(&items, &user()).unwrap()[1];
    assert!(after.score > before.score + 0.05, "{before:?} -> {after:?}");

    // An impression records one outcome; unknown ids are errors.
    by_id.score_impressions(&items, &user(), &ids).unwrap();
    by_id.record_impression("m3", false).unwrap();
    let e = by_id.record_impression("m3", false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("m3"), "{e}");
    assert_eq!(by_id.record_impression("never", true).unwrap_err().kind(), ErrorKind::InvalidInput);
    // Mismatched or empty ids.
    assert_eq!(by_id.score_impressions(&items, &user(), &["x"]).unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(by_id.score_impressions(&items, &user(), &["x", "", "y"]).unwrap_err().kind(), ErrorKind::InvalidInput);
}

/// The impressions of the last page travel in the saved bytes: a restored
/// session records them, with no model run, exactly as the session that
/// scored them would have; `savedImpressions` bounds how many.
#[test]
fn saved_bytes_carry_the_recent_impressions() {
    let model = model();
    let items = feed();
    let ids = ["m1", "m2", "m3"];
    let mut live = Session::new(&model, &options(json!({ "errorFilter": 0 }))).unwrap();
    live.score_impressions(&items, &user(), &ids).unwrap();
    let saved = live.save();
    let mut restored = Session::restore(&model, &options(json!({ "errorFilter": 0 })), &saved).unwrap().session;
    assert_eq!(restored.impressions(), 3);
    for (id, clicked) in [("m3", true), ("m1", false)] {
        assert_eq!(restored.record_impression(id, clicked).unwrap(), live.record_impression(id, clicked).unwrap());
    }
    assert_eq!(restored.save(), live.save());
    assert_eq!(restored.impressions(), 1);

    // Only the most recent `savedImpressions` are kept.
    let mut few = Session::new(&model, &options(json!({ "savedImpressions": 2 }))).unwrap();
    few.score_impressions(&items, &user(), &ids).unwrap();
    let bytes = few.save();
    let mut back = Session::restore(&model, &options(json!({})), &bytes).unwrap().session;
    assert_eq!(back.impressions(), 2);
    assert!(back.record_impression("m1", true).is_err());
    assert!(back.record_impression("m3", true).is_ok());
    let none = Session::new(&model, &options(json!({ "savedImpressions": 0 }))).unwrap();
    assert_eq!(none.save().len(), codec::encode(none.memory()).len());
    let e = Session::new(&model, &options(json!({ "savedImpressions": 5000 }))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
}

#[test]
fn impression_cache_is_bounded() {
    let mut s = Session::new(&model(), &options(json!({ "impressions": 2 }))).unwrap();
    s.score_impressions(&feed(), &user(), &["a", "b", "c"]).unwrap();
    assert_eq!(s.impressions(), 2);
    assert!(s.record_impression("a", true).is_err()); // evicted, the oldest
    assert!(s.record_impression("c", true).is_ok());
    let e = Session::new(&model(), &options(json!({ "impressions": 70_000 }))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    let mut off = Session::new(&model(), &options(json!({ "impressions": 0 }))).unwrap();
    assert_eq!(off.score_impressions(&feed(), &user(), &["a", "b", "c"]).unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[test]
fn saved_memory_round_trips_under_the_same_model() {
    let model = model();
    let mut s = Session::new(&model, &SessionOptions::default()).unwrap();
    for _ in 0..3 {
        s.record(&feed()[0], &user(), true).unwrap();
    }
    let saved = s.save();
    let restored = restore(&model, &SessionOptions::default(), &saved).unwrap();
    assert!(restored.discarded.is_none());
    let mut r = restored.session;
    assert_eq!(r.memory().sketch().len(), 3);
    let a = s.score(&feed(), &user()).unwrap().to_vec();
    let b = r.score(&feed(), &user()).unwrap().to_vec();
    assert_eq!(a, b);
    assert_eq!(r.options(), s.options());
    // A separately loaded copy of the same model reads it too.
    assert!(restore(&self::model(), &SessionOptions::default(), &saved).unwrap().discarded.is_none());
}

#[test]
fn memory_of_another_model_is_refused_or_reset_by_policy() {
    let mut s = session();
    s.record(&feed()[0], &user(), true).unwrap();
    let saved = s.save();

    let mut spec = mlp_spec_value(Head::Sigmoid);
    spec["p0"] = json!(0.3); // same ONNX, another spec: another model
    let other = Model::from_json(&mlp_onnx(Head::Sigmoid), &spec.to_string()).unwrap();
    let refuse = options(json!({ "onModelMismatch": "error" }));
    let e = restore(&other, &refuse, &saved).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModelMismatch, "{e}");

    let restored = restore(&other, &SessionOptions::default(), &saved).unwrap();
    assert_eq!(restored.discarded.as_ref().map(|e| e.kind()), Some(ErrorKind::ModelMismatch));
    assert!(restored.session.memory().sketch().is_empty());
    assert_eq!(restored.session.memory().model_id(), other.id());

    let logit = Model::from_json(&mlp_onnx(Head::Logit), &mlp_spec(Head::Logit)).unwrap();
    assert_eq!(restore(&logit, &refuse, &saved).unwrap_err().kind(), ErrorKind::ModelMismatch);
}

#[test]
fn unreadable_memory_is_refused_whatever_the_policy() {
    // Only a memory of another model or layout can be reset; bytes that do
    // not read are an error in Rust and in JS alike.
    let model = model();
    let mut saved = session().save();
    let last = saved.len() - 1;
    saved[last] ^= 0xff;
    for policy in [OnModelMismatch::Reset, OnModelMismatch::Error] {
        let options = SessionOptions { on_model_mismatch: Some(policy), ..SessionOptions::default() };
        assert_eq!(restore(&model, &options, &saved).unwrap_err().kind(), ErrorKind::CorruptData);
        assert_eq!(restore(&model, &options, b"").unwrap_err().kind(), ErrorKind::CorruptData);
    }
}

#[test]
fn options_resolve_over_the_defaults_and_a_saved_memory() {
    let model = model();
    let s = Session::new(&model, &options(json!({ "bits": 2, "halfLife": null, "lambda": 1.5 }))).unwrap();
    let o = s.options();
    assert_eq!((o.bits, o.arrays, o.half_life, o.lambda), (Some(2), Some(4), Some(None), Some(1.5)));
    assert_eq!((o.p0, o.estimator, o.gamma), (Some(0.4), Some(EstimatorKind::Intent), None));
    assert_eq!(SessionOptions::from_json(&o.to_json()).unwrap(), o, "the resolved view reads back");
    let saved = s.save();
    // Without options the saved memory's are kept; estimator keys replace them.
    let kept = restore(&model, &SessionOptions::default(), &saved).unwrap().session.options();
    assert_eq!(kept, o);
    let paper = restore(&model, &options(json!({ "estimator": "paper", "gamma": 0.5 })), &saved).unwrap();
    assert!(matches!(paper.session.memory().estimator(), Estimator::Paper(p) if p.gamma == 0.5));
    // Memory keys that differ from the saved memory are another layout.
    let e = restore(&model, &options(json!({ "bits": 6, "onModelMismatch": "error" })), &saved).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModelMismatch);
    assert!(e.message().contains("bits"), "{e}");
    let e = restore(&model, &options(json!({ "halfLife": 15, "onModelMismatch": "error" })), &saved).unwrap_err();
    assert!(e.message().contains("halfLife"), "{e}");
    // Out of range or not applicable.
    for bad in [
        json!({ "bits": 17 }),
        json!({ "tau": 0 }),
        json!({ "gamma": 0.5 }),
        json!({ "estimator": "paper", "p0": 0.2 }),
    ] {
        let e = Session::new(&model, &options(bad.clone())).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{bad}");
    }
}

#[test]
fn positional_field_values_score_like_named_maps() {
    let model = model();
    let names: Vec<&str> = model.field_names().collect();
    let positional = |item: &Item| {
        FieldValues(names.iter().map(|n| item.get(*n).cloned().unwrap_or(serde_json::Value::Null)).collect())
    };
    let mut a = session();
    let mut b = session();
    let items = feed();
    let rows: Vec<FieldValues> = items.iter().map(positional).collect();
    assert_eq!(a.score(&items, &user()).unwrap(), b.score(&rows, &positional(&user())).unwrap());
    a.record(&items[1], &user(), true).unwrap();
    b.record(&rows[1], &positional(&user()), true).unwrap();
    assert_eq!(a.save(), b.save());
}

#[test]
fn bad_items_leave_the_memory_untouched() {
    let mut s = session();
    let e = s.record(&item(json!({ "item": "a" })), &Item::new(), true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("`user`"), "{e}");
    assert!(s.memory().sketch().is_empty());
    assert!(s.score(&[item(json!({ "user": [1], "item": "a" }))], &Item::new()).is_err());
}
