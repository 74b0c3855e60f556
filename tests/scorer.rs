//! The whole loop through a real (generated) ONNX model: scores move with
//! recorded clicks, the impression-id path, and saved memories bound to
//! their model.

mod common;

use common::{Head, item, mlp_onnx, mlp_spec, mlp_spec_value};
use reloop_edge::features::Item;
use reloop_edge::model::Model;
use reloop_edge::scorer::{RestorePolicy, Scorer};
use reloop_edge::{ErrorKind, Estimator, SessionConfig, SketchConfig};
use serde_json::json;

fn scorer() -> Scorer {
    Scorer::new(Model::from_json(&mlp_onnx(Head::Sigmoid), &mlp_spec(Head::Sigmoid)).unwrap())
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
    let s = scorer().session().unwrap();
    assert_eq!(s.session().sketch().centre(), Some(&[0.2f32, 0.3, 0.1][..]));
    assert_eq!(s.session().sketch().config().dim, 3);
    match s.session().estimator() {
        Estimator::Residual(r) => assert_eq!(r.p0, 0.4),
        other => panic!("{other:?}"),
    }
}

#[test]
fn fresh_session_scores_equal_the_base_model() {
    let mut s = scorer().session().unwrap();
    let p = s.score(&feed(), &user()).unwrap().to_vec();
    assert_eq!(p.len(), 3);
    for (row, pred) in p.iter().enumerate() {
        assert_eq!(pred.base, s.last_output().y_base()[row]);
        assert!((pred.score - pred.base).abs() < 1e-6);
    }
}

#[test]
fn recorded_clicks_move_the_items_score() {
    let mut s = scorer().session().unwrap();
    let items = feed();
    let before = s.score(&items, &user()).unwrap()[0];
    for _ in 0..8 {
        assert!(s.record(&items[0], &user(), true).unwrap());
    }
    let after = s.score(&items, &user()).unwrap()[0];
    assert!(after.score > before.score + 0.05, "{before:?} -> {after:?}");
    assert_eq!(after.base, before.base);

    let mut s = scorer().session().unwrap();
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
    let mut by_id = scorer().session().unwrap();
    let mut by_item = scorer().session().unwrap();
    let before = by_id.score_impressions(&items, &user(), &ids).unwrap()[1];
    assert_eq!(by_id.impressions(), 3);
    for _ in 0..6 {
        by_id.score_impressions(&items, &user(), &ids).unwrap();
        assert!(by_id.record_impression("m2", true).unwrap());
        by_item.record(&items[1], &user(), true).unwrap();
    }
    // Both paths wrote exactly the same thing.
    assert_eq!(by_id.save(), by_item.save());
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

#[test]
fn impression_cache_is_bounded() {
    let scorer = scorer().with_impression_capacity(2).unwrap();
    let mut s = scorer.session().unwrap();
    s.score_impressions(&feed(), &user(), &["a", "b", "c"]).unwrap();
    assert_eq!(s.impressions(), 2);
    assert!(s.record_impression("a", true).is_err()); // evicted, the oldest
    assert!(s.record_impression("c", true).is_ok());
    assert!(self::scorer().with_impression_capacity(usize::MAX).is_err());
}

#[test]
fn saved_memory_round_trips_under_the_same_model() {
    let scorer = scorer();
    let mut s = scorer.session().unwrap();
    for _ in 0..3 {
        s.record(&feed()[0], &user(), true).unwrap();
    }
    let saved = s.save();
    let restored = scorer.restore(&saved, RestorePolicy::Refuse).unwrap();
    assert!(restored.discarded.is_none());
    let mut r = restored.session;
    assert_eq!(r.session().sketch().len(), 3);
    let a = s.score(&feed(), &user()).unwrap().to_vec();
    let b = r.score(&feed(), &user()).unwrap().to_vec();
    assert_eq!(a, b);
    // A scorer over a separately loaded copy of the same model reads it too.
    assert!(self::scorer().restore(&saved, RestorePolicy::Refuse).is_ok());
}

#[test]
fn memory_of_another_model_is_refused_or_reset_by_policy() {
    let mut s = scorer().session().unwrap();
    s.record(&feed()[0], &user(), true).unwrap();
    let saved = s.save();

    let mut spec = mlp_spec_value(Head::Sigmoid);
    spec["p0"] = json!(0.3); // same ONNX, another spec: another model
    let other = Scorer::new(Model::from_json(&mlp_onnx(Head::Sigmoid), &spec.to_string()).unwrap());
    let e = other.restore(&saved, RestorePolicy::Refuse).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ModelMismatch, "{e}");

    let restored = other.restore(&saved, RestorePolicy::Reset).unwrap();
    assert_eq!(restored.discarded.as_ref().map(|e| e.kind()), Some(ErrorKind::ModelMismatch));
    assert!(restored.session.session().sketch().is_empty());
    assert_eq!(restored.session.session().model_id(), other.model().id());

    let logit = Scorer::new(Model::from_json(&mlp_onnx(Head::Logit), &mlp_spec(Head::Logit)).unwrap());
    assert_eq!(logit.restore(&saved, RestorePolicy::Refuse).unwrap_err().kind(), ErrorKind::ModelMismatch);
}

#[test]
fn unreadable_memory_is_refused_or_reset_by_policy() {
    let scorer = scorer();
    let mut saved = scorer.session().unwrap().save();
    let last = saved.len() - 1;
    saved[last] ^= 0xff;
    assert_eq!(scorer.restore(&saved, RestorePolicy::Refuse).unwrap_err().kind(), ErrorKind::CorruptData);
    let restored = scorer.restore(&saved, RestorePolicy::Reset).unwrap();
    assert_eq!(restored.discarded.map(|e| e.kind()), Some(ErrorKind::CorruptData));
    assert!(scorer.restore(b"", RestorePolicy::Reset).unwrap().discarded.is_some());
}

#[test]
fn session_config_must_fit_the_model() {
    let scorer = scorer();
    let config =
        SessionConfig { sketch: SketchConfig { dim: 4, ..SketchConfig::default() }, ..SessionConfig::default() };
    let e = scorer.session_with(config).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    assert!(e.message().contains("dim"), "{e}");
    let mut config = scorer.default_config();
    config.sketch.bits = 2;
    assert_eq!(scorer.session_with(config).unwrap().session().sketch().config().bits, 2);
}

#[test]
fn bad_items_leave_the_memory_untouched() {
    let mut s = scorer().session().unwrap();
    let e = s.record(&item(json!({ "item": "a" })), &Item::new(), true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("`user`"), "{e}");
    assert!(s.session().sketch().is_empty());
    assert!(s.score(&[item(json!({ "user": [1], "item": "a" }))], &Item::new()).is_err());
}
