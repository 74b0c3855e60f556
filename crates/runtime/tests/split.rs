//! The first-layer split ([`reloop_runtime::split`]): catalog calls through
//! it score within 1e-5 of the general path (the model on the items
//! themselves) on the bundled model, whose key lies inside the first layer,
//! and on the fixture MLP (ids + a float column, key after the first
//! layer), whatever fields the entries carry; models that do not fit keep
//! the general path, and so do pages shorter than `SPLIT_MIN_ROWS`, bit
//! for bit.

mod common;

use common::{Head, assert_close, item, mlp_graph, mlp_spec};
use reloop_runtime::model::SPLIT_MIN_ROWS;
use reloop_runtime::{Catalog, Item, Model, ModelOutput};
use serde_json::json;
use tract_onnx::pb;

const TOLERANCE: f32 = 1e-5;

/// Scores `order` of `entries` (repeated to a page the split takes) by
/// catalog and by item under each context; with `exact_key`, the keys
/// (computed inside the first layer, from one column each) must be equal
/// bit for bit.
fn check(model: &Model, entries: &[Item], contexts: &[Item], order: &[u32], exact_key: bool, what: &str) {
    let ids: Vec<String> = (0..entries.len()).map(|i| format!("e{i}")).collect();
    let mut catalog = Catalog::new(model);
    catalog.insert(&ids, entries).unwrap();
    let order: Vec<u32> = order.iter().copied().cycle().take(order.len().max(SPLIT_MIN_ROWS)).collect();
    let order = &order[..];
    let chosen: Vec<Item> = order.iter().map(|&i| entries[i as usize].clone()).collect();
    let (mut got, mut want) = (ModelOutput::default(), ModelOutput::default());
    for (c, context) in contexts.iter().enumerate() {
        model.run_unsplit(&chosen, context, &mut want).unwrap();
        model.run_catalog(&catalog, order, context, &mut got).unwrap();
        assert_close(&got, &want, TOLERANCE, &format!("{what}, context {c}"));
        if exact_key {
            assert!(got.hidden() == want.hidden(), "{what}, context {c}: keys differ");
        }
        assert!(want.y_base().iter().any(|p| (p - want.y_base()[0]).abs() > 1e-4), "{what}: scores all alike");
    }
}

#[test]
fn bundled_model_splits_and_scores_within_tolerance() {
    let model = reloop_runtime::bundled::model().unwrap();
    assert!(model.has_split());
    let entries = vec![
        item(json!({ "itemId": 50, "genres": ["Sci-Fi", "Action"], "year": 1977 })),
        item(json!({ "itemId": 181, "genres": ["Action"], "year": 1983 })),
        item(json!({ "itemId": 1, "genres": ["Comedy"] })),
        item(json!({ "itemId": 7, "genres": ["Horror"], "year": 1995, "hour": 3 })),
        item(json!({ "itemId": "unknown-id", "genres": [] })),
        item(json!({ "itemId": 300, "genres": ["Drama", "Romance", "War"], "year": 1998, "userId": 5, "age": 20 })),
    ];
    let contexts = common::bundled_contexts();
    check(&model, &entries, &contexts, &[3, 0, 4, 1, 2, 0, 5, 5], true, "bundled");
    // A page of 100 entries from the whole vocabulary.
    let many: Vec<Item> = (1..=100)
        .map(|i| {
            let genre = ["Action", "Comedy", "Drama"][i as usize % 3];
            item(json!({ "itemId": i * 13, "genres": [genre], "year": 1950 + i % 50 }))
        })
        .collect();
    let order: Vec<u32> = (0..100).rev().collect();
    check(&model, &many, &contexts, &order, true, "bundled, 100 entries");
    // Again on the split's plans fixed to 100 rows.
    model.warm_up_sizes(&[100]).unwrap();
    check(&model, &many, &contexts, &order, true, "bundled, 100 entries, warmed up");
}

#[test]
fn mlp_with_the_key_after_the_first_layer_splits_for_every_head() {
    for head in [Head::Sigmoid, Head::Logit, Head::Softmax2] {
        let model = Model::from_json(&common::encode_model(mlp_graph(head)), &mlp_spec(head)).unwrap();
        assert!(model.has_split(), "{head:?}");
        let entries = vec![
            item(json!({ "item": "a" })),
            item(json!({ "item": "b" })),
            // Carrying a context field.
            item(json!({ "item": "c", "age": 55 })),
            item(json!({ "item": "d", "user": "u3" })),
        ];
        let contexts = vec![item(json!({ "user": "u1", "age": 20 })), item(json!({ "user": "u2", "age": 41 }))];
        check(&model, &entries, &contexts, &[0, 1, 2, 3, 3, 1], false, &format!("{head:?}"));
    }
}

/// The first layer reads a product of two input-dependent tensors (the
/// embeddings times the float column, as a factorisation machine's pairwise
/// products do): not affine over per-column features, so no split.
#[test]
fn a_product_of_features_keeps_the_general_path() {
    let mut graph = mlp_graph(Head::Sigmoid);
    for node in &mut graph.node {
        if node.op_type == "Concat" {
            node.input[0] = "scaled".into();
        }
    }
    let product = pb::NodeProto {
        op_type: "Mul".into(),
        input: vec!["flat".into(), "dense".into()],
        output: vec!["scaled".into()],
        ..Default::default()
    };
    let at = graph.node.iter().position(|n| n.op_type == "Concat").unwrap();
    graph.node.insert(at, product);
    let model = Model::from_json(&common::encode_model(graph), &mlp_spec(Head::Sigmoid)).unwrap();
    assert!(!model.has_split());
    let entries = vec![item(json!({ "item": "a" })), item(json!({ "item": "b", "age": 70 }))];
    check(&model, &entries, &[item(json!({ "user": "u1", "age": 20 }))], &[0, 1], false, "product");
}

#[test]
fn pages_below_the_threshold_take_the_general_path_bit_for_bit() {
    let model = reloop_runtime::bundled::model().unwrap();
    assert!(model.has_split());
    let many: Vec<Item> = (1..=SPLIT_MIN_ROWS as u32)
        .map(|i| item(json!({ "itemId": i * 7, "genres": ["Drama"], "year": 1940 + i % 60 })))
        .collect();
    let ids: Vec<String> = (0..many.len()).map(|i| format!("e{i}")).collect();
    let mut catalog = Catalog::new(&model);
    catalog.insert(&ids, &many).unwrap();
    let context = item(
        json!({ "userId": 3, "age": 25, "gender": "M", "occupation": "artist", "zip": "1", "hour": 9, "weekday": 1 }),
    );
    let (mut got, mut want) = (ModelOutput::default(), ModelOutput::default());
    for n in [1, 2, SPLIT_MIN_ROWS - 1] {
        let order: Vec<u32> = (0..n as u32).collect();
        // Twice, so both calls below run on the size's fixed plan.
        for _ in 0..2 {
            model.run(&many[..n], &context, &mut want).unwrap();
        }
        model.run_catalog(&catalog, &order, &context, &mut got).unwrap();
        assert_eq!(got.y_base(), want.y_base(), "{n} rows");
        assert_eq!(got.hidden(), want.hidden(), "{n} rows");
    }
}
