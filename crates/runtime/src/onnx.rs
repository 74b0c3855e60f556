//! The ONNX side of loading a model: what the protobuf declares (inputs,
//! element types), what tract could not do or would panic on (external
//! data, dangling outputs, operators this build leaves out), the one mapping
//! between the spec's element types and ONNX's, and the conversion of
//! tract's errors into [`ErrorKind::Model`] with their context chain.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashSet};

use prost::Message;

use reloop_core::{Error, ErrorKind, Result};
use tract_onnx::model::OnnxOpRegister;
use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::{DataLocation, DataType};
use tract_onnx::prelude::{DatumType, TractError};

use crate::spec::DType;

/// Converts a tract (anyhow) error at the edge of the runtime, keeping its
/// context chain (`{:#}`).
pub(crate) fn model_err(context: &str, e: TractError) -> Error {
    Error::new(ErrorKind::Model, format!("{context}: {e:#}"))
}

impl DType {
    /// The ONNX `TensorProto.DataType` of this element type.
    pub fn onnx(self) -> DataType {
        match self {
            DType::I64 => DataType::Int64,
            DType::F32 => DataType::Float,
        }
    }

    /// tract's datum type of this element type.
    pub fn datum(self) -> DatumType {
        match self {
            DType::I64 => DatumType::I64,
            DType::F32 => DatumType::F32,
        }
    }
}

/// The lower-case ONNX name of an element type code (`float`, `int64`, ...).
pub fn onnx_type_name(code: i32) -> String {
    DataType::try_from(code).map_or_else(|_| format!("#{code}"), |t| t.as_str_name().to_ascii_lowercase())
}

/// The ONNX name of a tract element type (`float`, `int64`, ...); tract's
/// shape integers (`TDim`) are `int64` in the ONNX.
pub fn datum_name(dt: DatumType) -> String {
    match dt {
        DatumType::TDim | DatumType::I64 => "int64".into(),
        DatumType::I32 => "int32".into(),
        DatumType::F32 => "float".into(),
        DatumType::F64 => "double".into(),
        DatumType::F16 => "float16".into(),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

/// A graph input as the ONNX declares it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeclaredInput {
    /// Its name.
    pub name: String,
    /// Element type code (`TensorProto.DataType`; 0 if not given).
    pub elem: i32,
    /// Dimensions if declared, each `Some(size)` or `None` for symbolic.
    pub dims: Option<Vec<Option<i64>>>,
}

/// Graph inputs that are not initializers.
pub fn declared_inputs(graph: &pb::GraphProto) -> Vec<DeclaredInput> {
    let init: HashSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    graph
        .input
        .iter()
        .filter(|i| !init.contains(i.name.as_str()))
        .map(|i| {
            let tensor = i.r#type.as_ref().and_then(|t| t.value.as_ref()).map(|v| match v {
                pb::type_proto::Value::TensorType(t) => t,
            });
            let elem = tensor.map_or(0, |t| t.elem_type);
            let dims = tensor.and_then(|t| t.shape.as_ref()).map(|s| {
                s.dim
                    .iter()
                    .map(|d| match &d.value {
                        Some(pb::tensor_shape_proto::dimension::Value::DimValue(v)) => Some(*v),
                        _ => None,
                    })
                    .collect()
            });
            DeclaredInput { name: i.name.clone(), elem, dims }
        })
        .collect()
}

/// Rejects what tract would panic on or cannot do without a file system:
/// graph outputs that nothing produces, and tensors stored as external data.
pub fn check_graph(graph: &pb::GraphProto, at: &str) -> Result<()> {
    let mut produced: HashSet<&str> = HashSet::new();
    produced.extend(graph.input.iter().map(|i| i.name.as_str()));
    produced.extend(graph.initializer.iter().map(|t| t.name.as_str()));
    for node in &graph.node {
        produced.extend(node.output.iter().map(String::as_str));
        for attr in &node.attribute {
            if let Some(t) = &attr.t {
                check_tensor(t, at)?;
            }
            for t in &attr.tensors {
                check_tensor(t, at)?;
            }
            if let Some(g) = &attr.g {
                check_graph(g, &format!("{at}.{}", node.name))?;
            }
            for g in &attr.graphs {
                check_graph(g, &format!("{at}.{}", node.name))?;
            }
        }
    }
    for t in &graph.initializer {
        check_tensor(t, at)?;
    }
    if let Some(out) = graph.output.iter().find(|o| !produced.contains(o.name.as_str())) {
        return Err(Error::model(format!("onnx: {at}: output `{}` is not produced by any node", out.name)));
    }
    Ok(())
}

/// The ONNX operators of tract-onnx's `signal` and `vision` families, which
/// the package is built without (the cargo feature `all-onnx-ops` adds them).
pub const LEFT_OUT_OPS: [&str; 11] = [
    "DFT",
    "STFT",
    "BlackmanWindow",
    "HammingWindow",
    "HannWindow",
    "MelWeightMatrix",
    "GridSample",
    "Resize",
    "NonMaxSuppression",
    "DepthToSpace",
    "SpaceToDepth",
];

/// Refuses a graph (or subgraph) using an operator `register` cannot build,
/// naming them all (tract would otherwise fail later, while typing, with a
/// less direct message).
pub fn check_ops(graph: &pb::GraphProto, register: &OnnxOpRegister) -> Result<()> {
    let mut missing = BTreeSet::new();
    unsupported_ops(graph, register, &mut missing);
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(String::as_str).collect();
    Err(Error::model(format!(
        "onnx: this build has no implementation of {}{}",
        names.join(", "),
        if missing.iter().any(|op| LEFT_OUT_OPS.contains(&op.as_str())) {
            " (left out of the package to keep it small; the cargo feature `all-onnx-ops` builds them in)"
        } else {
            ""
        }
    )))
}

fn unsupported_ops(graph: &pb::GraphProto, register: &OnnxOpRegister, out: &mut BTreeSet<String>) {
    for node in &graph.node {
        if !register.0.contains_key(&node.op_type) {
            out.insert(node.op_type.clone());
        }
        for attr in &node.attribute {
            for g in attr.g.iter().chain(&attr.graphs) {
                unsupported_ops(g, register, out);
            }
        }
    }
}

fn check_tensor(t: &pb::TensorProto, at: &str) -> Result<()> {
    if t.data_location == Some(DataLocation::External as i32) || !t.external_data.is_empty() {
        return Err(Error::model(format!(
            "onnx: {at}: tensor `{}` uses external data; embed the weights in the .onnx",
            t.name
        )));
    }
    Ok(())
}

/// Decodes ONNX bytes into the protobuf, freeing them (when owned) as soon
/// as it is decoded. Float and double weights given as typed lists are
/// decoded as `raw_data` instead (see [`packed_float_keys`]), so the
/// protobuf holds one exact-size copy of every weight and a load peaks at
/// about twice the weights, whatever the exporter wrote
/// (`tests/load_memory.rs`).
///
/// # Errors
/// [`ErrorKind::Model`] if the bytes are not a readable ONNX model.
pub fn decode_model(mut onnx: Cow<'_, [u8]>) -> Result<pb::ModelProto> {
    let keys = packed_float_keys(&onnx);
    if !keys.is_empty() {
        let bytes = onnx.to_mut();
        for at in keys {
            if let Some(key) = bytes.get_mut(at) {
                *key = RAW_DATA_KEY;
            }
        }
    }
    // From a slice, prost copies each raw_data into a `Bytes` and then into
    // its `Vec` (a third copy of the weights alive with the caller's two);
    // from `Bytes` the first copy is a view. Borrowed bytes stay a slice:
    // copying them into `Bytes` would cost as much as that transient copy.
    let decoded = match onnx {
        Cow::Borrowed(bytes) => pb::ModelProto::decode(bytes),
        Cow::Owned(bytes) => pb::ModelProto::decode(bytes::Bytes::from(bytes)),
    };
    decoded.map_err(|e| Error::model(format!("onnx: not a readable ONNX model: {e}")))
}

/// The one-byte key of `TensorProto.raw_data` (field 9, length-delimited).
const RAW_DATA_KEY: u8 = 9 << 3 | 2;
/// How deep [`packed_float_keys`] follows subgraphs (prost refuses more
/// than 100 nested messages anyway).
const MAX_DEPTH: usize = 100;

/// Where in `onnx` a tensor's packed `float_data` (field 4) or
/// `double_data` (field 10) key is that can be turned into a `raw_data`
/// key by rewriting that one byte: packed little-endian floats are
/// byte for byte the `raw_data` of the same values. prost decodes a packed
/// list by pushing value after value, so at its last doubling it holds 2.5×
/// the list, and tract then copies a typed list twice on its way to a
/// tensor; a `raw_data` is copied once, at its size. The tensors of the
/// graph's initializers and of node attributes (in subgraphs too) whose one
/// data field is a single packed list of their `data_type`, with no
/// `raw_data` and no external data; anything else (or malformed bytes,
/// left for prost to refuse) is left as it is.
fn packed_float_keys(onnx: &[u8]) -> Vec<usize> {
    let mut keys = Vec::new();
    scan(onnx, 0, Proto::Model, 0, &mut keys);
    keys
}

/// The messages on the way from a model to its tensors.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Model,
    Graph,
    Node,
    Attribute,
    Tensor,
}

impl Proto {
    /// The message field `number` of `self` holds, and whether the field is
    /// singular (prost merges a repeated occurrence into the first, so a
    /// rewrite inside one of several is not done).
    fn child(self, number: u64) -> Option<(Proto, bool)> {
        Some(match (self, number) {
            (Proto::Model, 7) => (Proto::Graph, true),
            (Proto::Graph, 1) => (Proto::Node, false),
            (Proto::Graph, 5) => (Proto::Tensor, false),
            (Proto::Node, 5) => (Proto::Attribute, false),
            (Proto::Attribute, 5) => (Proto::Tensor, true),
            (Proto::Attribute, 6) => (Proto::Graph, true),
            (Proto::Attribute, 10) => (Proto::Tensor, false),
            (Proto::Attribute, 11) => (Proto::Graph, false),
            _ => return None,
        })
    }
}

/// One field of a message: its number, wire type, where its key starts
/// and how long the key is, and its value (the bytes of a length-delimited
/// field, the number of a varint).
struct Field {
    number: u64,
    wire: u64,
    key_at: usize,
    key_len: usize,
    bytes: std::ops::Range<usize>,
    varint: u64,
}

fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The fields of `message`, or `None` if it is not well-formed.
fn fields(message: &[u8]) -> Option<Vec<Field>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < message.len() {
        let key_at = at;
        let key = varint(message, &mut at)?;
        let (number, wire) = (key >> 3, key & 7);
        let key_len = at - key_at;
        let (mut value, mut start) = (0, at);
        match wire {
            0 => value = varint(message, &mut at)?,
            1 => at = at.checked_add(8)?,
            2 => {
                let len = usize::try_from(varint(message, &mut at)?).ok()?;
                start = at;
                at = at.checked_add(len)?;
            }
            5 => at = at.checked_add(4)?,
            _ => return None,
        }
        if at > message.len() || number == 0 {
            return None;
        }
        out.push(Field { number, wire, key_at, key_len, bytes: start..at, varint: value });
    }
    Some(out)
}

/// Adds to `keys` the rewritable keys in `message` (a `proto`, at `base` in
/// the whole bytes); see [`packed_float_keys`].
fn scan(message: &[u8], base: usize, proto: Proto, depth: usize, keys: &mut Vec<usize>) {
    let Some(fields) = fields(message) else { return };
    if proto == Proto::Tensor {
        if let Some(at) = rewritable_key(&fields) {
            keys.push(base + at);
        }
        return;
    }
    if depth >= MAX_DEPTH {
        return;
    }
    for field in fields.iter().filter(|f| f.wire == 2) {
        let Some((child, singular)) = proto.child(field.number) else { continue };
        if singular && fields.iter().filter(|f| f.number == field.number).count() > 1 {
            continue;
        }
        if let Some(bytes) = message.get(field.bytes.clone()) {
            scan(bytes, base + field.bytes.start, child, depth + 1, keys);
        }
    }
}

/// The key of a tensor's one packed data list, if it can become `raw_data`.
fn rewritable_key(tensor: &[Field]) -> Option<usize> {
    let last = |number| tensor.iter().rev().find(|f| f.number == number);
    let data_type = last(2).filter(|f| f.wire == 0)?.varint;
    let (number, width) = match i32::try_from(data_type).ok().and_then(|t| DataType::try_from(t).ok())? {
        DataType::Float => (4, 4),
        DataType::Double => (10, 8),
        _ => return None,
    };
    // int32, string, int64, raw, double, uint64 data; external data, data location.
    let other_data = [5, 6, 7, 9, 10, 11, 13, 14].iter().filter(|n| **n != number);
    if other_data.clone().any(|n| last(*n).is_some()) {
        return None;
    }
    let mut lists = tensor.iter().filter(|f| f.number == number);
    let list = lists.next()?;
    let packed = list.wire == 2 && list.key_len == 1 && list.bytes.len() % width == 0;
    (packed && lists.next().is_none()).then_some(list.key_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_types_are_named_like_onnx() {
        assert_eq!(onnx_type_name(DType::F32.onnx() as i32), "float");
        assert_eq!(onnx_type_name(DType::I64.onnx() as i32), "int64");
        assert_eq!(onnx_type_name(10), "float16");
        assert_eq!(onnx_type_name(999), "#999");
    }

    fn tensor(name: &str, data_type: DataType, floats: Vec<f32>, doubles: Vec<f64>) -> pb::TensorProto {
        let len = floats.len() + doubles.len();
        pb::TensorProto {
            name: name.into(),
            dims: vec![len as i64],
            data_type: data_type as i32,
            float_data: floats,
            double_data: doubles,
            ..Default::default()
        }
    }

    /// A model whose graph holds `initializer` and a Constant node with `t`.
    fn model(initializer: Vec<pb::TensorProto>, t: pb::TensorProto) -> pb::ModelProto {
        let attr = pb::AttributeProto { name: "value".into(), t: Some(t), ..Default::default() };
        let node = pb::NodeProto { op_type: "Constant".into(), attribute: vec![attr], ..Default::default() };
        let graph = pb::GraphProto { node: vec![node], initializer, ..Default::default() };
        pb::ModelProto { graph: Some(graph), ..Default::default() }
    }

    fn le<T: Copy, const N: usize>(values: &[T], bytes: fn(T) -> [u8; N]) -> Vec<u8> {
        values.iter().flat_map(|v| bytes(*v)).collect()
    }

    #[test]
    fn packed_float_and_double_lists_decode_as_raw_data() {
        let floats = vec![1.5f32, -0.0, f32::MIN_POSITIVE, 3e38];
        let doubles = vec![0.25f64, -1e300];
        let onnx = model(
            vec![
                tensor("w", DataType::Float, floats.clone(), vec![]),
                tensor("d", DataType::Double, vec![], doubles.clone()),
            ],
            tensor("c", DataType::Float, vec![7.0], vec![]),
        )
        .encode_to_vec();
        assert_eq!(packed_float_keys(&onnx).len(), 3);
        let decoded = decode_model(Cow::Borrowed(&onnx)).unwrap();
        let graph = decoded.graph.unwrap();
        let (w, d) = (&graph.initializer[0], &graph.initializer[1]);
        assert!(w.float_data.is_empty() && d.double_data.is_empty());
        assert_eq!(w.raw_data, le(&floats, f32::to_le_bytes));
        assert_eq!(d.raw_data, le(&doubles, f64::to_le_bytes));
        let c = graph.node[0].attribute[0].t.as_ref().unwrap();
        assert_eq!(c.raw_data, le(&[7.0f32], f32::to_le_bytes));
        // Owned bytes give the same protobuf.
        assert_eq!(decode_model(Cow::Owned(onnx)).unwrap().graph.unwrap(), graph);
    }

    #[test]
    fn tensors_whose_meaning_a_rewrite_would_change_are_left_alone() {
        // raw_data already there (tract reads it, not the list).
        let mut both = tensor("both", DataType::Float, vec![1.0], vec![]);
        both.raw_data = le(&[2.0f32], f32::to_le_bytes);
        // A list that does not match the data type.
        let wrong = tensor("wrong", DataType::Int64, vec![1.0], vec![]);
        // No data type.
        let untyped = tensor("untyped", DataType::Undefined, vec![1.0], vec![]);
        let onnx = model(vec![both.clone(), wrong.clone(), untyped.clone()], both.clone()).encode_to_vec();
        assert_eq!(packed_float_keys(&onnx), Vec::<usize>::new());
        // A list in two packed runs (prost concatenates them; two raw_data would not).
        let mut split = pb::TensorProto { data_type: DataType::Float as i32, ..Default::default() };
        split.float_data = vec![1.0];
        let mut twice = split.encode_to_vec();
        twice.extend(pb::TensorProto { float_data: vec![2.0], ..Default::default() }.encode_to_vec());
        let graph = [vec![5 << 3 | 2, twice.len() as u8], twice].concat();
        let onnx = [vec![7 << 3 | 2, graph.len() as u8], graph].concat();
        assert_eq!(packed_float_keys(&onnx), Vec::<usize>::new());
        assert_eq!(decode_model(Cow::Borrowed(&onnx)).unwrap().graph.unwrap().initializer[0].float_data, [1.0, 2.0]);
        // Two graph fields (prost merges them into one).
        let one = model(vec![tensor("w", DataType::Float, vec![1.0], vec![])], both).encode_to_vec();
        assert_eq!(packed_float_keys(&[one.clone(), one].concat()), Vec::<usize>::new());
    }

    #[test]
    fn every_cut_and_flipped_byte_of_a_model_decodes_or_is_a_model_error() {
        let onnx = model(
            vec![
                tensor("w", DataType::Float, vec![1.5; 40], vec![]),
                tensor("d", DataType::Double, vec![], vec![2.0; 9]),
            ],
            tensor("c", DataType::Float, vec![7.0], vec![]),
        )
        .encode_to_vec();
        for cut in 0..onnx.len() {
            if let Err(e) = decode_model(Cow::Borrowed(&onnx[..cut])) {
                assert_eq!(e.kind(), ErrorKind::Model);
            }
        }
        for at in 0..onnx.len() {
            for flip in [0x01, 0x80, 0xff] {
                let mut bytes = onnx.clone();
                bytes[at] ^= flip;
                // Whatever the rewrite does, it agrees with decoding the list.
                let plain = pb::ModelProto::decode(&*bytes);
                match (decode_model(Cow::Owned(bytes)), plain) {
                    (Ok(rewritten), Ok(plain)) => {
                        assert_eq!(floats_of(&rewritten), floats_of(&plain), "byte {at} ^ {flip:#x}")
                    }
                    (Err(e), _) => assert_eq!(e.kind(), ErrorKind::Model),
                    (Ok(_), Err(_)) => panic!("byte {at} ^ {flip:#x}: the rewrite made unreadable bytes readable"),
                }
            }
        }
    }

    /// Every float and double initializer's values, from whichever field holds them.
    fn floats_of(model: &pb::ModelProto) -> Vec<(String, Vec<u64>)> {
        let graph = model.graph.as_ref().map(|g| g.initializer.clone()).unwrap_or_default();
        graph
            .iter()
            .map(|t| {
                let values: Vec<u64> = if !t.raw_data.is_empty() && t.data_type == DataType::Float as i32 {
                    t.raw_data
                        .chunks(4)
                        .map(|c| u64::from(f32::from_le_bytes(c.try_into().unwrap()).to_bits()))
                        .collect()
                } else if !t.raw_data.is_empty() && t.data_type == DataType::Double as i32 {
                    t.raw_data.chunks(8).map(|c| f64::from_le_bytes(c.try_into().unwrap()).to_bits()).collect()
                } else if t.data_type == DataType::Double as i32 {
                    t.double_data.iter().map(|v| v.to_bits()).collect()
                } else {
                    t.float_data.iter().map(|v| u64::from(v.to_bits())).collect()
                };
                (t.name.clone(), values)
            })
            .collect()
    }
}
