//! The first parser untrusted ONNX bytes meet: `onnx::decode_model`, which
//! rewrites the key of each packed float or double list that can be one
//! into a `raw_data` key before prost decodes (so a load peaks at 2× the
//! weights). Never a panic; it accepts exactly the bytes prost accepts; and
//! its protobuf equals prost's own once every float and double tensor's
//! values are read from whichever field holds them. Microseconds per input,
//! so this target covers the byte walk far more than `onnx` (a tract load
//! per input) can.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use prost::Message;
use reloop_core::ErrorKind;
use reloop_runtime::onnx::decode_model;
use tract_onnx::pb;
use tract_onnx::pb::tensor_proto::DataType;

fuzz_target!(|data: &[u8]| {
    let plain = pb::ModelProto::decode(data);
    match (decode_model(Cow::Borrowed(data)), plain) {
        (Ok(mut ours), Ok(mut plain)) => {
            canonical_model(&mut ours);
            canonical_model(&mut plain);
            // Compared encoded, bit for bit: a NaN in a list left as it is
            // (in a tensor of another type) is not == itself.
            assert!(ours.encode_to_vec() == plain.encode_to_vec(), "the rewrite changed what the bytes mean");
        }
        (Err(e), Err(_)) => assert_eq!(e.kind(), ErrorKind::Model, "{e}"),
        (Ok(_), Err(e)) => panic!("the rewrite made unreadable bytes readable ({e})"),
        (Err(e), Ok(_)) => panic!("the rewrite made readable bytes unreadable: {e}"),
    }
    // Owned bytes (the wasm binding's path) decode the same.
    let encoded = |m: reloop_core::Result<pb::ModelProto>| m.ok().map(|m| m.encode_to_vec());
    assert!(encoded(decode_model(Cow::Owned(data.to_vec()))) == encoded(decode_model(Cow::Borrowed(data))));
});

fn canonical_model(model: &mut pb::ModelProto) {
    if let Some(graph) = model.graph.as_mut() {
        canonical_graph(graph);
    }
}

fn canonical_graph(graph: &mut pb::GraphProto) {
    graph.initializer.iter_mut().for_each(canonical_tensor);
    for node in &mut graph.node {
        for attr in &mut node.attribute {
            attr.t.iter_mut().chain(&mut attr.tensors).for_each(canonical_tensor);
            attr.g.iter_mut().chain(&mut attr.graphs).for_each(canonical_graph);
        }
    }
}

/// A float or double tensor's typed list moved into `raw_data` when that is
/// empty (tract reads `raw_data` first, then the list of the data type).
fn canonical_tensor(t: &mut pb::TensorProto) {
    if !t.raw_data.is_empty() {
        return;
    }
    match DataType::try_from(t.data_type) {
        Ok(DataType::Float) => {
            t.raw_data = std::mem::take(&mut t.float_data).iter().flat_map(|v| v.to_le_bytes()).collect()
        }
        Ok(DataType::Double) => {
            t.raw_data = std::mem::take(&mut t.double_data).iter().flat_map(|v| v.to_le_bytes()).collect();
        }
        _ => {}
    }
}
