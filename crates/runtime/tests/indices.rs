//! Load-time index checks: every index a field can write must fit the table
//! it reaches, followed through the graph (column slices, per-column
//! offsets, clamps, casts); what does not fit is refused at load, naming the
//! field, instead of panicking (a wasm abort) on the first `score`.

mod common;

use common::{
    FLOAT, Head, INT64, encode_model, int_attr, mlp_graph, mlp_onnx, mlp_spec_value, node, tensor_f32, tensor_i64,
    value_info,
};
use reloop_core::ErrorKind;
use reloop_runtime::{Item, Model, ModelOutput};
use serde_json::json;
use tract_onnx::pb;

fn table(name: &str, rows: usize) -> pb::TensorProto {
    tensor_f32(name, &[rows as i64, 2], (0..rows * 2).map(|i| (i as f32 * 0.37).sin()).collect())
}

/// A model whose `nodes` turn the inputs `x: i64 [N, 2]` and `d: f32 [N, 1]`
/// into `h: f32 [N, 4]`; a fixed head makes `prob` from `h`.
fn graph(mut nodes: Vec<pb::NodeProto>, mut initializer: Vec<pb::TensorProto>) -> Vec<u8> {
    initializer.push(tensor_f32("w", &[4, 1], vec![0.3, -0.2, 0.5, 0.1]));
    nodes.push(node("MatMul", &["h", "w"], &["logit"], vec![]));
    nodes.push(node("Sigmoid", &["logit"], &["prob"], vec![]));
    encode_model(pb::GraphProto {
        name: "indices".into(),
        node: nodes,
        initializer,
        input: vec![value_info("x", INT64, &[None, Some(2)]), value_info("d", FLOAT, &[None, Some(1)])],
        output: vec![value_info("prob", FLOAT, &[None, Some(1)])],
        ..Default::default()
    })
}

/// Fields `a` and `b` fill `x`; `n` (numeric) fills `d`.
fn spec(a: serde_json::Value, b: serde_json::Value) -> String {
    json!({
        "inputs": [
            { "name": "x", "dtype": "i64", "columns": ["a", "b"] },
            { "name": "d", "dtype": "f32", "columns": ["n"] }
        ],
        "fields": { "a": a, "b": b, "n": { "kind": "numeric", "default": 0 } },
        "outputs": { "probability": "prob", "hidden": "h" },
        "p0": 0.3
    })
    .to_string()
}

fn vocab(top: i64) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = (1..=top).map(|i| (format!("v{i}"), json!(i))).collect();
    json!({ "kind": "categorical", "vocabulary": map })
}

fn refused(onnx: &[u8], spec: &str, field: &str) -> String {
    match Model::from_json(onnx, spec) {
        Ok(m) => panic!("loaded, uses {:?}", m.index_uses()),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Model, "{e}");
            assert!(e.message().starts_with(&format!("fields.{field}:")), "{e}");
            e.message().to_string()
        }
    }
}

/// Runs the model on a few items whose fields take their largest values.
fn runs(model: &Model, items: &[serde_json::Value]) {
    let items: Vec<Item> = items.iter().map(|v| common::item(v.clone())).collect();
    let mut out = ModelOutput::default();
    model.run(&items, &Item::new(), &mut out).unwrap();
    assert!(out.y_base().iter().all(|p| p.is_finite()));
}

/// `Gather(emb, x)` → `[N, 2, 2]` → `h`.
fn shared_table(rows: usize) -> Vec<u8> {
    graph(
        vec![
            node("Gather", &["emb", "x"], &["e"], vec![int_attr("axis", 0)]),
            node("Flatten", &["e"], &["h"], vec![int_attr("axis", 1)]),
        ],
        vec![table("emb", rows)],
    )
}

#[test]
fn the_fixture_model_reports_its_uses_and_a_table_too_small_is_refused() {
    let model = Model::from_json(&mlp_onnx(Head::Sigmoid), &mlp_spec_value(Head::Sigmoid).to_string()).unwrap();
    let uses: Vec<_> = model.index_uses().iter().map(|u| (u.field.as_str(), u.range, u.rows, u.exact)).collect();
    assert_eq!(uses, vec![("user", Some((0, 3)), Some(6), true), ("item", Some((4, 5)), Some(6), true)]);
    assert!(model.index_uses().iter().all(|u| u.table == "emb"));

    // Two more hash buckets: index 6 would reach past the 6-row table.
    let mut spec = mlp_spec_value(Head::Sigmoid);
    spec["fields"]["item"]["hashBuckets"] = json!(3);
    let message = refused(&mlp_onnx(Head::Sigmoid), &spec.to_string(), "item");
    assert!(message.contains("4..=6") && message.contains("`emb`") && message.contains("6 rows"), "{message}");
    // So does an out-of-vocabulary index past it.
    let mut spec = mlp_spec_value(Head::Sigmoid);
    spec["fields"]["user"]["oovIndex"] = json!(9);
    refused(&mlp_onnx(Head::Sigmoid), &spec.to_string(), "user");
    // A smaller table in the graph itself.
    let mut g = mlp_graph(Head::Sigmoid);
    g.initializer[0] = table("emb", 5);
    refused(&encode_model(g), &mlp_spec_value(Head::Sigmoid).to_string(), "item");
}

#[test]
fn every_index_a_field_writes_counts() {
    let onnx = shared_table(8);
    // Vocabulary 1..=7 fits 8 rows; the out-of-vocabulary index too.
    let model = Model::from_json(&onnx, &spec(vocab(7), vocab(7))).unwrap();
    runs(&model, &[json!({ "a": "v7", "b": "unknown" })]);
    // Hashing: offset + buckets - 1.
    Model::from_json(&onnx, &spec(vocab(1), json!({ "kind": "categorical", "hashBuckets": 4, "hashOffset": 4 })))
        .unwrap();
    refused(&onnx, &spec(vocab(1), json!({ "kind": "categorical", "hashBuckets": 4, "hashOffset": 5 })), "b");
    // Bucketizing: offset + boundaries (or the out-of-range index).
    Model::from_json(&onnx, &spec(vocab(1), json!({ "kind": "bucketized", "boundaries": [1, 2, 3], "offset": 4 })))
        .unwrap();
    refused(&onnx, &spec(vocab(1), json!({ "kind": "bucketized", "boundaries": [1, 2, 3, 4], "offset": 4 })), "b");
    refused(&onnx, &spec(vocab(1), json!({ "kind": "bucketized", "boundaries": [1, 2, 3], "outOfRange": 8 })), "b");
}

#[test]
fn padding_reaches_the_table_too() {
    // `g` fills both columns of x, padded with padIndex.
    let spec = |pad: i64| {
        json!({
            "inputs": [
                { "name": "x", "dtype": "i64", "columns": ["g"] },
                { "name": "d", "dtype": "f32", "columns": ["n"] }
            ],
            "fields": {
                "g": { "kind": "multiCategorical", "vocabulary": { "p": 1, "q": 2 }, "pooling": "pad", "maxLen": 2, "padIndex": pad },
                "n": { "kind": "numeric", "default": 0 }
            },
            "outputs": { "probability": "prob", "hidden": "h" },
            "p0": 0.3
        })
        .to_string()
    };
    let onnx = shared_table(4);
    runs(&Model::from_json(&onnx, &spec(3)).unwrap(), &[json!({ "g": ["p"] })]);
    refused(&onnx, &spec(4), "g");
}

#[test]
fn per_column_offsets_are_followed_like_a_pytorch_deepfm() {
    // x + [0, 4] → one 8-row table: a in 0..=3, b in 4..=7.
    let onnx = graph(
        vec![
            node("Add", &["x", "offsets"], &["shifted"], vec![]),
            node("Gather", &["emb", "shifted"], &["e"], vec![int_attr("axis", 0)]),
            node("Flatten", &["e"], &["h"], vec![int_attr("axis", 1)]),
        ],
        vec![table("emb", 8), tensor_i64("offsets", &[2], vec![0, 4])],
    );
    let model = Model::from_json(&onnx, &spec(vocab(3), vocab(3))).unwrap();
    let ranges: Vec<_> = model.index_uses().iter().map(|u| (u.field.as_str(), u.range)).collect();
    assert_eq!(ranges, vec![("a", Some((0, 3))), ("b", Some((4, 7)))]);
    runs(&model, &[json!({ "a": "v3", "b": "v3" })]);
    // b = 4 would be row 8: refused, while a = 4 (row 4) is fine.
    refused(&onnx, &spec(vocab(3), vocab(4)), "b");
    Model::from_json(&onnx, &spec(vocab(4), vocab(3))).unwrap();
}

#[test]
fn column_slices_feed_their_own_tables() {
    // x[:, 0:1] → a table of 3 rows, x[:, 1:2] → one of 9.
    let onnx = graph(
        vec![
            node("Slice", &["x", "s0", "e0", "axis1"], &["xa"], vec![]),
            node("Slice", &["x", "s1", "e1", "axis1"], &["xb"], vec![]),
            node("Gather", &["ta", "xa"], &["ea"], vec![int_attr("axis", 0)]),
            node("Gather", &["tb", "xb"], &["eb"], vec![int_attr("axis", 0)]),
            node("Concat", &["ea", "eb"], &["e"], vec![int_attr("axis", 1)]),
            node("Flatten", &["e"], &["h"], vec![int_attr("axis", 1)]),
        ],
        vec![
            table("ta", 3),
            table("tb", 9),
            tensor_i64("s0", &[1], vec![0]),
            tensor_i64("e0", &[1], vec![1]),
            tensor_i64("s1", &[1], vec![1]),
            tensor_i64("e1", &[1], vec![2]),
            tensor_i64("axis1", &[1], vec![1]),
        ],
    );
    let model = Model::from_json(&onnx, &spec(vocab(2), vocab(8))).unwrap();
    runs(&model, &[json!({ "a": "v2", "b": "v8" })]);
    refused(&onnx, &spec(vocab(3), vocab(8)), "a");
    refused(&onnx, &spec(vocab(2), vocab(9)), "b");
    // Selecting a column with a constant Gather works the same way.
    let onnx = graph(
        vec![
            node("Gather", &["x", "one"], &["xb"], vec![int_attr("axis", 1)]),
            node("Gather", &["tb", "xb"], &["eb"], vec![int_attr("axis", 0)]),
            node("Concat", &["eb", "eb"], &["h"], vec![int_attr("axis", 1)]),
        ],
        vec![table("tb", 5), tensor_i64("one", &[], vec![1])],
    );
    Model::from_json(&onnx, &spec(vocab(9), vocab(4))).unwrap();
    refused(&onnx, &spec(vocab(9), vocab(5)), "b");
}

#[test]
fn a_numeric_field_used_as_an_index_is_refused_unless_clamped() {
    let cast = |clip: bool| {
        let mut nodes = Vec::new();
        let mut from = "d";
        if clip {
            nodes.push(node("Clip", &["d", "lo", "hi"], &["dc"], vec![]));
            from = "dc";
        }
        nodes.push(node("Cast", &[from], &["di"], vec![int_attr("to", INT64 as i64)]));
        nodes.push(node("Gather", &["emb", "di"], &["e"], vec![int_attr("axis", 0)]));
        nodes.push(node("Flatten", &["e"], &["ef"], vec![int_attr("axis", 1)]));
        nodes.push(node("Concat", &["ef", "ef"], &["h"], vec![int_attr("axis", 1)]));
        graph(nodes, vec![table("emb", 6), tensor_f32("lo", &[], vec![0.0]), tensor_f32("hi", &[], vec![5.0])])
    };
    let message = refused(&cast(false), &spec(vocab(1), vocab(1)), "n");
    assert!(message.contains("numeric") && message.contains("bucketized"), "{message}");
    let model = Model::from_json(&cast(true), &spec(vocab(1), vocab(1))).unwrap();
    runs(&model, &[json!({ "a": "v1", "b": "v1", "n": 1e9 }), json!({ "a": "v1", "b": "v1", "n": -7 })]);
}

#[test]
fn one_hot_depth_is_checked() {
    let onnx = |depth: i64| {
        graph(
            vec![
                node("Gather", &["x", "zero"], &["xa"], vec![int_attr("axis", 1)]),
                node("OneHot", &["xa", "depth", "values"], &["oh"], vec![int_attr("axis", -1)]),
                node("Gather", &["oh", "first4"], &["h"], vec![int_attr("axis", 1)]),
            ],
            vec![
                tensor_i64("zero", &[], vec![0]),
                tensor_i64("depth", &[], vec![depth]),
                tensor_f32("values", &[2], vec![0.0, 1.0]),
                tensor_i64("first4", &[4], vec![0, 1, 2, 3]),
            ],
        )
    };
    runs(&Model::from_json(&onnx(6), &spec(vocab(5), vocab(1))).unwrap(), &[json!({ "a": "v5", "b": "v1" })]);
    refused(&onnx(5), &spec(vocab(5), vocab(1)), "a");
}

#[test]
fn the_bundled_model_fits_its_table_and_one_more_weekday_would_not() {
    let model = reloop_runtime::bundled::model().unwrap();
    let fields: Vec<&str> = model.index_uses().iter().map(|u| u.field.as_str()).collect();
    for field in ["userId", "itemId", "age", "gender", "occupation", "zip", "year", "hour", "weekday"] {
        assert!(fields.contains(&field), "{field} not followed to a table: {fields:?}");
    }
    assert!(model.index_uses().iter().all(|u| u.exact && u.fits()), "{:?}", model.index_uses());
    let rows = model.index_uses()[0].rows.expect("the embedding table has a fixed size");
    let mut spec: serde_json::Value = serde_json::from_str(reloop_runtime::bundled::spec_json()).unwrap();
    let offset = spec["fields"]["weekday"]["offset"].as_i64().unwrap();
    assert_eq!(offset + 6, rows as i64 - 1, "weekday's last index is the table's last row");
    spec["fields"]["weekday"]["offset"] = json!(offset + 1);
    let message = refused(reloop_runtime::bundled::onnx(), &spec.to_string(), "weekday");
    assert!(message.contains(&format!("{rows} rows")), "{message}");
}

#[test]
fn a_field_indexing_an_axis_that_grows_with_the_batch_is_refused() {
    // The lookup points at a computed tensor ([N, 2], the shape the table's
    // rows have) instead of the embedding table: its axis 0 is the batch, so
    // a field's index fits only by chance, and one past it panicked in tract
    // at run time (found by the onnx_structure fuzz target).
    let mut graph = mlp_graph(Head::Sigmoid);
    let twice = common::node("Concat", &["dense", "dense"], &["dense2"], vec![common::int_attr("axis", 1)]);
    graph.node.insert(0, twice);
    graph.node[1].input[0] = "dense2".into();
    let e = match Model::from_json(&common::encode_model(graph), &mlp_spec_value(Head::Sigmoid).to_string()) {
        Err(e) => e,
        Ok(m) => panic!("loaded, uses {:?}", m.index_uses()),
    };
    assert_eq!(e.kind(), ErrorKind::Model, "{e}");
    assert!(e.message().contains("whose size is not fixed"), "{e}");
}
