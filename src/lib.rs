//! # reloop-edge
//!
//! Self-correcting click-through-rate scoring for the edge, after ReLoop2
//! (Zhu et al., KDD 2023). A frozen base model gives `y_base` and a hidden
//! key vector `h` per item; an [`Sketch`] (LSH error memory) remembers how
//! wrong the model was on similar recent items, and an [`Estimator`] corrects
//! the score — no server round-trip, no gradient step.
//!
//! Entry points:
//! * [`Session`] — one memory plus one estimator: [`Session::score`],
//!   [`Session::record`], [`Session::reset`];
//! * [`codec::encode`] / [`codec::decode`] — the versioned saved-memory format;
//! * [`Sketch`] and [`Estimator`] for direct use.
//!
//! Core modules know nothing of JavaScript; every fallible call returns
//! [`Result`] with an [`Error`] whose [`ErrorKind`] has a stable code.
//!
//! # Examples
//! ```
//! use reloop_edge::{ModelId, Session, SessionConfig, SketchConfig};
//!
//! let config = SessionConfig { sketch: SketchConfig { dim: 2, ..Default::default() }, ..Default::default() };
//! let mut session = Session::new(config, ModelId::digest(&[b"my-model"]), None)?;
//! let h = [0.3, -1.2];
//! for _ in 0..5 {
//!     session.record(0.2, &h, true)?; // the model said 0.2, the user clicked
//! }
//! let p = session.score_one(0.2, &h)?;
//! assert!(p.score > p.base);
//! let saved = reloop_edge::codec::encode(&session);
//! let restored = reloop_edge::codec::decode(&saved, session.model_id(), None)?;
//! assert_eq!(restored.sketch().len(), 5);
//! # Ok::<(), reloop_edge::Error>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

pub mod codec;
pub mod error;
pub mod estimate;
pub mod identity;
#[cfg(target_arch = "wasm32")]
pub mod js;
#[cfg(feature = "replay")]
pub mod replay;
pub mod session;
pub mod sketch;

pub use error::{Error, ErrorKind, Result};
pub use estimate::{Estimator, PaperParams, Prediction, ResidualParams};
pub use identity::ModelId;
pub use session::{Session, SessionConfig};
pub use sketch::{Readout, Sketch, SketchConfig};
pub mod bundled;
pub mod features;
pub mod model;
#[cfg(feature = "data")]
pub mod movielens;
pub mod plans;
pub mod scorer;
pub mod spec;
#[cfg(feature = "train")]
pub mod train;
pub use model::{Model, ModelOutput};
pub use scorer::{RestorePolicy, Restored, Scorer, ScoringSession};
pub use spec::ModelSpec;
