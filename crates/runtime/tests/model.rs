//! The ONNX runtime against a plain-Rust reference, every head kind, and
//! models or specs that disagree: clear errors, never a panic.

mod common;

use common::{
    Head, encode_model, encoded, item, mlp_graph, mlp_onnx, mlp_spec, mlp_spec_value, reference, with_large_tensors,
};
use reloop_core::ErrorKind;
use reloop_runtime::plans::{FIXED_PLANS_BUDGET, MAX_FIXED, RUNS_PER_BUILD};
use reloop_runtime::{Item, Model, ModelOutput};
use serde_json::json;

fn items() -> Vec<Item> {
    vec![
        item(json!({ "user": "u1", "item": "a", "age": 25 })),
        item(json!({ "user": "u2", "item": "b", "age": 41.5 })),
        item(json!({ "user": "stranger", "item": "c" })),
        item(json!({ "user": "u3", "item": 17, "age": 60 })),
    ]
}

fn expected() -> Vec<(f32, [f32; 3])> {
    [("u1", "a", 25.0), ("u2", "b", 41.5), ("zz", "c", 30.0), ("u3", "17", 60.0)]
        .iter()
        .map(|&(u, i, a)| {
            let (u, i, d) = encoded(u, i, a);
            reference(u, i, d)
        })
        .collect()
}

fn check_against_reference(head: Head) {
    let model = Model::from_json(&mlp_onnx(head), &mlp_spec(head)).unwrap();
    assert_eq!(model.hidden_dim(), 3);
    check_rows(&model, 4, &mut ModelOutput::default());
}

#[test]
fn sigmoid_head_matches_reference_with_intermediate_hidden() {
    check_against_reference(Head::Sigmoid);
}

#[test]
fn logit_head_gets_the_sigmoid() {
    check_against_reference(Head::Logit);
}

#[test]
fn softmax2_head_takes_column_one() {
    check_against_reference(Head::Softmax2);
}

#[test]
fn relu_hidden_has_zeros_and_positives() {
    // The fixture is only a good test of the hidden read if h is not trivial.
    let hs: Vec<f32> = expected().iter().flat_map(|(_, h)| *h).collect();
    assert!(hs.contains(&0.0) && hs.iter().any(|&v| v > 0.0), "{hs:?}");
}

#[test]
fn batch_sizes_vary_and_results_are_stable() {
    let model = Model::from_json(&mlp_onnx(Head::Sigmoid), &mlp_spec(Head::Sigmoid)).unwrap();
    let all = items();
    let want = expected();
    let mut out = ModelOutput::default();
    for n in [1, 4, 2, 4, 3, 1, 0, 4] {
        model.run(&all[..n], &Item::new(), &mut out).unwrap();
        assert_eq!(out.rows(), n);
        for (row, (p, _)) in want.iter().enumerate().take(n) {
            assert!((out.y_base()[row] - p).abs() < 1e-5);
        }
    }
}

#[test]
fn context_fills_missing_fields_and_items_override_it() {
    let model = Model::from_json(&mlp_onnx(Head::Sigmoid), &mlp_spec(Head::Sigmoid)).unwrap();
    let context = item(json!({ "user": "u2", "age": 50 }));
    let batch = vec![item(json!({ "item": "a" })), item(json!({ "item": "a", "user": "u1" }))];
    let mut out = ModelOutput::default();
    model.run(&batch, &context, &mut out).unwrap();
    let (u, i, d) = encoded("u2", "a", 50.0);
    assert!((out.y_base()[0] - reference(u, i, d).0).abs() < 1e-5);
    let (u, i, d) = encoded("u1", "a", 50.0);
    assert!((out.y_base()[1] - reference(u, i, d).0).abs() < 1e-5);
}

#[test]
fn model_is_shared_across_threads_with_the_same_answers() {
    let model = Model::from_json(&mlp_onnx(Head::Sigmoid), &mlp_spec(Head::Sigmoid)).unwrap();
    let want = expected();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let model = model.clone();
            let want = &want;
            s.spawn(move || {
                let mut out = ModelOutput::default();
                for _ in 0..20 {
                    model.run(&items(), &Item::new(), &mut out).unwrap();
                    assert!((out.y_base()[3] - want[3].0).abs() < 1e-5);
                }
            });
        }
    });
}

#[test]
fn identity_depends_on_bytes_and_spec_but_not_spec_formatting() {
    let a = Model::from_json(&mlp_onnx(Head::Sigmoid), &mlp_spec(Head::Sigmoid)).unwrap();
    let pretty = serde_json::to_string_pretty(&mlp_spec_value(Head::Sigmoid)).unwrap();
    let b = Model::from_json(&mlp_onnx(Head::Sigmoid), &pretty).unwrap();
    assert_eq!(a.id(), b.id());
    let mut spec = mlp_spec_value(Head::Sigmoid);
    spec["p0"] = json!(0.41);
    let c = Model::from_json(&mlp_onnx(Head::Sigmoid), &spec.to_string()).unwrap();
    assert_ne!(a.id(), c.id());
    let d =
        Model::from_json(&mlp_onnx(Head::Logit), &mlp_spec(Head::Sigmoid).replace("\"prob\"", "\"logit\"")).unwrap();
    assert_ne!(a.id(), d.id());
}

#[test]
fn encoder_errors_surface_with_item_and_field() {
    let model = Model::from_json(&mlp_onnx(Head::Sigmoid), &mlp_spec(Head::Sigmoid)).unwrap();
    let mut out = ModelOutput::default();
    let bad = vec![items()[0].clone(), item(json!({ "user": "u1" }))];
    let e = model.run(&bad, &Item::new(), &mut out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("item 1") && e.message().contains("`item`"), "{e}");
    assert_eq!(out.rows(), 0);
    let big: Vec<Item> = (0..65).map(|_| items()[0].clone()).collect();
    let e = model.run(&big, &Item::new(), &mut out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.message().contains("maxBatch"), "{e}");
}

fn load_err(onnx: &[u8], spec: &str) -> reloop_core::Error {
    match Model::from_json(onnx, spec) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e,
    }
}

#[test]
fn malformed_and_truncated_onnx_are_model_errors() {
    let spec = mlp_spec(Head::Sigmoid);
    let good = mlp_onnx(Head::Sigmoid);
    for bytes in [&b""[..], b"not an onnx file at all", &good[..good.len() / 2], &good[..good.len() - 7]] {
        let e = load_err(bytes, &spec);
        assert_eq!(e.kind(), ErrorKind::Model, "{e}");
    }
    // Every prefix fails cleanly (or, for the rare prefix that still parses, loads).
    for cut in (0..good.len()).step_by(13) {
        let _ = Model::from_json(&good[..cut], &spec);
    }
}

#[test]
fn graph_output_that_nothing_produces_is_refused_not_a_panic() {
    let mut graph = mlp_graph(Head::Sigmoid);
    graph.output[0].name = "ghost".into();
    let e = load_err(&encode_model(graph), &mlp_spec(Head::Sigmoid));
    assert_eq!(e.kind(), ErrorKind::Model);
    assert!(e.message().contains("ghost"), "{e}");
}

/// Found by the `onnx_structure` fuzz target: tract-hir's Flatten sliced
/// the input shape with its axis unchecked (a panic, so a trap in wasm);
/// the vendored tract-onnx checks it against the rank.
#[test]
fn flatten_axis_out_of_range_is_a_model_error_not_a_panic() {
    let spec = mlp_spec(Head::Sigmoid);
    // The embedded ids are [N, 1, 2]: axes -3..=3 are valid.
    for axis in [4, -4, 1 << 40, -(1 << 62), i64::MAX, i64::MIN] {
        let mut graph = mlp_graph(Head::Sigmoid);
        let flatten = graph.node.iter_mut().find(|n| n.op_type == "Flatten").unwrap();
        flatten.attribute[0].i = axis;
        let e = load_err(&encode_model(graph), &spec);
        assert_eq!(e.kind(), ErrorKind::Model, "axis {axis}: {e}");
        assert!(e.message().contains("Flatten axis"), "axis {axis}: {e}");
    }
    // In range, the axis still works (the spec's shapes then decide).
    for axis in [1, -2] {
        let mut graph = mlp_graph(Head::Sigmoid);
        graph.node.iter_mut().find(|n| n.op_type == "Flatten").unwrap().attribute[0].i = axis;
        Model::from_json(&encode_model(graph), &spec).unwrap();
    }
}

#[test]
fn split_that_wires_more_outputs_than_the_node_declares_is_a_model_error_not_a_panic() {
    // Opset 13 Split reads its sizes from a constant input: two sizes for a
    // node with one output made tract-hir index past the node's outputs
    // while typing the graph (found by the onnx_structure fuzz target).
    let spec = mlp_spec(Head::Sigmoid);
    // Sizes [2, 0] along the last axis of `embedded` [N, 1, 2]: the first
    // part is all of it, so the graph still types up to the Split.
    let mut graph = mlp_graph(Head::Sigmoid);
    graph.initializer.push(common::tensor_i64("sizes", &[2], vec![2, 0]));
    graph.node.insert(1, common::node("Split", &["embedded", "sizes"], &["whole"], vec![common::int_attr("axis", 2)]));
    graph.node.iter_mut().find(|n| n.op_type == "Flatten").unwrap().input[0] = "whole".into();
    let e = load_err(&encode_model(graph), &spec);
    assert_eq!(e.kind(), ErrorKind::Model, "{e}");
    assert!(e.message().contains("wires 2 outputs, the node declares 1"), "{e}");
}

#[test]
fn split_with_an_axis_or_sizes_that_do_not_fit_is_a_model_error_not_a_panic() {
    let spec = mlp_spec(Head::Sigmoid);
    // `embedded` is [N, 1, 2].
    type Case = (i64, Option<Vec<i64>>, &'static [&'static str]);
    let cases: Vec<Case> = vec![
        (3, None, &["a", "b"]),
        (-4, None, &["a", "b"]),
        (i64::MAX, None, &["a", "b"]),
        (2, Some(vec![1]), &["a", "b"]),
        (2, Some(vec![1, 1, 1]), &["a", "b"]),
    ];
    for (axis, split, outputs) in cases {
        let mut graph = mlp_graph(Head::Sigmoid);
        let mut attributes = vec![common::int_attr("axis", axis)];
        if let Some(split) = &split {
            attributes.push(common::ints_attr("split", split));
        }
        graph.node.push(common::node("Split", &["embedded"], outputs, attributes));
        let e = load_err(&encode_model(graph), &spec);
        assert_eq!(e.kind(), ErrorKind::Model, "axis {axis} split {split:?}: {e}");
    }
}

#[test]
fn reduction_axis_out_of_range_is_a_model_error_not_a_panic() {
    // tract-hir unwrapped the resolved axis of ArgMax (and every Reduce*)
    // while inferring shapes; `probabilities` is [N, 2].
    let spec = mlp_spec(Head::Softmax2);
    for axis in [2, -3, 122, i64::MAX, i64::MIN] {
        let mut graph = mlp_graph(Head::Softmax2);
        let argmax = graph.node.iter_mut().find(|n| n.op_type == "ArgMax").unwrap();
        argmax.attribute.iter_mut().find(|a| a.name == "axis").unwrap().i = axis;
        let e = load_err(&encode_model(graph), &spec);
        assert_eq!(e.kind(), ErrorKind::Model, "axis {axis}: {e}");
    }
}

/// Found by the `onnx_structure` fuzz target: tract-hir's rules for
/// Softmax, LogSoftmax, Hardmax and Transpose read their first input
/// without checking the node has one; the vendored tract-hir checks.
#[test]
fn softmax_or_transpose_without_an_input_is_a_model_error_not_a_panic() {
    let spec = mlp_spec(Head::Sigmoid);
    for op in ["Softmax", "LogSoftmax", "Hardmax", "Transpose"] {
        let mut graph = mlp_graph(Head::Sigmoid);
        graph.node.push(common::node(op, &[], &["dangling"], vec![]));
        let e = load_err(&encode_model(graph), &spec);
        assert_eq!(e.kind(), ErrorKind::Model, "{op}: {e}");
    }
}

#[test]
fn gather_with_constant_indices_or_axis_out_of_range_is_a_model_error_not_a_panic() {
    // tract-core's Gather evaluated constant indices unchecked while the
    // model was typed: a multiply overflow or a slice past the data (found
    // by the onnx_structure fuzz target, fuzz/seeds/onnx_structure/gather-axis).
    let spec = mlp_spec(Head::Sigmoid);
    for (index, axis) in [(3, 0), (-4, 0), (i64::MAX / 2, 0), (i64::MIN, 0), (0, 2), (0, -3)] {
        let mut graph = mlp_graph(Head::Sigmoid);
        graph.initializer.push(common::tensor_f32("table", &[3, 2], vec![1.0; 6]));
        graph.initializer.push(common::tensor_i64("at", &[1], vec![index]));
        graph.node.push(common::node("Gather", &["table", "at"], &["gathered"], vec![common::int_attr("axis", axis)]));
        let e = load_err(&encode_model(graph), &spec);
        assert_eq!(e.kind(), ErrorKind::Model, "index {index}, axis {axis}: {e}");
    }
    // In range, from either end: loads.
    for index in [2, -3] {
        let mut graph = mlp_graph(Head::Sigmoid);
        graph.initializer.push(common::tensor_f32("table", &[3, 2], vec![1.0; 6]));
        graph.initializer.push(common::tensor_i64("at", &[1], vec![index]));
        graph.node.push(common::node("Gather", &["table", "at"], &["gathered"], vec![common::int_attr("axis", 0)]));
        Model::from_json(&encode_model(graph), &spec).unwrap();
    }
}

#[test]
fn matmul_of_a_scalar_is_a_model_error_not_a_panic() {
    // tract-hir's MatMul shape rule inserted a unit axis past the end of a
    // rank-0 shape: a SmallVec index panic while the model was typed (found
    // by the onnx_structure fuzz target, fuzz/seeds/onnx_structure/matmul-scalar).
    let spec = mlp_spec(Head::Sigmoid);
    for inputs in [["w", "s"], ["s", "w"], ["s", "s"]] {
        let mut graph = mlp_graph(Head::Sigmoid);
        graph.initializer.push(common::tensor_f32("s", &[], vec![2.0]));
        graph.initializer.push(common::tensor_f32("w", &[3, 2], vec![1.0; 6]));
        graph.node.push(common::node("MatMul", &inputs, &["product"], vec![]));
        let e = load_err(&encode_model(graph), &spec);
        assert_eq!(e.kind(), ErrorKind::Model, "{inputs:?}: {e}");
    }
    // A vector operand (rank 1) is still a MatMul ONNX allows: loads.
    let mut graph = mlp_graph(Head::Sigmoid);
    graph.initializer.push(common::tensor_f32("v", &[3], vec![1.0; 3]));
    graph.initializer.push(common::tensor_f32("w", &[3, 2], vec![1.0; 6]));
    graph.node.push(common::node("MatMul", &["v", "w"], &["product"], vec![]));
    Model::from_json(&encode_model(graph), &spec).unwrap();
}

/// The test MLP with one more (dangling) node whose operands include `t`, a
/// constant `[3, 1]` tensor: every node is typed at load, used or not.
fn with_node_on_a_constant(
    op: &str,
    extra: Vec<tract_onnx::pb::TensorProto>,
    inputs: &[&str],
    attributes: Vec<tract_onnx::pb::AttributeProto>,
) -> Vec<u8> {
    with_nodes_outputs_on_a_constant(op, extra, inputs, &["extra"], attributes)
}

fn with_nodes_outputs_on_a_constant(
    op: &str,
    extra: Vec<tract_onnx::pb::TensorProto>,
    inputs: &[&str],
    outputs: &[&str],
    attributes: Vec<tract_onnx::pb::AttributeProto>,
) -> Vec<u8> {
    let mut graph = mlp_graph(Head::Sigmoid);
    graph.initializer.push(common::tensor_f32("t", &[3, 1], vec![1.0, 2.0, 3.0]));
    graph.initializer.extend(extra);
    graph.node.push(common::node(op, inputs, outputs, attributes));
    encode_model(graph)
}

fn bool_tensor(name: &str, values: &[bool]) -> tract_onnx::pb::TensorProto {
    tract_onnx::pb::TensorProto {
        name: name.into(),
        dims: vec![values.len() as i64],
        data_type: tract_onnx::pb::tensor_proto::DataType::Bool as i32,
        int32_data: values.iter().map(|&b| b as i32).collect(),
        ..Default::default()
    }
}

#[test]
fn squeeze_or_unsqueeze_axes_out_of_range_or_repeated_are_a_model_error_not_a_panic() {
    // tract-hir removed or inserted a unit axis at an index it had not
    // checked: a SmallVec index panic while the model was typed (found by the
    // onnx_structure fuzz target, seeds squeeze-axis and unsqueeze-axis).
    let spec = mlp_spec(Head::Sigmoid);
    for op in ["Squeeze", "Unsqueeze"] {
        // The last case names one axis twice, once counted from the end (the
        // input has rank 2, Unsqueeze's output here rank 4).
        let twice = if op == "Squeeze" { [1, -1] } else { [3, -1] };
        for axes in [&[5][..], &[-9], &[2, 7], &[1, 1], &twice] {
            let onnx = with_node_on_a_constant(
                op,
                vec![common::tensor_i64("axes", &[axes.len() as i64], axes.to_vec())],
                &["t", "axes"],
                vec![],
            );
            let e = load_err(&onnx, &spec);
            assert_eq!(e.kind(), ErrorKind::Model, "{op} {axes:?}: {e}");
        }
    }
    // The axes ONNX allows still load, negative ones included.
    for (op, axes) in [("Squeeze", &[1][..]), ("Squeeze", &[-1]), ("Unsqueeze", &[0, 3]), ("Unsqueeze", &[-1, 0])] {
        let onnx = with_node_on_a_constant(
            op,
            vec![common::tensor_i64("axes", &[axes.len() as i64], axes.to_vec())],
            &["t", "axes"],
            vec![],
        );
        Model::from_json(&onnx, &spec).unwrap_or_else(|e| panic!("{op} {axes:?}: {e}"));
    }
}

#[test]
fn pow_of_types_with_no_common_type_is_a_model_error_not_a_panic() {
    // tract-onnx unwrapped the common type of Pow's operands, so a float
    // raised to a bool panicked while the model was typed (found by the
    // onnx_structure fuzz target, seed pow-no-common-type).
    let flag = bool_tensor("flag", &[true]);
    let onnx = with_node_on_a_constant("Pow", vec![flag], &["t", "flag"], vec![]);
    let e = load_err(&onnx, &mlp_spec(Head::Sigmoid));
    assert_eq!(e.kind(), ErrorKind::Model, "{e}");
    assert!(e.message().contains("no common type"), "{e}");
    let two = common::tensor_f32("two", &[1], vec![2.0]);
    Model::from_json(&with_node_on_a_constant("Pow", vec![two], &["t", "two"], vec![]), &mlp_spec(Head::Sigmoid))
        .unwrap();
}

#[test]
fn layer_norm_axis_out_of_range_is_a_model_error_not_a_hang() {
    // tract-onnx cast a LayerNormalization axis outside [-rank, rank) to
    // usize and looped up to it: a load that never ended (found by the
    // onnx_structure fuzz target as a timeout, seed layer-norm-axis).
    let spec = mlp_spec(Head::Sigmoid);
    let scale = || vec![common::tensor_f32("scale", &[1], vec![1.0])];
    for axis in [2, 9, -3, i64::MIN, i64::MAX] {
        let onnx = with_node_on_a_constant(
            "LayerNormalization",
            scale(),
            &["t", "scale"],
            vec![common::int_attr("axis", axis)],
        );
        let e = load_err(&onnx, &spec);
        assert_eq!(e.kind(), ErrorKind::Model, "axis {axis}: {e}");
        assert!(e.message().contains("out of range"), "axis {axis}: {e}");
    }
    for axis in [1, -1, 0, -2] {
        let onnx = with_node_on_a_constant(
            "LayerNormalization",
            scale(),
            &["t", "scale"],
            vec![common::int_attr("axis", axis)],
        );
        Model::from_json(&onnx, &spec).unwrap_or_else(|e| panic!("axis {axis}: {e}"));
    }
}

#[test]
fn operator_arguments_out_of_range_are_a_model_error_not_a_panic() {
    // Each of these panicked (an index, a negative dimension, a division by
    // zero) or never finished while the model was typed: its constant
    // operands are evaluated at load. Found by probing the ops next to the
    // fuzz target's finds; fixed in the vendored tract-onnx, tract-hir and
    // tract-core (vendor/README.md).
    use common::{int_attr, ints_attr, tensor_f32 as f32s, tensor_i64 as i64s};
    let spec = mlp_spec(Head::Sigmoid);
    let one = || vec![int_attr("axis", 0)];
    #[rustfmt::skip]
    // (op, extra constants, inputs, outputs, attributes)
    type Case = (&'static str, Vec<tract_onnx::pb::TensorProto>, &'static [&'static str], &'static [&'static str], Vec<tract_onnx::pb::AttributeProto>);
    let cases: Vec<Case> = vec![
        ("Compress", vec![bool_tensor("c", &[true, false])], &["t", "c"], &["o"], vec![int_attr("axis", 5)]),
        ("Compress", vec![bool_tensor("c", &[true; 9])], &["t", "c"], &["o"], one()),
        ("Expand", vec![i64s("shape", &[1], vec![-1])], &["t", "shape"], &["o"], vec![]),
        ("Hardmax", vec![], &["t"], &["o"], vec![int_attr("axis", -9)]),
        (
            "ScatterElements",
            vec![i64s("i", &[3, 1], vec![0; 3]), f32s("u", &[3, 1], vec![0.0; 3])],
            &["t", "i", "u"],
            &["o"],
            vec![int_attr("axis", 5)],
        ),
        (
            "ScatterElements",
            vec![i64s("i", &[3, 1], vec![7, 0, 0]), f32s("u", &[3, 1], vec![0.0; 3])],
            &["t", "i", "u"],
            &["o"],
            one(),
        ),
        ("Transpose", vec![], &["t"], &["o"], vec![ints_attr("perm", &[0, 5])]),
        ("Transpose", vec![], &["t"], &["o"], vec![ints_attr("perm", &[0, 0])]),
        (
            "OneHot",
            vec![i64s("i", &[2], vec![0, 1]), i64s("d", &[], vec![3]), f32s("v", &[2], vec![0.0, 1.0])],
            &["i", "d", "v"],
            &["o"],
            vec![int_attr("axis", 5)],
        ),
        ("TopK", vec![i64s("k", &[1], vec![1])], &["t", "k"], &["o", "oi"], vec![int_attr("axis", 5)]),
        ("GatherElements", vec![i64s("i", &[3, 1], vec![7, 0, -9])], &["t", "i"], &["o"], one()),
        ("GatherND", vec![i64s("i", &[1, 1], vec![7])], &["t", "i"], &["o"], vec![]),
        ("ConstantOfShape", vec![i64s("s", &[1], vec![-3])], &["s"], &["o"], vec![]),
        ("Pad", vec![i64s("p", &[4], vec![-9, 0, 0, 0])], &["t", "p"], &["o"], vec![]),
        (
            "Range",
            vec![f32s("a", &[], vec![0.0]), f32s("l", &[], vec![1e30]), f32s("d", &[], vec![1e-30])],
            &["a", "l", "d"],
            &["o"],
            vec![],
        ),
        (
            "Slice",
            vec![
                i64s("b", &[1], vec![0]),
                i64s("e", &[1], vec![1]),
                i64s("ax", &[1], vec![0]),
                i64s("st", &[1], vec![0]),
            ],
            &["t", "b", "e", "ax", "st"],
            &["o"],
            vec![],
        ),
        ("Tile", vec![i64s("r", &[2], vec![-2, 1])], &["t", "r"], &["o"], vec![]),
    ];
    for (op, extra, inputs, outputs, attributes) in cases {
        let detail = format!(
            "{op} {:?} {:?}",
            extra.iter().map(|t| (&t.name, &t.int64_data)).collect::<Vec<_>>(),
            attributes.iter().map(|a| (&a.name, a.i, &a.ints)).collect::<Vec<_>>()
        );
        let onnx = with_nodes_outputs_on_a_constant(op, extra, inputs, outputs, attributes);
        let e = load_err(&onnx, &spec);
        assert_eq!(e.kind(), ErrorKind::Model, "{detail}: {e}");
    }
    // What ONNX allows still loads: a OneHot index off its depth is a row of
    // off values, a float Range with a fractional step has a length.
    #[rustfmt::skip]
    let fine: Vec<(&str, Vec<tract_onnx::pb::TensorProto>, &[&str])> = vec![
        ("OneHot", vec![i64s("i", &[2], vec![0, 99]), i64s("d", &[], vec![3]), f32s("v", &[2], vec![0.0, 1.0])], &["i", "d", "v"]),
        ("Range", vec![f32s("a", &[], vec![0.0]), f32s("l", &[], vec![10.0]), f32s("d", &[], vec![0.5])], &["a", "l", "d"]),
        ("Tile", vec![i64s("r", &[2], vec![2, 1])], &["t", "r"]),
        ("Pad", vec![i64s("p", &[4], vec![1, 0, 0, 0])], &["t", "p"]),
    ];
    for (op, extra, inputs) in fine {
        Model::from_json(&with_node_on_a_constant(op, extra, inputs, vec![]), &spec)
            .unwrap_or_else(|e| panic!("{op}: {e}"));
    }
}

#[test]
fn flatten_without_its_input_or_output_is_a_model_error_not_a_panic() {
    let spec = mlp_spec(Head::Sigmoid);
    let mut graph = mlp_graph(Head::Sigmoid);
    graph.node.iter_mut().find(|n| n.op_type == "Flatten").unwrap().input.clear();
    let e = load_err(&encode_model(graph), &spec);
    assert_eq!(e.kind(), ErrorKind::Model, "{e}");
    let mut graph = mlp_graph(Head::Sigmoid);
    let flatten = graph.node.iter_mut().find(|n| n.op_type == "Flatten").unwrap();
    flatten.output.clear();
    flatten.name = "flatten".into();
    let e = load_err(&encode_model(graph), &spec);
    assert_eq!(e.kind(), ErrorKind::Model, "{e}");
}

#[test]
fn string_tensor_in_raw_data_is_a_model_error_not_a_panic() {
    // tract-onnx reached `unimplemented!` for raw_data of any type it does
    // not read that way (found by the onnx_structure fuzz target).
    let mut graph = mlp_graph(Head::Sigmoid);
    let b1 = graph.initializer.iter_mut().find(|t| t.name == "b1").unwrap();
    b1.data_type = tract_onnx::pb::tensor_proto::DataType::String as i32;
    b1.raw_data = std::mem::take(&mut b1.float_data).iter().flat_map(|f| f.to_le_bytes()).collect();
    let e = load_err(&encode_model(graph), &mlp_spec(Head::Sigmoid));
    assert_eq!(e.kind(), ErrorKind::Model, "{e}");
    assert!(e.message().contains("not supported"), "{e}");
}

#[test]
fn external_data_is_refused() {
    let mut graph = mlp_graph(Head::Sigmoid);
    graph.initializer[0].data_location = Some(1);
    let e = load_err(&encode_model(graph), &mlp_spec(Head::Sigmoid));
    assert!(e.message().contains("external data"), "{e}");
}

fn spec_with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v = mlp_spec_value(Head::Sigmoid);
    edit(&mut v);
    v.to_string()
}

#[test]
fn spec_disagreeing_with_the_model_names_the_key() {
    let onnx = mlp_onnx(Head::Sigmoid);
    let cases: Vec<(String, &str)> = vec![
        (spec_with(|v| v["inputs"][1]["name"] = json!("dense_x")), "dense"),
        (spec_with(|v| v["inputs"][0]["columns"] = json!(["user", "item", "user"])), "inputs[0].columns"),
        (spec_with(|v| v["inputs"][1]["dtype"] = json!("i64")), ""),
        (spec_with(|v| v["outputs"]["hidden"] = json!("nope")), "outputs.hidden"),
        (spec_with(|v| v["outputs"]["probability"] = json!("nope")), "outputs.probability"),
        (spec_with(|v| v["mu"] = json!([0.1, 0.2])), "mu"),
        (spec_with(|v| v["outputs"]["hidden"] = json!("w1")), "outputs.hidden"),
        (spec_with(|v| v["outputs"]["kind"] = json!("softmax2")), "outputs.kind"),
    ];
    for (spec, key) in cases {
        let e = load_err(&onnx, &spec);
        assert!(matches!(e.kind(), ErrorKind::Model | ErrorKind::InvalidConfig), "{e}");
        assert!(e.message().contains(key), "expected `{key}` in: {e}");
    }
}

#[test]
fn wrong_dtype_is_named() {
    // `dense` as i64 would need numeric fields in an i64 input: a spec error.
    let e = load_err(&mlp_onnx(Head::Sigmoid), &spec_with(|v| v["inputs"][1]["dtype"] = json!("i64")));
    assert_eq!(e.kind(), ErrorKind::InvalidConfig);
    assert!(e.message().contains("inputs[1]"), "{e}");
    // `ids` declared f32 in the spec while the ONNX says int64: a model mismatch.
    let e = load_err(&mlp_onnx(Head::Sigmoid), &spec_with(|v| v["inputs"][0]["dtype"] = json!("f32")));
    assert_eq!(e.kind(), ErrorKind::Model);
    assert!(e.message().contains("inputs[0].dtype") && e.message().contains("int64"), "{e}");
}

#[test]
fn hidden_may_be_named_by_node() {
    let spec = spec_with(|v| v["outputs"]["hidden"] = json!("Relu_relu1"));
    let model = Model::from_json(&mlp_onnx(Head::Sigmoid), &spec).unwrap();
    let mut out = ModelOutput::default();
    model.run(&items(), &Item::new(), &mut out).unwrap();
    let want = expected();
    assert!((out.hidden_row(1).unwrap()[0] - want[1].1[0]).abs() < 1e-5);
}

/// A key of several parts: the item's embedding (columns 2..4 of `x`, the
/// concatenation the first layer reads) and the hidden layer, doubled —
/// assembled in order, against the reference.
#[test]
fn a_key_of_parts_is_assembled_in_order() {
    let spec = spec_with(|v| {
        v["outputs"]["hidden"] = json!([{ "node": "x", "columns": [2, 4] }, { "node": "relu1", "scale": 2.0 }]);
        v["mu"] = json!([0.0, 0.1, 0.2, 0.3, 0.4]);
    });
    let model = Model::from_json(&mlp_onnx(Head::Sigmoid), &spec).unwrap();
    assert_eq!(model.hidden_dim(), 5);
    let mut out = ModelOutput::default();
    model.run(&items(), &Item::new(), &mut out).unwrap();
    let inputs = [("u1", "a", 25.0), ("u2", "b", 41.5), ("zz", "c", 30.0), ("u3", "17", 60.0)];
    for (row, ((p, h), (u, i, a))) in expected().iter().zip(inputs).enumerate() {
        let (_, item, _) = encoded(u, i, a);
        let emb = common::EMB[item as usize];
        let want = [emb[0], emb[1], 2.0 * h[0], 2.0 * h[1], 2.0 * h[2]];
        let got = out.hidden_row(row).unwrap();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-5, "row {row}: {got:?} vs {want:?}");
        }
        assert!((out.y_base()[row] - p).abs() < 1e-5);
    }
    // The key is part of the identity: another key is another model.
    let plain = Model::from_json(&mlp_onnx(Head::Sigmoid), &mlp_spec(Head::Sigmoid)).unwrap();
    assert_ne!(model.id(), plain.id());
    // A part naming one tensor twice, or the probability's tensor's input: fine.
    let twice = spec_with(|v| {
        v["outputs"]["hidden"] = json!([{ "node": "relu1" }, { "node": "relu1", "columns": [0, 1] }]);
        v.as_object_mut().unwrap().remove("mu");
    });
    let model = Model::from_json(&mlp_onnx(Head::Sigmoid), &twice).unwrap();
    model.run(&items(), &Item::new(), &mut out).unwrap();
    let row = out.hidden_row(0).unwrap();
    assert_eq!((row.len(), row[3]), (4, row[0]));
}

#[test]
fn bad_key_parts_name_themselves() {
    let onnx = mlp_onnx(Head::Sigmoid);
    let cases: Vec<(serde_json::Value, ErrorKind, &str)> = vec![
        (json!([]), ErrorKind::InvalidConfig, "outputs.hidden"),
        (json!([{ "node": "" }]), ErrorKind::InvalidConfig, "outputs.hidden[0]"),
        (
            json!([{ "node": "relu1" }, { "node": "x", "scale": 0 }]),
            ErrorKind::InvalidConfig,
            "outputs.hidden[1].scale",
        ),
        (json!([{ "node": "x", "columns": [3, 3] }]), ErrorKind::InvalidConfig, "outputs.hidden[0].columns"),
        (json!([{ "node": "x", "columns": [4, 9] }]), ErrorKind::Model, "outputs.hidden[0].columns"),
        (json!([{ "node": "nope" }]), ErrorKind::Model, "outputs.hidden"),
        (json!([{ "node": "prob" }]), ErrorKind::InvalidConfig, "outputs.probability"),
        (json!([{ "node": "x", "colums": [0, 1] }]), ErrorKind::InvalidConfig, "colums"),
        (json!([{ "node": "x" }]), ErrorKind::Model, "mu"),
        (json!(7), ErrorKind::InvalidConfig, "hidden"),
    ];
    for (key, kind, named) in cases {
        let e = load_err(&onnx, &spec_with(|v| v["outputs"]["hidden"] = key.clone()));
        assert_eq!(e.kind(), kind, "{key}: {e}");
        assert!(e.message().contains(named), "{key}: expected `{named}` in: {e}");
    }
}

#[test]
fn operators_this_build_lacks_are_named_at_load() {
    let mut graph = mlp_graph(Head::Sigmoid);
    // An operator no build has, and one the package leaves out.
    graph.node[0].op_type = "NoSuchOp".into();
    let e = load_err(&encode_model(graph.clone()), &mlp_spec(Head::Sigmoid));
    assert_eq!(e.kind(), ErrorKind::Model);
    assert!(e.message().contains("no implementation of NoSuchOp"), "{e}");
    assert!(!e.message().contains("all-onnx-ops"), "{e}");

    graph.node[0].op_type = "Resize".into();
    let result = Model::from_json(&encode_model(graph), &mlp_spec(Head::Sigmoid));
    if cfg!(feature = "all-onnx-ops") {
        // Resize is built in: whatever becomes of the rewired node, it is not unknown.
        if let Err(e) = result {
            assert!(!e.message().contains("no implementation"), "{e}");
        }
    } else {
        let e = result.expect_err("Resize is not in the default build");
        assert!(e.message().contains("no implementation of Resize"), "{e}");
        assert!(e.message().contains("all-onnx-ops"), "{e}");
    }
}

#[test]
fn a_product_pairing_the_batch_with_a_fixed_size_is_refused_at_load() {
    // `x × x` with x = [N, 5]: MatMul contracts x's 5 columns with its N
    // rows. tract types it by assuming N = 5, and it used to load: a batch
    // of 4 then failed, one of 7 returned scores of a product taken with the
    // wrong inner size, and tract-core's debug assertion on that size is what
    // the onnx_structure fuzz target hit on the bundled model.
    let mut graph = mlp_graph(Head::Sigmoid);
    let at = graph.node.iter().position(|n| n.op_type == "MatMul").unwrap();
    graph.node.insert(at, common::node("MatMul", &["x", "x"], &["xx"], vec![]));
    graph.node[at + 1].input[0] = "xx".into();
    let e = load_err(&encode_model(graph), &mlp_spec(Head::Sigmoid));
    assert_eq!(e.kind(), ErrorKind::Model, "{e}");
    assert!(e.message().contains("whatever the batch size"), "{e}");
    assert!(e.message().contains("N and 5") || e.message().contains("5 and N"), "{e}");

    // The fuzzer's edit of the bundled model (on `MatMul_mm1`), and the
    // same on its other products: the weights replaced by the input.
    let base = common::graph_of(reloop_runtime::bundled::onnx());
    let mut ours = Vec::new();
    for (at, node) in base.node.iter().enumerate().filter(|(_, n)| n.op_type == "MatMul") {
        let mut graph = base.clone();
        graph.node[at].input[1] = node.input[0].clone();
        let e = load_err(&encode_model(graph), reloop_runtime::bundled::spec_json());
        assert_eq!(e.kind(), ErrorKind::Model, "{e}");
        if e.message().contains("whatever the batch size") {
            ours.push(node.name.as_str());
        }
    }
    assert_eq!(ours, ["MatMul_mm1", "MatMul_mm2", "MatMul_mm3"]);
}

/// Every head against the reference through both plans: the general one
/// (first run of a size) and the fixed one (later runs).
fn check_rows(model: &Model, n: usize, out: &mut ModelOutput) {
    let all = items();
    let want = expected();
    let batch: Vec<Item> = (0..n).map(|i| all[i % all.len()].clone()).collect();
    model.run(&batch, &Item::new(), out).unwrap();
    assert_eq!(out.rows(), n);
    for row in 0..n {
        let (p, h) = want[row % want.len()];
        assert!((out.y_base()[row] - p).abs() < 1e-5, "n {n} row {row}: {} vs {p}", out.y_base()[row]);
        for (j, (got, want)) in out.hidden_row(row).unwrap().iter().zip(h).enumerate() {
            assert!((got - want).abs() < 1e-5, "n {n} row {row} h[{j}]");
        }
    }
}

#[test]
fn a_batch_size_run_again_gets_a_fixed_plan_with_the_same_results() {
    for head in [Head::Sigmoid, Head::Logit, Head::Softmax2] {
        let model = Model::from_json(&mlp_onnx(head), &mlp_spec(head)).unwrap();
        let mut out = ModelOutput::default();
        check_rows(&model, 7, &mut out);
        assert!(model.fixed_batch_sizes().is_empty(), "one run of a size is not enough");
        let first = out.clone();
        check_rows(&model, 7, &mut out);
        assert_eq!(model.fixed_batch_sizes(), [7]);
        check_rows(&model, 7, &mut out);
        for (a, b) in first.y_base().iter().zip(out.y_base()) {
            assert!((a - b).abs() < 1e-6, "{head:?}: general {a} vs fixed {b}");
        }
    }
}

#[test]
fn fixed_plans_are_bounded_rationed_and_keep_the_recent_sizes() {
    let model = Model::from_json(&mlp_onnx(Head::Sigmoid), &mlp_spec(Head::Sigmoid)).unwrap();
    let mut out = ModelOutput::default();
    for n in 1..=6 {
        check_rows(&model, n, &mut out);
        check_rows(&model, n, &mut out);
    }
    // MAX_FIXED builds at once; sizes 5 and 6 have earned a plan but wait for the ration.
    assert_eq!(model.fixed_batch_sizes(), [1, 2, 3, 4]);
    check_rows(&model, 6, &mut out);
    assert_eq!(model.fixed_batch_sizes(), [1, 2, 3, 4]);
    // Using a fixed size makes it the most recent.
    check_rows(&model, 1, &mut out);
    assert_eq!(model.fixed_batch_sizes(), [2, 3, 4, 1]);
    // RUNS_PER_BUILD runs allow one more build: 6 gets its plan, 2 goes.
    for _ in 0..RUNS_PER_BUILD {
        check_rows(&model, 1, &mut out);
    }
    check_rows(&model, 6, &mut out);
    assert_eq!(model.fixed_batch_sizes(), [3, 4, 1, 6]);
}

#[test]
fn large_weights_keep_fewer_fixed_plans_and_embedding_tables_do_not_count() {
    let spec = mlp_spec(Head::Sigmoid);
    let mut out = ModelOutput::default();
    // ≈ 4 MB of weights: three copies fit FIXED_PLANS_BUDGET (16 MiB).
    let model = Model::from_json(&with_large_tensors(1024, 6), &spec).unwrap();
    assert_eq!(model.fixed_plan_limit(), 3);
    for n in 1..=4 {
        check_rows(&model, n, &mut out);
        check_rows(&model, n, &mut out);
    }
    assert_eq!(model.fixed_batch_sizes(), [1, 2, 3]);
    // Over the budget: the general plan only.
    let side = (FIXED_PLANS_BUDGET / 4).isqrt() + 1;
    let model = Model::from_json(&with_large_tensors(side, 6), &spec).unwrap();
    assert_eq!(model.fixed_plan_limit(), 0);
    for _ in 0..3 {
        check_rows(&model, 5, &mut out);
    }
    assert!(model.fixed_batch_sizes().is_empty());
    // An embedding table the size of the budget is shared by every plan.
    let model = Model::from_json(&with_large_tensors(4, FIXED_PLANS_BUDGET / 8 + 1), &spec).unwrap();
    assert_eq!(model.fixed_plan_limit(), MAX_FIXED);
    check_rows(&model, 4, &mut out);
}

#[test]
fn cycling_through_many_batch_sizes_does_not_rebuild_plans_over_and_over() {
    let model = Model::from_json(&mlp_onnx(Head::Sigmoid), &mlp_spec(Head::Sigmoid)).unwrap();
    let mut out = ModelOutput::default();
    // 8 sizes round-robin, 800 runs (fewer than RUNS_PER_BUILD): without the
    // ration every size would be rebuilt on every other visit and the last
    // four would hold the plans.
    for _ in 0..100 {
        for n in 1..=8 {
            check_rows(&model, n, &mut out);
        }
    }
    let mut sizes = model.fixed_batch_sizes();
    sizes.sort_unstable();
    assert_eq!(sizes, [1, 2, 3, 4]);
}

#[test]
fn oversized_batches_never_reach_a_plan() {
    let spec = spec_with(|v| v["maxBatch"] = json!(3));
    let model = Model::from_json(&mlp_onnx(Head::Sigmoid), &spec).unwrap();
    let batch: Vec<Item> = items();
    let mut out = ModelOutput::default();
    for _ in 0..3 {
        let e = model.run(&batch, &Item::new(), &mut out).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.message().contains("maxBatch 3"), "{e}");
    }
    assert!(model.fixed_batch_sizes().is_empty());
    assert_eq!(out.rows(), 0);
}

#[test]
fn many_threads_share_one_model_across_fixed_and_general_plans() {
    let model = Model::from_json(&mlp_onnx(Head::Sigmoid), &mlp_spec(Head::Sigmoid)).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let model = model.clone();
            s.spawn(move || {
                let mut out = ModelOutput::default();
                for k in 0..30 {
                    check_rows(&model, 1 + (t + k) % 6, &mut out);
                }
            });
        }
    });
    assert!(model.fixed_batch_sizes().len() <= 4);
}
