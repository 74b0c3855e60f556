//! What an ONNX graph offers a spec, before there is one: its inputs with
//! element types and widths, its outputs, and every tensor that could serve
//! as the memory's key (float, batch first, a fixed row size), in graph
//! order. `reloop inspect` drafts a spec from it.

use std::collections::HashMap;

use reloop_core::{Error, Result};
use tract_onnx::prelude::{DatumType, Framework, InferenceFact, InferenceModelExt, OutletId, TDim, ToDim};
use tract_onnx::tract_hir::internal::DimLike;

use crate::onnx::{check_graph, check_ops, datum_name, declared_inputs, model_err, onnx_type_name};
use crate::spec::DType;

/// A graph input.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphInput {
    /// Its name.
    pub name: String,
    /// Its element type if the spec can feed it (`i64`, `f32`).
    pub dtype: Option<DType>,
    /// The ONNX element type's name (`int64`, `float`, ...).
    pub elem: String,
    /// Columns per row, if the graph fixes them (`1` for a `[N]` input).
    pub width: Option<usize>,
    /// Declared as `[N]` rather than `[N, width]`.
    pub rank1: bool,
}

/// A tensor of the graph with the shape typing gave it.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphTensor {
    /// The ONNX tensor name (what a spec names).
    pub name: String,
    /// The operator producing it (`input` for a graph input).
    pub op: String,
    /// Element type name.
    pub elem: String,
    /// The shape, batch as `N`.
    pub shape: Vec<String>,
    /// Values per row (everything after the batch dimension), if fixed.
    pub row: Option<usize>,
}

/// What [`graph`] finds.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// Inputs that are not initializers, in the graph's order.
    pub inputs: Vec<GraphInput>,
    /// The graph outputs.
    pub outputs: Vec<GraphTensor>,
    /// Float tensors whose shape starts with the batch and whose row size
    /// is fixed (inputs included), in graph order: what `outputs.hidden`
    /// (or a key part) may name.
    pub keys: Vec<GraphTensor>,
    /// Why the graph could not be typed (then `outputs` have no shapes and
    /// `keys` is empty), e.g. an input without a fixed width.
    pub untyped: Option<String>,
}

/// Reads `onnx` and types every named tensor with a symbolic batch `N`.
///
/// # Errors
/// [`reloop_core::ErrorKind::Model`] for bytes that are not a readable ONNX
/// model or use operators this build lacks; a graph that cannot be typed is
/// reported in [`Graph::untyped`] instead.
pub fn graph(onnx: &[u8]) -> Result<Graph> {
    let framework = tract_onnx::onnx();
    let proto =
        framework.proto_model_for_read(&mut &*onnx).map_err(|e| model_err("onnx: not a readable ONNX model", e))?;
    let Some(graph) = proto.graph.as_ref() else {
        return Err(Error::model("onnx: the model has no graph"));
    };
    check_graph(graph, "graph")?;
    check_ops(graph, &framework.op_register)?;
    let inputs: Vec<GraphInput> = declared_inputs(graph)
        .into_iter()
        .map(|d| {
            let dtype = [DType::I64, DType::F32].into_iter().find(|t| t.onnx() as i32 == d.elem);
            let (width, rank1) = match d.dims.as_deref() {
                Some([_]) => (Some(1), true),
                Some([_, w]) => (w.and_then(|w| usize::try_from(w).ok()), false),
                _ => (None, false),
            };
            GraphInput { name: d.name, dtype, elem: onnx_type_name(d.elem), width, rank1 }
        })
        .collect();
    let mut producers: HashMap<&str, &str> = HashMap::new();
    for node in &graph.node {
        for out in &node.output {
            producers.insert(out.as_str(), node.op_type.as_str());
        }
    }
    // Every tensor name, in graph order: inputs, then node outputs.
    let mut names: Vec<String> = inputs.iter().map(|i| i.name.clone()).collect();
    names.extend(graph.node.iter().flat_map(|n| n.output.iter().filter(|o| !o.is_empty()).cloned()));
    let op_of = |name: &str| producers.get(name).map_or_else(|| "input".to_string(), |op| (*op).to_string());
    let untyped_outputs = |why: String| Graph {
        inputs: inputs.clone(),
        outputs: graph
            .output
            .iter()
            .map(|o| GraphTensor {
                name: o.name.clone(),
                op: op_of(&o.name),
                elem: String::new(),
                shape: Vec::new(),
                row: None,
            })
            .collect(),
        keys: Vec::new(),
        untyped: Some(why),
    };
    if let Some(i) = inputs.iter().find(|i| i.width.is_none() || i.dtype.is_none()) {
        return Ok(untyped_outputs(format!(
            "input `{}` ({}) has no fixed width or is neither int64 nor float; give it one to type the graph",
            i.name, i.elem
        )));
    }
    let parsed = match framework.with_ignore_value_info(true).parse(&proto, None) {
        Ok(p) => p,
        Err(e) => return Ok(untyped_outputs(format!("{e:#}"))),
    };
    let mut model = parsed.model;
    let batch = model.sym("N");
    let input_outlets = model.input_outlets().map_err(|e| model_err("onnx", e))?.to_vec();
    for (ix, outlet) in input_outlets.iter().enumerate() {
        let name = model.node(outlet.node).name.clone();
        let Some(input) = inputs.iter().find(|i| i.name == name) else { continue };
        let (Some(dtype), Some(width)) = (input.dtype, input.width) else { continue };
        let shape: Vec<TDim> = if input.rank1 { vec![batch.to_dim()] } else { vec![batch.to_dim(), width.to_dim()] };
        model.set_input_fact(ix, InferenceFact::dt_shape(dtype.datum(), shape)).map_err(|e| model_err("inputs", e))?;
    }
    // Make every named tensor an output, so typing gives each its shape.
    let mut named: Vec<(String, OutletId)> = Vec::new();
    for name in &names {
        if let Some(&outlet) = parsed.outlets_by_name.get(name) {
            if !named.iter().any(|(_, o)| *o == outlet) {
                named.push((name.clone(), outlet));
            }
        }
    }
    let outlets: Vec<OutletId> = named.iter().map(|(_, o)| *o).collect();
    if let Err(e) = model.select_output_outlets(&outlets) {
        return Ok(untyped_outputs(format!("{e:#}")));
    }
    let typed = match model.into_typed() {
        Ok(t) => t,
        Err(e) => return Ok(untyped_outputs(format!("{e:#}"))),
    };
    let typed_outputs = typed.output_outlets().map_err(|e| model_err("outputs", e))?.to_vec();
    let batch_dim = batch.to_dim();
    let mut tensors: HashMap<String, GraphTensor> = HashMap::new();
    let mut keys = Vec::new();
    for ((name, _), outlet) in named.iter().zip(&typed_outputs) {
        let Ok(fact) = typed.outlet_fact(*outlet) else { continue };
        let dims: Vec<TDim> = fact.shape.iter().cloned().collect();
        let row = match dims.split_first() {
            Some((first, rest)) if *first == batch_dim => {
                rest.iter().try_fold(1usize, |acc, d| d.to_usize().ok().map(|d| acc.saturating_mul(d)))
            }
            _ => None,
        };
        let tensor = GraphTensor {
            name: name.clone(),
            op: op_of(name),
            elem: datum_name(fact.datum_type),
            shape: dims.iter().map(|d| d.to_string()).collect(),
            row,
        };
        if fact.datum_type == DatumType::F32 && row.is_some_and(|r| r > 0) {
            keys.push(tensor.clone());
        }
        tensors.insert(name.clone(), tensor);
    }
    let outputs = graph
        .output
        .iter()
        .map(|o| {
            tensors.get(&o.name).cloned().unwrap_or(GraphTensor {
                name: o.name.clone(),
                op: op_of(&o.name),
                elem: String::new(),
                shape: Vec::new(),
                row: None,
            })
        })
        .collect();
    Ok(Graph { inputs, outputs, keys, untyped: None })
}
