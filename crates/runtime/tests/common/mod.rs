//! Test fixtures generated in code: small ONNX CTR models written with
//! tract_onnx's protobuf types (no checked-in binaries), their specs, and a
//! plain-Rust forward pass that computes the expected outputs without tract.
//!
//! The network: `ids: i64 [N, 2]` (user, item indices) → Gather in a 6 × 2
//! embedding table → Flatten → Concat with `dense: f32 [N, 1]` → MatMul W1
//! (5 × 3) + b1 → Relu (tensor `relu1`, never a graph output) → MatMul W2 +
//! b2 → head. Heads: `Sigmoid` → `prob [N, 1]`; bare `logit [N, 1]`; or a
//! two-column `Softmax` → `probabilities [N, 2]` after an ArgMax `label`
//! output, as skl2onnx emits.

#![allow(dead_code)]

use prost::Message;
use reloop_runtime::{Item, ModelOutput};
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};

pub const EMB: [[f32; 2]; 6] = [[0.0, 0.0], [0.5, -0.2], [-0.3, 0.8], [0.9, 0.1], [-0.6, -0.4], [0.2, 0.7]];
pub const W1: [[f32; 3]; 5] =
    [[0.4, -0.5, 0.3], [0.2, 0.6, -0.1], [-0.7, 0.1, 0.5], [0.3, 0.3, 0.3], [0.5, -0.2, -0.4]];
pub const B1: [f32; 3] = [0.05, 0.1, -0.05];
pub const W2: [f32; 3] = [0.8, -0.6, 1.1];
pub const B2: f32 = -0.2;
/// Second-column weights of the softmax head (the first column is zero).
pub const W2_SOFTMAX: [[f32; 2]; 3] = [[0.0, 0.8], [0.0, -0.6], [0.0, 1.1]];
pub const B2_SOFTMAX: [f32; 2] = [0.0, -0.2];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    Sigmoid,
    Logit,
    Softmax2,
}

/// Expected (probability, hidden) for one row, computed without tract.
pub fn reference(user: i64, item: i64, dense: f32) -> (f32, [f32; 3]) {
    let eu = EMB[user as usize];
    let ei = EMB[item as usize];
    let x = [eu[0], eu[1], ei[0], ei[1], dense];
    let mut h = [0f32; 3];
    for (j, hj) in h.iter_mut().enumerate() {
        let mut s = B1[j];
        for (i, xi) in x.iter().enumerate() {
            s += xi * W1[i][j];
        }
        *hj = s.max(0.0);
    }
    let logit: f32 = B2 + h.iter().zip(W2).map(|(a, b)| a * b).sum::<f32>();
    (1.0 / (1.0 + (-logit).exp()), h)
}

/// ONNX element types, from tract's own protobuf enum.
pub const FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;
pub const INT64: i32 = pb::tensor_proto::DataType::Int64 as i32;

pub fn tensor_f32(name: &str, dims: &[i64], data: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto { name: name.into(), dims: dims.to_vec(), data_type: FLOAT, float_data: data, ..Default::default() }
}

pub fn tensor_i64(name: &str, dims: &[i64], data: Vec<i64>) -> pb::TensorProto {
    pb::TensorProto { name: name.into(), dims: dims.to_vec(), data_type: INT64, int64_data: data, ..Default::default() }
}

pub fn value_info(name: &str, elem_type: i32, dims: &[Option<i64>]) -> pb::ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Some(v) => dimension::Value::DimValue(*v),
                None => dimension::Value::DimParam("N".into()),
            }),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn node(op: &str, inputs: &[&str], outputs: &[&str], attributes: Vec<pb::AttributeProto>) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name: format!("{op}_{}", outputs[0]),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute: attributes,
        ..Default::default()
    }
}

pub fn int_attr(name: &str, value: i64) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), r#type: 2, i: value, ..Default::default() }
}

pub fn ints_attr(name: &str, values: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), r#type: 7, ints: values.to_vec(), ..Default::default() }
}

/// The model's graph, before encoding (tests tweak it to make broken models).
pub fn mlp_graph(head: Head) -> pb::GraphProto {
    let mut initializer = vec![
        tensor_f32("emb", &[6, 2], EMB.iter().flatten().copied().collect()),
        tensor_f32("w1", &[5, 3], W1.iter().flatten().copied().collect()),
        tensor_f32("b1", &[3], B1.to_vec()),
    ];
    let mut nodes = vec![
        node("Gather", &["emb", "ids"], &["embedded"], vec![int_attr("axis", 0)]),
        node("Flatten", &["embedded"], &["flat"], vec![int_attr("axis", 1)]),
        node("Concat", &["flat", "dense"], &["x"], vec![int_attr("axis", 1)]),
        node("MatMul", &["x", "w1"], &["mm1"], vec![]),
        node("Add", &["mm1", "b1"], &["pre1"], vec![]),
        node("Relu", &["pre1"], &["relu1"], vec![]),
    ];
    let outputs = match head {
        Head::Sigmoid | Head::Logit => {
            initializer.push(tensor_f32("w2", &[3, 1], W2.to_vec()));
            initializer.push(tensor_f32("b2", &[1], vec![B2]));
            nodes.push(node("MatMul", &["relu1", "w2"], &["mm2"], vec![]));
            nodes.push(node("Add", &["mm2", "b2"], &["logit"], vec![]));
            if head == Head::Sigmoid {
                nodes.push(node("Sigmoid", &["logit"], &["prob"], vec![]));
                vec![value_info("prob", FLOAT, &[None, Some(1)])]
            } else {
                vec![value_info("logit", FLOAT, &[None, Some(1)])]
            }
        }
        Head::Softmax2 => {
            initializer.push(tensor_f32("w2", &[3, 2], W2_SOFTMAX.iter().flatten().copied().collect()));
            initializer.push(tensor_f32("b2", &[2], B2_SOFTMAX.to_vec()));
            nodes.push(node("MatMul", &["relu1", "w2"], &["mm2"], vec![]));
            nodes.push(node("Add", &["mm2", "b2"], &["scores"], vec![]));
            nodes.push(node("Softmax", &["scores"], &["probabilities"], vec![int_attr("axis", 1)]));
            nodes.push(node(
                "ArgMax",
                &["probabilities"],
                &["label"],
                vec![int_attr("axis", 1), int_attr("keepdims", 0)],
            ));
            vec![value_info("label", INT64, &[None]), value_info("probabilities", FLOAT, &[None, Some(2)])]
        }
    };
    pb::GraphProto {
        name: "ctr".into(),
        node: nodes,
        initializer,
        input: vec![value_info("ids", INT64, &[None, Some(2)]), value_info("dense", FLOAT, &[None, Some(1)])],
        output: outputs,
        ..Default::default()
    }
}

pub fn encode_model(graph: pb::GraphProto) -> Vec<u8> {
    pb::ModelProto {
        ir_version: 8,
        producer_name: "reloop-edge-tests".into(),
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}

pub fn mlp_onnx(head: Head) -> Vec<u8> {
    encode_model(mlp_graph(head))
}

/// `relu1 → [3, w] → [w, w] → [w, 1]` added to the logit (same outputs,
/// about `w * w * 4` bytes more weights), and an embedding table of
/// `rows` rows (the fixture's six first, so the same outputs again).
pub fn with_large_tensors(w: usize, rows: usize) -> Vec<u8> {
    let mut graph = mlp_graph(Head::Sigmoid);
    let emb = graph.initializer.iter_mut().find(|t| t.name == "emb").unwrap();
    emb.float_data.resize(rows.max(6) * 2, 0.25);
    emb.dims[0] = rows.max(6) as i64;
    graph.initializer.push(tensor_f32("side_a", &[3, w as i64], vec![0.001; 3 * w]));
    graph.initializer.push(tensor_f32("side_b", &[w as i64, w as i64], vec![0.0001; w * w]));
    graph.initializer.push(tensor_f32("side_c", &[w as i64, 1], vec![0.0; w]));
    let at = graph.node.iter().position(|n| n.output[0] == "logit").unwrap();
    graph.node[at] = node("Add", &["mm2", "b2"], &["logit0"], vec![]);
    graph.node.insert(at + 1, node("MatMul", &["relu1", "side_a"], &["side1"], vec![]));
    graph.node.insert(at + 2, node("MatMul", &["side1", "side_b"], &["side2"], vec![]));
    graph.node.insert(at + 3, node("MatMul", &["side2", "side_c"], &["side3"], vec![]));
    graph.node.insert(at + 4, node("Add", &["logit0", "side3"], &["logit"], vec![]));
    encode_model(graph)
}

/// Bytes of the initializer tensors of an ONNX model.
pub fn weight_bytes(onnx: &[u8]) -> usize {
    let graph = pb::ModelProto::decode(onnx).unwrap().graph.unwrap();
    graph
        .initializer
        .iter()
        .map(|t| {
            t.raw_data.len()
                + 4 * (t.float_data.len() + t.int32_data.len())
                + 8 * (t.int64_data.len() + t.double_data.len() + t.uint64_data.len())
        })
        .sum()
}

/// The graph with every float initializer stored as `raw_data`, the way
/// exporters (torch.onnx, skl2onnx) write them.
pub fn raw(mut graph: pb::GraphProto) -> Vec<u8> {
    for t in &mut graph.initializer {
        let floats = std::mem::take(&mut t.float_data);
        t.raw_data = floats.iter().flat_map(|f| f.to_le_bytes()).collect();
    }
    encode_model(graph)
}

pub fn graph_of(onnx: &[u8]) -> pb::GraphProto {
    pb::ModelProto::decode(onnx).unwrap().graph.unwrap()
}

/// ≈ 20 MB of weights, nearly all in one matrix (packed again by the
/// optimiser; over the fixed-plan budget, so no fixed plans).
pub fn matrix_model() -> Vec<u8> {
    raw(graph_of(&with_large_tensors(2236, 6)))
}

/// ≈ 20 MB of weights: a 16 MiB embedding table (only gathered from) and a
/// 4 MiB matrix (three fixed plans fit the budget).
pub fn embedding_model() -> Vec<u8> {
    raw(graph_of(&with_large_tensors(1024, 2 << 20)))
}

/// The spec as a JSON value (tests tweak it), for the given head.
pub fn mlp_spec_value(head: Head) -> serde_json::Value {
    let (probability, kind) = match head {
        Head::Sigmoid => ("prob", "probability"),
        Head::Logit => ("logit", "logit"),
        Head::Softmax2 => ("probabilities", "softmax2"),
    };
    serde_json::json!({
        "version": 1,
        "inputs": [
            { "name": "ids", "dtype": "i64", "columns": ["user", "item"] },
            { "name": "dense", "dtype": "f32", "columns": ["age"] }
        ],
        "fields": {
            "user": { "kind": "categorical", "vocabulary": { "u1": 1, "u2": 2, "u3": 3 }, "oovIndex": 0 },
            "item": { "kind": "categorical", "hashBuckets": 2, "hashOffset": 4 },
            "age": { "kind": "numeric", "mean": 30.0, "std": 10.0, "default": 30.0 }
        },
        "outputs": { "probability": probability, "kind": kind, "hidden": "relu1" },
        "mu": [0.2, 0.3, 0.1],
        "p0": 0.4,
        "maxBatch": 64
    })
}

pub fn mlp_spec(head: Head) -> String {
    mlp_spec_value(head).to_string()
}

/// An item as the encoder takes it.
pub fn item(value: serde_json::Value) -> Item {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// The encoded (user index, item index, dense) of an item of the fixture spec.
pub fn encoded(user: &str, item_id: &str, age: f32) -> (i64, i64, f32) {
    let user = match user {
        "u1" => 1,
        "u2" => 2,
        "u3" => 3,
        _ => 0,
    };
    let item = 4 + (reloop_runtime::encoder::fnv1a64(item_id.as_bytes()) % 2) as i64;
    (user, item, (age - 30.0) / 10.0)
}

/// Two contexts of the bundled model: every context field, and another
/// user that also gives `year` (which items without one then take).
pub fn bundled_contexts() -> Vec<Item> {
    vec![
        item(
            serde_json::json!({ "userId": 42, "age": 31, "gender": "F", "occupation": "writer", "zip": "9", "hour": 20, "weekday": 4 }),
        ),
        item(
            serde_json::json!({ "userId": 7, "age": 60, "gender": "M", "occupation": "none", "zip": "T", "hour": 0, "weekday": 0, "year": 1960 }),
        ),
    ]
}

/// The bundled model's genres (its vocabulary without `unknown`), in index order.
pub fn bundled_genres() -> Vec<String> {
    let spec: serde_json::Value = serde_json::from_str(reloop_runtime::bundled::spec_json()).unwrap();
    let vocabulary = spec["fields"]["genres"]["vocabulary"].as_object().cloned().unwrap_or_default();
    let mut genres: Vec<(i64, String)> =
        vocabulary.into_iter().filter(|(g, _)| g != "unknown").map(|(g, i)| (i.as_i64().unwrap_or(0), g)).collect();
    genres.sort();
    genres.into_iter().map(|(_, g)| g).collect()
}

/// `got` has `want`'s rows and key width, and every probability and key
/// value within `tolerance` of it.
pub fn assert_close(got: &ModelOutput, want: &ModelOutput, tolerance: f32, what: &str) {
    assert_eq!(got.rows(), want.rows(), "{what}: rows");
    assert_eq!(got.dim(), want.dim(), "{what}: dim");
    for (i, (g, w)) in got.y_base().iter().zip(want.y_base()).enumerate() {
        assert!((g - w).abs() <= tolerance, "{what}: row {i}: y_base {g} vs {w}");
    }
    for (i, (g, w)) in got.hidden().iter().zip(want.hidden()).enumerate() {
        assert!((g - w).abs() <= tolerance, "{what}: hidden value {i}: {g} vs {w}");
    }
}
