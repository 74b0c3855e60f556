//! The bundled default model: an embedding + MLP click-through-rate model
//! trained on the first 60% (in time) of MovieLens-100K, shipped inside the
//! crate (and the wasm package) so everything works out of the box
//! (DESIGN §2).
//!
//! Retrain it, reproducibly, with `make model` (the `train` binary of
//! `reloop-tools`).
//!
//! Its fields (see `models/movielens.spec.json` and `reloop_tools::movielens`):
//! per item `itemId` (number), `genres` (list of MovieLens genre names,
//! default none) and `year` (release year, default 1995); per context
//! (the user and the moment) `userId` (number), `age` (years), `gender`
//! (`"M"`/`"F"`), `occupation` (e.g. `"student"`), `zip` (first character
//! of the zip code), `hour` (0–23, UTC) and `weekday` (0 = Monday … 6 =
//! Sunday, UTC). Unknown ids and categories use the model's out-of-vocabulary
//! embeddings. Outputs: the probability `prob` and the 32-wide hidden key
//! vector `hidden` (the last ReLU layer), with its training mean `μ` and the
//! training label rate `p0` in the spec.
//!
//! # Examples
//! ```
//! use reloop_runtime::{Item, ModelOutput};
//! use serde_json::json;
//!
//! let model = reloop_runtime::bundled::model()?;
//! let item: Item = json!({ "itemId": 50, "genres": ["Action", "Sci-Fi"], "year": 1977 })
//!     .as_object().cloned().unwrap_or_default();
//! let context: Item = json!({ "userId": 1, "age": 24, "gender": "M", "occupation": "technician",
//!                             "zip": "8", "hour": 20, "weekday": 5 })
//!     .as_object().cloned().unwrap_or_default();
//! let mut out = ModelOutput::default();
//! model.run(&[item], &context, &mut out)?;
//! assert!(out.y_base()[0] > 0.0 && out.y_base()[0] < 1.0);
//! # Ok::<(), reloop_core::Error>(())
//! ```

use reloop_core::{ModelId, Result};

use crate::model::Model;
use crate::spec::ModelSpec;

include!(concat!(env!("OUT_DIR"), "/bundled_id.rs"));

static ONNX: &[u8] = include_bytes!("../../../models/movielens.onnx");
static SPEC_JSON: &str = include_str!("../../../models/movielens.spec.json");

/// The bundled model's ONNX bytes.
pub fn onnx() -> &'static [u8] {
    ONNX
}

/// The bundled model's spec (JSON text, the [`crate::spec`] format).
pub fn spec_json() -> &'static str {
    SPEC_JSON
}

/// Loads (decodes, checks and optimises) the bundled model. Load it once
/// and share the [`Model`] (cloning it is free).
///
/// # Errors
/// As [`Model::from_json`]; the bundled pair is tested to load, so an error
/// here means a broken build.
pub fn model() -> Result<Model> {
    // The spec file is stored canonical (and a newline), so build.rs hashed
    // what `ModelId::digest` would (checked by the tests below).
    Model::load_with_id(ONNX, ModelSpec::from_json(SPEC_JSON)?, ModelId::from_bytes(&BUNDLED_ID)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::item::Item;
    use crate::model::ModelOutput;
    use serde_json::json;

    fn item(value: serde_json::Value) -> Item {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn the_spec_file_is_canonical_and_the_build_time_identity_is_the_digest() {
        let spec = ModelSpec::from_json(SPEC_JSON).unwrap();
        assert!(
            spec.canonical_bytes() == SPEC_JSON.strip_suffix('\n').unwrap_or(SPEC_JSON).as_bytes(),
            "models/movielens.spec.json is not its canonical form and a newline, which build.rs hashes (`make model` writes it so)"
        );
        let digest = ModelId::digest(&[ONNX, &spec.canonical_bytes()]);
        assert_eq!(model().unwrap().id(), &digest);
        assert_eq!(Model::from_json(ONNX, SPEC_JSON).unwrap().id(), &digest);
    }

    #[test]
    fn bundled_model_scores_hand_written_items() {
        let model = model().unwrap();
        let context = item(json!({
            "userId": 1, "age": 24, "gender": "M", "occupation": "technician", "zip": "8", "hour": 20, "weekday": 5
        }));
        let items = [
            item(json!({ "itemId": 50, "genres": ["Action", "Adventure", "Romance", "Sci-Fi", "War"], "year": 1977 })),
            item(json!({ "itemId": 99_999, "genres": ["Comedy"] })), // unknown item, no year: OOV row and default
            item(json!({ "itemId": 1, "genres": [], "year": 1995, "userId": 123_456 })), // item fields override the context
        ];
        let mut out = ModelOutput::default();
        model.run(&items, &context, &mut out).unwrap();
        assert_eq!(out.rows(), 3);
        // The key: the 20 genre columns (mean-pooled: non-negative, summing
        // to 1 or 0) and the year's 8-wide embedding at half weight.
        assert_eq!(out.dim(), 28);
        assert_eq!(model.hidden_dim(), 28);
        for (row, p) in out.y_base().iter().enumerate() {
            assert!(*p > 0.0 && *p < 1.0, "row {row}: {p}");
            let h = out.hidden_row(row).unwrap();
            assert!(h.iter().all(|v| v.is_finite()), "row {row}: {h:?}");
            let genres: f32 = h[..20].iter().sum();
            assert!(
                h[..20].iter().all(|v| *v >= 0.0) && (genres - 1.0).abs() < 1e-5 || genres == 0.0,
                "row {row}: {h:?}"
            );
        }
        assert_ne!(out.hidden_row(0), out.hidden_row(1), "different genres, different keys");
        // A missing required field is an error naming it.
        let e = model.run(&[item(json!({ "itemId": 50 }))], &Item::new(), &mut out).unwrap_err();
        assert!(e.message().contains("field `"), "{e}");
    }
}
