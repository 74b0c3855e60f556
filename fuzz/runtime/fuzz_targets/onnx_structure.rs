//! Structure-aware ONNX fuzzing: byte mutations of a protobuf mostly die
//! in protobuf decoding or in the first check, so this target decodes the
//! bundled model and the test fixtures once and lets the fuzzer's bytes
//! choose edits of their structure — shapes and data of initializers,
//! operator types, attributes, wiring, declared inputs and outputs, opset —
//! then re-encodes and loads the result with the base's spec, and runs it
//! as the `onnx` target does. Ok or a coded error, never a panic.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use prost::Message;
use reloop_runtime::Model;
use reloop_runtime_fuzz::{bases, exercise, extreme_items, loaded};
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as Dim;

/// Operators a CTR graph uses, and some it could be edited into.
const OPS: &[&str] = &[
    "Gather",
    "MatMul",
    "Gemm",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Relu",
    "Sigmoid",
    "Softmax",
    "Concat",
    "Flatten",
    "Reshape",
    "Transpose",
    "ArgMax",
    "Identity",
    "Squeeze",
    "Unsqueeze",
    "ReduceMean",
    "ReduceSum",
    "Cast",
    "Slice",
    "Split",
    "Expand",
    "Tile",
    "Where",
    "Pad",
    "OneHot",
    "Clip",
    "Shape",
    "ConstantOfShape",
    "Range",
    "TopK",
    "Max",
    "Min",
    "Pow",
    "Sqrt",
    "Exp",
    "Log",
    "Tanh",
    "Neg",
    "Equal",
    "Less",
    "Not",
    "GatherElements",
    "ScatterND",
    "Einsum",
    "Constant",
    "LayerNormalization",
    "BatchNormalization",
    "Dropout",
    "Loop",
    "If",
    "NoSuchOp",
];
const ATTRS: &[&str] = &[
    "axis",
    "axes",
    "keepdims",
    "perm",
    "to",
    "transA",
    "transB",
    "alpha",
    "beta",
    "shape",
    "value",
    "epsilon",
    "select_last_index",
    "allowzero",
    "mode",
    "split",
];
/// ONNX element types, 0..=16 plus one past the end.
const DTYPES: std::ops::RangeInclusive<i32> = 0..=17;

fn small(u: &mut Unstructured<'_>) -> Result<i64> {
    Ok(match u.int_in_range(0..=7)? {
        0 => u.arbitrary()?,
        1 => i64::MAX,
        2 => i64::MIN,
        3 => 1 << 31,
        _ => u.int_in_range(-3..=9)?,
    })
}

fn tensor_names(graph: &pb::GraphProto) -> Vec<String> {
    let mut names: Vec<String> = graph.input.iter().map(|i| i.name.clone()).collect();
    names.extend(graph.initializer.iter().map(|t| t.name.clone()));
    names.extend(graph.node.iter().flat_map(|n| n.output.iter().cloned()));
    names.push(String::new());
    names
}

fn edit_tensor(t: &mut pb::TensorProto, u: &mut Unstructured<'_>) -> Result<()> {
    match u.int_in_range(0..=6)? {
        0 if !t.dims.is_empty() => {
            let i = u.choose_index(t.dims.len())?;
            t.dims[i] = small(u)?;
        }
        1 => {
            if u.arbitrary()? {
                t.dims.push(small(u)?);
            } else {
                t.dims.pop();
            }
        }
        2 => t.data_type = u.int_in_range(DTYPES)?,
        3 => {
            let len = u.int_in_range(0..=t.raw_data.len())?;
            t.raw_data.truncate(len);
            let len = u.int_in_range(0..=t.float_data.len())?;
            t.float_data.truncate(len);
        }
        4 if !t.raw_data.is_empty() => {
            // A weight becomes NaN, infinite, huge or arbitrary.
            let at = u.choose_index(t.raw_data.len())? & !3;
            let v: f32 = *u.choose(&[f32::NAN, f32::INFINITY, -f32::INFINITY, f32::MAX, 1e-45, 0.0])?;
            let bytes = if u.arbitrary()? { v.to_le_bytes() } else { u.arbitrary::<[u8; 4]>()? };
            for (k, b) in bytes.iter().enumerate() {
                if let Some(slot) = t.raw_data.get_mut(at + k) {
                    *slot = *b;
                }
            }
        }
        4 if !t.float_data.is_empty() => {
            let i = u.choose_index(t.float_data.len())?;
            t.float_data[i] = *u.choose(&[f32::NAN, f32::INFINITY, f32::MAX, -1e30, 0.0])?;
        }
        5 => t.int64_data = (0..u.int_in_range(0..=4)?).map(|_| small(u)).collect::<Result<_>>()?,
        _ => {
            // Data moved between encodings: raw bytes become typed lists or the reverse.
            if t.raw_data.is_empty() {
                t.raw_data = t.float_data.iter().flat_map(|f| f.to_le_bytes()).collect();
                t.float_data.clear();
            } else {
                t.float_data =
                    t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                t.raw_data.clear();
            }
        }
    }
    Ok(())
}

fn edit_attribute(node: &mut pb::NodeProto, u: &mut Unstructured<'_>) -> Result<()> {
    if !node.attribute.is_empty() && u.ratio(3u8, 4u8)? {
        let i = u.choose_index(node.attribute.len())?;
        let a = &mut node.attribute[i];
        match u.int_in_range(0..=4)? {
            0 => a.i = small(u)?,
            1 => a.ints = (0..u.int_in_range(0..=4)?).map(|_| small(u)).collect::<Result<_>>()?,
            2 => a.r#type = u.int_in_range(0..=14)?,
            3 => a.f = u.arbitrary()?,
            _ => {
                node.attribute.remove(i);
            }
        }
    } else {
        node.attribute.push(pb::AttributeProto {
            name: (*u.choose(ATTRS)?).into(),
            r#type: *u.choose(&[1, 2, 4, 6, 7])?,
            i: small(u)?,
            f: u.arbitrary()?,
            ints: (0..u.int_in_range(0..=3)?).map(|_| small(u)).collect::<Result<_>>()?,
            t: if u.ratio(1u8, 4u8)? {
                Some(pb::TensorProto {
                    dims: vec![small(u)?],
                    data_type: 7,
                    int64_data: vec![small(u)?],
                    ..Default::default()
                })
            } else {
                None
            },
            ..Default::default()
        });
    }
    Ok(())
}

fn edit_value_info(v: &mut pb::ValueInfoProto, u: &mut Unstructured<'_>) -> Result<()> {
    let Some(pb::type_proto::Value::TensorType(t)) = v.r#type.as_mut().and_then(|t| t.value.as_mut()) else {
        v.r#type = None;
        return Ok(());
    };
    match u.int_in_range(0..=2)? {
        0 => t.elem_type = u.int_in_range(DTYPES)?,
        1 => t.shape = None,
        _ => {
            let shape = t.shape.get_or_insert_with(Default::default);
            if !shape.dim.is_empty() && u.arbitrary()? {
                let i = u.choose_index(shape.dim.len())?;
                shape.dim[i].value = match u.int_in_range(0..=2)? {
                    0 => Some(Dim::DimValue(small(u)?)),
                    1 => Some(Dim::DimParam((*u.choose(&["N", "M", ""])?).into())),
                    _ => None,
                };
            } else if u.arbitrary()? {
                shape.dim.pop();
            } else {
                shape.dim.push(Default::default());
            }
        }
    }
    Ok(())
}

fn edit(model: &mut pb::ModelProto, u: &mut Unstructured<'_>) -> Result<()> {
    if u.ratio(1u8, 16u8)? {
        if let Some(op) = model.opset_import.first_mut() {
            op.version = u.int_in_range(0..=25)?;
        }
        return Ok(());
    }
    let Some(graph) = model.graph.as_mut() else { return Ok(()) };
    match u.int_in_range(0..=9)? {
        0 | 1 if !graph.initializer.is_empty() => {
            let i = u.choose_index(graph.initializer.len())?;
            edit_tensor(&mut graph.initializer[i], u)?;
        }
        2 if !graph.node.is_empty() => {
            let i = u.choose_index(graph.node.len())?;
            graph.node[i].op_type = (*u.choose(OPS)?).into();
        }
        3 if !graph.node.is_empty() => {
            let i = u.choose_index(graph.node.len())?;
            edit_attribute(&mut graph.node[i], u)?;
        }
        4 if !graph.node.is_empty() => {
            // Rewire: an input of a node now reads another tensor (or none).
            let names = tensor_names(graph);
            let i = u.choose_index(graph.node.len())?;
            let name = u.choose(&names)?.clone();
            let node = &mut graph.node[i];
            if !node.input.is_empty() && u.ratio(3u8, 4u8)? {
                let k = u.choose_index(node.input.len())?;
                node.input[k] = name;
            } else if u.arbitrary()? {
                node.input.push(name);
            } else {
                node.input.pop();
            }
        }
        5 if !graph.node.is_empty() => {
            let i = u.choose_index(graph.node.len())?;
            match u.int_in_range(0..=2)? {
                0 => {
                    graph.node.remove(i);
                }
                1 => {
                    let j = u.choose_index(graph.node.len())?;
                    graph.node.swap(i, j);
                }
                _ => {
                    let mut copy = graph.node[i].clone();
                    if let Some(out) = copy.output.first_mut() {
                        out.push_str("_dup");
                    }
                    graph.node.push(copy);
                }
            }
        }
        6 if !graph.input.is_empty() => {
            let i = u.choose_index(graph.input.len())?;
            edit_value_info(&mut graph.input[i], u)?;
        }
        7 if !graph.output.is_empty() => {
            let i = u.choose_index(graph.output.len())?;
            if u.arbitrary()? {
                edit_value_info(&mut graph.output[i], u)?;
            } else {
                let names = tensor_names(graph);
                graph.output[i].name = u.choose(&names)?.clone();
            }
        }
        8 if !graph.node.is_empty() => {
            // An output of a node renamed: its readers lose their input, or
            // it shadows another tensor.
            let names = tensor_names(graph);
            let i = u.choose_index(graph.node.len())?;
            let name = u.choose(&names)?.clone();
            if let Some(out) = graph.node[i].output.first_mut() {
                *out = name;
            }
        }
        _ => {
            // A declared input becomes an initializer or the reverse.
            if !graph.initializer.is_empty() && u.arbitrary()? {
                let i = u.choose_index(graph.initializer.len())?;
                let t = graph.initializer.remove(i);
                graph.input.push(pb::ValueInfoProto { name: t.name, ..Default::default() });
            } else if !graph.input.is_empty() {
                let i = u.choose_index(graph.input.len())?;
                let name = graph.input.remove(i).name;
                graph.initializer.push(pb::TensorProto {
                    name,
                    dims: vec![1],
                    data_type: 7,
                    int64_data: vec![small(u)?],
                    ..Default::default()
                });
            }
        }
    }
    Ok(())
}

/// With `RELOOP_FUZZ_DUMP=<dir>` (replaying one input), writes the edited
/// model to `<dir>/<base>.onnx`, to look at it outside the fuzzer.
fn dump(base: &str, bytes: &[u8]) {
    static DIR: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    if let Some(dir) = DIR.get_or_init(|| std::env::var_os("RELOOP_FUZZ_DUMP").map(Into::into)) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(format!("{base}.onnx")), bytes).unwrap();
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(base) = u.choose(bases()) else { return };
    let mut proto = base.proto.clone();
    let edits = u.int_in_range(1..=4u8).unwrap_or(1);
    for _ in 0..edits {
        if edit(&mut proto, &mut u).is_err() {
            break;
        }
    }
    let bytes = proto.encode_to_vec();
    dump(base.name, &bytes);
    if let Some(model) = loaded(Model::load(&bytes, base.spec.clone())) {
        exercise(&model, &base.items, &base.context, &extreme_items(&base.spec));
    }
});
