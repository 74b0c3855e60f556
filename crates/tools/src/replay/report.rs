//! Scoring the reported range with the tuned methods, their metrics with
//! user-bootstrap intervals, paired comparisons, and the report's tables.

use std::ops::Range;

use reloop_core::{Estimator, MemoryConfig};
use reloop_runtime::SessionOptions;
use serde::Serialize;

use super::{Method, Scope, Stream, run};
use crate::metrics::{self, Interval, Metrics, Scored};

/// A method to report: its name, the stream (key) it runs on, its scope,
/// its tuned parameters and the tuning log-loss.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Row name, e.g. `intent/session`.
    pub name: String,
    /// Index of its stream among those given to [`report`].
    pub stream: usize,
    /// Which events share a memory.
    pub scope: Scope,
    /// The method with its parameters.
    pub method: Method,
    /// Log-loss on the tuning range (what tuning minimised).
    pub tune_logloss: f64,
}

/// One row of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Scorer name.
    pub name: String,
    /// The memory's key (the stream's name).
    pub key: String,
    /// Memory scope.
    pub scope: Scope,
    /// The method with its tuned parameters.
    pub method: Method,
    /// Log-loss on the tuning range (what tuning minimised).
    pub tune_logloss: f64,
    /// Point metrics on the reported range.
    pub metrics: Metrics,
    /// User-bootstrap 95% interval of AUC.
    pub auc_ci: Interval,
    /// ... of per-user AUC.
    pub gauc_ci: Interval,
    /// ... of log-loss.
    pub logloss_ci: Interval,
}

/// A paired comparison `a − b` on the same bootstrap draws.
#[derive(Clone, Debug, Serialize)]
pub struct Paired {
    /// Row name of `a`.
    pub a: String,
    /// Row name of `b`.
    pub b: String,
    /// ΔAUC point estimate.
    pub d_auc: f64,
    /// ΔAUC 95% interval.
    pub d_auc_ci: Interval,
    /// Δlogloss point estimate.
    pub d_logloss: f64,
    /// Δlogloss 95% interval.
    pub d_logloss_ci: Interval,
}

/// Scores `reported` with every candidate on its stream (replaying from
/// `history.start` so memories carry the tuning period in), computes
/// metrics and bootstrap intervals, and the paired comparisons named by row
/// name. The streams hold the same events (one model, different keys).
pub fn report(
    streams: &[(&str, &Stream)],
    history: Range<usize>,
    reported: Range<usize>,
    candidates: &[Candidate],
    pairs: &[(&str, &str)],
    resamples: usize,
    step: &mut dyn FnMut(),
) -> (Vec<Row>, Vec<Paired>) {
    let skip = reported.start - history.start;
    let scored: Vec<Vec<Scored>> = candidates
        .iter()
        .filter_map(|c| {
            let (_, stream) = streams.get(c.stream)?;
            let scores = run(stream, history.start..reported.end, &c.method, c.scope);
            step();
            Some(
                scores[skip..]
                    .iter()
                    .zip(reported.clone())
                    .map(|(&score, i)| Scored { score, label: stream.label[i], user: stream.user[i] })
                    .collect(),
            )
        })
        .collect();
    let index = |name: &str| candidates.iter().position(|c| c.name == name);
    let pair_idx: Vec<(usize, usize)> = pairs.iter().filter_map(|(a, b)| Some((index(a)?, index(b)?))).collect();
    let scored_streams: Vec<&[Scored]> = scored.iter().map(Vec::as_slice).collect();
    let boot = metrics::bootstrap(&scored_streams, &pair_idx, resamples, 2023);
    let rows: Vec<Row> = candidates
        .iter()
        .zip(&scored)
        .zip(&boot.intervals)
        .map(|((c, s), &(auc_ci, gauc_ci, logloss_ci))| Row {
            name: c.name.clone(),
            key: streams.get(c.stream).map_or_else(String::new, |(key, _)| key.to_string()),
            scope: c.scope,
            method: c.method.clone(),
            tune_logloss: c.tune_logloss,
            metrics: metrics::metrics(s),
            auc_ci,
            gauc_ci,
            logloss_ci,
        })
        .collect();
    let paired = pair_idx
        .iter()
        .zip(&boot.paired)
        .map(|(&(a, b), &(d_auc_ci, d_logloss_ci))| Paired {
            a: rows[a].name.clone(),
            b: rows[b].name.clone(),
            d_auc: rows[a].metrics.auc - rows[b].metrics.auc,
            d_auc_ci,
            d_logloss: rows[a].metrics.logloss - rows[b].metrics.logloss,
            d_logloss_ci,
        })
        .collect();
    (rows, paired)
}

/// A short human description of a method's parameters.
pub fn describe(method: &Method) -> String {
    match method {
        Method::Frozen => "-".into(),
        Method::Memory(c) => {
            let s = &c.sketch;
            let decay = s.half_life.map_or("none".to_string(), |h| format!("{h}"));
            let est = match c.estimator {
                Estimator::Paper(p) => format!("λ={} τ={} γ={}", p.lambda, p.tau, p.gamma),
                Estimator::Residual(r) | Estimator::Intent(r) => {
                    format!("λ={} τ={} n0={} α={} pool={}", r.lambda, r.tau, r.n0, r.alpha, r.pool)
                }
            };
            format!("L={} K={} half-life={decay} σ={} {est}", s.bits, s.arrays, s.error_filter)
        }
        Method::Knn { k, window, estimator } => match estimator {
            Estimator::Residual(r) | Estimator::Intent(r) => {
                format!("k={k} window={window} λ={} n0={} α={}", r.lambda, r.n0, r.alpha)
            }
            Estimator::Paper(p) => format!("k={k} window={window} λ={}", p.lambda),
        },
        Method::Bias { rate } => format!("η={rate}"),
    }
}

/// A memory config as the [`SessionOptions`] that give it.
pub(crate) fn ser_config<S: serde::Serializer>(c: &MemoryConfig, s: S) -> std::result::Result<S::Ok, S::Error> {
    SessionOptions::of(c).serialize(s)
}

/// An estimator as the estimator keys of [`SessionOptions`].
pub(crate) fn ser_estimator<S: serde::Serializer>(e: &Estimator, s: S) -> std::result::Result<S::Ok, S::Error> {
    let all = SessionOptions::of(&MemoryConfig { estimator: *e, ..MemoryConfig::default() });
    SessionOptions { bits: None, arrays: None, seed: None, error_filter: None, half_life: None, ..all }.serialize(s)
}
