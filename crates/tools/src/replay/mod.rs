//! Prequential replay: the evaluation protocol of DESIGN §5.
//!
//! A [`Stream`] holds the frozen model's outputs for every event of the
//! test period (computed once). [`run`] replays a range of it through one
//! [`Method`] at one [`Scope`] — score each event, then record its outcome —
//! and returns the scores. [`tune`] picks hyper-parameters by coordinate
//! descent on the log-loss of a tuning range; [`report`] then scores the
//! reported range with the tuned methods (history from the tuning range
//! included, as a deployed loop would have it) and computes metrics with
//! user-bootstrap intervals.

pub mod adapters;
pub mod stream;

use std::collections::HashMap;
use std::ops::Range;

use serde::Serialize;

use reloop_core::{Estimator, Memory, MemoryConfig, ModelId, PaperParams, ResidualParams, SketchConfig};
use reloop_runtime::SessionOptions;

use crate::metrics::{self, Interval, Metrics, Scored};
use adapters::{Adapter, Knn, LogitBias};

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
        Method::Memory(MemoryConfig { estimator: Estimator::Residual(r), .. })
        | Method::Knn { estimator: Estimator::Residual(r), .. } => r.lambda = v as f32,
        Method::Memory(MemoryConfig { estimator: Estimator::Paper(p), .. })
        | Method::Knn { estimator: Estimator::Paper(p), .. } => p.lambda = v as f32,
        _ => {}
    }
}

fn set_tau(m: &mut Method, v: f64) {
    if let Some(c) = memory(m) {
        match &mut c.estimator {
            Estimator::Residual(r) => r.tau = v as f32,
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
        Method::Memory(MemoryConfig { estimator: Estimator::Residual(r), .. })
        | Method::Knn { estimator: Estimator::Residual(r), .. } => f(r),
        _ => {}
    }
}

const RESIDUAL_AXES: &[Axis] = &[
    Axis {
        name: "bits",
        values: &[0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0],
        set: |m, v| {
            if let Some(c) = memory(m) {
                c.sketch.bits = v as u8
            }
        },
    },
    Axis {
        name: "arrays",
        values: &[1.0, 2.0, 4.0, 8.0, 16.0],
        set: |m, v| {
            if let Some(c) = memory(m) {
                c.sketch.arrays = v as u8
            }
        },
    },
    Axis {
        name: "halfLife",
        values: &[0.0, 5.0, 10.0, 15.0, 25.0, 50.0, 100.0, 250.0],
        set: |m, v| {
            if let Some(c) = memory(m) {
                c.sketch.half_life = (v > 0.0).then_some(v as f32)
            }
        },
    },
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
        Method::Memory(MemoryConfig { estimator: Estimator::Paper(_), .. }) => PAPER_AXES,
        Method::Knn { .. } => KNN_AXES,
        Method::Bias { .. } => BIAS_AXES,
        Method::Frozen => &[],
    }
}

/// Tunes `start` by coordinate descent (`rounds` passes over its axes) on
/// the log-loss of replaying `range` at `scope`. `skip` names axes to hold
/// fixed (e.g. the paper reference's L and K). Calls `step` after each
/// evaluation. Returns the best method and its log-loss.
pub fn tune(
    stream: &Stream,
    range: Range<usize>,
    start: Method,
    scope: Scope,
    rounds: usize,
    skip: &[&str],
    step: &mut dyn FnMut(),
) -> (Method, f64) {
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
                if loss < best_loss - 1e-9 {
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
        estimator: Estimator::Residual(ResidualParams { p0, ..ResidualParams::default() }),
    }
}

/// One row of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// Scorer name.
    pub name: String,
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
    /// Row index of `a`.
    pub a: String,
    /// Row index of `b`.
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

/// Scores `report` with every candidate (replaying from `history.start` so
/// memories carry the tuning period in), computes metrics and bootstrap
/// intervals, and the paired comparisons named by row name.
pub fn report(
    stream: &Stream,
    history: Range<usize>,
    reported: Range<usize>,
    candidates: &[(String, Scope, Method, f64)],
    pairs: &[(&str, &str)],
    resamples: usize,
    step: &mut dyn FnMut(),
) -> (Vec<Row>, Vec<Paired>) {
    let skip = reported.start - history.start;
    let scored: Vec<Vec<Scored>> = candidates
        .iter()
        .map(|(_, scope, method, _)| {
            let scores = run(stream, history.start..reported.end, method, *scope);
            step();
            scores[skip..]
                .iter()
                .zip(reported.clone())
                .map(|(&score, i)| Scored { score, label: stream.label[i], user: stream.user[i] })
                .collect()
        })
        .collect();
    let index = |name: &str| candidates.iter().position(|c| c.0 == name);
    let pair_idx: Vec<(usize, usize)> = pairs.iter().filter_map(|(a, b)| Some((index(a)?, index(b)?))).collect();
    let streams: Vec<&[Scored]> = scored.iter().map(Vec::as_slice).collect();
    let boot = metrics::bootstrap(&streams, &pair_idx, resamples, 2023);
    let rows: Vec<Row> = candidates
        .iter()
        .zip(&scored)
        .zip(&boot.intervals)
        .map(|(((name, scope, method, tune_logloss), s), &(auc_ci, gauc_ci, logloss_ci))| Row {
            name: name.clone(),
            scope: *scope,
            method: method.clone(),
            tune_logloss: *tune_logloss,
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
                Estimator::Residual(r) => {
                    format!("λ={} τ={} n0={} α={} pool={}", r.lambda, r.tau, r.n0, r.alpha, r.pool)
                }
            };
            format!("L={} K={} half-life={decay} σ={} {est}", s.bits, s.arrays, s.error_filter)
        }
        Method::Knn { k, window, estimator } => match estimator {
            Estimator::Residual(r) => format!("k={k} window={window} λ={} n0={} α={}", r.lambda, r.n0, r.alpha),
            Estimator::Paper(p) => format!("k={k} window={window} λ={}", p.lambda),
        },
        Method::Bias { rate } => format!("η={rate}"),
    }
}

/// A memory config as the [`SessionOptions`] that give it.
fn ser_config<S: serde::Serializer>(c: &MemoryConfig, s: S) -> std::result::Result<S::Ok, S::Error> {
    SessionOptions::of(c).serialize(s)
}

/// An estimator as the estimator keys of [`SessionOptions`].
fn ser_estimator<S: serde::Serializer>(e: &Estimator, s: S) -> std::result::Result<S::Ok, S::Error> {
    let all = SessionOptions::of(&MemoryConfig { estimator: *e, ..MemoryConfig::default() });
    SessionOptions { bits: None, arrays: None, seed: None, error_filter: None, half_life: None, ..all }.serialize(s)
}

/// Settings of a full evaluation ([`evaluate`]).
#[derive(Clone, Debug)]
pub struct Protocol {
    /// Share of the stream (from its start) used for tuning; the rest is reported.
    pub tune_share: f64,
    /// Coordinate-descent passes.
    pub rounds: usize,
    /// User-bootstrap resamples.
    pub resamples: usize,
    /// Writes kept by the kNN reference.
    pub knn_window: usize,
    /// Scopes to evaluate the memories at.
    pub scopes: Vec<Scope>,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            tune_share: 0.25,
            rounds: 3,
            resamples: 200,
            knn_window: 1000,
            scopes: vec![Scope::Session, Scope::User, Scope::Global],
        }
    }
}

/// The full result of [`evaluate`].
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Events in the tuning range.
    pub tune_events: usize,
    /// Events in the reported range.
    pub report_events: usize,
    /// One row per scorer.
    pub rows: Vec<Row>,
    /// Paired comparisons.
    pub paired: Vec<Paired>,
}

/// Tunes every family on the first `tune_share` of the stream and reports
/// all of them on the rest: frozen base; `paper` (L = 4, K = 2, its λ, τ, γ,
/// σ tuned); `residual` (everything tuned); exact kNN with the tuned
/// residual estimator; online logit bias — each at the protocol's scopes
/// (kNN and bias not globally: one global kNN is quadratic, one global bias
/// is a calibration constant).
pub fn evaluate(stream: &Stream, protocol: &Protocol, step: &mut dyn FnMut(usize, usize)) -> Report {
    let cut = (stream.len() as f64 * protocol.tune_share).round() as usize;
    let tune_range = 0..cut;
    let rounds = protocol.rounds;
    let local: Vec<Scope> = protocol.scopes.iter().copied().filter(|s| *s != Scope::Global).collect();
    let paper_skip: &[&str] = &["bits", "arrays"];
    let knn_start = |estimator| Method::Knn { k: 10, window: protocol.knn_window, estimator };
    let total = protocol.scopes.len()
        * (tune_steps(&paper_start(), rounds, paper_skip) + tune_steps(&residual_start(stream.p0), rounds, &[]))
        + local.len()
            * (tune_steps(&knn_start(Estimator::default()), rounds, &[])
                + tune_steps(&Method::Bias { rate: 0.1 }, rounds, &[]))
        + 2
        + protocol.scopes.len() * 2
        + local.len() * 2;
    let mut done = 0usize;
    let mut tick = || {
        done += 1;
        step(done, total);
    };
    let mut candidates: Vec<(String, Scope, Method, f64)> = Vec::new();
    let frozen_loss = logloss(stream, tune_range.clone(), &Method::Frozen, Scope::Global);
    candidates.push(("frozen".into(), Scope::Global, Method::Frozen, frozen_loss));
    for &scope in &protocol.scopes {
        let (m, l) = tune(stream, tune_range.clone(), paper_start(), scope, rounds, paper_skip, &mut tick);
        candidates.push((format!("paper/{}", scope.name()), scope, m, l));
    }
    let recommended = Method::Memory(shipped_defaults(stream.dim, stream.p0));
    let rec_loss = logloss(stream, tune_range.clone(), &recommended, Scope::Session);
    candidates.push(("recommended/session".into(), Scope::Session, recommended, rec_loss));
    let mut residual_by_scope = HashMap::new();
    for &scope in &protocol.scopes {
        let (m, l) = tune(stream, tune_range.clone(), residual_start(stream.p0), scope, rounds, &[], &mut tick);
        if let Method::Memory(c) = &m {
            residual_by_scope.insert(scope, c.estimator);
        }
        candidates.push((format!("residual/{}", scope.name()), scope, m, l));
    }
    for &scope in &local {
        let estimator = residual_by_scope.get(&scope).copied().unwrap_or_default();
        let (m, l) = tune(stream, tune_range.clone(), knn_start(estimator), scope, rounds, &[], &mut tick);
        candidates.push((format!("knn/{}", scope.name()), scope, m, l));
    }
    for &scope in &local {
        let (m, l) = tune(stream, tune_range.clone(), Method::Bias { rate: 0.1 }, scope, rounds, &[], &mut tick);
        candidates.push((format!("bias/{}", scope.name()), scope, m, l));
    }
    let pairs = [
        ("residual/session", "bias/user"),
        ("recommended/session", "bias/user"),
        ("residual/user", "bias/user"),
        ("residual/session", "bias/session"),
        ("residual/session", "paper/session"),
        ("residual/session", "knn/session"),
        ("residual/session", "frozen"),
        ("paper/session", "frozen"),
    ];
    let (rows, paired) =
        report(stream, 0..stream.len(), cut..stream.len(), &candidates, &pairs, protocol.resamples, &mut tick);
    Report { tune_events: cut, report_events: stream.len() - cut, rows, paired }
}

impl Report {
    /// The report as markdown: a table of scorers (deltas against the frozen
    /// base) and a table of paired comparisons.
    pub fn markdown(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let base = self.rows.iter().find(|r| r.method == Method::Frozen).map(|r| r.metrics);
        let _ = writeln!(
            s,
            "Tuned on the first {} stream events, reported on the last {} (user-bootstrap 95% intervals).\n",
            self.tune_events, self.report_events
        );
        let _ = writeln!(
            s,
            "| scorer | AUC [95% CI] | ΔAUC | gAUC | logloss [95% CI] | Δlogloss | ECE | tuned on the first 25% |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---|---:|---:|---|");
        for r in &self.rows {
            let m = r.metrics;
            let (d_auc, d_ll) = base.map_or((0.0, 0.0), |b| (m.auc - b.auc, (m.logloss / b.logloss - 1.0) * 100.0));
            let _ = writeln!(
                s,
                "| {} | {:.4} [{:.4}, {:.4}] | {:+.4} | {:.4} | {:.4} [{:.4}, {:.4}] | {:+.1}% | {:.4} | {} |",
                r.name,
                m.auc,
                r.auc_ci.lo,
                r.auc_ci.hi,
                d_auc,
                m.gauc,
                m.logloss,
                r.logloss_ci.lo,
                r.logloss_ci.hi,
                d_ll,
                m.ece,
                describe(&r.method)
            );
        }
        let _ = writeln!(s, "\n| paired (a − b) | ΔAUC [95% CI] | Δlogloss [95% CI] |\n|---|---|---|");
        for p in &self.paired {
            let _ = writeln!(
                s,
                "| {} − {} | {:+.4} [{:+.4}, {:+.4}] | {:+.4} [{:+.4}, {:+.4}] |",
                p.a, p.b, p.d_auc, p.d_auc_ci.lo, p.d_auc_ci.hi, p.d_logloss, p.d_logloss_ci.lo, p.d_logloss_ci.hi
            );
        }
        s
    }
}
