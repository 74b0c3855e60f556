//! # reloop-core
//!
//! The error memory of reloop-edge, after ReLoop2 (Zhu et al., KDD 2023):
//! a frozen base model gives `y_base` and a hidden key vector `h` per item;
//! a [`Memory`] remembers in an LSH [`Sketch`] how wrong the model was on
//! similar recent items, and its [`Estimator`] corrects the score — no
//! server round-trip, no gradient step, O(1) per read and write.
//!
//! This crate knows no model runtime and no JavaScript: it depends on a
//! seeded PRNG, CRC-32 and SHA-256 only. The ONNX runtime and the scoring
//! session are `reloop-runtime`; the npm package is `reloop-edge`.
//!
//! Entry points:
//! * [`Memory`] — a sketch plus an estimator bound to a model:
//!   [`Memory::score_one`], [`Memory::score`], [`Memory::record`],
//!   [`Memory::reset`]; configured by [`MemoryConfig`], whose `Default` is
//!   the recommended setup;
//! * [`codec::encode`] / [`codec::decode`] / [`codec::peek`] — the
//!   versioned saved-memory format;
//! * [`Sketch`] and [`Estimator`] for direct use; [`prob`] for the
//!   clip/logit/sigmoid helpers every layer shares.
//!
//! Every fallible call returns [`Result`] with an [`Error`] whose
//! [`ErrorKind`] has a stable code.
//!
//! # Examples
//! ```
//! use reloop_core::{Memory, MemoryConfig, ModelId, SketchConfig};
//!
//! let config = MemoryConfig { sketch: SketchConfig { dim: 2, ..Default::default() }, ..Default::default() };
//! let mut memory = Memory::new(config, ModelId::digest(&[b"my-model"]), None)?;
//! let h = [0.3, -1.2];
//! for _ in 0..5 {
//!     memory.record(0.2, &h, true)?; // the model said 0.2, the user clicked
//! }
//! let p = memory.score_one(0.2, &h)?;
//! assert!(p.score > p.base);
//! let saved = reloop_core::codec::encode(&memory);
//! let restored = reloop_core::codec::decode(&saved, memory.model_id(), None)?;
//! assert_eq!(restored.sketch().len(), 5);
//! # Ok::<(), reloop_core::Error>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

pub mod codec;
pub mod error;
pub mod estimator;
pub mod identity;
pub mod impressions;
pub mod memory;
pub mod prob;
pub mod sketch;

pub use error::{Error, ErrorKind, Result};
pub use estimator::{Estimator, PaperParams, Prediction, ResidualCache, ResidualParams};
pub use identity::ModelId;
pub use impressions::Impressions;
pub use memory::{Memory, MemoryConfig};
pub use sketch::{Readout, Sketch, SketchConfig};
