//! The base model runtime (the slow learner): an ONNX CTR model loaded from
//! bytes with tract-onnx, fed by the [feature encoder](crate::encoder),
//! giving per row the click probability `y_base` and the hidden key vector
//! `h` the error memory hashes (DESIGN §2).
//!
//! Lifecycle: [`Model::load`] decodes the ONNX (no file system: bytes only,
//! external tensor data is refused), checks it against the
//! [spec](crate::spec), fixes each input's fact to `[N, width]` with a
//! symbolic batch `N`, makes the two outputs named in the spec the graph's
//! outputs — the hidden one may be any intermediate tensor or node, which is
//! exposed before optimising — optimises once and keeps the runnable plan.
//! A [`Model`] is an `Arc`: cloning and sharing it across sessions and
//! threads is free and never reloads.
//!
//! Per call: the items are encoded straight into reused input tensors, the
//! plan runs in a reused tract state (a small pool of them, so concurrent
//! callers do not serialise), and the outputs are copied into the caller's
//! [`ModelOutput`]. The general plan has a symbolic batch, so any batch size
//! runs at once; a size that is run again gets a plan fixed to it, which
//! tract optimises further (see [`crate::plans`]).
//!
//! tract errors are converted, with their context chain, into
//! [`ErrorKind::Model`](reloop_core::ErrorKind::Model) ([`crate::onnx`]).
//!
//! # Examples
//! ```no_run
//! use reloop_runtime::{Item, Model, ModelOutput};
//! # fn demo(onnx: &[u8], spec_json: &str, items: &[Item]) -> reloop_core::Result<()> {
//! let model = Model::from_json(onnx, spec_json)?;
//! let mut out = ModelOutput::default();
//! model.run(items, &Item::new(), &mut out)?;
//! println!("y_base = {:?}, h[0] = {:?}", out.y_base(), out.hidden_row(0));
//! # Ok(()) }
//! ```

use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use reloop_core::prob::sigmoid;
use reloop_core::sketch::MAX_DIM;
use reloop_core::{Error, ModelId, Result};
use tract_onnx::model::ParseResult;
use tract_onnx::prelude::{InferenceFact, InferenceModelExt, TDim, TValue, ToDim};
use tract_onnx::tract_hir::internal::DimLike;

use crate::catalog::Catalog;
use crate::column_shares::ColumnShares;
use crate::encoder::{Encoder, InputBuffer, Scratch};
use crate::indices::{IndexUse, index_uses};
use crate::item::Fields;
use crate::onnx::{check_graph, check_ops, datum_name, declared_inputs, decode_model, model_err, onnx_type_name};
use crate::plans::{FIXED_PLANS_BUDGET, Plan, Plans};
use crate::spec::{DType, KeySpec, ModelSpec, OutputKind};
use crate::split::Split;
use crate::tensors::{ColumnBound, InputTensor};
use crate::workspace::InputFeed;

/// The fewest catalog entries, or items, scored through the first-layer
/// split: below it, the split's extra work per call costs more than it
/// saves (`cargo bench -p reloop-runtime --bench session -- rows`), and a
/// single-item record stays bit-identical to the model's own score.
pub const SPLIT_MIN_ROWS: usize = 48;

/// The larger batch [`Model::warm_up`] runs (at most the model's `maxBatch`).
pub const WARM_UP_ROWS: usize = 64;

#[derive(Debug)]
struct Inner {
    plans: Plans,
    spec: ModelSpec,
    encoder: Encoder,
    id: ModelId,
    /// Inputs in the plan's order.
    inputs: Vec<InputFeed>,
    kind: OutputKind,
    /// How the key is assembled from the outputs after the probability.
    key: Vec<KeyColumns>,
    hidden_dim: usize,
    /// Each field's indices and the tables they reach.
    index_uses: Vec<IndexUse>,
    /// Per input (spec order), what each column may hold (for caller-made tensors).
    columns: Vec<Vec<ColumnBound>>,
    /// The first-layer split for catalog calls, where the model fits it.
    /// Made on first use ([`Model::split`]).
    split: OnceLock<Option<Split>>,
    /// Pages of items (of at least [`SPLIT_MIN_ROWS`]) scored before the
    /// split was made: the second makes it ([`Model::run`]).
    item_pages: AtomicU32,
}

/// One part of the key: columns `from..to` of the rows (of `row` values)
/// of plan output `output`, times `scale`.
#[derive(Clone, Copy, Debug)]
struct KeyColumns {
    output: usize,
    row: usize,
    from: usize,
    to: usize,
    scale: f32,
}

/// A loaded, optimised model with its spec and encoder. Cheap to clone
/// (an `Arc`); share one per process or isolate.
#[derive(Clone, Debug)]
pub struct Model {
    inner: Arc<Inner>,
}

/// The result of a batch: `y_base` per row and the hidden vectors, row-major.
/// Reuse one across calls to avoid reallocating. Two are equal when their
/// rows are (whichever path computed them).
#[derive(Clone, Debug, Default)]
pub struct ModelOutput {
    y_base: Vec<f32>,
    hidden: Vec<f32>,
    dim: usize,
    /// Per row of a catalog call through the split: whether its key is its
    /// entry's own, the same whatever the call's context (empty otherwise).
    entry_keys: Vec<bool>,
}

impl PartialEq for ModelOutput {
    fn eq(&self, other: &Self) -> bool {
        self.y_base == other.y_base && self.hidden == other.hidden && self.dim == other.dim
    }
}

impl ModelOutput {
    /// Rows in the last result.
    pub fn rows(&self) -> usize {
        self.y_base.len()
    }

    /// Hidden width `d`.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Click probability per row, in [0, 1].
    pub fn y_base(&self) -> &[f32] {
        &self.y_base
    }

    /// All hidden vectors, `rows × dim`, row-major.
    pub fn hidden(&self) -> &[f32] {
        &self.hidden
    }

    /// The hidden vector of `row`, if it exists.
    pub fn hidden_row(&self, row: usize) -> Option<&[f32]> {
        let from = row.checked_mul(self.dim)?;
        self.hidden.get(from..from.checked_add(self.dim)?)
    }

    /// Whether `row`'s key is its catalog entry's own: computed from the
    /// entry's kept share alone, so the same in every call whatever the
    /// context (a catalog call through the split, where every key output is
    /// inside the head and the context's share of the key is the reference
    /// row's).
    pub(crate) fn entry_key(&self, row: usize) -> bool {
        self.entry_keys.get(row).copied().unwrap_or(false)
    }

    fn clear(&mut self, dim: usize) {
        self.y_base.clear();
        self.hidden.clear();
        self.entry_keys.clear();
        self.dim = dim;
    }
}

impl Model {
    /// Loads an ONNX model from bytes with a spec given as JSON text.
    ///
    /// # Errors
    /// As [`ModelSpec::from_json`] and [`Model::load`].
    pub fn from_json(onnx: &[u8], spec_json: &str) -> Result<Model> {
        Model::load(onnx, ModelSpec::from_json(spec_json)?)
    }

    /// As [`Model::from_json`], taking the ONNX bytes: they are freed as
    /// soon as the protobuf is decoded instead of being held for the whole
    /// load (for a caller that copied them only to load them, as the wasm
    /// binding does from JS).
    ///
    /// # Errors
    /// As [`Model::from_json`].
    pub fn from_json_owned(onnx: Vec<u8>, spec_json: &str) -> Result<Model> {
        Model::load_owned(onnx, ModelSpec::from_json(spec_json)?)
    }

    /// Loads, checks against `spec`, optimises and plans the model.
    ///
    /// # Errors
    /// * [`ErrorKind::InvalidConfig`](reloop_core::ErrorKind::InvalidConfig) if the spec is invalid on its own;
    /// * [`ErrorKind::Model`](reloop_core::ErrorKind::Model) if the bytes are not a readable ONNX model, or
    ///   the model disagrees with the spec: an input missing on either side,
    ///   a wrong element type or width, an unknown output or hidden name, an
    ///   output without the batch dimension, a probability output of the
    ///   wrong width for its kind, or `mu` not as long as the hidden vector.
    ///   The message names the spec key at fault.
    pub fn load(onnx: &[u8], spec: ModelSpec) -> Result<Model> {
        Model::load_from(Cow::Borrowed(onnx), spec, None)
    }

    /// As [`Model::load`], with the identity already known (the bundled
    /// model's, hashed at build time): it must be [`ModelId::digest`] of
    /// `onnx` and the spec's canonical bytes.
    pub(crate) fn load_with_id(onnx: &[u8], spec: ModelSpec, id: ModelId) -> Result<Model> {
        Model::load_from(Cow::Borrowed(onnx), spec, Some(id))
    }

    /// As [`Model::load`], taking the ONNX bytes (see [`Model::from_json_owned`]).
    ///
    /// # Errors
    /// As [`Model::load`].
    pub fn load_owned(onnx: Vec<u8>, spec: ModelSpec) -> Result<Model> {
        Model::load_from(Cow::Owned(onnx), spec, None)
    }

    /// Loading, from the bytes on. Every copy of the weights is dropped as
    /// soon as the next one exists (the bytes once decoded, the protobuf
    /// once translated, each intermediate model as it is consumed), so a
    /// load peaks at about twice the weights (`tests/load_memory.rs`).
    fn load_from(onnx: Cow<'_, [u8]>, spec: ModelSpec, id: Option<ModelId>) -> Result<Model> {
        let encoder = Encoder::new(&spec)?;
        let id = id.unwrap_or_else(|| ModelId::digest(&[&onnx, &spec.canonical_bytes()]));
        let proto = decode_model(onnx)?;
        let Some(graph) = proto.graph.as_ref() else {
            return Err(Error::model("onnx: the model has no graph"));
        };
        check_graph(graph, "graph")?;
        let declared = declared_inputs(graph);
        let widths = spec.input_widths();

        // Every non-constant graph input must be in the spec and agree with it.
        for crate::onnx::DeclaredInput { name, elem, dims } in &declared {
            let Some((k, input)) = spec.inputs.iter().enumerate().find(|(_, i)| &i.name == name) else {
                return Err(Error::model(format!("inputs: model input `{name}` is not described in the spec")));
            };
            let want = input.dtype.onnx() as i32;
            if *elem != 0 && *elem != want {
                return Err(Error::model(format!(
                    "inputs[{k}].dtype: model input `{name}` has ONNX element type {} but the spec says {}",
                    onnx_type_name(*elem),
                    input.dtype.name()
                )));
            }
            let width = widths.get(k).copied().unwrap_or(0);
            match dims.as_deref() {
                None => {}
                Some([_]) if width == 1 => {}
                Some([_]) => {
                    return Err(Error::model(format!(
                        "inputs[{k}].columns: model input `{name}` is [batch] (one column) but the spec fills {width}"
                    )));
                }
                Some([_, Some(w)]) if *w != width as i64 => {
                    return Err(Error::model(format!(
                        "inputs[{k}].columns: model input `{name}` is {w} wide but the spec fills {width} columns"
                    )));
                }
                Some([_, _]) => {}
                Some(other) => {
                    return Err(Error::model(format!(
                        "inputs[{k}]: model input `{name}` has rank {}; only [batch] and [batch, width] inputs are supported",
                        other.len()
                    )));
                }
            }
        }
        for (k, input) in spec.inputs.iter().enumerate() {
            if !declared.iter().any(|d| d.name == input.name) {
                return Err(Error::model(format!("inputs[{k}].name: the model has no input `{}`", input.name)));
            }
        }

        let framework = tract_onnx::onnx();
        check_ops(graph, &framework.op_register)?;
        let parsed = framework
            .with_ignore_value_info(true)
            .parse(&proto, None)
            .map_err(|e| model_err("onnx: cannot translate the graph", e))?;
        // The model holds its own copy of every tensor now.
        drop(proto);
        let ParseResult { mut model, unresolved_inputs, outlets_by_name } = parsed;
        if !unresolved_inputs.is_empty() {
            return Err(Error::model(format!("onnx: the graph uses undefined tensors {unresolved_inputs:?}")));
        }
        let batch = model.sym("N");
        let input_outlets = model.input_outlets().map_err(|e| model_err("onnx", e))?.to_vec();
        let mut inputs = Vec::with_capacity(input_outlets.len());
        for (ix, outlet) in input_outlets.iter().enumerate() {
            let name = model.node(outlet.node).name.clone();
            let Some(k) = spec.inputs.iter().position(|i| i.name == name) else {
                return Err(Error::model(format!("inputs: model input `{name}` is not described in the spec")));
            };
            let (dtype, width) = match (spec.inputs.get(k), widths.get(k)) {
                (Some(i), Some(&w)) => (i.dtype, w),
                _ => return Err(Error::model(format!("inputs: no layout for `{name}`"))),
            };
            let rank1 = declared.iter().any(|d| d.name == name && d.dims.as_ref().is_some_and(|d| d.len() == 1));
            let dt = dtype.datum();
            let shape: Vec<TDim> = if rank1 { vec![batch.to_dim()] } else { vec![batch.to_dim(), width.to_dim()] };
            model
                .set_input_fact(ix, InferenceFact::dt_shape(dt, shape))
                .map_err(|e| model_err(&format!("inputs[{k}]: cannot set the fact of `{name}`"), e))?;
            inputs.push(InputFeed { spec_index: k, dtype, width, rank1 });
        }

        let find = |key: &str, name: &str| {
            outlets_by_name
                .get(name)
                .copied()
                .or_else(|| model.nodes().iter().find(|n| n.name == name).map(|n| n.id.into()))
                .ok_or_else(|| Error::model(format!("{key}: no tensor or node named `{name}` in the model")))
        };
        let probability = find("outputs.probability", &spec.outputs.probability)?;
        // The key's tensors, each once, after the probability.
        let mut selected = vec![probability];
        for node in spec.outputs.hidden.nodes() {
            let outlet = find("outputs.hidden", &node)?;
            if outlet == probability {
                return Err(Error::model(format!(
                    "outputs.hidden: `{node}` names the same tensor as outputs.probability"
                )));
            }
            if !selected.contains(&outlet) {
                selected.push(outlet);
            }
        }
        let key_outlet_of = |node: &str| find("outputs.hidden", node).map(|o| selected.iter().position(|s| *s == o));
        let part_outputs: Vec<usize> = spec
            .outputs
            .hidden
            .parts()
            .iter()
            .map(|p| key_outlet_of(&p.node).map(|i| i.unwrap_or(1)))
            .collect::<Result<_>>()?;
        model.select_output_outlets(&selected).map_err(|e| model_err("outputs", e))?;

        let typed =
            model.into_typed().map_err(|e| model_err("onnx: cannot type the graph with the spec's inputs", e))?;
        // Every index a field can write must fit the table it reaches (tract
        // would panic on the first one past it).
        let sources: Vec<_> = typed
            .input_outlets()
            .map_err(|e| model_err("onnx", e))?
            .iter()
            .zip(&inputs)
            .map(|(outlet, feed)| (*outlet, feed.spec_index))
            .collect();
        let index_uses = index_uses(&typed, &spec, &sources);
        crate::indices::check(&index_uses)?;
        // Every shape must hold whatever the batch size.
        crate::shapes::check(&typed)?;
        let outputs = typed.output_outlets().map_err(|e| model_err("outputs", e))?.to_vec();
        if outputs.len() != selected.len() {
            return Err(Error::model(format!("outputs: expected {} outputs after typing", selected.len())));
        }
        let prob_outlet = outputs[0];
        let batch_dim = batch.to_dim();
        let per_row = |key: &str, name: &str, outlet| -> Result<usize> {
            let fact = typed.outlet_fact(outlet).map_err(|e| model_err(key, e))?;
            if !fact.datum_type.is_float() {
                return Err(Error::model(format!(
                    "{key}: `{name}` holds {} values; it must be a float tensor",
                    datum_name(fact.datum_type)
                )));
            }
            let dims: Vec<TDim> = fact.shape.iter().cloned().collect();
            match dims.first() {
                Some(first) if *first == batch_dim => {}
                _ => {
                    return Err(Error::model(format!(
                        "{key}: `{name}` has shape {:?}, which does not start with the batch dimension",
                        fact.shape
                    )));
                }
            }
            let mut size = 1usize;
            for d in dims.iter().skip(1) {
                let d = d.to_usize().map_err(|_| {
                    Error::model(format!("{key}: `{name}` has shape {:?}, whose row size is not fixed", fact.shape))
                })?;
                size = size.saturating_mul(d);
            }
            Ok(size)
        };
        let prob_width = per_row("outputs.probability", &spec.outputs.probability, prob_outlet)?;
        let want = if spec.outputs.kind == OutputKind::Softmax2 { 2 } else { 1 };
        if prob_width != want {
            return Err(Error::model(format!(
                "outputs.kind: `{}` has {prob_width} values per row but kind \"{}\" needs {want}{}",
                spec.outputs.probability,
                spec.outputs.kind.name(),
                if want == 1 && prob_width == 2 { " (a two-column softmax output is kind \"softmax2\")" } else { "" }
            )));
        }
        let mut key = Vec::new();
        let mut hidden_dim = 0usize;
        for (i, (part, &output)) in spec.outputs.hidden.parts().iter().zip(&part_outputs).enumerate() {
            let at = match spec.outputs.hidden {
                KeySpec::Node(_) => "outputs.hidden".to_string(),
                KeySpec::Parts(_) => format!("outputs.hidden[{i}]"),
            };
            let outlet = outputs.get(output).copied().ok_or_else(|| Error::model(format!("{at}: no output")))?;
            let row = per_row(&at, &part.node, outlet)?;
            let [from, to] = part.columns.unwrap_or([0, row]);
            if to > row {
                return Err(Error::model(format!(
                    "{at}.columns: [{from}, {to}] is outside `{}`, whose rows have {row} values",
                    part.node
                )));
            }
            hidden_dim = hidden_dim.saturating_add(to - from);
            key.push(KeyColumns { output, row, from, to, scale: part.scale });
        }
        if hidden_dim == 0 || hidden_dim > MAX_DIM as usize {
            return Err(Error::model(format!(
                "outputs.hidden: the key {} has {hidden_dim} values per row, expected 1..={MAX_DIM}",
                spec.outputs.hidden
            )));
        }
        if let Some(mu) = &spec.mu {
            if mu.len() != hidden_dim {
                return Err(Error::model(format!(
                    "mu: has {} values but the key {} has {hidden_dim}",
                    mu.len(),
                    spec.outputs.hidden
                )));
            }
        }

        let decluttered = typed.into_decluttered().map_err(|e| model_err("onnx: cannot simplify the graph", e))?;
        crate::shapes::check(&decluttered)?;
        let plans = Plans::new(decluttered, batch)?;
        // Build one workspace now so a broken plan fails at load, not on the first request.
        let ws = plans.general().take(encoder.input_count())?;
        plans.general().give_back(ws);
        let kind = spec.outputs.kind;
        let columns = crate::tensors::bounds(&spec);
        let split = OnceLock::new();
        let item_pages = AtomicU32::new(0);
        let inner =
            Inner { plans, spec, encoder, id, inputs, kind, key, hidden_dim, index_uses, columns, split, item_pages };
        Ok(Model { inner: Arc::new(inner) })
    }

    /// Finds and builds the split, with the reference row's share; `None`
    /// for a model that does not fit it, whose head cannot run on that row,
    /// or whose weights exceed [`FIXED_PLANS_BUDGET`] (the split's plans
    /// hold their own packed copies of them, as fixed plans do).
    fn make_split(&self) -> Option<Split> {
        let (source, batch) = self.inner.plans.source()?;
        if crate::plans::weight_bytes(source) > FIXED_PLANS_BUDGET {
            return None;
        }
        let cut = crate::split::find(source, &batch.to_dim())?;
        let mut split = Split::new(source, &cut, batch).ok()?;
        let reference = self.reference_row();
        split.reference = self.head_shares_with(&split, &reference.tensors(), 1).ok()?;
        split.reference_row = reference;
        Some(split)
    }

    /// The identity binding saved memories: SHA-256 of the ONNX bytes and
    /// the spec's canonical form.
    pub fn id(&self) -> &ModelId {
        &self.inner.id
    }

    /// The spec the model was loaded with.
    pub fn spec(&self) -> &ModelSpec {
        &self.inner.spec
    }

    /// The encoder compiled from the spec.
    pub fn encoder(&self) -> &Encoder {
        &self.inner.encoder
    }

    /// Width `d` of the hidden key vector.
    pub fn hidden_dim(&self) -> usize {
        self.inner.hidden_dim
    }

    /// The centring vector `μ`, if the spec has one.
    pub fn mu(&self) -> Option<&[f32]> {
        self.inner.spec.mu.as_deref()
    }

    /// Each field's indices and the tables (embeddings, one-hot depths)
    /// they reach, as checked at load ([`crate::indices`]).
    pub fn index_uses(&self) -> &[IndexUse] {
        &self.inner.index_uses
    }

    /// The training label rate `p0`, if the spec gives it (a session with
    /// the intent or residual estimator needs it, from here or its options).
    pub fn p0(&self) -> Option<f32> {
        self.inner.spec.p0
    }

    /// The names of the fields the model reads (from items or the context),
    /// in the order [`crate::FieldValues`] holds them.
    pub fn field_names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.inner.encoder.field_names()
    }

    /// Batch sizes that currently have a plan fixed to them, least recently
    /// used first (see [`crate::plans`] for when a size gets one). For
    /// diagnostics and tests.
    pub fn fixed_batch_sizes(&self) -> Vec<usize> {
        self.inner.plans.fixed_sizes()
    }

    /// How many batch sizes can keep a fixed plan at once: [`crate::plans::MAX_FIXED`],
    /// or fewer when the model's weights are large (each plan holds its own
    /// copy; see [`crate::plans::FIXED_PLANS_BUDGET`]).
    pub fn fixed_plan_limit(&self) -> usize {
        self.inner.plans.fixed_limit()
    }

    /// Runs the general plan on a batch of one row and on one of
    /// [`WARM_UP_ROWS`] (tract picks other matrix kernels for one row than
    /// for many), each row one that every field could have written (each
    /// column at the lowest value its field writes), so the one-time costs
    /// of a first run (baseline or lazily compiled wasm code, tract's
    /// first-use set-up) are paid now rather than by the first request: a
    /// Worker calls it at start-up. If a [`Catalog`] has made the model's
    /// first-layer split, its plans are warmed up as well (so make the
    /// catalog first). Uses no fixed-plan budget and changes nothing a
    /// later call sees.
    ///
    /// # Errors
    /// [`ErrorKind::Model`](reloop_core::ErrorKind::Model) if tract fails on that row, as for [`Model::run`].
    pub fn warm_up(&self) -> Result<()> {
        let inner = &*self.inner;
        let many = WARM_UP_ROWS.min(inner.spec.max_batch).max(1);
        for rows in [1, many] {
            self.warm_up_rows(rows, inner.plans.general())?;
        }
        self.warm_up_split(many, false)
    }

    /// As [`Model::warm_up`], and first fixes a plan to each batch size of
    /// `sizes` and runs it once, so that the first calls of those sizes run
    /// at full speed instead of one of them paying for the plan (≈ 5 ms in
    /// a Worker for the bundled model). For a Worker that knows the page
    /// size it serves. These builds are not rationed like the ones traffic
    /// earns, but each takes one of the [`Model::fixed_plan_limit`] places
    /// (least recently used first); a model that keeps no fixed plans runs
    /// each size on its general plan instead. Scores are the same either way
    /// up to the last bits of a float (tract fuses a fixed plan's kernels).
    /// Sizes of at least [`SPLIT_MIN_ROWS`] also make the model's
    /// first-layer split, if it has one (≈ 30–40 ms in Node for the bundled
    /// model, with its column shares), and fix its plans, so that pages of
    /// items ([`Model::run`]) and of catalog entries of those sizes take it
    /// from their first call.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](reloop_core::ErrorKind::InvalidInput) for a size of 0 or above the spec's
    /// `maxBatch`, or more sizes than [`Model::fixed_plan_limit`] (at least
    /// one); [`ErrorKind::Model`](reloop_core::ErrorKind::Model) as for [`Model::warm_up`].
    pub fn warm_up_sizes(&self, sizes: &[usize]) -> Result<()> {
        let inner = &*self.inner;
        let max_batch = inner.spec.max_batch;
        if let Some(bad) = sizes.iter().find(|&&n| n == 0 || n > max_batch) {
            return Err(Error::input(format!("batch size {bad} must be in 1..={max_batch} (the spec's maxBatch)")));
        }
        let most = self.fixed_plan_limit().max(1);
        if sizes.len() > most {
            return Err(Error::input(format!(
                "{} batch sizes to warm up, but this model keeps fixed plans for at most {most}",
                sizes.len()
            )));
        }
        self.warm_up()?;
        for &rows in sizes {
            match inner.plans.fix(rows) {
                Some(plan) => self.warm_up_rows(rows, &plan)?,
                None => self.warm_up_rows(rows, inner.plans.general())?,
            }
            if rows >= SPLIT_MIN_ROWS {
                self.warm_up_split(rows, true)?;
            }
        }
        Ok(())
    }

    /// Runs the split's plans once, if the model has a split: the head on
    /// one row (a catalog call's context), the tail on `rows` — its plan
    /// fixed to that size when `fix`, else the general one. With `fix` (a
    /// page size asked for), the split and its column shares are made if
    /// they are not yet; otherwise only a split already made is warmed.
    fn warm_up_split(&self, rows: usize, fix: bool) -> Result<()> {
        let inner = &*self.inner;
        let split = if fix { self.split() } else { inner.split.get().and_then(Option::as_ref) };
        let Some(split) = split else { return Ok(()) };
        if fix {
            split.column_shares.get_or_init(|| self.make_column_shares(split));
        }
        let pick = |plans: &Plans, n: usize| {
            let fixed = if fix { plans.fix(n) } else { None };
            fixed.unwrap_or_else(|| Arc::clone(plans.general()))
        };
        let slots = inner.encoder.input_count();
        let one = self.reference_row();
        let one = one.tensors();
        pick(&split.head, 1).run(&inner.inputs, slots, 1, |b, _| crate::tensors::copy_into(&one, b))?;
        let (z, key) = split.parts(&split.reference);
        let z: Vec<f32> = z.iter().copied().cycle().take(rows * split.width).collect();
        let key: Vec<f32> = key.iter().copied().cycle().take(rows * split.key_width).collect();
        let tail = pick(&split.tail, rows)
            .run(&split.tail_feed, 1, rows, |b, _| crate::tensors::copy_into(&[InputTensor::F32(&z)], b))?;
        let outputs = split.outputs(&tail, &key, rows)?;
        self.read_outputs(&outputs, rows, &mut ModelOutput::default())
    }

    fn warm_up_rows(&self, rows: usize, plan: &Arc<Plan>) -> Result<()> {
        let inner = &*self.inner;
        let data = self.reference_row().repeated(rows);
        let tensors = data.tensors();
        crate::tensors::check(&inner.encoder, &inner.columns, &tensors, rows)?;
        let outputs = plan.run(&inner.inputs, inner.encoder.input_count(), rows, |buffers, _| {
            crate::tensors::copy_into(&tensors, buffers)
        })?;
        let mut out = ModelOutput::default();
        self.read_outputs(&outputs, rows, &mut out)
    }

    /// The reference row: each column at the lowest value its field writes
    /// (one that every field could have written).
    pub(crate) fn reference_row(&self) -> OwnedRows {
        let inner = &*self.inner;
        let data = inner
            .spec
            .inputs
            .iter()
            .zip(&inner.columns)
            .map(|(input, columns)| {
                let row = columns.iter().map(ColumnBound::lowest);
                match input.dtype {
                    DType::I64 => RowData::I64(row.collect()),
                    DType::F32 => RowData::F32(row.map(|v| v as f32).collect()),
                }
            })
            .collect();
        OwnedRows(data)
    }

    /// The split, if the model has one; made on first use (the first
    /// [`Catalog`]), so a model scored by objects alone never pays for it.
    pub(crate) fn split(&self) -> Option<&Split> {
        self.inner.split.get_or_init(|| self.make_split()).as_ref()
    }

    /// Whether catalog calls take the first-layer split ([`crate::split`]):
    /// the model's first layer is affine over per-column features, so each
    /// catalog entry's share of it is computed once. Makes the split if no
    /// catalog has yet (≈ 20 ms in Node for the bundled model).
    pub fn has_split(&self) -> bool {
        self.split().is_some()
    }

    /// The shares ([`Split`]: `z` and the key outputs) of `rows` rows given
    /// as input tensors (spec order), row after row, through the split's
    /// head; empty without a split.
    pub(crate) fn head_shares(&self, tensors: &[InputTensor<'_>], rows: usize) -> Result<Vec<f32>> {
        match self.split() {
            Some(split) => self.head_shares_with(split, tensors, rows),
            None => Ok(Vec::new()),
        }
    }

    fn head_shares_with(&self, split: &Split, tensors: &[InputTensor<'_>], rows: usize) -> Result<Vec<f32>> {
        let inner = &*self.inner;
        let plan = split.head.for_rows(rows);
        let outputs = plan.run(&inner.inputs, inner.encoder.input_count(), rows, |buffers, _| {
            crate::tensors::copy_into(tensors, buffers)
        })?;
        split.shares(&outputs, rows)
    }

    /// Encodes `items` (with `context` filling what they lack) and runs the
    /// model; `out` gets one `y_base` and one hidden vector per item.
    ///
    /// Where the model has the first-layer split ([`crate::split`]), a batch
    /// of at least [`SPLIT_MIN_ROWS`] items takes it through
    /// [`crate::column_shares`]: only the layers after the first run per
    /// row, and the scores are within 1e-5 of the whole model's
    /// ([`Model::run_unsplit`]), the keys computed inside the first layer
    /// equal to its bit for bit. The split is made by the second such batch
    /// a model scores (or the first after a [`Catalog`] or
    /// [`Model::warm_up_sizes`] made it), so a one-off page does not pay
    /// for it. Smaller batches run the whole model.
    ///
    /// # Errors
    /// * [`ErrorKind::InvalidInput`](reloop_core::ErrorKind::InvalidInput) from the encoder (missing field, wrong
    ///   type, oversized batch), naming the item and field;
    /// * [`ErrorKind::Model`](reloop_core::ErrorKind::Model) if tract fails or the model outputs a
    ///   non-finite value (naming the row).
    ///
    /// `out` is left empty on error.
    pub fn run<I: Fields, C: Fields + ?Sized>(&self, items: &[I], context: &C, out: &mut ModelOutput) -> Result<()> {
        if items.len() >= SPLIT_MIN_ROWS {
            if let Some((split, shares)) = self.column_shares() {
                if self.run_columns(split, shares, items, context, out)? {
                    return Ok(());
                }
            }
        }
        self.run_unsplit(items, context, out)
    }

    /// As [`Model::run`], always running the whole model on every row, as
    /// [`Model::run`] does below [`SPLIT_MIN_ROWS`]: the model's own scores,
    /// a row's never depending on the other rows of its batch (a plan fixed
    /// to a batch size aside, which rounds the last bits its own way). For
    /// offline evaluation, or a parity check against another runtime.
    ///
    /// # Errors
    /// As [`Model::run`].
    pub fn run_unsplit<I: Fields, C: Fields + ?Sized>(
        &self,
        items: &[I],
        context: &C,
        out: &mut ModelOutput,
    ) -> Result<()> {
        let encoder = &self.inner.encoder;
        self.run_with(items.len(), out, |buffers, scratch| encoder.encode_into(items, context, buffers, scratch))
    }

    /// Whether a batch of at least [`SPLIT_MIN_ROWS`] items is scored
    /// through the first-layer split now (see [`Model::run`] for when it is
    /// made), rather than by the whole model.
    pub fn splits_items(&self) -> bool {
        self.inner.split.get().and_then(Option::as_ref).and_then(|s| s.column_shares.get()).is_some_and(Option::is_some)
    }

    /// The split and its column shares for a page of items, if the model
    /// has them; see [`Model::run`] for when they are made.
    fn column_shares(&self) -> Option<(&Split, &ColumnShares)> {
        let inner = &*self.inner;
        let split = match inner.split.get() {
            Some(split) => split.as_ref()?,
            None if inner.item_pages.fetch_add(1, Ordering::Relaxed) == 0 => return None,
            None => self.split()?,
        };
        let shares = split.column_shares.get_or_init(|| self.make_column_shares(split)).as_ref()?;
        Some((split, shares))
    }

    fn make_column_shares(&self, split: &Split) -> Option<ColumnShares> {
        let head = |rows: &OwnedRows, n: usize| self.unit_shares(split, rows, n);
        ColumnShares::new(split, &self.inner.columns, &head)
    }

    /// The shares of `rows` rows through the split head's general plan
    /// (never a fixed one: [`crate::column_shares::UNIT_BATCH`]).
    fn unit_shares(&self, split: &Split, data: &OwnedRows, rows: usize) -> Result<Vec<f32>> {
        let inner = &*self.inner;
        let tensors = data.tensors();
        let outputs = split.head.general().run(&inner.inputs, inner.encoder.input_count(), rows, |buffers, _| {
            crate::tensors::copy_into(&tensors, buffers)
        })?;
        split.shares(&outputs, rows)
    }

    /// [`Model::run`] through the split: the items encoded, each row's
    /// share folded from its columns' ([`crate::column_shares`]), the tail
    /// run on them. `Ok(false)` when the shares decline the call (the
    /// general path is cheaper); `out` is left empty then and on error.
    fn run_columns<I: Fields, C: Fields + ?Sized>(
        &self,
        split: &Split,
        shares: &ColumnShares,
        items: &[I],
        context: &C,
        out: &mut ModelOutput,
    ) -> Result<bool> {
        let inner = &*self.inner;
        let rows = items.len();
        out.clear(inner.hidden_dim);
        inner.encoder.check_batch(rows)?;
        let mut data: Vec<RowData> = inner
            .spec
            .inputs
            .iter()
            .zip(&inner.columns)
            .map(|(input, columns)| match input.dtype {
                DType::I64 => RowData::I64(vec![0; rows * columns.len()]),
                DType::F32 => RowData::F32(vec![0.0; rows * columns.len()]),
            })
            .collect();
        {
            let mut buffers: Vec<InputBuffer<'_>> = data
                .iter_mut()
                .map(|d| match d {
                    RowData::I64(v) => InputBuffer::I64(v),
                    RowData::F32(v) => InputBuffer::F32(v),
                })
                .collect();
            inner.encoder.encode_into(items, context, &mut buffers, &mut Scratch::default())?;
        }
        let mut z = vec![0.0; rows * split.width];
        let mut key = vec![0.0; rows * split.key_width];
        let head = |rows: &OwnedRows, n: usize| self.unit_shares(split, rows, n);
        if !shares.fill(split, &data, rows, &mut z, &mut key, &head)? {
            return Ok(false);
        }
        let result = split
            .tail
            .for_rows(rows)
            .run(&split.tail_feed, 1, rows, |buffers, _| crate::tensors::copy_into(&[InputTensor::F32(&z)], buffers));
        let read = self.key_reads(split);
        let result = result.and_then(|tail| self.split_outputs(split, &tail, &key, read.as_deref(), rows, out));
        if result.is_err() {
            out.clear(inner.hidden_dim);
        }
        result.map(|()| true)
    }

    /// Runs the model on catalog entries (`entries`: indices into
    /// `catalog`), with `context` encoded once and filling what each entry
    /// does not carry; `out` as for [`Model::run`]. The scores equal
    /// [`Model::run`] on the items themselves.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](reloop_core::ErrorKind::InvalidInput) for a catalog of another model, an index
    /// past its end, a field neither an entry nor the context gives, or an
    /// oversized batch; [`ErrorKind::Model`](reloop_core::ErrorKind::Model) as for [`Model::run`].
    pub fn run_catalog<C: Fields + ?Sized>(
        &self,
        catalog: &Catalog,
        entries: &[u32],
        context: &C,
        out: &mut ModelOutput,
    ) -> Result<()> {
        catalog.check_model(self)?;
        if catalog.has_split() && entries.len() >= SPLIT_MIN_ROWS {
            if let Some(split) = self.split() {
                return self.run_split(split, catalog, entries, context, out);
            }
        }
        let encoder = &self.inner.encoder;
        self.run_with(entries.len(), out, |buffers, scratch| {
            encoder.encode_context(context, scratch);
            catalog.fill(entries, buffers, scratch)
        })
    }

    /// Runs the model on input tensors the caller encoded: one per spec
    /// input, in spec order, each `rows × width` values of the input's type.
    /// Every value is checked against what the spec's field for that column
    /// can write ([`crate::tensors`]), so no index reaches past a table.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`](reloop_core::ErrorKind::InvalidInput) for a wrong number, type or length of
    /// tensors, or a value the column's field could not have written
    /// (naming input, row and column); [`ErrorKind::Model`](reloop_core::ErrorKind::Model) as for [`Model::run`].
    pub fn run_tensors(&self, inputs: &[InputTensor<'_>], rows: usize, out: &mut ModelOutput) -> Result<()> {
        crate::tensors::check(self.encoder(), &self.inner.columns, inputs, rows)?;
        self.run_with(rows, out, |buffers, _| crate::tensors::copy_into(inputs, buffers))
    }

    /// Runs the plan for `rows` rows, `fill` writing its input buffers.
    fn run_with(
        &self,
        rows: usize,
        out: &mut ModelOutput,
        fill: impl FnOnce(&mut [InputBuffer<'_>], &mut Scratch) -> Result<()>,
    ) -> Result<()> {
        out.clear(self.inner.hidden_dim);
        if rows == 0 {
            return Ok(());
        }
        // Before choosing a plan: an oversized batch must not count towards one.
        self.inner.encoder.check_batch(rows)?;
        let plan = self.inner.plans.for_rows(rows);
        let result = plan
            .run(&self.inner.inputs, self.inner.encoder.input_count(), rows, fill)
            .and_then(|outputs| self.read_outputs(&outputs, rows, out));
        if result.is_err() {
            out.clear(self.inner.hidden_dim);
        }
        result
    }

    /// [`Model::run_catalog`] through the split: the tail runs on each
    /// entry's `z` combined with the call's context share, and key outputs
    /// inside the first layer are combined the same way.
    fn run_split<C: Fields + ?Sized>(
        &self,
        split: &Split,
        catalog: &Catalog,
        entries: &[u32],
        context: &C,
        out: &mut ModelOutput,
    ) -> Result<()> {
        let inner = &*self.inner;
        out.clear(inner.hidden_dim);
        if entries.is_empty() {
            return Ok(());
        }
        let rows = entries.len();
        inner.encoder.check_batch(rows)?;
        let plan = split.tail.for_rows(rows);
        let mut key = Vec::new();
        // The key values the memory reads, if all are inside the head.
        let read = self.key_reads(split);
        let mut own_keys = read.as_deref().map(|read| (read, Vec::new()));
        let result = plan
            .run(&split.tail_feed, 1, rows, |buffers, scratch| {
                inner.encoder.encode_context(context, scratch);
                let [InputBuffer::F32(z)] = buffers else {
                    return Err(Error::model("split: the tail takes one f32 input"));
                };
                catalog.fill_shares(split, entries, z, &mut key, &mut own_keys, scratch)
            })
            .and_then(|tail| self.split_outputs(split, &tail, &key, read.as_deref(), rows, out));
        if result.is_err() {
            out.clear(inner.hidden_dim);
        } else if let Some((_, own)) = own_keys {
            out.entry_keys = own;
        }
        result
    }

    /// Where the key values the memory reads lie in a share's key part, if
    /// all of them are inside the split's head.
    fn key_reads(&self, split: &Split) -> Option<Vec<Range<usize>>> {
        self.inner.key.iter().map(|part| split.key_range(part.output, part.from..part.to)).collect()
    }

    /// The probability and the key of `rows` rows through the split, from
    /// the tail's outputs and the rows' key shares (`key`); `read` as
    /// [`Model::key_reads`] gives it.
    fn split_outputs(
        &self,
        split: &Split,
        tail: &[TValue],
        key: &[f32],
        read: Option<&[Range<usize>]>,
        rows: usize,
        out: &mut ModelOutput,
    ) -> Result<()> {
        let inner = &*self.inner;
        match (read, split.tail_output(0)) {
            // Every key value read is in the head: the probability from
            // the tail, the key straight from the rows' key shares.
            (Some(read), Some(prob)) => {
                let prob = tail.get(prob).ok_or_else(|| Error::model("split: an output is missing"))?;
                read_probability(prob, inner.kind, rows, &mut out.y_base)?;
                let parts: Vec<KeyValues<'_>> = read
                    .iter()
                    .zip(&inner.key)
                    .map(|(cells, part)| KeyValues {
                        values: key,
                        stride: split.key_width,
                        cells: cells.clone(),
                        scale: part.scale,
                    })
                    .collect();
                if key.len() != rows * split.key_width {
                    return Err(Error::model("split: key rows of another size"));
                }
                gather_key(&parts, rows, inner.hidden_dim, &mut out.hidden)
            }
            _ => split.outputs(tail, key, rows).and_then(|outputs| self.read_outputs(&outputs, rows, out)),
        }
    }

    /// Reads the probability and the key of `n` rows from a run's outputs.
    fn read_outputs(&self, outputs: &[TValue], n: usize, out: &mut ModelOutput) -> Result<()> {
        let inner = &*self.inner;
        let Some(prob) = outputs.first() else {
            return Err(Error::model("model run: no outputs"));
        };
        read_probability(prob, inner.kind, n, &mut out.y_base)?;
        read_key(outputs, &inner.key, n, inner.hidden_dim, &mut out.hidden)?;
        Ok(())
    }
}

/// One input's rows, owned.
#[derive(Clone, Debug)]
pub(crate) enum RowData {
    I64(Vec<i64>),
    F32(Vec<f32>),
}

/// Every input's rows (spec order), owned.
#[derive(Clone, Debug)]
pub(crate) struct OwnedRows(pub(crate) Vec<RowData>);

impl OwnedRows {
    /// These rows `n` times over.
    pub(crate) fn repeated(&self, n: usize) -> OwnedRows {
        OwnedRows(
            self.0
                .iter()
                .map(|d| match d {
                    RowData::I64(v) => RowData::I64(v.repeat(n)),
                    RowData::F32(v) => RowData::F32(v.repeat(n)),
                })
                .collect(),
        )
    }

    /// Borrowed as input tensors.
    pub(crate) fn tensors(&self) -> Vec<InputTensor<'_>> {
        self.0
            .iter()
            .map(|d| match d {
                RowData::I64(v) => InputTensor::I64(v),
                RowData::F32(v) => InputTensor::F32(v),
            })
            .collect()
    }
}

fn read_probability(t: &TValue, kind: OutputKind, n: usize, out: &mut Vec<f32>) -> Result<()> {
    let t = t.cast_to::<f32>().map_err(|e| model_err("outputs.probability", e))?;
    let view = t.to_plain_array_view::<f32>().map_err(|e| model_err("outputs.probability", e))?;
    let per_row = if kind == OutputKind::Softmax2 { 2 } else { 1 };
    if view.len() != n * per_row {
        return Err(Error::model(format!(
            "outputs.probability: got {} values for {n} rows, expected {}",
            view.len(),
            n * per_row
        )));
    }
    out.reserve(n);
    for (i, &v) in view.iter().skip(per_row - 1).step_by(per_row).enumerate() {
        let p = match kind {
            OutputKind::Logit => sigmoid(f64::from(v)) as f32,
            OutputKind::Probability | OutputKind::Softmax2 => v,
        };
        if p.is_nan() {
            return Err(Error::model(format!("outputs.probability: row {i} is NaN")));
        }
        out.push(p.clamp(0.0, 1.0));
    }
    Ok(())
}

/// Assembles the key of every row from the plan's outputs (the parts'
/// columns, scaled, in order) into `out`, refusing non-finite values.
fn read_key(outputs: &[TValue], key: &[KeyColumns], n: usize, dim: usize, out: &mut Vec<f32>) -> Result<()> {
    let mut casts = Vec::with_capacity(key.len());
    for part in key {
        let t = outputs.get(part.output).ok_or_else(|| Error::model("outputs.hidden: missing output"))?;
        casts.push(t.cast_to::<f32>().map_err(|e| model_err("outputs.hidden", e))?);
    }
    let mut parts = Vec::with_capacity(key.len());
    for (part, t) in key.iter().zip(&casts) {
        let values = t
            .try_as_plain_ram()
            .and_then(|plain| plain.as_slice::<f32>())
            .map_err(|e| model_err("outputs.hidden", e))?;
        if values.len() != n * part.row {
            return Err(Error::model(format!(
                "outputs.hidden: got {} values for {n} rows, expected {}",
                values.len(),
                n * part.row
            )));
        }
        parts.push(KeyValues { values, stride: part.row, cells: part.from..part.to, scale: part.scale });
    }
    gather_key(&parts, n, dim, out)
}

/// Where one part of the key lies in a buffer of rows: row `i`'s values
/// are `values[i·stride ..][cells]`, times `scale`.
struct KeyValues<'a> {
    values: &'a [f32],
    stride: usize,
    cells: Range<usize>,
    scale: f32,
}

/// Each row's key, its parts in order, appended to `out`; non-finite values refused.
fn gather_key(parts: &[KeyValues<'_>], n: usize, dim: usize, out: &mut Vec<f32>) -> Result<()> {
    out.reserve(n * dim);
    for row in 0..n {
        for part in parts {
            let start = row * part.stride;
            let cells = part.values.get(start + part.cells.start..start + part.cells.end).unwrap_or(&[]);
            if part.scale == 1.0 {
                out.extend_from_slice(cells);
            } else {
                out.extend(cells.iter().map(|v| v * part.scale));
            }
        }
        if out.get(row * dim..).is_some_and(|r| r.iter().any(|v| !v.is_finite())) {
            return Err(Error::model(format!("outputs.hidden: row {row} has a non-finite value")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reloop_core::ErrorKind;

    #[test]
    fn model_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Model>();
    }

    #[test]
    fn garbage_is_a_model_error() {
        let spec = ModelSpec::from_json(
            r#"{ "inputs": [{ "name": "x", "dtype": "f32", "columns": ["a"] }],
                 "fields": { "a": { "kind": "numeric" } },
                 "outputs": { "probability": "y", "hidden": "h" }, "p0": 0.5 }"#,
        )
        .unwrap();
        for bytes in [&b""[..], b"\x08\x07\x12\x00garbage", &[0xff; 64]] {
            let e = Model::load(bytes, spec.clone()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Model, "{e}");
        }
    }
}
