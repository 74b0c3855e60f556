//! Prequential replay: the evaluation protocol of DESIGN §5.
//!
//! A [`Stream`] holds the frozen model's outputs for every event of the
//! test period (computed once, [`stream::build`]). [`run`] replays a range
//! of it through one [`Method`] at one [`Scope`] — score each event, then
//! record its outcome — and returns the scores. [`tune::tune`] picks
//! hyper-parameters by coordinate descent on the log-loss of a tuning range;
//! [`report::report`] then scores the reported range with the tuned methods
//! (history from the tuning range included, as a deployed loop would have
//! it) and computes metrics with user-bootstrap intervals;
//! [`protocol::evaluate`] does all of it for every family and key variant.
//! [`feed`] is the demo page's scenario (three likes of one genre), the
//! constraint the shipped defaults are tuned under; [`keys`] the keys tried.

pub mod adapters;
pub mod feed;
pub mod keys;
pub mod protocol;
pub mod report;
pub mod stream;
pub mod tune;
pub mod verdict;

use std::collections::HashMap;
use std::ops::Range;

use serde::Serialize;

use reloop_core::{Estimator, Memory, MemoryConfig, ModelId, SketchConfig};

use crate::metrics;
use adapters::{Adapter, Knn, LogitBias};
pub use protocol::{Protocol, Report, evaluate, evaluate_one};
use report::{ser_config, ser_estimator};

/// The frozen model's view of the test stream, event by event in time order.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// Hidden width `d`.
    pub dim: usize,
    /// `y_base` per event.
    pub y_base: Vec<f32>,
    /// Hidden vectors, `events × dim`, row-major.
    pub hidden: Vec<f32>,
    /// Outcome per event.
    pub label: Vec<bool>,
    /// Dense user index per event.
    pub user: Vec<u32>,
    /// Dense session index per event (a user's events split at 1-hour gaps).
    pub session: Vec<u32>,
    /// The model's centring vector, if any.
    pub centre: Option<Vec<f32>>,
    /// The model's training label rate (the residual estimator's `p0`).
    pub p0: f32,
}

impl Stream {
    /// Events in the stream.
    pub fn len(&self) -> usize {
        self.label.len()
    }

    /// True when there are no events.
    pub fn is_empty(&self) -> bool {
        self.label.is_empty()
    }

    fn h(&self, i: usize) -> &[f32] {
        &self.hidden[i * self.dim..(i + 1) * self.dim]
    }

    fn scope_key(&self, scope: Scope, i: usize) -> u32 {
        match scope {
            Scope::Session => self.session[i],
            Scope::User => self.user[i],
            Scope::Global => 0,
        }
    }
}

/// Which events share one memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Scope {
    /// One memory per user session (1-hour gap).
    Session,
    /// One memory per user.
    User,
    /// One memory for everybody.
    Global,
}

impl Scope {
    /// Lower-case name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Session => "session",
            Scope::User => "user",
            Scope::Global => "global",
        }
    }
}

/// What corrects the frozen model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Method {
    /// Nothing: the frozen model's score.
    Frozen,
    /// The LSH error memory with an estimator.
    Memory(#[serde(serialize_with = "ser_config")] MemoryConfig),
    /// Exact top-`k` cosine neighbours over the last `window` writes, read
    /// with the same estimator.
    Knn {
        /// Neighbours read.
        k: usize,
        /// Writes kept.
        window: usize,
        /// How the neighbours' readout becomes a score.
        #[serde(serialize_with = "ser_estimator")]
        estimator: Estimator,
    },
    /// Online logit bias with SGD step `rate`.
    Bias {
        /// Learning rate.
        rate: f64,
    },
}

/// Replays `range` of the stream through `method` at `scope` and returns
/// one score per event of the range.
pub fn run(stream: &Stream, range: Range<usize>, method: &Method, scope: Scope) -> Vec<f32> {
    let mut adapters: HashMap<u32, Box<dyn Adapter>> = HashMap::new();
    let model_id = ModelId::digest(&[b"replay"]);
    let mut scores = Vec::with_capacity(range.len());
    for i in range {
        let y_base = stream.y_base[i];
        if *method == Method::Frozen {
            scores.push(y_base);
            continue;
        }
        let h = stream.h(i);
        let adapter =
            adapters.entry(stream.scope_key(scope, i)).or_insert_with(|| new_adapter(stream, method, &model_id));
        scores.push(adapter.score(y_base, h));
        adapter.record(y_base, h, stream.label[i]);
    }
    scores
}

fn new_adapter(stream: &Stream, method: &Method, model_id: &ModelId) -> Box<dyn Adapter> {
    match method {
        Method::Memory(config) => {
            let config =
                MemoryConfig { sketch: SketchConfig { dim: stream.dim as u32, ..config.sketch.clone() }, ..*config };
            match Memory::new(config, *model_id, stream.centre.clone()) {
                Ok(s) => Box::new(s),
                Err(_) => Box::new(LogitBias::new(0.0)), // unreachable for grid configs: validated in `tune`
            }
        }
        Method::Knn { k, window, estimator } => Box::new(Knn::new(*k, *window, *estimator, stream.dim)),
        Method::Bias { rate } => Box::new(LogitBias::new(*rate)),
        Method::Frozen => Box::new(LogitBias::new(0.0)),
    }
}

/// Log-loss of `method` replayed over `range`.
pub fn logloss(stream: &Stream, range: Range<usize>, method: &Method, scope: Scope) -> f64 {
    let scores = run(stream, range.clone(), method, scope);
    let labels = &stream.label[range];
    let sum: f64 = scores.iter().zip(labels).map(|(&p, &y)| metrics::event_loss(p, y)).sum();
    sum / labels.len().max(1) as f64
}
