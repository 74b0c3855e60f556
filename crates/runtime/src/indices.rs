//! Index ranges: which tables each field's indices reach, and whether they
//! fit, checked when a model is loaded.
//!
//! tract reads a `Gather`, `GatherElements` or `OneHot` index outside its
//! table as an out-of-bounds slice access: a panic, which in wasm aborts the
//! instance (and every session in it). The spec bounds every index a field
//! can write ([`crate::spec::FieldSpec::value_range`]: vocabulary,
//! out-of-vocabulary, hashing, padding, bucketizing), so the check follows
//! each input column through the typed graph — casts, identities, axis
//! changes, column slices and selections, concatenation, and adding,
//! subtracting, clamping by constants (per-column embedding offsets, as a
//! PyTorch DeepFM exports them) — to the indices of those operators, and
//! compares the range with the axis it indexes. A field that can reach past
//! a table is an [`ErrorKind::Model`](reloop_core::ErrorKind::Model) error
//! naming the field; so is a numeric field (unbounded) used as an index.
//!
//! What the analysis cannot follow (any other operator) ends the trail
//! without an error: values computed by the model itself are the model's
//! business. Ranges widened by a constant it cannot line up with columns are
//! reported but not refused ([`IndexUse::exact`] is false).

use std::collections::HashMap;

use reloop_core::{Error, Result};
use tract_onnx::prelude::{OutletId, Tensor, TypedModel};
use tract_onnx::tract_core::ops::array::{Gather, GatherElements, OneHot, Slice, StridedSlice, TypedConcat};
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::Cast;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::identity::Identity;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_hir::internal::DimLike;

use crate::spec::ModelSpec;

/// One field's indices reaching one indexing operator.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexUse {
    /// The field.
    pub field: String,
    /// The smallest and largest value it can write there (after the
    /// graph's own offsets); `None` for a numeric field (unbounded).
    pub range: Option<(i64, i64)>,
    /// The indexing node (`Gather`, `GatherElements` or `OneHot`).
    pub node: String,
    /// The table it indexes: the data tensor's node (the depth for `OneHot`).
    pub table: String,
    /// The size of the indexed axis: valid indices are `-rows..rows`.
    /// `None` when the axis has no fixed size (it grows with the batch, as
    /// when a graph edit points a lookup at a computed tensor): no index is
    /// known to fit, so the use is refused.
    pub rows: Option<usize>,
    /// Whether `range` is exact; a range widened by a constant the analysis
    /// could not line up with the columns is only reported.
    pub exact: bool,
}

impl IndexUse {
    /// Whether every value the field can write fits the axis.
    pub fn fits(&self) -> bool {
        let Some(rows) = self.rows else { return false };
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        self.range.is_some_and(|(lo, hi)| lo >= -rows && hi < rows)
    }

    /// Whether this use makes the model unsafe to run: an exact range past
    /// the axis, an unbounded (numeric) field, or any field reaching an axis
    /// of no fixed size.
    pub fn refused(&self) -> bool {
        self.rows.is_none() || (self.exact && !self.fits())
    }

    /// The error loading refuses it with, in the spec's words.
    pub fn error(&self) -> Error {
        let Some(rows) = self.rows else {
            return Error::model(format!(
                "fields.{}: reaches the indices of `{}` (node `{}`) along an axis whose size is not fixed (it \
                 depends on the batch), so no index is known to fit; a field may only index a table of fixed size",
                self.field, self.table, self.node
            ));
        };
        let place = format!(
            "`{}` (node `{}`, {rows} rows: indices 0..={})",
            self.table,
            self.node,
            rows.saturating_sub(1) as i64
        );
        match self.range {
            None => Error::model(format!(
                "fields.{}: a numeric field reaches the indices of {place}; numbers are unbounded, so one past the table \
                 would abort the model. Encode it as bucketized or categorical",
                self.field
            )),
            Some((lo, hi)) => Error::model(format!(
                "fields.{}: writes indices {lo}..={hi}, which reach {place}; raise the table or change the field's \
                 vocabulary, oovIndex, hashBuckets/hashOffset, padIndex, offset or outOfRange",
                self.field
            )),
        }
    }
}

/// What may be in one place of a tensor: values of a field in `lo..=hi`
/// (`i64::MIN`/`i64::MAX` for no bound: a numeric field).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Atom {
    field: usize,
    lo: i64,
    hi: i64,
    exact: bool,
}

/// What is known about a tensor that carries field values.
#[derive(Clone, Debug)]
enum Flow {
    /// Position `j` along `axis` holds `cols[j]` (empty: no field's values).
    Columns { axis: usize, cols: Vec<Vec<Atom>> },
    /// Any position may hold any of these.
    Mixed(Vec<Atom>),
}

impl Flow {
    fn atoms(&self) -> Vec<Atom> {
        match self {
            Flow::Columns { cols, .. } => merge(cols.iter().flatten().copied()),
            Flow::Mixed(atoms) => atoms.clone(),
        }
    }

    fn mixed(&self) -> Flow {
        Flow::Mixed(self.atoms())
    }

    fn map(&self, f: impl Fn(Atom) -> Atom) -> Flow {
        match self {
            Flow::Columns { axis, cols } => {
                Flow::Columns { axis: *axis, cols: cols.iter().map(|c| c.iter().copied().map(&f).collect()).collect() }
            }
            Flow::Mixed(atoms) => Flow::Mixed(atoms.iter().copied().map(f).collect()),
        }
    }
}

/// One atom per field: ranges joined, exact only if all were.
fn merge(atoms: impl Iterator<Item = Atom>) -> Vec<Atom> {
    let mut out: Vec<Atom> = Vec::new();
    for a in atoms {
        match out.iter_mut().find(|o| o.field == a.field) {
            Some(o) => {
                o.lo = o.lo.min(a.lo);
                o.hi = o.hi.max(a.hi);
                o.exact &= a.exact;
            }
            None => out.push(a),
        }
    }
    out
}

/// A constant's values (as `f64`) and its shape, seen through axis changes
/// and casts of a `Const`.
fn constant(model: &TypedModel, outlet: OutletId) -> Option<(Vec<f64>, Vec<usize>)> {
    let fact = model.outlet_fact(outlet).ok()?;
    let shape: Vec<usize> = fact.shape.iter().map(|d| d.to_usize().ok()).collect::<Option<_>>()?;
    let values = |t: &Tensor| -> Option<Vec<f64>> {
        let t = t.cast_to::<f64>().ok()?;
        t.try_as_plain_ram().ok()?.as_slice::<f64>().ok().map(<[f64]>::to_vec)
    };
    if let Some(k) = &fact.konst {
        return Some((values(k)?, shape));
    }
    let node = model.node(outlet.node);
    if let Some(k) = node.op_as::<Const>() {
        return Some((values(k.val())?, shape));
    }
    let through = node.op_as::<AxisOp>().is_some_and(|op| !matches!(op, AxisOp::Move(..)))
        || node.op_is::<Cast>()
        || node.op_is::<Identity>();
    if through && node.inputs.len() == 1 {
        let (v, _) = constant(model, node.inputs[0])?;
        return (v.len() == shape.iter().product::<usize>()).then_some((v, shape));
    }
    None
}

fn integral(v: &[f64]) -> bool {
    v.iter().all(|x| x.fract() == 0.0 && x.abs() < 9.0e15)
}

/// The range of `x op c` for `x` in `lo..=hi` and `c` in `lo_c..=hi_c`
/// (`op` one of [`FOLLOWED_BINARY`]; `Sub` with `x` first).
fn apply(op: &str, (lo, hi): (i64, i64), lo_c: i64, hi_c: i64) -> (i64, i64) {
    let unbounded = |v: i64| v == i64::MIN || v == i64::MAX;
    let add = |v: i64, c: i64| if unbounded(v) { v } else { v.saturating_add(c) };
    match op {
        "Add" => (add(lo, lo_c), add(hi, hi_c)),
        "Sub" => (add(lo, hi_c.saturating_neg()), add(hi, lo_c.saturating_neg())),
        "Max" => (lo.max(lo_c), hi.max(hi_c)),
        _ => (lo.min(lo_c), hi.min(hi_c)),
    }
}

/// The binary operators with a constant the analysis follows.
const FOLLOWED_BINARY: [&str; 4] = ["Add", "Sub", "Max", "Min"];

/// Follows every input column of `spec` through `model` (typed, not yet
/// decluttered), returning each field's use as an index. `sources` maps the
/// model's input outlets to spec input positions.
pub(crate) fn index_uses(model: &TypedModel, spec: &ModelSpec, sources: &[(OutletId, usize)]) -> Vec<IndexUse> {
    let names: Vec<&String> = spec.fields.keys().collect();
    let index_of = |name: &str| names.iter().position(|n| n.as_str() == name);
    let mut flows: HashMap<OutletId, Flow> = HashMap::new();
    for &(outlet, k) in sources {
        let Some(input) = spec.inputs.get(k) else { continue };
        let mut cols = Vec::new();
        for column in &input.columns {
            let (Some(field), Some(f)) = (index_of(column), spec.fields.get(column)) else { continue };
            let (lo, hi) = f.value_range().unwrap_or((i64::MIN, i64::MAX));
            let atom = Atom { field, lo, hi, exact: true };
            cols.extend(std::iter::repeat_n(vec![atom], f.width()));
        }
        let rank = model.outlet_fact(outlet).map_or(2, |f| f.rank());
        let flow =
            if rank == 2 { Flow::Columns { axis: 1, cols } } else { Flow::Mixed(merge(cols.into_iter().flatten())) };
        flows.insert(outlet, flow);
    }
    let mut uses: Vec<IndexUse> = Vec::new();
    let Ok(order) = model.eval_order() else { return uses };
    for id in order {
        let node = model.node(id);
        let inflow: Vec<Option<&Flow>> = node.inputs.iter().map(|o| flows.get(o)).collect();
        if inflow.iter().all(Option::is_none) {
            continue;
        }
        // `None`: no such axis to check; `Some(None)`: its size is not fixed.
        let rows_of = |input: usize, axis: usize| -> Option<Option<usize>> {
            let fact = model.outlet_fact(*node.inputs.get(input)?).ok()?;
            Some(fact.shape.get(axis)?.to_usize().ok())
        };
        // Typing names an initializer `name.0`; the ONNX's own name is clearer.
        let table_of = |input: usize| -> String {
            node.inputs.get(input).map_or_else(String::new, |o| {
                let n = model.node(o.node);
                let name = n.name.as_str();
                if n.op_is::<Const>() { name.strip_suffix(".0").unwrap_or(name) } else { name }.to_string()
            })
        };
        let mut record = |flow: &Flow, rows: Option<Option<usize>>, table: String| {
            let Some(rows) = rows else { return };
            for a in flow.atoms() {
                let range = (a.lo != i64::MIN && a.hi != i64::MAX).then_some((a.lo, a.hi));
                uses.push(IndexUse {
                    field: names.get(a.field).map_or_else(String::new, |n| (*n).clone()),
                    range,
                    node: node.name.clone(),
                    table: table.clone(),
                    rows,
                    exact: a.exact,
                });
            }
        };
        let out: Option<Flow> = if let Some(g) = node.op_as::<Gather>() {
            if let Some(Some(indices)) = inflow.get(1) {
                record(indices, rows_of(0, g.axis), table_of(0));
                None
            } else if let Some(Some(data)) = inflow.first() {
                gather_columns(model, node.inputs.get(1).copied(), g.axis, data)
            } else {
                None
            }
        } else if let Some(g) = node.op_as::<GatherElements>() {
            if let Some(Some(indices)) = inflow.get(1) {
                record(indices, rows_of(0, g.axis), table_of(0));
            }
            None
        } else if let Some(h) = node.op_as::<OneHot>() {
            if let Some(Some(indices)) = inflow.first() {
                record(indices, Some(Some(h.dim)), format!("{} (depth)", node.name));
            }
            None
        } else if node.op_is::<Cast>() || node.op_is::<Identity>() {
            inflow.first().copied().flatten().cloned()
        } else if let Some(op) = node.op_as::<AxisOp>() {
            inflow.first().copied().flatten().map(|f| axis_change(op, f))
        } else if let Some(s) = node.op_as::<Slice>() {
            inflow.first().copied().flatten().map(|f| match f {
                Flow::Columns { axis, cols } if *axis == s.axis => match (s.start.to_usize(), s.end.to_usize()) {
                    (Ok(from), Ok(to)) => Flow::Columns {
                        axis: *axis,
                        cols: cols.get(from.min(cols.len())..to.min(cols.len())).unwrap_or_default().to_vec(),
                    },
                    _ => f.mixed(),
                },
                other => other.clone(),
            })
        } else if let Some(op) = node.op_as::<StridedSlice>() {
            inflow.first().copied().flatten().map(|f| strided_slice(model, &node.inputs, op, f))
        } else if let Some(c) = node.op_as::<TypedConcat>() {
            concat(model, &node.inputs, &inflow, c.axis)
        } else if let Some(b) = node.op_as::<TypedBinOp>() {
            binary(model, &node.inputs, &inflow, b.0.name())
        } else {
            None
        };
        if let Some(flow) = out {
            if node.outputs.len() == 1 {
                flows.insert(OutletId::new(id, 0), flow);
            }
        }
    }
    uses
}

/// Checks the uses, refusing the first that does not fit.
pub(crate) fn check(uses: &[IndexUse]) -> Result<()> {
    match uses.iter().find(|u| u.refused()) {
        Some(u) => Err(u.error()),
        None => Ok(()),
    }
}

/// A `Gather` selecting from a tensor of field values with constant indices.
fn gather_columns(model: &TypedModel, indices: Option<OutletId>, axis: usize, data: &Flow) -> Option<Flow> {
    let Flow::Columns { axis: col_axis, cols } = data else { return Some(data.clone()) };
    let konst = indices.and_then(|o| constant(model, o));
    let rank = indices.and_then(|o| model.outlet_fact(o).ok()).map(|f| f.rank());
    if axis != *col_axis {
        // Rows of another axis: the columns stay, their axis moves by the
        // indices' rank minus the removed axis.
        let irank = rank?;
        let new_axis = if axis < *col_axis { col_axis + irank - 1 } else { *col_axis };
        return Some(Flow::Columns { axis: new_axis, cols: cols.clone() });
    }
    let Some((values, shape)) = konst else { return Some(data.mixed()) };
    let n = i64::try_from(cols.len()).ok()?;
    let picked: Option<Vec<Vec<Atom>>> = values
        .iter()
        .map(|&v| {
            let i = v as i64;
            let i = if i < 0 { i + n } else { i };
            usize::try_from(i).ok().and_then(|i| cols.get(i)).cloned()
        })
        .collect();
    let picked = picked?;
    Some(match shape.len() {
        0 => Flow::Mixed(picked.into_iter().next().unwrap_or_default()),
        1 => Flow::Columns { axis, cols: picked },
        _ => Flow::Mixed(merge(picked.into_iter().flatten())),
    })
}

/// ONNX `Slice` with constant starts, ends and axes (steps 1): the columns
/// between them, or the same columns if another axis is sliced.
fn strided_slice(model: &TypedModel, inputs: &[OutletId], op: &StridedSlice, flow: &Flow) -> Flow {
    let Flow::Columns { axis, cols } = flow else { return flow.clone() };
    let value = |i: Option<usize>| i.and_then(|i| inputs.get(i)).and_then(|o| constant(model, *o)).map(|(v, _)| v);
    let (Some(begins), Some(ends)) = (value(Some(1)), value(Some(2))) else { return flow.mixed() };
    let axes = match op.optional_axes_input {
        Some(i) => value(Some(i)),
        None => Some((0..begins.len()).map(|a| a as f64).collect()),
    };
    let steps_one = op.optional_steps_input.is_none_or(|i| value(Some(i)).is_some_and(|s| s.iter().all(|v| *v == 1.0)));
    let (Some(axes), true, 0, 0, 0) = (axes, steps_one, op.begin_mask, op.end_mask, op.shrink_axis_mask) else {
        return flow.mixed();
    };
    let rank = model.outlet_fact(inputs[0]).map_or(0, |f| f.rank()) as f64;
    let n = cols.len() as f64;
    let mut out = cols.clone();
    for ((a, b), e) in axes.iter().zip(&begins).zip(&ends) {
        let a = if *a < 0.0 { a + rank } else { *a };
        if a as usize != *axis {
            continue;
        }
        let clamp = |v: f64| (if v < 0.0 { v + n } else { v }).clamp(0.0, n) as usize;
        let (from, to) = (clamp(*b), clamp(*e));
        out = cols.get(from..to.max(from)).unwrap_or_default().to_vec();
    }
    Flow::Columns { axis: *axis, cols: out }
}

fn axis_change(op: &AxisOp, flow: &Flow) -> Flow {
    let Flow::Columns { axis, cols } = flow else { return flow.clone() };
    let axis = *axis;
    match op {
        AxisOp::Add(a) => Flow::Columns { axis: if *a <= axis { axis + 1 } else { axis }, cols: cols.clone() },
        AxisOp::Rm(a) if *a < axis => Flow::Columns { axis: axis - 1, cols: cols.clone() },
        AxisOp::Rm(a) if *a > axis => flow.clone(),
        AxisOp::Reshape(at, _, _) if *at > axis => flow.clone(),
        AxisOp::Reshape(at, from, to) if at + from.len() <= axis => {
            Flow::Columns { axis: axis + to.len() - from.len(), cols: cols.clone() }
        }
        _ => flow.mixed(),
    }
}

fn concat(model: &TypedModel, inputs: &[OutletId], inflow: &[Option<&Flow>], axis: usize) -> Option<Flow> {
    let mut cols: Vec<Vec<Atom>> = Vec::new();
    for (outlet, flow) in inputs.iter().zip(inflow) {
        match flow {
            Some(Flow::Columns { axis: a, cols: c }) if *a == axis => cols.extend(c.iter().cloned()),
            Some(_) => return Some(Flow::Mixed(merge(inflow.iter().flatten().flat_map(|f| f.atoms())))),
            None => {
                let width = model.outlet_fact(*outlet).ok()?.shape.get(axis)?.to_usize().ok();
                match width {
                    Some(w) => cols.extend(std::iter::repeat_n(Vec::new(), w)),
                    None => return Some(Flow::Mixed(merge(inflow.iter().flatten().flat_map(|f| f.atoms())))),
                }
            }
        }
    }
    Some(Flow::Columns { axis, cols })
}

/// `Add`, `Sub`, `Max`, `Min` of a tensor of field values and a constant.
fn binary(model: &TypedModel, inputs: &[OutletId], inflow: &[Option<&Flow>], op: &str) -> Option<Flow> {
    let (flow, konst, swapped) = match (inflow.first().copied().flatten(), inflow.get(1).copied().flatten()) {
        (Some(f), None) => (f, *inputs.get(1)?, false),
        (None, Some(f)) => (f, *inputs.first()?, true),
        _ => return None,
    };
    if !FOLLOWED_BINARY.contains(&op) || (swapped && op == "Sub") {
        return None;
    }
    let (values, shape) = constant(model, konst)?;
    if values.is_empty() || !integral(&values) {
        return None;
    }
    let ints: Vec<i64> = values.iter().map(|v| *v as i64).collect();
    let lo_c = ints.iter().copied().min()?;
    let hi_c = ints.iter().copied().max()?;
    let each = |a: Atom, lo: i64, hi: i64, exact: bool| {
        let (lo, hi) = apply(op, (a.lo, a.hi), lo, hi);
        Atom { field: a.field, lo, hi, exact: a.exact && exact }
    };
    if lo_c == hi_c {
        // One value everywhere: exact for every position.
        return Some(flow.map(|a| each(a, lo_c, hi_c, true)));
    }
    if let Flow::Columns { axis, cols } = flow {
        // A constant laid along the columns' axis (1 on every other axis).
        let rank = model.outlet_fact(*inputs.first()?).ok()?.rank();
        let pad = rank.checked_sub(shape.len())?;
        let along = shape.iter().enumerate().all(|(i, &d)| if i + pad == *axis { d == cols.len() } else { d == 1 });
        if along && pad <= *axis {
            let cols = cols.iter().zip(&ints).map(|(c, &v)| c.iter().map(|&a| each(a, v, v, true)).collect()).collect();
            return Some(Flow::Columns { axis: *axis, cols });
        }
    }
    Some(Flow::Mixed(flow.atoms().into_iter().map(|a| each(a, lo_c, hi_c, false)).collect()))
}
