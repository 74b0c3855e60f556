//! The full evaluation of DESIGN §5: every method family tuned on the
//! first part of the stream and reported on the rest, on the model's own
//! key and on the key variants tried, with paired comparisons against the
//! previous defaults and the per-user bias.

use std::collections::HashMap;
use std::fmt::Write as _;

use reloop_core::Estimator;
use serde::Serialize;

use super::report::{Candidate, Paired, Row, describe, report};
use super::tune::{
    Search, intent_start, paper_start, previous_defaults, residual_start, shipped_defaults, tune, tune_steps,
};
use super::{Method, Scope, Stream, logloss};

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
    /// Paired comparisons `(a, b)` to add to the standard ones (by row name;
    /// pairs naming a row that is not there are left out).
    pub pairs: Vec<(String, String)>,
}

impl Default for Protocol {
    fn default() -> Self {
        Protocol {
            tune_share: 0.25,
            rounds: 3,
            resamples: 200,
            knn_window: 1000,
            scopes: vec![Scope::Session, Scope::User, Scope::Global],
            pairs: Vec::new(),
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

/// Tunes every family on the first `tune_share` of the streams and reports
/// all of them on the rest. `streams` are the model's stream under named
/// keys: the first is the model's own key, on which run the frozen base,
/// `paper` (L = 4, K = 2, its λ, τ, γ, σ tuned), the shipped defaults
/// (`recommended`, untuned), `intent` and `residual` (everything tuned),
/// exact kNN with the tuned residual estimator and the online logit bias —
/// each at the protocol's scopes (kNN and bias not globally: one global kNN
/// is quadratic, one global bias a calibration constant). Each other stream
/// is a key variant: `intent/session` and `intent/user` tuned on it. The
/// stream named `previous` (if any) runs the defaults shipped before
/// (`previous/session`).
pub fn evaluate(
    streams: &[(&str, &Stream)],
    previous: Option<&str>,
    protocol: &Protocol,
    step: &mut dyn FnMut(usize, usize),
) -> Report {
    let Some(&(_, stream)) = streams.first() else {
        return Report { tune_events: 0, report_events: 0, rows: Vec::new(), paired: Vec::new() };
    };
    let cut = (stream.len() as f64 * protocol.tune_share).round() as usize;
    let tune_range = 0..cut;
    let rounds = protocol.rounds;
    let local: Vec<Scope> = protocol.scopes.iter().copied().filter(|s| *s != Scope::Global).collect();
    let paper_skip: &[&str] = &["bits", "arrays"];
    let knn_start = |estimator| Method::Knn { k: 10, window: protocol.knn_window, estimator };
    let variants = streams.len() - 1;
    let previous_stream = previous.and_then(|name| streams.iter().position(|(key, _)| *key == name));
    let total = protocol.scopes.len()
        * (tune_steps(&paper_start(), rounds, paper_skip)
            + tune_steps(&residual_start(stream.p0), rounds, &[])
            + tune_steps(&intent_start(stream.p0), rounds, &[]))
        + local.len()
            * (tune_steps(&knn_start(Estimator::default()), rounds, &[])
                + tune_steps(&Method::Bias { rate: 0.1 }, rounds, &[]))
        + variants * 2 * tune_steps(&intent_start(stream.p0), rounds, &[])
        + 3
        + protocol.scopes.len() * 3
        + local.len() * 2
        + variants * 2;
    let mut done = 0usize;
    let mut tick = || {
        done += 1;
        step(done, total);
    };
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut push = |name: String, stream: usize, scope, (method, tune_logloss): (Method, f64)| {
        candidates.push(Candidate { name, stream, scope, method, tune_logloss });
    };
    let frozen_loss = logloss(stream, tune_range.clone(), &Method::Frozen, Scope::Global);
    push("frozen".into(), 0, Scope::Global, (Method::Frozen, frozen_loss));
    for &scope in &protocol.scopes {
        let search = Search { rounds, skip: paper_skip, accept: None };
        let tuned = tune(stream, tune_range.clone(), paper_start(), scope, search, &mut tick);
        push(format!("paper/{}", scope.name()), 0, scope, tuned);
    }
    let recommended = Method::Memory(shipped_defaults(stream.dim, stream.p0));
    let loss = logloss(stream, tune_range.clone(), &recommended, Scope::Session);
    push("recommended/session".into(), 0, Scope::Session, (recommended, loss));
    if let Some(i) = previous_stream {
        let s = streams[i].1;
        let method = Method::Memory(previous_defaults(s.dim, s.p0));
        let loss = logloss(s, tune_range.clone(), &method, Scope::Session);
        push("previous/session".into(), i, Scope::Session, (method, loss));
    }
    for &scope in &protocol.scopes {
        let tuned = tune(stream, tune_range.clone(), intent_start(stream.p0), scope, Search::plain(rounds), &mut tick);
        push(format!("intent/{}", scope.name()), 0, scope, tuned);
    }
    let mut residual_by_scope = HashMap::new();
    for &scope in &protocol.scopes {
        let tuned =
            tune(stream, tune_range.clone(), residual_start(stream.p0), scope, Search::plain(rounds), &mut tick);
        if let Method::Memory(c) = &tuned.0 {
            residual_by_scope.insert(scope, c.estimator);
        }
        push(format!("residual/{}", scope.name()), 0, scope, tuned);
    }
    for &scope in &local {
        let estimator = residual_by_scope.get(&scope).copied().unwrap_or_default();
        let tuned = tune(stream, tune_range.clone(), knn_start(estimator), scope, Search::plain(rounds), &mut tick);
        push(format!("knn/{}", scope.name()), 0, scope, tuned);
    }
    for &scope in &local {
        let tuned =
            tune(stream, tune_range.clone(), Method::Bias { rate: 0.1 }, scope, Search::plain(rounds), &mut tick);
        push(format!("bias/{}", scope.name()), 0, scope, tuned);
    }
    let mut variant_pairs: Vec<(String, String)> = Vec::new();
    for (i, &(key, s)) in streams.iter().enumerate().skip(1) {
        for scope in [Scope::Session, Scope::User] {
            let tuned = tune(s, tune_range.clone(), intent_start(s.p0), scope, Search::plain(rounds), &mut tick);
            let name = format!("intent/{} [{key}]", scope.name());
            let against = if scope == Scope::Session { "previous/session" } else { "bias/user" };
            variant_pairs.push((name.clone(), against.into()));
            push(name, i, scope, tuned);
        }
    }
    let mut pairs: Vec<(&str, &str)> = vec![
        ("recommended/session", "previous/session"),
        ("recommended/session", "bias/user"),
        ("intent/session", "previous/session"),
        ("intent/user", "bias/user"),
        ("intent/session", "bias/session"),
        ("intent/session", "residual/session"),
        ("residual/session", "bias/user"),
        ("residual/user", "bias/user"),
        ("residual/session", "paper/session"),
        ("residual/session", "knn/session"),
        ("intent/session", "frozen"),
        ("paper/session", "frozen"),
    ];
    pairs.extend(variant_pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    for (a, b) in &protocol.pairs {
        if !pairs.contains(&(a.as_str(), b.as_str())) {
            pairs.push((a.as_str(), b.as_str()));
        }
    }
    let (rows, paired) =
        report(streams, 0..stream.len(), cut..stream.len(), &candidates, &pairs, protocol.resamples, &mut tick);
    Report { tune_events: cut, report_events: stream.len() - cut, rows, paired }
}

/// Replays one given `method` (e.g. the options deployed now) at session
/// scope against the frozen model: no tuning, the same reported range and
/// intervals as [`evaluate`] (rows `frozen` and `given/session`, the pair
/// `given/session − frozen`).
pub fn evaluate_one(
    stream: &Stream,
    method: Method,
    protocol: &Protocol,
    step: &mut dyn FnMut(usize, usize),
) -> Report {
    let cut = (stream.len() as f64 * protocol.tune_share).round() as usize;
    let tune_range = 0..cut;
    let frozen = logloss(stream, tune_range.clone(), &Method::Frozen, Scope::Global);
    let given = logloss(stream, tune_range, &method, Scope::Session);
    let candidates = vec![
        Candidate {
            name: "frozen".into(),
            stream: 0,
            scope: Scope::Global,
            method: Method::Frozen,
            tune_logloss: frozen,
        },
        Candidate { name: "given/session".into(), stream: 0, scope: Scope::Session, method, tune_logloss: given },
    ];
    let mut done = 0;
    let mut tick = || {
        done += 1;
        step(done, 3);
    };
    let (rows, paired) = report(
        &[("given", stream)],
        0..stream.len(),
        cut..stream.len(),
        &candidates,
        &[("given/session", "frozen")],
        protocol.resamples,
        &mut tick,
    );
    Report { tune_events: cut, report_events: stream.len() - cut, rows, paired }
}

impl Report {
    /// The report as markdown: a table of scorers (deltas against the frozen
    /// base) and a table of paired comparisons.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let base = self.rows.iter().find(|r| r.method == Method::Frozen).map(|r| r.metrics);
        let _ = writeln!(
            s,
            "Tuned on the first {} stream events, reported on the last {} (user-bootstrap 95% intervals).\n",
            self.tune_events, self.report_events
        );
        let _ = writeln!(
            s,
            "| scorer | key | AUC [95% CI] | ΔAUC | gAUC | logloss [95% CI] | Δlogloss | ECE | tuned on the first 25% |"
        );
        let _ = writeln!(s, "|---|---|---|---:|---:|---|---:|---:|---|");
        for r in &self.rows {
            let m = r.metrics;
            let (d_auc, d_ll) = base.map_or((0.0, 0.0), |b| (m.auc - b.auc, (m.logloss / b.logloss - 1.0) * 100.0));
            let key = if r.method == Method::Frozen || matches!(r.method, Method::Bias { .. }) { "-" } else { &r.key };
            let _ = writeln!(
                s,
                "| {} | {} | {:.4} [{:.4}, {:.4}] | {:+.4} | {:.4} | {:.4} [{:.4}, {:.4}] | {:+.1}% | {:.4} | {} |",
                r.name,
                key,
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
