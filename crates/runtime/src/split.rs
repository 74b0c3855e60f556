//! The first-layer split: where a model's first layer is affine over
//! features that each come from one input column (embedding lookups, casts,
//! the float columns themselves), its pre-activation `z` is a sum of one
//! term per column, so a [catalog](crate::catalog) computes the item
//! columns' share once per entry and a call computes the context's share
//! once, leaving per row only an addition and the rest of the network.
//!
//! # The structural check ([`find`])
//! On the decluttered graph, every tensor that depends on the inputs is
//! classed, in graph order:
//! * *column-wise*: each value is a function of one input value of the same
//!   row (an input; a gather from a constant table by column-wise indices;
//!   a cast, an element-wise function or an operation with a constant of a
//!   column-wise tensor; reshapes and slices of one);
//! * *affine*: an affine function of column-wise values of the same row
//!   (a sum or difference of column-wise or affine tensors; an einsum or
//!   product with a constant; a concatenation);
//! * anything else ends the *head*, the region of those two classes.
//!
//! Every tensor of the head keeps the batch as its first axis, and no
//! operation of the head contracts, slices or concatenates along it, so a
//! row only ever sees its own inputs. The split applies when exactly one
//! head tensor `z` (affine, `[N, width]`, f32) feeds the rest of the
//! network, the *tail*; model outputs inside the head (a key made of
//! embeddings, say) come from a *key* plan of the head alone, which has no
//! matrix product when they are column-wise. Models that do not fit (a
//! factorisation machine's pairwise products, a first layer fed by two
//! tensors) keep the general path.
//!
//! # Why it is exact
//! With `z(x) = b + Σ_c f_c(x_c)` over the columns `c` of a row, an entry
//! `e` carrying the columns `C` and a context giving the others:
//! `z = A_e + (B_C − z(R))`, where `R` is a fixed reference row (each
//! column's lowest valid value), `A_e = z(e on C, R elsewhere)` is kept per
//! entry and `B_C = z(R on C, the context elsewhere)` is computed once per
//! call and group of entries carrying the same fields. Floats make it equal
//! up to rounding: `tests/split.rs` checks scores within 1e-5 of the
//! general path on the bundled model and on a model of another layout.

use std::collections::HashSet;

use reloop_core::{Error, Result};
use tract_onnx::prelude::{DatumType, OutletId, Symbol, TDim, TValue, ToDim, TypedFact, TypedModel};
use tract_onnx::tract_core::internal::{InOut, SpecialOps, TypedOp};
use tract_onnx::tract_core::ops::array::{Gather, Slice, TypedConcat};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::source::TypedSource;
use tract_onnx::tract_hir::internal::DimLike;

use crate::model::OwnedRows;
use crate::onnx::model_err;
use crate::plans::Plans;
use crate::workspace::InputFeed;

/// What a tensor is, as a function of its row's inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// Depends on no input.
    Const,
    /// Each value depends on one input value of the row.
    Columnwise,
    /// Affine in column-wise values of the row.
    Affine,
}

/// Where the split cuts a decluttered model.
#[derive(Debug)]
pub(crate) struct Cut {
    /// The first layer's pre-activation, `[N, width]`.
    z: OutletId,
    width: usize,
    /// Per model output: in the head (a key output) or in the tail.
    in_head: Vec<bool>,
}

/// Finds the cut of `model` (decluttered, batch `batch` first), if the
/// model fits the pattern of the module docs.
pub(crate) fn find(model: &TypedModel, batch: &TDim) -> Option<Cut> {
    let order = model.eval_order().ok()?;
    let inputs = model.input_outlets().ok()?;
    let mut class: Vec<Vec<Option<Class>>> = model.nodes().iter().map(|n| vec![None; n.outputs.len()]).collect();
    let get =
        |class: &[Vec<Option<Class>>], o: &OutletId| class.get(o.node).and_then(|c| c.get(o.slot)).copied().flatten();
    // Nodes depending on an input outside the head.
    let mut beyond: HashSet<usize> = HashSet::new();
    for &id in &order {
        let node = model.node(id);
        if inputs.iter().any(|i| i.node == id) {
            if node.op_is::<TypedSource>() {
                set(&mut class, id, Class::Columnwise);
            }
            continue;
        }
        if node.inputs.iter().any(|i| beyond.contains(&i.node)) {
            beyond.insert(id);
            continue;
        }
        let ins: Option<Vec<Class>> = node.inputs.iter().map(|i| get(&class, i)).collect();
        let Some(ins) = ins else {
            beyond.insert(id);
            continue;
        };
        if ins.iter().all(|c| *c == Class::Const) {
            set(&mut class, id, Class::Const);
            continue;
        }
        let facts = model.node_output_facts(id).ok()?;
        let batch_first = facts.iter().all(|f| f.shape.iter().next() == Some(batch));
        match classify(model, id, &ins, batch).filter(|_| batch_first) {
            Some(c) => set(&mut class, id, c),
            None => {
                beyond.insert(id);
            }
        }
    }
    // The head's tensors read by the tail: exactly one, affine, [N, width] of f32.
    let mut fed: Vec<OutletId> = Vec::new();
    for &id in &beyond {
        for input in &model.node(id).inputs {
            if matches!(get(&class, input), Some(Class::Columnwise | Class::Affine)) && !fed.contains(input) {
                fed.push(*input);
            }
        }
    }
    let [z] = fed[..] else { return None };
    if get(&class, &z) != Some(Class::Affine) {
        return None;
    }
    let fact = model.outlet_fact(z).ok()?;
    let dims: Vec<&TDim> = fact.shape.iter().collect();
    let width = match dims[..] {
        [n, w] if n == batch && fact.datum_type == DatumType::F32 => w.to_usize().ok()?,
        _ => return None,
    };
    let outputs = model.output_outlets().ok()?;
    let in_head: Vec<bool> = outputs.iter().map(|o| get(&class, o).is_some()).collect();
    // A constant output would need neither plan; the tail must compute something.
    if outputs.iter().any(|o| get(&class, o) == Some(Class::Const)) || in_head.iter().all(|h| *h) {
        return None;
    }
    Some(Cut { z, width, in_head })
}

fn set(class: &mut [Vec<Option<Class>>], id: usize, c: Class) {
    if let Some(slots) = class.get_mut(id) {
        slots.iter_mut().for_each(|s| *s = Some(c));
    }
}

/// The class of node `id`'s outputs given its inputs' (`ins`, not all
/// constant), or `None` if it ends the head.
fn classify(model: &TypedModel, id: usize, ins: &[Class], batch: &TDim) -> Option<Class> {
    let node = model.node(id);
    let widest = ins.iter().copied().max()?;
    let varying: Vec<usize> = (0..ins.len()).filter(|&k| ins[k] != Class::Const).collect();
    if node.op_is::<Gather>() {
        // A row of a constant table per index: column-wise in the indices.
        return (ins.len() == 2 && ins[0] == Class::Const && ins[1] == Class::Columnwise).then_some(Class::Columnwise);
    }
    if node.op_is::<Cast>() || node.op_is::<ElementWiseOp>() {
        return (widest == Class::Columnwise).then_some(Class::Columnwise);
    }
    if let Some(op) = node.op_as::<AxisOp>() {
        let keeps_batch = match op {
            AxisOp::Add(at) | AxisOp::Rm(at) => *at > 0,
            AxisOp::Move(from, to) => *from > 0 && *to > 0,
            AxisOp::Reshape(at, _, _) => *at > 0,
        };
        return keeps_batch.then_some(widest);
    }
    if let Some(slice) = node.op_as::<Slice>() {
        return (slice.axis > 0).then_some(widest);
    }
    if let Some(concat) = node.op_as::<TypedConcat>() {
        return (concat.axis > 0).then_some(widest);
    }
    if let Some(einsum) = node.op_as::<EinSum>() {
        // A product with a constant, keeping the batch axis in place.
        let [k] = varying[..] else { return None };
        let batch_kept = einsum
            .axes
            .axis((InOut::In(k), 0))
            .ok()
            .is_some_and(|axis| axis.outputs.first().is_some_and(|o| o.as_slice() == [0]));
        let input_batch = model.outlet_fact(*node.inputs.get(k)?).ok()?.shape.iter().next() == Some(batch);
        return (einsum.q_params.is_none() && ins.len() == 2 && batch_kept && input_batch).then_some(Class::Affine);
    }
    if let Some(TypedBinOp(mini, _)) = node.op_as::<TypedBinOp>() {
        let name = mini.name();
        return match varying[..] {
            // One varying operand: element-wise with a constant.
            [_] if widest == Class::Columnwise => Some(Class::Columnwise),
            [k] => match name {
                "Add" | "Sub" | "Mul" => Some(Class::Affine),
                "Div" if k == 0 => Some(Class::Affine),
                _ => None,
            },
            [_, _] => matches!(name, "Add" | "Sub").then_some(Class::Affine),
            _ => None,
        };
    }
    None
}

/// The three plans of a split model and how their outputs make the model's.
#[derive(Debug)]
pub(crate) struct Split {
    /// Inputs → `z`.
    pub(crate) head: Plans,
    /// `z` → the tail's outputs.
    pub(crate) tail: Plans,
    /// Inputs → the model outputs inside the head, if any.
    pub(crate) key: Option<Plans>,
    /// Width of `z`.
    pub(crate) width: usize,
    /// The tail's one input.
    pub(crate) tail_feed: [InputFeed; 1],
    /// Per model output: `(true, i)` the key plan's output `i`, `(false, i)` the tail's.
    sources: Vec<(bool, usize)>,
    /// `z` of the reference row.
    pub(crate) reference: Vec<f32>,
    /// The reference row itself (each column at the lowest value its field
    /// writes), the base of every row the head runs on.
    pub(crate) reference_row: OwnedRows,
}

impl Split {
    /// Builds the plans of `cut` over `model` (decluttered, batch `batch`).
    pub(crate) fn new(model: &TypedModel, cut: &Cut, batch: &Symbol) -> Result<Split> {
        let err = |e| model_err("onnx: cannot split the first layer", e);
        let head = model.clone().with_output_outlets(&[cut.z]).and_then(TypedModel::into_decluttered).map_err(err)?;
        let outputs = model.output_outlets().map_err(err)?.to_vec();
        let key_outlets: Vec<OutletId> =
            outputs.iter().zip(&cut.in_head).filter(|(_, h)| **h).map(|(o, _)| *o).collect();
        let tail_outlets: Vec<OutletId> =
            outputs.iter().zip(&cut.in_head).filter(|(_, h)| !**h).map(|(o, _)| *o).collect();
        let key = if key_outlets.is_empty() {
            None
        } else {
            let key = model.clone().with_output_outlets(&key_outlets).and_then(TypedModel::into_decluttered);
            Some(Plans::new(key.map_err(err)?, batch.clone())?)
        };
        let tail = tail_of(model, cut, &tail_outlets, batch).map_err(err)?;
        let (mut k, mut t) = (0, 0);
        let sources = cut
            .in_head
            .iter()
            .map(|&h| {
                let at = if h { &mut k } else { &mut t };
                *at += 1;
                (h, *at - 1)
            })
            .collect();
        Ok(Split {
            head: Plans::new(head, batch.clone())?,
            tail: Plans::new(tail, batch.clone())?,
            key,
            width: cut.width,
            tail_feed: [InputFeed { spec_index: 0, dtype: crate::spec::DType::F32, width: cut.width, rank1: false }],
            sources,
            reference: Vec::new(),
            reference_row: OwnedRows(Vec::new()),
        })
    }

    /// The model's outputs, in its order, from the tail's and the key plan's.
    pub(crate) fn outputs(&self, tail: &[TValue], key: &[TValue]) -> Result<Vec<TValue>> {
        self.sources
            .iter()
            .map(|&(in_key, i)| {
                let from = if in_key { key } else { tail };
                from.get(i).cloned().ok_or_else(|| Error::model("split: an output is missing"))
            })
            .collect()
    }
}

/// The tail as a model of its own: `z` as its one input, every node after
/// it (and the constants they read) copied in graph order.
fn tail_of(
    model: &TypedModel,
    cut: &Cut,
    outputs: &[OutletId],
    batch: &Symbol,
) -> tract_onnx::prelude::TractResult<TypedModel> {
    // The nodes the outputs need, stopping at z.
    let mut needed: HashSet<usize> = HashSet::new();
    let mut stack: Vec<OutletId> = outputs.to_vec();
    while let Some(o) = stack.pop() {
        if o == cut.z || !needed.insert(o.node) {
            continue;
        }
        let node = model.node(o.node);
        if node.op_is::<TypedSource>() {
            tract_onnx::tract_core::internal::bail!("the tail reads an input besides the first layer");
        }
        stack.extend(node.inputs.iter().copied());
    }
    let mut tail = TypedModel { symbols: model.symbols.clone(), ..TypedModel::default() };
    let z = tail.add_source("z", TypedFact::dt_shape(DatumType::F32, [batch.to_dim(), cut.width.to_dim()]))?;
    let mut mapped: std::collections::HashMap<OutletId, OutletId> = std::collections::HashMap::new();
    mapped.insert(cut.z, z);
    for id in model.eval_order()? {
        if !needed.contains(&id) {
            continue;
        }
        let node = model.node(id);
        let inputs: Vec<OutletId> =
            node.inputs.iter().map(|i| mapped.get(i).copied()).collect::<Option<_>>().ok_or_else(|| {
                tract_onnx::tract_core::internal::format_err!("node {} reads a tensor outside the tail", node.name)
            })?;
        let op: Box<dyn TypedOp> = node.op.clone();
        let wired = tail.wire_node(&node.name, op, &inputs)?;
        for (slot, outlet) in wired.into_iter().enumerate() {
            mapped.insert(OutletId::new(id, slot), outlet);
        }
    }
    let outs: Vec<OutletId> = outputs
        .iter()
        .map(|o| mapped.get(o).copied())
        .collect::<Option<_>>()
        .ok_or_else(|| tract_onnx::tract_core::internal::format_err!("an output is outside the tail"))?;
    tail.select_output_outlets(&outs)?;
    tail.into_decluttered()
}
