//! The memory keys tried on the bundled model, and how a key becomes a spec
//! (the bundled spec with that key, centred on the key's mean over the
//! training part).
//!
//! The bundled model's first layer reads `x` = the nine id fields'
//! 8-wide embeddings (`userId`, `itemId`, `age`, `gender`, `occupation`,
//! `zip`, `year`, `hour`, `weekday`, columns 0..72) then the genres' mean
//! embedding (72..80); `genres` is the model's input of mean-pooled genres
//! (19 wide), `hidden` its last hidden layer (32 wide).

use std::ops::Range;

use reloop_core::{Error, Result};
use reloop_runtime::spec::KeySpec;
use reloop_runtime::{Model, ModelSpec};

use super::stream::mean_key;
use crate::movielens::Dataset;

/// A named key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyVariant {
    /// Short name for tables.
    pub name: &'static str,
    /// The key as the spec writes it (JSON).
    pub key: &'static str,
}

/// The key the previous defaults used: the last hidden layer, dominated by
/// the user's features (constant within a session).
pub const HIDDEN: KeyVariant = KeyVariant { name: "hidden", key: r#""hidden""# };

/// The variants tried besides the shipped key: the last hidden layer, the
/// item-side embeddings (item id, year, genres), the genres input alone.
pub const TRIED: [KeyVariant; 3] = [
    HIDDEN,
    KeyVariant {
        name: "item",
        key: r#"[{"node":"x","columns":[8,16]},{"node":"x","columns":[48,56]},{"node":"genre_mean"}]"#,
    },
    KeyVariant { name: "genres", key: r#""genres""# },
];

/// `spec` with the key `key`, centred on the key's mean over `range` of the
/// dataset's events (the training part, so the stream is never looked at).
///
/// # Errors
/// A key that is not valid JSON or does not fit the model.
pub fn with_key(onnx: &[u8], spec: &ModelSpec, key: &str, dataset: &Dataset, range: Range<usize>) -> Result<ModelSpec> {
    let mut spec = spec.clone();
    spec.outputs.hidden = serde_json::from_str::<KeySpec>(key).map_err(|e| Error::config(format!("key {key}: {e}")))?;
    spec.mu = None;
    let uncentred = Model::load(onnx, spec.clone())?;
    spec.mu = Some(mean_key(dataset, &uncentred, range)?);
    Ok(spec)
}
