//! # reloop-tools
//!
//! The offline side of reloop-edge (not published, never in the wasm
//! package): the `reloop` command-line tool for your own model and logs,
//! MovieLens-100K loading, the metrics shared by training and evaluation,
//! the prequential replay of DESIGN §5, and training of the bundled model.
//!
//! Entry points:
//! * [`movielens::Dataset`] — the ratings, users and items from the parquet
//!   files `scripts/fetch-movielens.sh` caches, the time split, and each
//!   event's model fields;
//! * [`replay::evaluate`] — tunes every method on the first 25% of a
//!   [`replay::Stream`] and reports AUC, gAUC, log-loss and ECE with
//!   user-bootstrap intervals on the rest ([`replay::stream::build`] makes
//!   the stream from MovieLens and a model);
//! * [`log`] — a user's event log (JSONL, CSV, Parquet) read row by row,
//!   and [`replay::stream::from_log`], its stream; [`replay::verdict`] — the
//!   options to ship and the verdict in words;
//! * [`draft`] and [`check`] — `reloop inspect`'s draft spec and `reloop
//!   check`'s report; [`example`] — a synthetic model and log with other
//!   fields; [`output`] — outputs written all or nothing;
//! * [`metrics`] — AUC, per-user AUC, log-loss, calibration and the
//!   bootstrap;
//! * [`train::train`] (feature `train`) — the bundled embedding-MLP, fitted
//!   with candle and exported as ONNX.
//!
//! Binaries: `reloop` (`inspect`, `check`, `replay`, `movielens` = `make
//! replay`, `example`; `cargo install --locked --path crates/tools --bin
//! reloop`), `demo_data` (the browser demo's data), `train` (`make model`,
//! feature `train`).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

pub mod check;
pub mod draft;
pub mod example;
pub mod log;
pub mod metrics;
pub mod movielens;
pub mod onnx_graph;
pub mod output;
pub mod replay;
#[cfg(feature = "train")]
pub mod train;
