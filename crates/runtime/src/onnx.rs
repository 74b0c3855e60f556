//! The ONNX side of loading a model: what the protobuf declares (inputs,
//! element types), what tract could not do or would panic on (external
//! data, dangling outputs, operators this build leaves out), the one mapping
//! between the spec's element types and ONNX's, and the conversion of
//! tract's errors into [`ErrorKind::Model`] with their context chain.

use std::collections::{BTreeSet, HashSet};

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
}
