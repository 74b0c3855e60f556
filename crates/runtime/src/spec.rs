//! The model spec: parsing ([`ModelSpec::from_json`]) and validation on its
//! own ([`ModelSpec::validate`]); the checks against a graph are in
//! [`crate::model`] and [`crate::indices`]. The format reference below is
//! `crates/runtime/SPEC.md`, also shipped in the npm package as `SPEC.md`.
//!
#![doc = include_str!("../SPEC.md")]

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
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
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModelSpec {
    /// Format version: 1, the only one this build reads (default 1).
    #[serde(default = "default_version")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub version: u32,
    /// The model's input tensors and which fields fill their columns.
    pub inputs: Vec<InputSpec>,
    /// Field name → how a value becomes columns.
    #[cfg_attr(feature = "ts", tsify(type = "Record<string, FieldSpec>"))]
    pub fields: BTreeMap<String, FieldSpec>,
    /// Which outputs to read.
    pub outputs: OutputSpec,
    /// The centring vector `μ` (mean hidden vector on the training data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mu: Option<Vec<f32>>,
    /// The training label rate, in (0, 1). Optional in the file (`reloop
    /// check` and `reloop replay` compute it from a log); a session with the
    /// intent or residual estimator needs it, from here or its options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p0: Option<f32>,
    /// Largest batch accepted by the encoder.
    #[serde(default = "default_max_batch")]
    #[cfg_attr(feature = "ts", tsify(optional))]
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
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
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
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
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
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
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

impl OutputKind {
    /// The kind's name in the spec.
    pub fn name(self) -> &'static str {
        match self {
            OutputKind::Probability => "probability",
            OutputKind::Logit => "logit",
            OutputKind::Softmax2 => "softmax2",
        }
    }
}

/// The two outputs the runtime reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutputSpec {
    /// Tensor (or node) name of the click score.
    pub probability: String,
    /// How to read it.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional))]
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
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(untagged)]
pub enum KeySpec {
    /// The whole row of one tensor or node.
    Node(String),
    /// Parts concatenated in order.
    Parts(Vec<KeyPart>),
}

/// One part of a [`KeySpec`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeyPart {
    /// Tensor (or node) name; its row (everything after the batch
    /// dimension) flattened.
    pub node: String,
    /// Columns `[from, to)` of that row; default: all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(type = "[number, number]"))]
    pub columns: Option<[usize; 2]>,
    /// Factor applied to the part, finite and > 0; default 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    #[cfg_attr(feature = "ts", tsify(optional))]
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

/// Reads a vocabulary as its entries, then builds the map in one go.
/// `BTreeMap`'s own deserializer inserts key by key (a search, and often a
/// node split, each: an eighth of loading the bundled model, whose ids have
/// thousands of entries); `from_iter` sorts once, which for a canonical
/// spec's already sorted keys is a single pass, and builds the tree in bulk.
/// A repeated key keeps its last value, as inserting did.
fn vocabulary<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<BTreeMap<String, i64>>, D::Error> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = BTreeMap<String, i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map of values to indices")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
            let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1 << 12));
            while let Some(entry) = map.next_entry::<String, i64>()? {
                entries.push(entry);
            }
            Ok(entries.into_iter().collect())
        }
    }
    struct Vocabulary(BTreeMap<String, i64>);
    impl<'de> Deserialize<'de> for Vocabulary {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            d.deserialize_map(Entries).map(Vocabulary)
        }
    }
    Option::<Vocabulary>::deserialize(d).map(|v| v.map(|v| v.0))
}

/// How one field's value becomes columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
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
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CategoricalSpec {
    /// Value (as a string) → index. Exclusive with `hashBuckets`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "vocabulary")]
    #[cfg_attr(feature = "ts", tsify(type = "Record<string, number>"))]
    pub vocabulary: Option<BTreeMap<String, i64>>,
    /// Index of values not in the vocabulary, or `"none"` (with `oneHot`:
    /// all zeros). Default 0.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional, type = "number | \"none\""))]
    pub oov_index: OovIndex,
    /// Hash values into this many buckets. Exclusive with `vocabulary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_buckets: Option<u32>,
    /// Added to the hashed bucket. Default 0.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub hash_offset: i64,
    /// Write a one-hot vector of the cardinality instead of the index.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub one_hot: bool,
    /// Value used when the field is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(type = "string | number | boolean | Array<string | number | boolean>"))]
    pub default: Option<Value>,
}

/// How a multi-valued field is pooled into columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
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
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MultiCategoricalSpec {
    /// Value (as a string) → index. Exclusive with `hashBuckets`.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "vocabulary")]
    #[cfg_attr(feature = "ts", tsify(type = "Record<string, number>"))]
    pub vocabulary: Option<BTreeMap<String, i64>>,
    /// Index of values not in the vocabulary, or `"none"` (multi-hot and
    /// mean: no column set; pad: the value is left out). Default 0.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional, type = "number | \"none\""))]
    pub oov_index: OovIndex,
    /// Hash values into this many buckets. Exclusive with `vocabulary`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_buckets: Option<u32>,
    /// Added to the hashed bucket. Default 0.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub hash_offset: i64,
    /// How the indices are pooled.
    pub pooling: Pooling,
    /// Width of `pad` pooling (required for it, refused otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<usize>,
    /// Pad index of `pad` pooling. Default 0.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub pad_index: i64,
    /// Value (a list) used when the field is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(type = "string | number | boolean | Array<string | number | boolean>"))]
    pub default: Option<Value>,
}

/// A numeric field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NumericSpec {
    /// Subtracted first. Default 0.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub mean: f32,
    /// Divided by next, > 0. Default 1.
    #[serde(default = "one")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub std: f32,
    /// Value used when the field is missing (before normalisation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<f64>,
}

fn one() -> f32 {
    1.0
}

/// The side of a bucket that includes its boundary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub enum Closed {
    /// Buckets `[bᵢ, bᵢ₊₁)`: a value equal to a boundary goes up (`np.digitize`,
    /// `pd.cut(right=False)`).
    #[default]
    Left,
    /// Buckets `(bᵢ, bᵢ₊₁]`: a value equal to a boundary goes down (`pd.cut`'s
    /// default).
    Right,
}

impl Closed {
    fn is_left(&self) -> bool {
        *self == Closed::Left
    }
}

/// The index of a category that is not in the vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OovIndex {
    /// This index.
    Index(i64),
    /// No index: a one-hot or multi-hot block stays all zeros (sklearn's
    /// `handle_unknown="ignore"`), a padded list leaves the value out. Written
    /// `"none"`.
    None,
}

impl Default for OovIndex {
    fn default() -> OovIndex {
        OovIndex::Index(0)
    }
}

impl OovIndex {
    /// The index, if there is one.
    pub fn index(self) -> Option<i64> {
        match self {
            OovIndex::Index(i) => Some(i),
            OovIndex::None => None,
        }
    }
}

impl Serialize for OovIndex {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            OovIndex::Index(i) => s.serialize_i64(*i),
            OovIndex::None => s.serialize_str("none"),
        }
    }
}

impl<'de> Deserialize<'de> for OovIndex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<OovIndex, D::Error> {
        struct OovVisitor;
        impl Visitor<'_> for OovVisitor {
            type Value = OovIndex;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer index or \"none\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<OovIndex, E> {
                Ok(OovIndex::Index(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<OovIndex, E> {
                i64::try_from(v).map(OovIndex::Index).map_err(|_| E::custom(format!("index {v} is too large")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<OovIndex, E> {
                match v {
                    "none" => Ok(OovIndex::None),
                    other => {
                        Err(E::custom(format!("oovIndex: expected an integer index or \"none\", got \"{other}\"")))
                    }
                }
            }
        }
        d.deserialize_any(OovVisitor)
    }
}

/// A numeric field bucketized into an index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BucketizedSpec {
    /// Strictly increasing bucket boundaries.
    pub boundaries: Vec<f64>,
    /// Which side of a bucket includes its boundary. Default `left`.
    #[serde(default, skip_serializing_if = "Closed::is_left")]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub closed: Closed,
    /// The index of values outside `[first, last]` boundary; when given,
    /// the buckets are only those between the boundaries, numbered from
    /// `offset` (as `pd.cut(..., labels=False)` numbers them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_range: Option<i64>,
    /// Added to the bucket number. Default 0.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub offset: i64,
    /// Write a one-hot vector of the cardinality instead of the index.
    #[serde(default)]
    #[cfg_attr(feature = "ts", tsify(optional))]
    pub one_hot: bool,
    /// Value used when the field is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<f64>,
}

impl ModelSpec {
    /// Parses and validates a spec from JSON text.
    ///
    /// # Errors
    /// [`reloop_core::ErrorKind::InvalidConfig`] for malformed JSON, unknown or
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
    /// [`reloop_core::ErrorKind::InvalidConfig`] naming the first offending key.
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
        if let Some(p0) = self.p0 {
            if !(p0 > 0.0 && p0 < 1.0) {
                return Err(Error::config(format!("p0: must be in (0, 1), got {p0}")));
            }
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

    /// The values the field writes into each of its columns, as a closed
    /// range `(lo, hi)`: indices for an index column, `(0, 1)` for one-hot,
    /// multi-hot and mean blocks; `None` for a numeric field (any finite
    /// number). What [`crate::indices`] checks against the tables a column
    /// feeds.
    pub fn value_range(&self) -> Option<(i64, i64)> {
        match self {
            FieldSpec::Categorical(c) if c.one_hot => Some((0, 1)),
            FieldSpec::Categorical(c) => lookup_range(&c.vocabulary, c.oov_index, c.hash_buckets, c.hash_offset),
            FieldSpec::MultiCategorical(m) => match m.pooling {
                Pooling::Pad => {
                    let pad = (m.pad_index, m.pad_index);
                    let (lo, hi) =
                        lookup_range(&m.vocabulary, m.oov_index, m.hash_buckets, m.hash_offset).unwrap_or(pad);
                    Some((lo.min(m.pad_index), hi.max(m.pad_index)))
                }
                Pooling::MultiHot | Pooling::Mean => Some((0, 1)),
            },
            FieldSpec::Numeric(_) => None,
            FieldSpec::Bucketized(b) if b.one_hot => Some((0, 1)),
            FieldSpec::Bucketized(b) => Some(bucket_range(b)),
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
                if c.oov_index == OovIndex::None && !c.one_hot {
                    return Err(Error::config(format!(
                        "{at}.oovIndex: \"none\" needs \"oneHot\": true (an index column must get some index)"
                    )));
                }
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
                    (Pooling::Pad, Some(_)) => check_index(m.pad_index, || format!("{at}.padIndex"))?,
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
                check_index(b.offset, || format!("{at}.offset"))?;
                if let Some(out) = b.out_of_range {
                    check_index(out, || format!("{at}.outOfRange"))?;
                    if b.boundaries.len() < 2 {
                        return Err(Error::config(format!(
                            "{at}.boundaries: with outOfRange, at least two boundaries (one bucket between them)"
                        )));
                    }
                }
                check_index(bucket_range(b).1, || format!("{at}.boundaries"))?;
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

/// Checks an index; `at` names its key and runs only on the error path (a
/// vocabulary has an index per entry, and formatting every key's name was a
/// fifth of loading the bundled model).
fn check_index(index: i64, at: impl FnOnce() -> String) -> Result<()> {
    if (0..MAX_INDEX).contains(&index) {
        Ok(())
    } else {
        Err(Error::config(format!("{}: index must be in 0..{MAX_INDEX}, got {index}", at())))
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
    oov: OovIndex,
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
            if let OovIndex::Index(oov) = oov {
                check_index(oov, || format!("{at}.oovIndex"))?;
            }
            for (key, &index) in vocab {
                check_index(index, || format!("{at}.vocabulary.{key}"))?;
            }
            Ok(())
        }
        (None, Some(n)) => {
            if oov != OovIndex::default() {
                return Err(Error::config(format!(
                    "{at}.oovIndex: only used with a vocabulary (every value hashes to a bucket)"
                )));
            }
            if n == 0 {
                return Err(Error::config(format!("{at}.hashBuckets: must be at least 1")));
            }
            check_index(offset, || format!("{at}.hashOffset"))?;
            check_index(offset.saturating_add(i64::from(n)), || format!("{at}.hashBuckets"))
        }
    }
}

/// The smallest and largest index a lookup gives (`None`: no index at all,
/// an empty vocabulary without an out-of-vocabulary index).
fn lookup_range(
    vocabulary: &Option<BTreeMap<String, i64>>,
    oov: OovIndex,
    buckets: Option<u32>,
    offset: i64,
) -> Option<(i64, i64)> {
    match (vocabulary, buckets) {
        (Some(v), _) => {
            let mut indices = v.values().copied().chain(oov.index());
            let first = indices.next()?;
            Some(indices.fold((first, first), |(lo, hi), i| (lo.min(i), hi.max(i))))
        }
        (None, Some(n)) => Some((offset, offset.saturating_add(i64::from(n)).saturating_sub(1))),
        (None, None) => None,
    }
}

/// Cardinality (one past the largest index) of a lookup.
pub(crate) fn cardinality(
    vocabulary: &Option<BTreeMap<String, i64>>,
    oov: OovIndex,
    buckets: Option<u32>,
    offset: i64,
) -> usize {
    lookup_range(vocabulary, oov, buckets, offset)
        .and_then(|(_, hi)| usize::try_from(hi.saturating_add(1)).ok())
        .unwrap_or(0)
}

/// The smallest and largest index a bucketized field gives.
fn bucket_range(b: &BucketizedSpec) -> (i64, i64) {
    let n = i64::try_from(b.boundaries.len()).unwrap_or(i64::MAX);
    match b.out_of_range {
        None => (b.offset, b.offset.saturating_add(n)),
        Some(out) => {
            let top = b.offset.saturating_add(n).saturating_sub(2);
            (b.offset.min(out), top.max(out))
        }
    }
}

pub(crate) fn bucket_cardinality(b: &BucketizedSpec) -> usize {
    usize::try_from(bucket_range(b).1.saturating_add(1)).unwrap_or(0)
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
    fn vocabularies_read_in_any_order_and_a_repeated_key_keeps_its_last_index() {
        let field = |vocabulary: &str| {
            let text = MINIMAL.replace(
                "\"age\": { \"kind\": \"numeric\" }",
                &format!("\"age\": {{ \"kind\": \"categorical\", \"vocabulary\": {vocabulary} }}"),
            );
            ModelSpec::from_json(&text).map(|spec| match &spec.fields["age"] {
                FieldSpec::Categorical(c) => c.vocabulary.clone(),
                other => panic!("{other:?}"),
            })
        };
        let v = field(r#"{ "c": 3, "a": 1, "b": 2, "a": 4 }"#).unwrap().unwrap();
        assert_eq!(v.into_iter().collect::<Vec<_>>(), [("a".into(), 4), ("b".into(), 2), ("c".into(), 3)]);
        // `null` is no vocabulary, as before.
        assert!(field("null").unwrap_err().message().contains("needs a vocabulary or hashBuckets"));
        for bad in [r#"["a"]"#, r#"{ "a": "1" }"#, r#"{ "a": 1.5 }"#] {
            let e = field(bad).unwrap_err();
            assert!(e.message().contains("fields.age"), "{bad}: {e}");
        }
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
