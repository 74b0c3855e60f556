//! Writing small ONNX graphs with tract's protobuf types: what the bundled
//! model's export ([`crate::train`]) and the synthetic example model
//! ([`crate::example`]) are made of. Opset 13, a symbolic batch `N`.

use prost::Message;
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::{Dimension, dimension};

/// ONNX element types, from tract's own protobuf enum.
pub const ONNX_FLOAT: i32 = pb::tensor_proto::DataType::Float as i32;
/// `int64`.
pub const ONNX_INT64: i32 = pb::tensor_proto::DataType::Int64 as i32;

/// A `[N, width]` tensor's declaration.
pub fn value_info(name: &str, elem_type: i32, width: usize) -> pb::ValueInfoProto {
    let dim = [None, Some(width as i64)]
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

/// A node named `{op}_{output}`.
pub fn node(op: &str, inputs: &[&str], output: &str, attribute: Vec<pb::AttributeProto>) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name: format!("{op}_{output}"),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

/// An integer attribute.
pub fn int_attr(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto { name: name.into(), r#type: 2, i, ..Default::default() }
}

/// A float initializer.
pub fn tensor_f32(name: &str, dims: &[usize], data: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: ONNX_FLOAT,
        float_data: data,
        ..Default::default()
    }
}

/// An int64 initializer.
pub fn tensor_i64(name: &str, dims: &[usize], data: Vec<i64>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: ONNX_INT64,
        int64_data: data,
        ..Default::default()
    }
}

/// The model's bytes: `graph` at opset 13, IR version 8.
pub fn model_bytes(graph: pb::GraphProto, producer: &str) -> Vec<u8> {
    pb::ModelProto {
        ir_version: 8,
        producer_name: producer.into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        opset_import: vec![pb::OperatorSetIdProto { domain: String::new(), version: 13 }],
        graph: Some(graph),
        ..Default::default()
    }
    .encode_to_vec()
}
