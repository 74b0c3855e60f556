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
//! network, the *tail*. Model outputs inside the head (a key made of
//! embeddings, say; f32, `[N, ...]`) are outputs of the head too, and an
//! entry keeps its share of them as it does of `z`, so a call runs no plan
//! on the entries' rows at all. Models that do not fit (a factorisation
//! machine's pairwise products, a first layer fed by two tensors) keep the
//! general path.
//!
//! # Why it is exact
//! With `z(x) = b + Σ_c f_c(x_c)` over the columns `c` of a row, an entry
//! `e` carrying the columns `C` and a context giving the others:
//! `z = A_e + (B_C − z(R))`, where `R` is a fixed reference row (each
//! column's lowest valid value), `A_e = z(e on C, R elsewhere)` is kept per
//! entry and `B_C = z(R on C, the context elsewhere)` is computed once per
//! call and group of entries carrying the same fields. Where `B_C` equals
//! `z(R)` the sum is `A_e`, and where `A_e` does, `B_C`: those are taken
//! as they are ([`combine`]), so a value that depends on one column only (a
//! key made of embeddings and the inputs) is exactly the general path's.
//! Elsewhere floats make it equal up to rounding: `tests/split.rs` checks
//! scores within 1e-5 of the general path on the bundled model and on a
//! model of another layout, and the bundled model's keys bit for bit.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::OnceLock;

use reloop_core::{Error, Result};
use tract_onnx::prelude::{
    DatumType, IntoTValue, OutletId, Symbol, TDim, TValue, Tensor, ToDim, TypedFact, TypedModel,
};
use tract_onnx::tract_core::internal::{InOut, SpecialOps, TypedOp};
use tract_onnx::tract_core::ops::array::{Gather, Slice, TypedConcat};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;
use tract_onnx::tract_core::ops::source::TypedSource;
use tract_onnx::tract_hir::internal::DimLike;

use crate::column_shares::ColumnShares;
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
    /// Per key output (the outputs in the head, in order): its shape after
    /// the batch axis.
    key_shapes: Vec<Vec<usize>>,
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
    // Key outputs are kept per entry as f32 rows of a fixed size.
    let mut key_shapes = Vec::new();
    for (o, _) in outputs.iter().zip(&in_head).filter(|(_, h)| **h) {
        let fact = model.outlet_fact(*o).ok()?;
        let mut dims = fact.shape.iter();
        if fact.datum_type != DatumType::F32 || dims.next() != Some(batch) {
            return None;
        }
        key_shapes.push(dims.map(|d| d.to_usize().ok()).collect::<Option<Vec<usize>>>()?);
    }
    Some(Cut { z, width, in_head, key_shapes })
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

/// The two plans of a split model and how their outputs make the model's.
///
/// A *share* is what the head gives for one row: `z` (`width` values),
/// then each key output's row, flattened (`key_width` values in all).
#[derive(Debug)]
pub(crate) struct Split {
    /// Inputs → `z` and the model outputs inside the head (the key outputs).
    pub(crate) head: Plans,
    /// `z` → the tail's outputs.
    pub(crate) tail: Plans,
    /// Width of `z`.
    pub(crate) width: usize,
    /// Per key output: its shape after the batch axis.
    key_shapes: Vec<Vec<usize>>,
    /// Values of all key outputs in one row.
    pub(crate) key_width: usize,
    /// The tail's one input.
    pub(crate) tail_feed: [InputFeed; 1],
    /// Per model output: `(true, i)` key output `i`, `(false, i)` the tail's output `i`.
    sources: Vec<(bool, usize)>,
    /// The share of the reference row.
    pub(crate) reference: Vec<f32>,
    /// The reference row itself (each column at the lowest value its field
    /// writes), the base of every row the head runs on.
    pub(crate) reference_row: OwnedRows,
    /// The unit shares for items scored as they are, made when they are
    /// first needed ([`crate::column_shares`]).
    pub(crate) column_shares: OnceLock<Option<ColumnShares>>,
}

impl Split {
    /// Builds the plans of `cut` over `model` (decluttered, batch `batch`).
    pub(crate) fn new(model: &TypedModel, cut: &Cut, batch: &Symbol) -> Result<Split> {
        let err = |e| model_err("onnx: cannot split the first layer", e);
        let outputs = model.output_outlets().map_err(err)?.to_vec();
        let key_outlets = outputs.iter().zip(&cut.in_head).filter(|(_, h)| **h).map(|(o, _)| *o);
        let head_outlets: Vec<OutletId> = std::iter::once(cut.z).chain(key_outlets).collect();
        let head =
            model.clone().with_output_outlets(&head_outlets).and_then(TypedModel::into_decluttered).map_err(err)?;
        let tail_outlets: Vec<OutletId> =
            outputs.iter().zip(&cut.in_head).filter(|(_, h)| !**h).map(|(o, _)| *o).collect();
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
            width: cut.width,
            key_width: cut.key_shapes.iter().map(|s| s.iter().product::<usize>()).sum(),
            key_shapes: cut.key_shapes.clone(),
            tail_feed: [InputFeed { spec_index: 0, dtype: crate::spec::DType::F32, width: cut.width, rank1: false }],
            sources,
            reference: Vec::new(),
            reference_row: OwnedRows(Vec::new()),
            column_shares: OnceLock::new(),
        })
    }

    /// Where values `values` of a row of model output `output` lie in a
    /// share's key part, if the output is inside the head (a key output).
    pub(crate) fn key_range(&self, output: usize, values: Range<usize>) -> Option<Range<usize>> {
        let &(in_key, k) = self.sources.get(output)?;
        let shapes = self.key_shapes.get(..=k).filter(|_| in_key)?;
        let widths = shapes.iter().map(|s| s.iter().product::<usize>());
        let (before, width) = widths.fold((0, 0), |(at, w), next| (at + w, next));
        (values.start <= values.end && values.end <= width).then(|| before + values.start..before + values.end)
    }

    /// Which of the tail's outputs model output `output` is, if the tail computes it.
    pub(crate) fn tail_output(&self, output: usize) -> Option<usize> {
        self.sources.get(output).and_then(|&(in_key, i)| (!in_key).then_some(i))
    }

    /// Values of one share: `z` and the key outputs' row.
    pub(crate) fn share_width(&self) -> usize {
        self.width + self.key_width
    }

    /// A share (`share_width` values, or the reference row's) as its `z`
    /// and key parts.
    pub(crate) fn parts<'a>(&self, share: &'a [f32]) -> (&'a [f32], &'a [f32]) {
        share.split_at(self.width.min(share.len()))
    }

    /// The head's outputs for `rows` rows as shares, row after row.
    ///
    /// # Errors
    /// [`reloop_core::ErrorKind::Model`] if an output is missing or has
    /// another size or type.
    pub(crate) fn shares(&self, outputs: &[TValue], rows: usize) -> Result<Vec<f32>> {
        let widths = std::iter::once(self.width).chain(self.key_shapes.iter().map(|s| s.iter().product()));
        let mut parts = Vec::with_capacity(self.key_shapes.len() + 1);
        for (k, w) in widths.enumerate() {
            let t = outputs.get(k).ok_or_else(|| Error::model("split: the head has too few outputs"))?;
            let values =
                t.try_as_plain_ram().and_then(|plain| plain.as_slice::<f32>()).map_err(|e| model_err("split", e))?;
            if values.len() != rows * w {
                return Err(Error::model(format!("split: the head gave {} values for {rows} rows", values.len())));
            }
            parts.push((values, w));
        }
        let mut out = Vec::with_capacity(rows * self.share_width());
        for row in 0..rows {
            for (values, w) in &parts {
                out.extend_from_slice(values.get(row * w..(row + 1) * w).unwrap_or_default());
            }
        }
        Ok(out)
    }

    /// The model's outputs, in its order, from the tail's and from `key`
    /// (`rows` rows of `key_width` values: the key part of each row's share).
    ///
    /// # Errors
    /// [`reloop_core::ErrorKind::Model`] if an output is missing or `key`
    /// has another size.
    pub(crate) fn outputs(&self, tail: &[TValue], key: &[f32], rows: usize) -> Result<Vec<TValue>> {
        if key.len() != rows * self.key_width {
            return Err(Error::model("split: key rows of another size"));
        }
        let mut keys = Vec::with_capacity(self.key_shapes.len());
        let mut at = 0;
        for shape in &self.key_shapes {
            let w: usize = shape.iter().product();
            let mut values = Vec::with_capacity(rows * w);
            for row in 0..rows {
                let start = row * self.key_width + at;
                values.extend_from_slice(key.get(start..start + w).unwrap_or_default());
            }
            let dims: Vec<usize> = std::iter::once(rows).chain(shape.iter().copied()).collect();
            let t = Tensor::from_shape(&dims, &values).map_err(|e| model_err("split", e))?;
            keys.push(t.into_tvalue());
            at += w;
        }
        self.sources
            .iter()
            .map(|&(in_key, i)| {
                let from = if in_key { &keys } else { tail };
                from.get(i).cloned().ok_or_else(|| Error::model("split: an output is missing"))
            })
            .collect()
    }
}

/// A row's share (or a part of it) into `to`, value by value, from the
/// entry's kept share, the call's share and the reference row's ([`combine`]).
pub(crate) fn combine_into(to: &mut [f32], kept: &[f32], call: &[f32], reference: &[f32]) {
    for (((t, &a), &b), &r) in to.iter_mut().zip(kept).zip(call).zip(reference) {
        *t = combine(a, b, r);
    }
}

/// One value of a row's share from the entry's kept share `a`, the call's
/// share `b` (the context, with the reference row in the entry's columns)
/// and the reference row's `r`: `a + (b − r)`, taken exactly where one side
/// equals the reference (then the value does not depend on that side's
/// columns).
/// Written as selects over values all computed, with no branch, so the
/// loop of [`combine_into`] vectorises.
#[inline]
pub(crate) fn combine(a: f32, b: f32, r: f32) -> f32 {
    let sum = a + (b - r);
    let unless_a = if a.to_bits() == r.to_bits() { b } else { sum };
    if b.to_bits() == r.to_bits() { a } else { unless_a }
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
