//! The feature encoder: items plus a shared context become the model's
//! input tensors, as the [spec](crate::spec) describes. Items are anything
//! that implements [`Fields`] ([`Item`](crate::Item) maps, or [`FieldValues`](crate::FieldValues) in the
//! model's field order), read by the [value grammar](crate::item).
//!
//! * An item's fields override the context's (the context — e.g. the
//!   user's features — fills whatever the item does not carry). Fields no
//!   input uses are ignored, so items may carry ids, titles and the like.
//! * A field that is absent or `null` in both takes the spec's `default`,
//!   or is an error naming the field and the item.
//! * Unknown categories get the out-of-vocabulary index; a wrong type, a
//!   number that does not fit an `f32` or an oversized batch is an
//!   [`ErrorKind::InvalidInput`] error naming the field and the item index.
//!
//! The encoder is immutable and shared; it writes into caller-owned buffers
//! ([`InputBuffer`], or the owned [`EncodedBatch`]) and a reusable
//! [`Scratch`], so encoding a batch allocates nothing per field or item
//! once the buffers have grown to the batch size.
//!
//! # Examples
//! ```
//! use reloop_runtime::encoder::{EncodedBatch, Encoder};
//! use reloop_runtime::{Item, ModelSpec};
//! use serde_json::json;
//!
//! let spec = ModelSpec::from_json(r#"{
//!   "inputs": [{ "name": "x", "dtype": "i64", "columns": ["genre"] }],
//!   "fields": { "genre": { "kind": "categorical", "vocabulary": { "Drama": 1, "Comedy": 2 } } },
//!   "outputs": { "probability": "y", "hidden": "h" },
//!   "p0": 0.3
//! }"#)?;
//! let encoder = Encoder::new(&spec)?;
//! let items: Vec<Item> = vec![
//!     json!({ "genre": "Comedy" }).as_object().cloned().unwrap_or_default(),
//!     json!({ "genre": "Western" }).as_object().cloned().unwrap_or_default(),
//! ];
//! let mut batch = EncodedBatch::default();
//! encoder.encode(&items, &Item::new(), &mut batch)?;
//! assert_eq!(batch.i64_data(0), Some(&[2, 0][..])); // Western is out of vocabulary
//! # Ok::<(), reloop_core::Error>(())
//! ```

use std::collections::BTreeMap;

use hashbrown::HashMap;
use reloop_core::{Error, ErrorKind, Result};
use serde_json::Value;

use crate::item::{Fields, category_key, is_scalar, number, present, type_name};
use crate::spec::{Closed, DType, FieldSpec, ModelSpec, OovIndex, Pooling, bucket_cardinality, cardinality};

/// FNV-1a 64-bit hash, the spec's category hash (offset basis
/// `0xcbf29ce484222325`, prime `0x100000001b3`, over UTF-8 bytes).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A category lookup: vocabulary or hashing. A vocabulary is a hash map
/// (hashbrown's default hasher, foldhash): ids are looked up per item and
/// field, and a vocabulary of a few thousand keys costs a dozen string
/// comparisons per lookup in an ordered map. Its keys that are canonical
/// integers (`"1997"`, `"-3"`; not `"007"` or `"+5"`) are also kept by
/// value in `ints`, so an integer id is looked up without writing its key.
#[derive(Clone, Debug)]
enum Lookup {
    Vocabulary { map: HashMap<String, i64>, ints: HashMap<i64, i64>, oov: Option<i64> },
    Hash { buckets: u64, offset: i64 },
}

impl Lookup {
    fn new(vocabulary: &Option<BTreeMap<String, i64>>, oov: OovIndex, buckets: Option<u32>, offset: i64) -> Lookup {
        match (vocabulary, buckets) {
            (Some(map), _) => {
                let mut digits = itoa::Buffer::new();
                let ints = map
                    .iter()
                    .filter_map(|(k, v)| k.parse::<i64>().ok().filter(|i| digits.format(*i) == k).map(|i| (i, *v)))
                    .collect();
                Lookup::Vocabulary { map: map.iter().map(|(k, v)| (k.clone(), *v)).collect(), ints, oov: oov.index() }
            }
            (None, Some(n)) => Lookup::Hash { buckets: u64::from(n.max(1)), offset },
            (None, None) => Lookup::Hash { buckets: 1, offset: 0 },
        }
    }

    /// Whether some values get no index (`oovIndex: "none"`).
    fn drops_unknown(&self) -> bool {
        matches!(self, Lookup::Vocabulary { oov: None, .. })
    }

    /// The index of the category `value` holds, as [`Lookup::index`] of its
    /// [`category_key`] (`key` is scratch), but reading a vocabulary's strings
    /// and integers without writing their key; `None` if `value` is not a
    /// scalar.
    fn value_index(&self, value: &Value, key: &mut String) -> Option<Option<i64>> {
        if let Lookup::Vocabulary { map, ints, oov } = self {
            match value {
                Value::String(s) => return Some(map.get(s.as_str()).copied().or(*oov)),
                Value::Number(n) => {
                    if let Some(i) = n.as_i64() {
                        return Some(ints.get(&i).copied().or(*oov));
                    }
                }
                _ => {}
            }
        }
        category_key(value, key).then(|| self.index(key))
    }

    /// The index of a category given by its key string; `None` for a value
    /// outside the vocabulary when `oovIndex` is `"none"`.
    fn index(&self, key: &str) -> Option<i64> {
        match self {
            Lookup::Vocabulary { map, oov, .. } => map.get(key).copied().or(*oov),
            // buckets ≤ u32::MAX, so the remainder fits an i64.
            Lookup::Hash { buckets, offset } => Some(offset + (fnv1a64(key.as_bytes()) % buckets) as i64),
        }
    }
}

/// A field compiled for encoding.
#[derive(Clone, Debug)]
enum Kind {
    Categorical { lookup: Lookup, one_hot: bool },
    Multi { lookup: Lookup, pooling: Pooling, pad: i64 },
    Numeric { mean: f32, std: f32 },
    Bucketized { boundaries: Vec<f64>, closed: Closed, out_of_range: Option<i64>, offset: i64, one_hot: bool },
}

#[derive(Clone, Debug)]
struct Field {
    name: String,
    kind: Kind,
    width: usize,
    default: Option<Value>,
}

/// Where a field's columns go in an input row: field `field` fills
/// `offset..offset + width`.
#[derive(Clone, Copy, Debug)]
struct Placement {
    field: usize,
    offset: usize,
}

/// One input tensor's layout: its columns, field by field.
#[derive(Clone, Debug)]
struct InputLayout {
    name: String,
    dtype: DType,
    width: usize,
    placements: Vec<Placement>,
}

/// A mutable view of one input tensor's data, `rows × width`, row-major.
#[derive(Debug)]
pub enum InputBuffer<'a> {
    /// Data of an `i64` input.
    I64(&'a mut [i64]),
    /// Data of an `f32` input.
    F32(&'a mut [f32]),
}

impl InputBuffer<'_> {
    fn len(&self) -> usize {
        match self {
            InputBuffer::I64(b) => b.len(),
            InputBuffer::F32(b) => b.len(),
        }
    }
}

/// The columns one field writes in one row of an input.
enum FieldColumns<'a> {
    I64(&'a mut [i64]),
    F32(&'a mut [f32]),
}

impl FieldColumns<'_> {
    fn fill(&mut self, v: i64) {
        match self {
            FieldColumns::I64(r) => r.fill(v),
            FieldColumns::F32(r) => r.fill(v as f32),
        }
    }

    fn set_index(&mut self, col: usize, v: i64) {
        match self {
            FieldColumns::I64(r) => {
                if let Some(x) = r.get_mut(col) {
                    *x = v;
                }
            }
            FieldColumns::F32(r) => {
                if let Some(x) = r.get_mut(col) {
                    *x = v as f32;
                }
            }
        }
    }

    fn add(&mut self, col: usize, v: f32) {
        match self {
            FieldColumns::I64(r) => {
                if let Some(x) = r.get_mut(col) {
                    *x = 1;
                }
            }
            FieldColumns::F32(r) => {
                if let Some(x) = r.get_mut(col) {
                    *x += v;
                }
            }
        }
    }

    fn set_one(&mut self, col: usize) {
        match self {
            FieldColumns::I64(r) => {
                if let Some(x) = r.get_mut(col) {
                    *x = 1;
                }
            }
            FieldColumns::F32(r) => {
                if let Some(x) = r.get_mut(col) {
                    *x = 1.0;
                }
            }
        }
    }

    fn set_value(&mut self, col: usize, v: f32) {
        match self {
            FieldColumns::I64(r) => {
                if let Some(x) = r.get_mut(col) {
                    *x = v as i64;
                }
            }
            FieldColumns::F32(r) => {
                if let Some(x) = r.get_mut(col) {
                    *x = v;
                }
            }
        }
    }
}

/// Reusable scratch space for encoding: a key string and the context's
/// row, encoded once per call.
#[derive(Clone, Debug, Default)]
pub struct Scratch {
    key: String,
    pub(crate) context: ContextRow,
}

/// The context encoded once per call: one row per input (spec order) and
/// what became of each field.
#[derive(Clone, Debug, Default)]
pub(crate) struct ContextRow {
    pub(crate) i64s: Vec<Vec<i64>>,
    pub(crate) f32s: Vec<Vec<f32>>,
    /// Per field (field order).
    pub(crate) status: Vec<FieldStatus>,
}

/// A field of the context row.
#[derive(Clone, Debug)]
pub(crate) enum FieldStatus {
    /// Written from the context or the spec's default.
    Encoded,
    /// Neither gives it: every item must.
    Missing,
    /// The context's value is invalid: an error for any item that lacks the field.
    Bad(Error),
}

/// Owned, reusable input buffers: one per input, in spec order.
#[derive(Clone, Debug, Default)]
pub struct EncodedBatch {
    rows: usize,
    i64s: Vec<Vec<i64>>,
    f32s: Vec<Vec<f32>>,
    scratch: Scratch,
}

impl EncodedBatch {
    /// Rows encoded by the last call.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Data of input `index` if it is an `i64` input.
    pub fn i64_data(&self, index: usize) -> Option<&[i64]> {
        self.i64s.get(index).filter(|v| !v.is_empty() || self.rows == 0).map(Vec::as_slice)
    }

    /// Data of input `index` if it is an `f32` input.
    pub fn f32_data(&self, index: usize) -> Option<&[f32]> {
        self.f32s.get(index).filter(|v| !v.is_empty() || self.rows == 0).map(Vec::as_slice)
    }
}

/// Compiled, immutable encoder for one spec. Cheap to share by reference.
#[derive(Clone, Debug)]
pub struct Encoder {
    /// In the spec's (sorted) field order: [`Encoder::field_names`].
    fields: Vec<Field>,
    inputs: Vec<InputLayout>,
    max_batch: usize,
}

impl Encoder {
    /// Compiles the spec (validating it first).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] if the spec is invalid.
    pub fn new(spec: &ModelSpec) -> Result<Encoder> {
        spec.validate()?;
        let mut fields = Vec::with_capacity(spec.fields.len());
        let mut index_of = BTreeMap::new();
        for (name, f) in &spec.fields {
            let width = f.width();
            let (kind, default) = match f {
                FieldSpec::Categorical(c) => (
                    Kind::Categorical {
                        lookup: Lookup::new(&c.vocabulary, c.oov_index, c.hash_buckets, c.hash_offset),
                        one_hot: c.one_hot,
                    },
                    c.default.clone(),
                ),
                FieldSpec::MultiCategorical(m) => (
                    Kind::Multi {
                        lookup: Lookup::new(&m.vocabulary, m.oov_index, m.hash_buckets, m.hash_offset),
                        pooling: m.pooling,
                        pad: m.pad_index,
                    },
                    m.default.clone(),
                ),
                FieldSpec::Numeric(n) => (
                    Kind::Numeric { mean: n.mean, std: n.std },
                    n.default.and_then(serde_json::Number::from_f64).map(Value::Number),
                ),
                FieldSpec::Bucketized(b) => (
                    Kind::Bucketized {
                        boundaries: b.boundaries.clone(),
                        closed: b.closed,
                        out_of_range: b.out_of_range,
                        offset: b.offset,
                        one_hot: b.one_hot,
                    },
                    b.default.and_then(serde_json::Number::from_f64).map(Value::Number),
                ),
            };
            debug_assert!(match f {
                FieldSpec::Categorical(c) if c.one_hot => {
                    width == cardinality(&c.vocabulary, c.oov_index, c.hash_buckets, c.hash_offset)
                }
                FieldSpec::Bucketized(b) if b.one_hot => width == bucket_cardinality(b),
                _ => true,
            });
            index_of.insert(name.as_str(), fields.len());
            fields.push(Field { name: name.clone(), kind, width, default });
        }
        let mut inputs = Vec::with_capacity(spec.inputs.len());
        for input in &spec.inputs {
            let mut placements = Vec::with_capacity(input.columns.len());
            let mut offset = 0;
            for column in &input.columns {
                let Some(&field) = index_of.get(column.as_str()) else {
                    return Err(Error::config(format!("inputs: no field named `{column}`")));
                };
                placements.push(Placement { field, offset });
                offset += fields.get(field).map_or(0, |f| f.width);
            }
            inputs.push(InputLayout { name: input.name.clone(), dtype: input.dtype, width: offset, placements });
        }
        Ok(Encoder { fields, inputs, max_batch: spec.max_batch })
    }

    /// The names of the fields the model reads, in the order [`FieldValues`]
    /// holds them (the spec's fields, sorted by name).
    ///
    /// [`FieldValues`]: crate::item::FieldValues
    pub fn field_names(&self) -> impl ExactSizeIterator<Item = &str> {
        self.fields.iter().map(|f| f.name.as_str())
    }

    /// Number of input tensors.
    pub fn input_count(&self) -> usize {
        self.inputs.len()
    }

    /// Name, element type and width of input `index` (spec order).
    pub fn input(&self, index: usize) -> Option<(&str, DType, usize)> {
        self.inputs.get(index).map(|i| (i.name.as_str(), i.dtype, i.width))
    }

    /// The largest batch accepted.
    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// Encodes `items` (with `context` filling what they lack) into `out`,
    /// resizing its buffers as needed.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] naming the item index and field for a
    /// missing field without default or a wrong type, or naming the batch
    /// size if it exceeds [`Encoder::max_batch`].
    pub fn encode<I: Fields, C: Fields + ?Sized>(
        &self,
        items: &[I],
        context: &C,
        out: &mut EncodedBatch,
    ) -> Result<()> {
        self.check_batch(items.len())?;
        let n = items.len();
        out.rows = 0;
        out.i64s.resize_with(self.inputs.len(), Vec::new);
        out.f32s.resize_with(self.inputs.len(), Vec::new);
        for ((i, f), input) in out.i64s.iter_mut().zip(out.f32s.iter_mut()).zip(&self.inputs) {
            let len = n * input.width;
            match input.dtype {
                DType::I64 => {
                    i.resize(len, 0);
                    f.clear();
                }
                DType::F32 => {
                    f.resize(len, 0.0);
                    i.clear();
                }
            }
        }
        let mut buffers: Vec<InputBuffer<'_>> = out
            .i64s
            .iter_mut()
            .zip(out.f32s.iter_mut())
            .zip(&self.inputs)
            .map(|((i, f), input)| match input.dtype {
                DType::I64 => InputBuffer::I64(i.as_mut_slice()),
                DType::F32 => InputBuffer::F32(f.as_mut_slice()),
            })
            .collect();
        self.encode_into(items, context, &mut buffers, &mut out.scratch)?;
        out.rows = n;
        Ok(())
    }

    /// Encodes into caller-provided buffers, one per input in spec order,
    /// each exactly `items.len() × width` long with the input's type. This
    /// is the zero-copy path (e.g. straight into a tensor's memory).
    ///
    /// # Errors
    /// As [`Encoder::encode`]; also [`ErrorKind::InvalidInput`] if a buffer
    /// has the wrong type or length. Buffers are partly written on error.
    pub fn encode_into<I: Fields, C: Fields + ?Sized>(
        &self,
        items: &[I],
        context: &C,
        buffers: &mut [InputBuffer<'_>],
        scratch: &mut Scratch,
    ) -> Result<()> {
        self.check_batch(items.len())?;
        if buffers.len() != self.inputs.len() {
            return Err(Error::input(format!(
                "{} input buffers given, the spec has {} inputs",
                buffers.len(),
                self.inputs.len()
            )));
        }
        for (input, buffer) in self.inputs.iter().zip(buffers.iter()) {
            let type_ok =
                matches!((input.dtype, buffer), (DType::I64, InputBuffer::I64(_)) | (DType::F32, InputBuffer::F32(_)));
            if !type_ok || buffer.len() != items.len() * input.width {
                return Err(Error::input(format!(
                    "buffer for input `{}` must be {} x {} {} values, got {}",
                    input.name,
                    items.len(),
                    input.width,
                    input.dtype.name(),
                    buffer.len()
                )));
            }
        }
        self.encode_context(context, scratch);
        for (i, item) in items.iter().enumerate() {
            self.encode_row(item, i, buffers, scratch).map_err(|e| e.with_context(format_args!("item {i}")))?;
        }
        Ok(())
    }

    /// Encodes the context once into `scratch` (the fields it or the spec's
    /// defaults give; a bad value is kept as its error, raised only for an
    /// item that needs the field).
    pub(crate) fn encode_context<C: Fields + ?Sized>(&self, context: &C, scratch: &mut Scratch) {
        let Scratch { key, context: row, .. } = scratch;
        row.status.clear();
        row.i64s.resize_with(self.inputs.len(), Vec::new);
        row.f32s.resize_with(self.inputs.len(), Vec::new);
        for (k, input) in self.inputs.iter().enumerate() {
            let (Some(i64s), Some(f32s)) = (row.i64s.get_mut(k), row.f32s.get_mut(k)) else { continue };
            i64s.clear();
            f32s.clear();
            match input.dtype {
                DType::I64 => i64s.resize(input.width, 0),
                DType::F32 => f32s.resize(input.width, 0.0),
            }
        }
        for (index, field) in self.fields.iter().enumerate() {
            let status = match resolve(field, index, &Empty, context) {
                None => FieldStatus::Missing,
                Some((value, source)) => {
                    let mut result = Ok(());
                    for (k, input) in self.inputs.iter().enumerate() {
                        for placement in input.placements.iter().filter(|p| p.field == index) {
                            let range = placement.offset..placement.offset + field.width;
                            let columns = match input.dtype {
                                DType::I64 => row.i64s.get_mut(k).and_then(|r| r.get_mut(range)).map(FieldColumns::I64),
                                DType::F32 => row.f32s.get_mut(k).and_then(|r| r.get_mut(range)).map(FieldColumns::F32),
                            };
                            if let Some(mut columns) = columns {
                                result = result.and_then(|()| write_field(field, value, source, &mut columns, key));
                            }
                        }
                    }
                    match result {
                        Ok(()) => FieldStatus::Encoded,
                        Err(e) => FieldStatus::Bad(e),
                    }
                }
            };
            row.status.push(status);
        }
    }

    /// Encodes row `row` of `buffers`: the item's own fields, the context's
    /// (already in `scratch`, [`Encoder::encode_context`]) for the rest.
    fn encode_row<I: Fields>(
        &self,
        item: &I,
        row: usize,
        buffers: &mut [InputBuffer<'_>],
        scratch: &mut Scratch,
    ) -> Result<()> {
        let Scratch { key, context, .. } = scratch;
        for (k, (input, buffer)) in self.inputs.iter().zip(buffers.iter_mut()).enumerate() {
            let start = row * input.width;
            for placement in &input.placements {
                let Some(field) = self.fields.get(placement.field) else { continue };
                let from = start + placement.offset;
                let to = from + field.width;
                let own = present(item, placement.field, &field.name);
                let context_cols = placement.offset..placement.offset + field.width;
                match own {
                    Some(value) => {
                        let columns = match &mut *buffer {
                            InputBuffer::I64(b) => b.get_mut(from..to).map(FieldColumns::I64),
                            InputBuffer::F32(b) => b.get_mut(from..to).map(FieldColumns::F32),
                        };
                        if let Some(mut columns) = columns {
                            write_field(field, value, Source::Item, &mut columns, key)?;
                        }
                    }
                    None => {
                        match context.status.get(placement.field) {
                            Some(FieldStatus::Encoded) => {}
                            Some(FieldStatus::Bad(e)) => return Err(e.clone()),
                            _ => return Err(missing(field)),
                        }
                        match &mut *buffer {
                            InputBuffer::I64(b) => {
                                copy(
                                    b.get_mut(from..to),
                                    context.i64s.get(k).and_then(|c| c.get(context_cols.clone())),
                                );
                            }
                            InputBuffer::F32(b) => {
                                copy(
                                    b.get_mut(from..to),
                                    context.f32s.get(k).and_then(|c| c.get(context_cols.clone())),
                                );
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Number of fields ([`Encoder::field_names`]).
    pub fn field_count(&self) -> usize {
        self.fields.len()
    }

    /// Encodes one row with only the item's own fields (those present in
    /// it) into `buffers` (one row per input); the columns of the others
    /// are left as they are. Returns which fields it carried (field order).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] for a value of the wrong type, naming the field.
    pub(crate) fn encode_own<I: Fields>(
        &self,
        item: &I,
        buffers: &mut [InputBuffer<'_>],
        scratch: &mut Scratch,
    ) -> Result<Vec<bool>> {
        let mut carried = vec![false; self.fields.len()];
        for (input, buffer) in self.inputs.iter().zip(buffers.iter_mut()) {
            for placement in &input.placements {
                let Some(field) = self.fields.get(placement.field) else { continue };
                let Some(value) = present(item, placement.field, &field.name) else { continue };
                let range = placement.offset..placement.offset + field.width;
                let columns = match buffer {
                    InputBuffer::I64(b) => b.get_mut(range).map(FieldColumns::I64),
                    InputBuffer::F32(b) => b.get_mut(range).map(FieldColumns::F32),
                };
                if let Some(mut columns) = columns {
                    write_field(field, value, Source::Item, &mut columns, &mut scratch.key)?;
                }
                if let Some(c) = carried.get_mut(placement.field) {
                    *c = true;
                }
            }
        }
        Ok(carried)
    }

    /// The column ranges, per input (spec order), that the fields in
    /// `carried` fill: what a pre-encoded row contributes over the context's.
    pub(crate) fn segments(&self, carried: &[bool]) -> Vec<Vec<(usize, usize)>> {
        self.inputs
            .iter()
            .map(|input| {
                let mut ranges: Vec<(usize, usize)> = Vec::new();
                for placement in &input.placements {
                    if !carried.get(placement.field).copied().unwrap_or(false) {
                        continue;
                    }
                    let width = self.fields.get(placement.field).map_or(0, |f| f.width);
                    let (from, to) = (placement.offset, placement.offset + width);
                    match ranges.last_mut() {
                        Some(last) if last.1 == from => last.1 = to,
                        _ => ranges.push((from, to)),
                    }
                }
                ranges
            })
            .collect()
    }

    /// Whether the context row in `scratch` gives every field `carried`
    /// lacks; else the error of the first one that is missing or bad.
    pub(crate) fn context_covers(&self, carried: &[bool], scratch: &Scratch) -> Result<()> {
        for placement in self.inputs.iter().flat_map(|input| &input.placements) {
            if carried.get(placement.field).copied().unwrap_or(false) {
                continue;
            }
            match scratch.context.status.get(placement.field) {
                Some(FieldStatus::Encoded) => {}
                Some(FieldStatus::Bad(e)) => return Err(e.clone()),
                _ => return Err(self.fields.get(placement.field).map_or_else(|| Error::input("field"), missing)),
            }
        }
        Ok(())
    }

    /// Refuses a batch larger than the spec's `maxBatch`.
    pub(crate) fn check_batch(&self, n: usize) -> Result<()> {
        if n > self.max_batch {
            return Err(Error::input(format!("batch of {n} items is larger than maxBatch {}", self.max_batch)));
        }
        Ok(())
    }
}

/// Where a value came from, for messages.
#[derive(Clone, Copy)]
enum Source {
    Item,
    Context,
    Default,
}

impl Source {
    fn describe(self, field: &str) -> String {
        match self {
            Source::Item => format!("field `{field}`"),
            Source::Context => format!("context field `{field}`"),
            Source::Default => format!("default of field `{field}`"),
        }
    }
}

/// No fields at all (the context's own item, when it is encoded alone).
struct Empty;

impl Fields for Empty {
    fn field(&self, _index: usize, _name: &str) -> Option<&Value> {
        None
    }
}

/// Copies `from` into `to` when both exist and agree in length.
fn copy<T: Copy>(to: Option<&mut [T]>, from: Option<&[T]>) {
    if let (Some(to), Some(from)) = (to, from) {
        if to.len() == from.len() {
            to.copy_from_slice(from);
        }
    }
}

/// The error for a field neither the item, the context nor a default gives.
fn missing(field: &Field) -> Error {
    Error::input(format!("field `{}` is missing and has no default", field.name))
}

/// Where field `index`'s value comes from: the item, then the context, then
/// the spec's default; `None` when none gives it.
fn resolve<'a, I: Fields + ?Sized, C: Fields + ?Sized>(
    field: &'a Field,
    index: usize,
    item: &'a I,
    context: &'a C,
) -> Option<(&'a Value, Source)> {
    if let Some(v) = present(item, index, &field.name) {
        Some((v, Source::Item))
    } else if let Some(v) = present(context, index, &field.name) {
        Some((v, Source::Context))
    } else {
        field.default.as_ref().map(|v| (v, Source::Default))
    }
}

/// Writes `value` (from `source`, for messages) as `field`'s columns.
fn write_field(
    field: &Field,
    value: &Value,
    source: Source,
    row: &mut FieldColumns<'_>,
    key: &mut String,
) -> Result<()> {
    let wrong = |what: &str| {
        Error::new(
            ErrorKind::InvalidInput,
            format!("{} must be {what}, got {}", source.describe(&field.name), type_name(value)),
        )
    };
    match &field.kind {
        Kind::Categorical { lookup, one_hot } => {
            let Some(index) = lookup.value_index(value, key) else {
                return Err(wrong("a string, number or boolean"));
            };
            if *one_hot {
                row.fill(0);
                if let Some(index) = index {
                    row.set_one(usize::try_from(index).unwrap_or(usize::MAX));
                }
            } else {
                // Validation refuses "none" without oneHot, so there is an index.
                row.set_index(0, index.unwrap_or(0));
            }
        }
        Kind::Multi { lookup, pooling, pad } => {
            let values: &[Value] = match value {
                Value::Array(values) => values,
                single => std::slice::from_ref(single),
            };
            if !values.iter().all(is_scalar) {
                return Err(wrong("a list of strings, numbers or booleans"));
            }
            match pooling {
                Pooling::Pad => {
                    row.fill(*pad);
                    let mut col = 0;
                    for v in values {
                        if col == field.width {
                            break;
                        }
                        if let Some(index) = lookup.value_index(v, key).flatten() {
                            row.set_index(col, index);
                            col += 1;
                        }
                    }
                }
                Pooling::MultiHot | Pooling::Mean => {
                    row.fill(0);
                    // Mean over the values that have an index (all of them unless oovIndex is "none").
                    let known = if *pooling == Pooling::Mean && lookup.drops_unknown() {
                        values.iter().filter(|v| lookup.value_index(v, key).flatten().is_some()).count()
                    } else {
                        values.len()
                    };
                    let weight = if *pooling == Pooling::Mean { 1.0 / known.max(1) as f32 } else { 1.0 };
                    for v in values {
                        let Some(index) = lookup.value_index(v, key).flatten() else { continue };
                        let col = usize::try_from(index).unwrap_or(usize::MAX);
                        if *pooling == Pooling::Mean {
                            row.add(col, weight);
                        } else {
                            row.set_one(col);
                        }
                    }
                }
            }
        }
        Kind::Numeric { mean, std } => {
            let x = number(value).ok_or_else(|| wrong("a number"))?;
            let z = (x as f32 - mean) / std;
            if !z.is_finite() {
                return Err(Error::input(format!(
                    "{} = {x} does not give a finite f32 after normalisation",
                    source.describe(&field.name)
                )));
            }
            row.set_value(0, z);
        }
        Kind::Bucketized { boundaries, closed, out_of_range, offset, one_hot } => {
            let x = number(value).ok_or_else(|| wrong("a number"))?;
            if !x.is_finite() {
                return Err(Error::input(format!("{} must be finite, got {x}", source.describe(&field.name))));
            }
            // Boundaries at or below x (left-closed buckets) or below it (right-closed).
            let below = match closed {
                Closed::Left => boundaries.partition_point(|b| *b <= x),
                Closed::Right => boundaries.partition_point(|b| *b < x),
            };
            let bucket = i64::try_from(below).unwrap_or(i64::MAX);
            let index = match *out_of_range {
                None => offset.saturating_add(bucket),
                // Between the first and last boundary: buckets 0..len-1 from the offset.
                Some(_) if below >= 1 && below < boundaries.len() => offset.saturating_add(bucket - 1),
                Some(out) => out,
            };
            if *one_hot {
                row.fill(0);
                row.set_one(usize::try_from(index).unwrap_or(usize::MAX));
            } else {
                row.set_index(0, index);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_looked_up_as_its_category_key() {
        let vocabulary: BTreeMap<String, i64> = ["1997", "-3", "+5", "007", "x", "true", "0.5", "18446744073709551615"]
            .iter()
            .enumerate()
            .map(|(i, k)| ((*k).to_owned(), i64::try_from(i).unwrap() + 10))
            .collect();
        let values = serde_json::json!([
            1997,
            1997.0,
            -3,
            5,
            "+5",
            7,
            "007",
            "x",
            "y",
            true,
            false,
            0.5,
            18_446_744_073_709_551_615_u64,
            -0.0,
            [1]
        ]);
        let mut key = String::new();
        for oov in [OovIndex::Index(1), OovIndex::None] {
            let lookup = Lookup::new(&Some(vocabulary.clone()), oov, None, 0);
            for v in values.as_array().unwrap() {
                let by_key = category_key(v, &mut key).then(|| lookup.index(&key));
                assert_eq!(lookup.value_index(v, &mut key), by_key, "{v} ({oov:?})");
            }
        }
        assert_eq!(
            Lookup::new(&Some(vocabulary), OovIndex::Index(1), None, 0).value_index(&serde_json::json!(5), &mut key),
            Some(Some(1))
        );
    }

    #[test]
    fn fnv_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }
}
