//! # reloop-runtime
//!
//! The model side of reloop-edge: an ONNX click-through-rate model run with
//! tract, the JSON spec that says how items become its input tensors, and
//! the scoring session that puts the model and the error memory of
//! [`reloop_core`] together — items in, corrected scores out, outcomes
//! recorded — for native Rust callers and for the npm package's binding
//! alike.
//!
//! Entry points:
//! * [`Model`] — [`Model::from_json`] / [`Model::load`] (ONNX bytes + spec),
//!   [`bundled::model`] (the MovieLens model shipped inside); load once,
//!   share (an `Arc`);
//! * [`Session`] — [`Session::new`] / [`Session::restore`] with
//!   [`SessionOptions`]: [`Session::score`], [`Session::record`],
//!   [`Session::score_impressions`] + [`Session::record_impression`],
//!   [`Session::save`];
//! * [`SessionOptions`] — the one options type, resolved against the model
//!   and a saved memory by [`SessionOptions::resolve`];
//! * [`ModelSpec`] and [`encoder::Encoder`] for the feature encoding alone;
//!   [`Item`] / [`FieldValues`] and the [value grammar](item) of what items
//!   may hold.
//!
//! Errors are [`reloop_core::Error`]s with a stable code.
//!
//! # Examples
//! ```
//! use reloop_runtime::{Item, Session, SessionOptions};
//! use serde_json::json;
//!
//! let model = reloop_runtime::bundled::model()?;
//! let mut session = Session::new(&model, &SessionOptions::default())?;
//! let object = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
//! let context = object(json!({ "userId": 42, "age": 31, "gender": "F", "occupation": "writer",
//!                              "zip": "9", "hour": 20, "weekday": 4 }));
//! let items: Vec<Item> = vec![object(json!({ "itemId": 50, "genres": ["Sci-Fi"], "year": 1977 }))];
//! let before = session.score(&items, &context)?[0];
//! session.record(&items[0], &context, true)?;
//! assert!(session.score(&items, &context)?[0].score > before.score);
//! # Ok::<(), reloop_core::Error>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

pub mod allocator;
pub mod bundled;
pub mod catalog;
pub mod column_shares;
pub mod encoder;
pub mod entry_buckets;
pub mod indices;
pub mod inspect;
pub mod item;
pub mod model;
pub mod onnx;
pub mod options;
pub mod plans;
pub mod session;
pub mod shapes;
pub mod spec;
pub mod split;
pub mod tensors;
mod workspace;

pub use catalog::Catalog;
pub use item::{FieldValues, Fields, Item};
pub use model::{Model, ModelOutput};
pub use options::{EstimatorKind, OnModelMismatch, Resolved, SessionOptions};
pub use reloop_core::impressions::{
    DEFAULT_IMPRESSIONS, DEFAULT_SAVED_IMPRESSIONS, MAX_IMPRESSIONS, MAX_SAVED_IMPRESSIONS,
};
pub use session::{Restored, Session};
pub use spec::ModelSpec;
pub use tensors::InputTensor;
