//! The plain-words verdict of a replay on a user's log: which memory to
//! ship (chosen on the tuning part only, so the reported part stays an
//! honest test), the options JSON that `new Session(model, options)`
//! takes, and whether it beats the frozen model and the online logit bias,
//! by how much, with intervals.

use std::fmt::Write as _;

use reloop_runtime::SessionOptions;

use super::report::{Paired, Row, describe};
use super::{Method, Report};

/// The session-scope memories a verdict chooses among.
pub const CHOICES: [&str; 4] = ["recommended/session", "intent/session", "residual/session", "paper/session"];

/// What the verdict compares the chosen memory with.
pub const REFERENCES: [&str; 3] = ["frozen", "bias/session", "bias/user"];

/// The pairs a verdict needs: each choice against each reference, and the
/// per-user memory against the frozen model and the per-user bias.
pub fn pairs() -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> =
        CHOICES.iter().flat_map(|a| REFERENCES.iter().map(move |b| (a.to_string(), b.to_string()))).collect();
    pairs.push(("intent/user".into(), "frozen".into()));
    pairs.push(("intent/user".into(), "bias/user".into()));
    pairs
}

/// The verdict of a report.
#[derive(Clone, Debug)]
pub struct Verdict {
    /// The chosen row.
    pub chosen: String,
    /// Its options, for `new Session(model, options)`.
    pub options: SessionOptions,
    /// The verdict in plain words (markdown).
    pub text: String,
}

/// Chooses the session memory with the lowest tuning log-loss and writes
/// the verdict; `None` if the report has no memory row.
pub fn verdict(report: &Report) -> Option<Verdict> {
    let chosen = report
        .rows
        .iter()
        .filter(|r| CHOICES.contains(&r.name.as_str()))
        .min_by(|a, b| a.tune_logloss.total_cmp(&b.tune_logloss))?;
    let Method::Memory(config) = &chosen.method else { return None };
    let options = SessionOptions::of(config);
    let row = |name: &str| report.rows.iter().find(|r| r.name == name);
    let pair = |a: &str, b: &str| report.paired.iter().find(|p| p.a == a && p.b == b);
    let mut text = String::new();
    let _ = writeln!(
        text,
        "**Verdict** (tuned on the first {} events, reported on the last {}): ship `{}` — {}, chosen for the \
         lowest log-loss on the tuning part; its options are in `options.json`.\n",
        report.tune_events,
        report.report_events,
        chosen.name,
        describe(&chosen.method)
    );
    for reference in REFERENCES {
        if let (Some(p), Some(r)) = (pair(&chosen.name, reference), row(reference)) {
            let _ = writeln!(text, "- {}", sentence(chosen, r, p));
        }
    }
    if let (Some(user), Some(p)) = (row("intent/user"), pair("intent/user", "bias/user")) {
        if let Some(r) = row("bias/user") {
            let _ = writeln!(
                text,
                "- Keeping one memory per user across sessions (saving it between them): {}",
                sentence(user, r, p)
            );
        }
    }
    Some(Verdict { chosen: chosen.name.clone(), options, text })
}

/// The verdict of [`super::evaluate_one`]: the given options against the
/// frozen model, in plain words.
pub fn verdict_one(report: &Report) -> Option<String> {
    let given = report.rows.iter().find(|r| r.name == "given/session")?;
    let frozen = report.rows.iter().find(|r| r.name == "frozen")?;
    let pair = report.paired.iter().find(|p| p.a == "given/session" && p.b == "frozen")?;
    Some(format!(
        "**Verdict** (reported on the last {} events; the options were not tuned here): {}\n",
        report.report_events,
        sentence(given, frozen, pair)
    ))
}

/// "`a` vs `b`: AUC x vs y, ΔAUC +d [lo, hi] (better); log-loss ..., Δ ... (better)."
fn sentence(a: &Row, b: &Row, p: &Paired) -> String {
    let word = |lo: f64, hi: f64, higher_is_better: bool| {
        let (good, bad) = if higher_is_better { (lo > 0.0, hi < 0.0) } else { (hi < 0.0, lo > 0.0) };
        if good {
            "better"
        } else if bad {
            "worse"
        } else {
            "no clear difference: the interval includes 0"
        }
    };
    let what = match b.name.as_str() {
        "frozen" => "the frozen model",
        "bias/session" => "an online logit bias per session",
        "bias/user" => "an online logit bias per user (it needs the user's history across sessions)",
        other => other,
    };
    format!(
        "`{}` against {what}: AUC {:.4} vs {:.4}, ΔAUC {:+.4} [{:+.4}, {:+.4}] ({}); log-loss {:.4} vs {:.4}, \
         Δ {:+.4} [{:+.4}, {:+.4}] ({}).",
        a.name,
        a.metrics.auc,
        b.metrics.auc,
        p.d_auc,
        p.d_auc_ci.lo,
        p.d_auc_ci.hi,
        word(p.d_auc_ci.lo, p.d_auc_ci.hi, true),
        a.metrics.logloss,
        b.metrics.logloss,
        p.d_logloss,
        p.d_logloss_ci.lo,
        p.d_logloss_ci.hi,
        word(p.d_logloss_ci.lo, p.d_logloss_ci.hi, false),
    )
}
