//! The model spec: the JSON file shipped beside the ONNX that says how items
//! become input tensors, which outputs to read, and the model's `μ` and `p0`
//! (DESIGN §2).
//!
//! The spec is parsed strictly (unknown keys are errors, names are
//! camelCase) and validated as a whole by [`ModelSpec::validate`]; every
//! error names the offending key, e.g. `fields.genres.maxLen`. Checks that
//! need the ONNX graph (input names, widths, output nodes, hidden width
//! against `mu`) happen when the model is loaded ([`crate::model::Model`]).
//!
//! # Format (version 1)
//!
//! ```json
//! {
//!   "version": 1,
//!   "inputs": [
//!     { "name": "ids",   "dtype": "i64", "columns": ["user", "item", "genres"] },
//!     { "name": "dense", "dtype": "f32", "columns": ["age", "price"] }
//!   ],
//!   "fields": {
//!     "user":   { "kind": "categorical", "hashBuckets": 1000, "hashOffset": 1 },
//!     "item":   { "kind": "categorical", "vocabulary": { "i1": 1, "i2": 2 }, "oovIndex": 0 },
//!     "genres": { "kind": "multiCategorical", "vocabulary": { "Drama": 1, "Comedy": 2 },
//!                 "pooling": "pad", "maxLen": 3, "padIndex": 0, "default": [] },
//!     "age":    { "kind": "numeric", "mean": 33.0, "std": 11.0, "default": 33.0 },
//!     "price":  { "kind": "bucketized", "boundaries": [5, 10, 20], "oneHot": false }
//!   },
//!   "outputs": { "probability": "prob", "kind": "probability", "hidden": "relu1" },
//!   "mu": [0.1, 0.0, 0.3],
//!   "p0": 0.55,
//!   "maxBatch": 1000
//! }
//! ```
//!
//! ## Top level
//! | key | meaning |
//! |-----|---------|
//! | `version` | format version, `1` (default 1) |
//! | `inputs` | the model's input tensors, in any order; every non-constant ONNX input must be listed |
//! | `fields` | field name → field encoding (below); every field must fill at least one column |
//! | `outputs` | `probability`: the output (or any tensor) giving the click score; `kind`: `probability` (default), `logit` (sigmoid applied) or `softmax2` (an `[N, 2]` tensor, column 1 is taken, as skl2onnx emits); `hidden`: the key vector `h` the memory hashes (below) |
//! | `mu` | optional centring vector, length = the key's width (the mean of `h` on the training data) |
//! | `p0` | the training label rate, in (0, 1) |
//! | `maxBatch` | largest batch accepted, default [`DEFAULT_MAX_BATCH`], at most [`MAX_BATCH`] |
//!
//! ## The key (`outputs.hidden`)
//! Either the name of a tensor or node — any intermediate one, not only a
//! graph output — whose row is `h`, or a list of parts concatenated in
//! order, each `{ "node": name, "columns": [from, to], "scale": s }`
//! (`columns` default: the whole row; `scale` default 1, > 0):
//! `h = [s₁·x₁[from₁..to₁], s₂·x₂[from₂..to₂], …]`. A key built from
//! item-side tensors tells a session's items apart, where the last hidden
//! layer is often dominated by the user's features (constant within a
//! session); scaling weighs one part against another in the hash.
//!
//! ## Inputs
//! Each input is a `[N, width]` tensor (`N` = batch) of `dtype` `i64` or
//! `f32`; `columns` lists fields left to right, each filling its width
//! (below). A width-1 input declared with rank 1 in the ONNX (`[N]`) is fed
//! as `[N]`.
//!
//! ## Fields
//! Every field has a `kind` and an optional `default`, used when an item
//! (and the context) lacks the field or has it `null`; without a default a
//! missing field is an error.
//!
//! * `categorical` — one value (string, number or boolean) to an index.
//!   Either a `vocabulary` (value → index; numbers are looked up by their
//!   decimal form, so `"1997"` matches `1997`; unknown values get `oovIndex`,
//!   default 0) or `hashBuckets` (index = `hashOffset` + FNV-1a-64(UTF-8 of
//!   the value's string form) mod `hashBuckets`). Width 1 (the index), or
//!   the cardinality with `"oneHot": true` (a 1 at the index).
//! * `multiCategorical` — a list of such values (a single value counts as a
//!   one-element list), same lookup keys, and `pooling`:
//!   `pad` (width `maxLen`: the indices, truncated to `maxLen` and padded
//!   with `padIndex`, default 0), `multiHot` (width = cardinality, 1 at each
//!   index) or `mean` (width = cardinality, `1/k` per value; `f32` inputs
//!   only).
//! * `numeric` — a number (booleans count as 0/1), written as
//!   `(x − mean) / std` (defaults 0 and 1) into an `f32` input.
//! * `bucketized` — a number to the index `offset + #{b ∈ boundaries : b ≤ x}`
//!   (boundaries strictly increasing); width 1, or the cardinality with
//!   `"oneHot": true`.
//!
//! The cardinality of a vocabulary is `max(index, oovIndex) + 1`, of hashing
//! `hashOffset + hashBuckets`, of bucketizing `offset + boundaries + 1`.
//! Indices written into an `f32` input are written as floats.
//!
//! The spec is part of the model identity: the same ONNX with another spec
//! is another model (see [`ModelSpec::canonical_bytes`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use reloop_core::{Error, Result};

/// The format version this build reads.
pub const SPEC_VERSION: u32 = 1;
/// Default `maxBatch`.
pub const DEFAULT_MAX_BATCH: usize = 1000;
/// Largest `maxBatch` accepted.
pub const MAX_BATCH: usize = 100_000;
/// Largest width of one input tensor (columns per row).
pub const MAX_WIDTH: usize = 1 << 20;
/// Largest `maxLen` of a padded multi-valued field.
pub const MAX_LEN: usize = 4096;
/// Largest index a field may produce (indices written into `f32` inputs
/// must be exact, so `2^24`).
pub const MAX_INDEX: i64 = 1 << 24;

/// A parsed model spec. See the [module docs](self) for the format.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModelSpec {
    /// Format version; only [`SPEC_VERSION`] is read.
    #[serde(default = "default_version")]
    pub version: u32,
    /// The model's input tensors and which fields fill their columns.
    pub inputs: Vec<InputSpec>,
    /// Field name → how a value becomes columns.
    pub fields: BTreeMap<String, FieldSpec>,
    /// Which outputs to read.
    pub outputs: OutputSpec,
    /// The centring vector `μ` (mean hidden vector on the training data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mu: Option<Vec<f32>>,
    /// The training label rate, in (0, 1).
    pub p0: f32,
    /// Largest batch accepted by the encoder.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
}

fn default_version() -> u32 {
    SPEC_VERSION
}

fn default_max_batch() -> usize {
    DEFAULT_MAX_BATCH
}

/// Element type of an input tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// 64-bit integers (indices for embeddings).
    I64,
    /// 32-bit floats.
    F32,
}

impl DType {
    /// The name used in the spec.
    pub fn name(self) -> &'static str {
        match self {
            DType::I64 => "i64",
            DType::F32 => "f32",
        }
    }
}

/// One input tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InputSpec {
    /// The ONNX graph input name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Field names, left to right; each fills its width.
    pub columns: Vec<String>,
}

/// How the probability output is expressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OutputKind {
    /// A probability per row (`[N]` or `[N, 1]`).
    #[default]
    Probability,
    /// A logit per row; the runtime applies the sigmoid.
    Logit,
    /// Two columns per row (`[N, 2]`, e.g. skl2onnx `probabilities`); column 1 is taken.
    Softmax2,
}

/// The two outputs the runtime reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutputSpec {
    /// Tensor (or node) name of the click score.
    pub probability: String,
    /// How to read it.
    #[serde(default)]
    pub kind: OutputKind,
    /// The key vector `h` the memory hashes: one tensor or node (any
    /// intermediate one), or several parts concatenated.
    pub hidden: KeySpec,
}

/// What the memory's key vector `h` is made of.
///
/// Written either as a tensor (or node) name — its whole row is `h` — or
/// as a list of parts, concatenated in order: `h = [scale₁·x₁[from₁..to₁],
/// scale₂·x₂[from₂..to₂], …]`. A part may be any intermediate tensor with the
/// batch dimension first (its row flattened), a column range of it, and
/// scaled, so that one part (say, the item-side embeddings) weighs more in
/// the hash than another (say, the last hidden layer). `mu` centres the
/// assembled `h`. The key is part of the spec, so of the model identity: a
/// memory saved under another key is another model's.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum KeySpec {
    /// The whole row of one tensor or node.
    Node(String),
    /// Parts concatenated in order.
    Parts(Vec<KeyPart>),
}

/// One part of a [`KeySpec`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyPart {
    /// Tensor (or node) name; its row (everything after the batch
    /// dimension) flattened.
    pub node: String,
    /// Columns `[from, to)` of that row; default: all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<[usize; 2]>,
    /// Factor applied to the part, finite and > 0; default 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub scale: f32,
}

fn is_one(v: &f32) -> bool {
    *v == 1.0
}

impl KeySpec {
    /// The parts, a bare name being one part of its whole row.
    pub fn parts(&self) -> Vec<KeyPart> {
        match self {
            KeySpec::Node(node) => vec![KeyPart { node: node.clone(), columns: None, scale: 1.0 }],
            KeySpec::Parts(parts) => parts.clone(),
        }
    }

    /// The tensor names the key reads, in order, each once.
    pub fn nodes(&self) -> Vec<String> {
        let mut nodes: Vec<String> = Vec::new();
        for part in self.parts() {
            if !nodes.contains(&part.node) {
                nodes.push(part.node);
            }
        }
        nodes
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySpec::Node(node) => write!(f, "`{node}`"),
            KeySpec::Parts(parts) => {
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" + ")?;
                    }
                    write!(f, "`{}`", part.node)?;
                    if let Some([from, to]) = part.columns {
                        write!(f, "[{from}..{to}]")?;
                    }
                    if part.scale != 1.0 {
                        write!(f, "×{}", part.scale)?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl<'de> Deserialize<'de> for KeySpec {
    /// A string, or a list of parts; errors name the part's key, not "no
    /// variant matched".
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<KeySpec, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = KeySpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a tensor name or a list of key parts ({ \"node\": ..., \"columns\": [from, to], \"scale\": ... })",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<KeySpec, E> {
                Ok(KeySpec::Node(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> std::result::Result<KeySpec, A::Error> {
                Vec::<KeyPart>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(KeySpec::Parts)
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

/// How one field's value becomes columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum FieldSpec {
    /// One category → an index (or one-hot).
    Categorical(CategoricalSpec),
    /// A list of categories → padded indices, multi-hot or mean.
    MultiCategorical(MultiCategoricalSpec),
    /// A number, optionally normalised.
    Numeric(NumericSpec),
    /// A number → the index of its bucket.
    Bucketized(BucketizedSpec),
}

/// A single-valued categorical field.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CategoricalSpec {
    /// Value (as a string) → index. Exclusive with `hashBuckets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocabulary: Option<BTreeMap<String, i64>>,
    /// Index of values not in the vocabulary. Default 0.
    #[serde(default)]
    pub oov_index: i64,
    /// Hash values into this many buckets. Exclusive with `vocabulary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_buckets: Option<u32>,
    /// Added to the hashed bucket. Default 0.
    #[serde(default)]
    pub hash_offset: i64,
    /// Write a one-hot vector of the cardinality instead of the index.
    #[serde(default)]
    pub one_hot: bool,
    /// Value used when the field is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// How a multi-valued field is pooled into columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Pooling {
    /// `maxLen` indices, padded with `padIndex`.
    Pad,
    /// A 0/1 vector of the cardinality.
    MultiHot,
    /// `1/k` at each of the `k` indices (f32 inputs only).
    Mean,
}

/// A multi-valued categorical field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MultiCategoricalSpec {
    /// Value (as a string) → index. Exclusive with `hashBuckets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocabulary: Option<BTreeMap<String, i64>>,
    /// Index of values not in the vocabulary. Default 0.
    #[serde(default)]
    pub oov_index: i64,
    /// Hash values into this many buckets. Exclusive with `vocabulary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_buckets: Option<u32>,
    /// Added to the hashed bucket. Default 0.
    #[serde(default)]
    pub hash_offset: i64,
    /// How the indices are pooled.
    pub pooling: Pooling,
    /// Width of `pad` pooling (required for it, refused otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<usize>,
    /// Pad index of `pad` pooling. Default 0.
    #[serde(default)]
    pub pad_index: i64,
    /// Value (a list) used when the field is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
}

/// A numeric field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NumericSpec {
    /// Subtracted first. Default 0.
    #[serde(default)]
    pub mean: f32,
    /// Divided by next, > 0. Default 1.
    #[serde(default = "one")]
    pub std: f32,
    /// Value used when the field is missing (before normalisation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<f64>,
}

fn one() -> f32 {
    1.0
}

/// A numeric field bucketized into an index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BucketizedSpec {
    /// Strictly increasing bucket boundaries.
    pub boundaries: Vec<f64>,
    /// Added to the bucket number. Default 0.
    #[serde(default)]
    pub offset: i64,
    /// Write a one-hot vector of the cardinality instead of the index.
    #[serde(default)]
    pub one_hot: bool,
    /// Value used when the field is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<f64>,
}

impl ModelSpec {
    /// Parses and validates a spec from JSON text.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidConfig`] for malformed JSON, unknown or
    /// missing keys (serde's message names them) or any failed check of
    /// [`ModelSpec::validate`].
    ///
    /// # Examples
    /// ```
    /// use reloop_runtime::ModelSpec;
    /// let spec = ModelSpec::from_json(r#"{
    ///   "inputs": [{ "name": "x", "dtype": "f32", "columns": ["age"] }],
    ///   "fields": { "age": { "kind": "numeric", "mean": 30, "std": 10 } },
    ///   "outputs": { "probability": "y", "hidden": "h" },
    ///   "p0": 0.3
    /// }"#)?;
    /// assert_eq!(spec.max_batch, 1000);
    /// # Ok::<(), reloop_core::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<ModelSpec> {
        let mut de = serde_json::Deserializer::from_str(text);
        let spec: ModelSpec = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| Error::config(crate::options::keyed("model spec", &e)))?;
        de.end().map_err(|e| Error::config(format!("model spec: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// A canonical serialisation (keys sorted, no whitespace): what the
    /// model identity hashes, so reformatting the file keeps the identity.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serialising plain structs, BTreeMaps and finite numbers cannot fail;
        // an empty vector would still be a deterministic identity input.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Checks the spec on its own (no model needed).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidConfig`] naming the first offending key.
    pub fn validate(&self) -> Result<()> {
        if self.version != SPEC_VERSION {
            return Err(Error::config(format!(
                "version: spec format {} is not supported (this build reads {SPEC_VERSION})",
                self.version
            )));
        }
        if self.inputs.is_empty() {
            return Err(Error::config("inputs: at least one input tensor is required"));
        }
        for (name, field) in &self.fields {
            if name.is_empty() {
                return Err(Error::config("fields: a field name is empty"));
            }
            field.validate(&format!("fields.{name}"))?;
        }
        let mut used = BTreeMap::<&str, bool>::new();
        for (i, input) in self.inputs.iter().enumerate() {
            let at = format!("inputs[{i}]");
            if input.name.is_empty() {
                return Err(Error::config(format!("{at}.name: must not be empty")));
            }
            if self.inputs[..i].iter().any(|other| other.name == input.name) {
                return Err(Error::config(format!("{at}.name: input `{}` is listed twice", input.name)));
            }
            if input.columns.is_empty() {
                return Err(Error::config(format!("{at}.columns: input `{}` has no columns", input.name)));
            }
            let mut width = 0usize;
            for (c, column) in input.columns.iter().enumerate() {
                let Some(field) = self.fields.get(column) else {
                    return Err(Error::config(format!("{at}.columns[{c}]: no field named `{column}` in fields")));
                };
                field.check_dtype(input.dtype).map_err(|why| {
                    Error::config(format!("{at}.columns[{c}]: field `{column}` {why} (input `{}`)", input.name))
                })?;
                width = width.saturating_add(field.width());
                used.insert(column, true);
            }
            if width > MAX_WIDTH {
                return Err(Error::config(format!(
                    "{at}.columns: input `{}` would be {width} columns wide, more than {MAX_WIDTH}",
                    input.name
                )));
            }
        }
        if let Some(unused) = self.fields.keys().find(|name| !used.contains_key(name.as_str())) {
            return Err(Error::config(format!("fields.{unused}: field is not used by any input's columns")));
        }
        if self.outputs.probability.is_empty() {
            return Err(Error::config("outputs.probability: must not be empty"));
        }
        if let KeySpec::Parts(parts) = &self.outputs.hidden {
            if parts.is_empty() {
                return Err(Error::config("outputs.hidden: a list of key parts must not be empty"));
            }
        }
        for (i, part) in self.outputs.hidden.parts().iter().enumerate() {
            let at = match self.outputs.hidden {
                KeySpec::Node(_) => "outputs.hidden".to_string(),
                KeySpec::Parts(_) => format!("outputs.hidden[{i}]"),
            };
            if part.node.is_empty() {
                return Err(Error::config(format!("{at}: must name a tensor")));
            }
            if part.node == self.outputs.probability {
                return Err(Error::config(format!("{at}: must differ from outputs.probability")));
            }
            if let Some([from, to]) = part.columns {
                if from >= to || to > MAX_WIDTH {
                    return Err(Error::config(format!(
                        "{at}.columns: [{from}, {to}] must be a non-empty range [from, to) below {MAX_WIDTH}"
                    )));
                }
            }
            if !(part.scale.is_finite() && part.scale > 0.0) {
                return Err(Error::config(format!("{at}.scale: must be finite and > 0, got {}", part.scale)));
            }
        }
        if let Some(mu) = &self.mu {
            if mu.is_empty() {
                return Err(Error::config("mu: must not be empty (omit it for no centring)"));
            }
            if let Some(i) = mu.iter().position(|v| !v.is_finite()) {
                return Err(Error::config(format!("mu[{i}]: must be finite")));
            }
        }
        if !(self.p0 > 0.0 && self.p0 < 1.0) {
            return Err(Error::config(format!("p0: must be in (0, 1), got {}", self.p0)));
        }
        if self.max_batch == 0 || self.max_batch > MAX_BATCH {
            return Err(Error::config(format!("maxBatch: must be in 1..={MAX_BATCH}, got {}", self.max_batch)));
        }
        Ok(())
    }

    /// The width (columns per row) of each input, in `inputs` order.
    pub fn input_widths(&self) -> Vec<usize> {
        self.inputs
            .iter()
            .map(|input| input.columns.iter().filter_map(|c| self.fields.get(c)).map(FieldSpec::width).sum())
            .collect()
    }
}

impl FieldSpec {
    /// The kind's name in the spec.
    pub fn kind_name(&self) -> &'static str {
        match self {
            FieldSpec::Categorical(_) => "categorical",
            FieldSpec::MultiCategorical(_) => "multiCategorical",
            FieldSpec::Numeric(_) => "numeric",
            FieldSpec::Bucketized(_) => "bucketized",
        }
    }

    /// Columns the field fills (assumes a validated spec).
    pub fn width(&self) -> usize {
        match self {
            FieldSpec::Categorical(c) if c.one_hot => {
                cardinality(&c.vocabulary, c.oov_index, c.hash_buckets, c.hash_offset)
            }
            FieldSpec::Categorical(_) | FieldSpec::Numeric(_) => 1,
            FieldSpec::MultiCategorical(m) => match m.pooling {
                Pooling::Pad => m.max_len.unwrap_or(0),
                Pooling::MultiHot | Pooling::Mean => {
                    cardinality(&m.vocabulary, m.oov_index, m.hash_buckets, m.hash_offset)
                }
            },
            FieldSpec::Bucketized(b) if b.one_hot => bucket_cardinality(b),
            FieldSpec::Bucketized(_) => 1,
        }
    }

    fn check_dtype(&self, dtype: DType) -> std::result::Result<(), &'static str> {
        match (self, dtype) {
            (FieldSpec::Numeric(_), DType::I64) => Err("is numeric and needs an f32 input"),
            (FieldSpec::MultiCategorical(m), DType::I64) if m.pooling == Pooling::Mean => {
                Err("uses mean pooling and needs an f32 input")
            }
            _ => Ok(()),
        }
    }

    fn validate(&self, at: &str) -> Result<()> {
        match self {
            FieldSpec::Categorical(c) => {
                check_lookup(at, &c.vocabulary, c.oov_index, c.hash_buckets, c.hash_offset)?;
                if c.one_hot {
                    check_one_hot(at, self.width())?;
                }
                if let Some(d) = &c.default {
                    if !is_scalar(d) {
                        return Err(Error::config(format!("{at}.default: must be a string, number or boolean")));
                    }
                }
                Ok(())
            }
            FieldSpec::MultiCategorical(m) => {
                check_lookup(at, &m.vocabulary, m.oov_index, m.hash_buckets, m.hash_offset)?;
                match (m.pooling, m.max_len) {
                    (Pooling::Pad, None) => {
                        return Err(Error::config(format!("{at}.maxLen: required with pooling \"pad\"")));
                    }
                    (Pooling::Pad, Some(n)) if n == 0 || n > MAX_LEN => {
                        return Err(Error::config(format!("{at}.maxLen: must be in 1..={MAX_LEN}, got {n}")));
                    }
                    (Pooling::Pad, Some(_)) => check_index(&format!("{at}.padIndex"), m.pad_index)?,
                    (_, Some(_)) => {
                        return Err(Error::config(format!("{at}.maxLen: only used with pooling \"pad\"")));
                    }
                    (_, None) => check_one_hot(at, self.width())?,
                }
                if let Some(d) = &m.default {
                    let ok = match d {
                        Value::Array(values) => values.iter().all(is_scalar),
                        other => is_scalar(other),
                    };
                    if !ok {
                        return Err(Error::config(format!(
                            "{at}.default: must be a list of strings, numbers or booleans"
                        )));
                    }
                }
                Ok(())
            }
            FieldSpec::Numeric(n) => {
                if !n.mean.is_finite() {
                    return Err(Error::config(format!("{at}.mean: must be finite, got {}", n.mean)));
                }
                if !(n.std.is_finite() && n.std > 0.0) {
                    return Err(Error::config(format!("{at}.std: must be finite and > 0, got {}", n.std)));
                }
                if let Some(d) = n.default {
                    let x = ((d as f32) - n.mean) / n.std;
                    if !x.is_finite() {
                        return Err(Error::config(format!("{at}.default: {d} does not normalise to a finite f32")));
                    }
                }
                Ok(())
            }
            FieldSpec::Bucketized(b) => {
                if b.boundaries.is_empty() {
                    return Err(Error::config(format!("{at}.boundaries: at least one boundary is required")));
                }
                if let Some(i) = b.boundaries.iter().position(|v| !v.is_finite()) {
                    return Err(Error::config(format!("{at}.boundaries[{i}]: must be finite")));
                }
                if let Some(i) = b.boundaries.windows(2).position(|w| w[0] >= w[1]) {
                    return Err(Error::config(format!("{at}.boundaries[{}]: must be strictly increasing", i + 1)));
                }
                check_index(&format!("{at}.offset"), b.offset)?;
                let top = i64::try_from(b.boundaries.len()).unwrap_or(i64::MAX).saturating_add(b.offset);
                check_index(&format!("{at}.boundaries"), top)?;
                if b.one_hot {
                    check_one_hot(at, self.width())?;
                }
                if let Some(d) = b.default {
                    if !d.is_finite() {
                        return Err(Error::config(format!("{at}.default: must be finite")));
                    }
                }
                Ok(())
            }
        }
    }
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

fn check_index(at: &str, index: i64) -> Result<()> {
    if (0..MAX_INDEX).contains(&index) {
        Ok(())
    } else {
        Err(Error::config(format!("{at}: index must be in 0..{MAX_INDEX}, got {index}")))
    }
}

fn check_one_hot(at: &str, width: usize) -> Result<()> {
    if width == 0 || width > MAX_WIDTH {
        return Err(Error::config(format!("{at}: one-hot width {width} must be in 1..={MAX_WIDTH}")));
    }
    Ok(())
}

fn check_lookup(
    at: &str,
    vocabulary: &Option<BTreeMap<String, i64>>,
    oov: i64,
    buckets: Option<u32>,
    offset: i64,
) -> Result<()> {
    match (vocabulary, buckets) {
        (Some(_), Some(_)) => Err(Error::config(format!("{at}: give either vocabulary or hashBuckets, not both"))),
        (None, None) => Err(Error::config(format!("{at}: needs a vocabulary or hashBuckets"))),
        (Some(vocab), None) => {
            if offset != 0 {
                return Err(Error::config(format!("{at}.hashOffset: only used with hashBuckets")));
            }
            check_index(&format!("{at}.oovIndex"), oov)?;
            for (key, &index) in vocab {
                check_index(&format!("{at}.vocabulary.{key}"), index)?;
            }
            Ok(())
        }
        (None, Some(n)) => {
            if oov != 0 {
                return Err(Error::config(format!("{at}.oovIndex: only used with a vocabulary")));
            }
            if n == 0 {
                return Err(Error::config(format!("{at}.hashBuckets: must be at least 1")));
            }
            check_index(&format!("{at}.hashOffset"), offset)?;
            check_index(&format!("{at}.hashBuckets"), offset.saturating_add(i64::from(n)))
        }
    }
}

/// Cardinality (one past the largest index) of a lookup.
pub(crate) fn cardinality(
    vocabulary: &Option<BTreeMap<String, i64>>,
    oov: i64,
    buckets: Option<u32>,
    offset: i64,
) -> usize {
    let top = match (vocabulary, buckets) {
        (Some(v), _) => v.values().copied().fold(oov, i64::max).saturating_add(1),
        (None, Some(n)) => offset.saturating_add(i64::from(n)),
        (None, None) => 0,
    };
    usize::try_from(top).unwrap_or(0)
}

pub(crate) fn bucket_cardinality(b: &BucketizedSpec) -> usize {
    b.boundaries.len().saturating_add(1).saturating_add(usize::try_from(b.offset).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{
        "inputs": [{ "name": "x", "dtype": "f32", "columns": ["age"] }],
        "fields": { "age": { "kind": "numeric" } },
        "outputs": { "probability": "y", "hidden": "h" },
        "p0": 0.3
    }"#;

    #[test]
    fn minimal_spec_gets_defaults() {
        let spec = ModelSpec::from_json(MINIMAL).unwrap();
        assert_eq!(spec.version, 1);
        assert_eq!(spec.max_batch, DEFAULT_MAX_BATCH);
        assert_eq!(spec.outputs.kind, OutputKind::Probability);
        assert_eq!(spec.input_widths(), vec![1]);
    }

    #[test]
    fn unknown_keys_are_named() {
        let text = MINIMAL.replace("\"p0\"", "\"bogus\": 1, \"p0\"");
        let e = ModelSpec::from_json(&text).unwrap_err();
        assert!(e.message().contains("bogus"), "{e}");
        let text = MINIMAL.replace("\"kind\": \"numeric\"", "\"kind\": \"numeric\", \"scale\": 2");
        let e = ModelSpec::from_json(&text).unwrap_err();
        assert!(e.message().contains("scale"), "{e}");
    }

    #[test]
    fn canonical_bytes_ignore_formatting() {
        let a = ModelSpec::from_json(MINIMAL).unwrap();
        let b = ModelSpec::from_json(&MINIMAL.replace(['\n', ' '], "")).unwrap();
        assert_eq!(a.canonical_bytes(), b.canonical_bytes());
    }

    #[test]
    fn widths_follow_the_field_kinds() {
        let text = r#"{
            "inputs": [{ "name": "x", "dtype": "f32", "columns": ["c", "m", "b", "p"] }],
            "fields": {
                "c": { "kind": "categorical", "vocabulary": { "a": 1, "b": 4 }, "oneHot": true },
                "m": { "kind": "multiCategorical", "hashBuckets": 7, "hashOffset": 1, "pooling": "mean" },
                "b": { "kind": "bucketized", "boundaries": [1, 2, 3], "oneHot": true },
                "p": { "kind": "multiCategorical", "hashBuckets": 7, "pooling": "pad", "maxLen": 3 }
            },
            "outputs": { "probability": "y", "hidden": "h" },
            "p0": 0.3
        }"#;
        let spec = ModelSpec::from_json(text).unwrap();
        assert_eq!(spec.input_widths(), vec![5 + 8 + 4 + 3]);
    }
}
