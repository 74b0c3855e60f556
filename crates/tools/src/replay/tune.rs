//! Hyper-parameter tuning of the replay: coordinate descent over each
//! method family's axes on the log-loss of a tuning range, optionally under a
//! constraint every accepted candidate must meet (how the shipped defaults
//! are chosen: memory size held, the demo page's genre lift kept).

use std::ops::Range;

use reloop_core::{Estimator, MemoryConfig, PaperParams, ResidualParams, SketchConfig};

use super::{Method, Scope, Stream, logloss};

/// One tunable coordinate: a name and the values it may take, applied to a
/// method by `set`.
struct Axis {
    name: &'static str,
    values: &'static [f64],
    set: fn(&mut Method, f64),
}

fn memory(method: &mut Method) -> Option<&mut MemoryConfig> {
    match method {
        Method::Memory(c) => Some(c),
        _ => None,
    }
}

fn set_lambda(m: &mut Method, v: f64) {
    match m {
        Method::Memory(MemoryConfig { estimator: Estimator::Residual(r) | Estimator::Intent(r), .. })
        | Method::Knn { estimator: Estimator::Residual(r) | Estimator::Intent(r), .. } => r.lambda = v as f32,
        Method::Memory(MemoryConfig { estimator: Estimator::Paper(p), .. })
        | Method::Knn { estimator: Estimator::Paper(p), .. } => p.lambda = v as f32,
        _ => {}
    }
}

fn set_tau(m: &mut Method, v: f64) {
    if let Some(c) = memory(m) {
        match &mut c.estimator {
            Estimator::Residual(r) | Estimator::Intent(r) => r.tau = v as f32,
            Estimator::Paper(p) => p.tau = v as f32,
        }
    }
}

fn set_sigma(m: &mut Method, v: f64) {
    if let Some(c) = memory(m) {
        c.sketch.error_filter = v as f32;
    }
}

fn set_residual(m: &mut Method, f: impl FnOnce(&mut ResidualParams)) {
    match m {
        Method::Memory(MemoryConfig { estimator: Estimator::Residual(r) | Estimator::Intent(r), .. })
        | Method::Knn { estimator: Estimator::Residual(r) | Estimator::Intent(r), .. } => f(r),
        _ => {}
    }
}

fn set_bits(m: &mut Method, v: f64) {
    if let Some(c) = memory(m) {
        c.sketch.bits = v as u8
    }
}

fn set_arrays(m: &mut Method, v: f64) {
    if let Some(c) = memory(m) {
        c.sketch.arrays = v as u8
    }
}

fn set_half_life(m: &mut Method, v: f64) {
    if let Some(c) = memory(m) {
        c.sketch.half_life = (v > 0.0).then_some(v as f32)
    }
}

const RESIDUAL_AXES: &[Axis] = &[
    Axis { name: "bits", values: &[0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0], set: set_bits },
    Axis { name: "arrays", values: &[1.0, 2.0, 4.0, 8.0, 16.0], set: set_arrays },
    Axis { name: "halfLife", values: &[0.0, 5.0, 10.0, 15.0, 25.0, 50.0, 100.0, 250.0], set: set_half_life },
    Axis { name: "lambda", values: &[0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0], set: set_lambda },
    Axis { name: "tau", values: &[0.1, 0.3, 1.0, 3.0], set: set_tau },
    Axis { name: "n0", values: &[0.0, 1.0, 2.0, 5.0, 10.0, 20.0], set: |m, v| set_residual(m, |r| r.n0 = v as f32) },
    Axis { name: "alpha", values: &[0.0, 1.0, 2.0, 5.0, 10.0], set: |m, v| set_residual(m, |r| r.alpha = v as f32) },
    Axis {
        name: "pool",
        values: &[0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0],
        set: |m, v| set_residual(m, |r| r.pool = v as f32),
    },
    Axis { name: "sigma", values: &[0.0, 0.05, 0.1, 0.2], set: set_sigma },
];

/// The intent estimator's axes: the residual's, with the ranges its
/// session-wide offset and bucket pull live in (`n0` in tens: evidence has
/// to be spread to move the offset).
const INTENT_AXES: &[Axis] = &[
    Axis { name: "bits", values: &[2.0, 3.0, 4.0, 5.0, 6.0], set: set_bits },
    Axis { name: "arrays", values: &[1.0, 2.0, 4.0, 8.0, 16.0], set: set_arrays },
    Axis { name: "halfLife", values: &[0.0, 10.0, 15.0, 25.0, 50.0, 100.0], set: set_half_life },
    Axis { name: "lambda", values: &[1.0, 1.5, 2.0, 2.5, 3.0], set: set_lambda },
    Axis { name: "tau", values: &[0.1, 0.3, 1.0, 3.0], set: set_tau },
    Axis {
        name: "n0",
        values: &[2.0, 5.0, 10.0, 16.0, 24.0, 32.0, 50.0],
        set: |m, v| set_residual(m, |r| r.n0 = v as f32),
    },
    Axis { name: "alpha", values: &[0.5, 1.0, 2.0, 5.0], set: |m, v| set_residual(m, |r| r.alpha = v as f32) },
    Axis { name: "pool", values: &[1.0, 2.0, 4.0, 8.0, 16.0], set: |m, v| set_residual(m, |r| r.pool = v as f32) },
    Axis { name: "sigma", values: &[0.0, 0.05, 0.1, 0.2], set: set_sigma },
];

const PAPER_AXES: &[Axis] = &[
    Axis { name: "lambda", values: &[0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0], set: set_lambda },
    Axis { name: "tau", values: &[0.1, 0.3, 1.0, 3.0], set: set_tau },
    Axis {
        name: "gamma",
        values: &[0.0, 0.5, 1.0],
        set: |m, v| {
            if let Some(MemoryConfig { estimator: Estimator::Paper(p), .. }) = memory(m) {
                p.gamma = v as f32
            }
        },
    },
    Axis { name: "sigma", values: &[0.0, 0.05, 0.1, 0.2], set: set_sigma },
];

const KNN_AXES: &[Axis] = &[Axis {
    name: "k",
    values: &[3.0, 5.0, 10.0, 20.0, 50.0],
    set: |m, v| {
        if let Method::Knn { k, .. } = m {
            *k = v as usize
        }
    },
}];

const BIAS_AXES: &[Axis] = &[Axis {
    name: "rate",
    values: &[0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8],
    set: |m, v| {
        if let Method::Bias { rate } = m {
            *rate = v
        }
    },
}];

fn axes_for(method: &Method) -> &'static [Axis] {
    match method {
        Method::Memory(MemoryConfig { estimator: Estimator::Residual(_), .. }) => RESIDUAL_AXES,
        Method::Memory(MemoryConfig { estimator: Estimator::Intent(_), .. }) => INTENT_AXES,
        Method::Memory(MemoryConfig { estimator: Estimator::Paper(_), .. }) => PAPER_AXES,
        Method::Knn { .. } => KNN_AXES,
        Method::Bias { .. } => BIAS_AXES,
        Method::Frozen => &[],
    }
}

/// What a tuning run is: its search space and constraint.
pub struct Search<'a> {
    /// Coordinate-descent passes.
    pub rounds: usize,
    /// Axes to hold fixed (e.g. the paper reference's L and K).
    pub skip: &'a [&'a str],
    /// A condition every accepted candidate must meet (the start point is
    /// assumed to); `None` accepts all.
    pub accept: Option<&'a mut dyn FnMut(&Method) -> bool>,
}

impl Search<'_> {
    /// `rounds` passes over every axis, no constraint.
    pub fn plain(rounds: usize) -> Search<'static> {
        Search { rounds, skip: &[], accept: None }
    }
}

/// Tunes `start` by coordinate descent (`search.rounds` passes over its
/// axes but `search.skip`) on the log-loss of replaying `range` at `scope`,
/// keeping only candidates `search.accept` accepts. Calls `step` after each
/// evaluation. Returns the best method and its log-loss.
pub fn tune(
    stream: &Stream,
    range: Range<usize>,
    start: Method,
    scope: Scope,
    search: Search<'_>,
    step: &mut dyn FnMut(),
) -> (Method, f64) {
    let Search { rounds, skip, mut accept } = search;
    let mut best = start;
    let mut best_loss = logloss(stream, range.clone(), &best, scope);
    for _ in 0..rounds {
        let mut improved = false;
        for axis in axes_for(&best).iter().filter(|a| !skip.contains(&a.name)) {
            for &v in axis.values {
                let mut candidate = best.clone();
                (axis.set)(&mut candidate, v);
                if candidate == best || !valid(&candidate) {
                    continue;
                }
                let loss = logloss(stream, range.clone(), &candidate, scope);
                step();
                if loss < best_loss - 1e-9 && accept.as_mut().is_none_or(|ok| ok(&candidate)) {
                    best = candidate;
                    best_loss = loss;
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
    (best, best_loss)
}

/// Evaluations one [`tune`] call makes at most (for progress bars).
pub fn tune_steps(method: &Method, rounds: usize, skip: &[&str]) -> usize {
    rounds * axes_for(method).iter().filter(|a| !skip.contains(&a.name)).map(|a| a.values.len()).sum::<usize>()
}

fn valid(method: &Method) -> bool {
    match method {
        Method::Memory(c) => c.validate().is_ok(),
        Method::Knn { estimator, k, .. } => *k > 0 && estimator.validate().is_ok(),
        Method::Bias { rate } => rate.is_finite() && *rate >= 0.0,
        Method::Frozen => true,
    }
}

/// The memory every tuning starts from: L = 4, K = 4, every outcome
/// written (σ = 0), no decay.
fn start_sketch() -> SketchConfig {
    SketchConfig { bits: 4, arrays: 4, error_filter: 0.0, half_life: None, ..SketchConfig::default() }
}

/// The starting point of the residual family, with the model's `p0`:
/// λ = 1, τ = 1, n0 = 5, α = 2, pool = 5 over [`start_sketch`].
pub fn residual_start(p0: f32) -> Method {
    let estimator = Estimator::Residual(ResidualParams { lambda: 1.0, tau: 1.0, n0: 5.0, alpha: 2.0, p0, pool: 5.0 });
    Method::Memory(MemoryConfig { sketch: start_sketch(), estimator })
}

/// The starting point of the intent family: the residual's, as intent.
pub fn intent_start(p0: f32) -> Method {
    let estimator = Estimator::Intent(ResidualParams { lambda: 1.0, tau: 1.0, n0: 5.0, alpha: 2.0, p0, pool: 5.0 });
    Method::Memory(MemoryConfig { sketch: start_sketch(), estimator })
}

/// The paper reference: L = 4, K = 2, γ = 1, no decay.
pub fn paper_start() -> Method {
    Method::Memory(MemoryConfig {
        sketch: SketchConfig { arrays: 2, ..start_sketch() },
        estimator: Estimator::Paper(PaperParams { lambda: 0.3, tau: 1.0, gamma: 1.0 }),
    })
}

/// The shipped defaults (what `new Session(model)` runs with) for a model of
/// hidden width `dim` and label rate `p0`.
pub fn shipped_defaults(dim: usize, p0: f32) -> MemoryConfig {
    MemoryConfig {
        sketch: SketchConfig { dim: u32::try_from(dim).unwrap_or(u32::MAX), ..SketchConfig::default() },
        estimator: Estimator::Intent(ResidualParams { p0, ..ResidualParams::INTENT }),
    }
}

/// The defaults shipped before the intent estimator and the item-side key
/// (on the last hidden layer): the residual estimator, L = 4, K = 4,
/// half-life 15, σ = 0.1, λ = 1, τ = 0.1, n0 = 1, α = 2, pool = 10.
pub fn previous_defaults(dim: usize, p0: f32) -> MemoryConfig {
    MemoryConfig {
        sketch: SketchConfig {
            bits: 4,
            arrays: 4,
            dim: u32::try_from(dim).unwrap_or(u32::MAX),
            error_filter: 0.1,
            half_life: Some(15.0),
            ..SketchConfig::default()
        },
        estimator: Estimator::Residual(ResidualParams { p0, ..ResidualParams::default() }),
    }
}
