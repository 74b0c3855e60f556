//! Offline metrics, for the replay and for training alike: AUC, per-user
//! AUC (gAUC), logloss, expected calibration error, and user-bootstrap
//! intervals, including a paired interval for the difference of two
//! scorers.
//!
//! Bootstrap resamples *users* (the unit of independence in a
//! recommendation stream): each resample draws users with replacement and
//! weights their events by the draw count. Every metric is computed with
//! those weights, so one sort per scorer serves all resamples.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use reloop_core::prob::log_loss;

/// Bins of the expected calibration error.
pub const ECE_BINS: usize = 10;

/// A scored event: score, label and the index of its user.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scored {
    /// Predicted click probability.
    pub score: f32,
    /// Whether the user clicked (liked).
    pub label: bool,
    /// Dense user index (0..users).
    pub user: u32,
}

/// Point estimates on one scored stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Area under the ROC curve over all events.
    pub auc: f64,
    /// Mean per-user AUC, weighted by events, over users with both labels.
    pub gauc: f64,
    /// Mean negative log-likelihood (probabilities clipped to [1e-7, 1 − 1e-7]).
    pub logloss: f64,
    /// Expected calibration error over [`ECE_BINS`] equal-width bins.
    pub ece: f64,
    /// Events scored.
    pub events: usize,
}

/// A 95% interval (2.5th and 97.5th percentiles of the bootstrap).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Interval {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

/// Point metrics computed with per-event weights (1.0 = plain).
pub fn metrics(events: &[Scored]) -> Metrics {
    let weights = vec![1.0; user_count(events)];
    let order = sorted_by_score(events);
    Metrics {
        auc: weighted_auc(events, &order, &weights),
        gauc: weighted_gauc(&per_user_auc(events), &user_sizes(events), &weights),
        logloss: weighted_logloss(events, &weights),
        ece: ece(events),
        events: events.len(),
    }
}

/// AUC of `scores` against `labels` (ties count one half); `None` when one
/// class is absent.
pub fn auc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let events: Vec<Scored> =
        scores.iter().zip(labels).map(|(&score, &label)| Scored { score, label, user: 0 }).collect();
    let auc = weighted_auc(&events, &sorted_by_score(&events), &[1.0]);
    auc.is_finite().then_some(auc)
}

/// Mean log-loss of `probs` against `labels` (probabilities clipped, see
/// [`reloop_core::prob::log_loss`]); 0 for no events.
pub fn logloss(probs: &[f32], labels: &[bool]) -> f64 {
    let n = probs.len().min(labels.len());
    if n == 0 {
        return 0.0;
    }
    let sum: f64 = probs.iter().zip(labels).map(|(&p, &y)| log_loss(f64::from(p), y)).sum();
    sum / n as f64
}

/// User-bootstrap intervals of AUC, gAUC and logloss for each scorer, and
/// the paired interval of `AUC(a) − AUC(b)` for each `(a, b)` in `pairs`.
/// All scorers must score the same events in the same order.
pub struct Bootstrap {
    /// Per scorer: (AUC, gAUC, logloss) intervals.
    pub intervals: Vec<(Interval, Interval, Interval)>,
    /// Per pair: (ΔAUC interval, Δlogloss interval).
    pub paired: Vec<(Interval, Interval)>,
}

/// Runs `resamples` user-bootstrap draws (seeded) over the scorers' streams.
pub fn bootstrap(streams: &[&[Scored]], pairs: &[(usize, usize)], resamples: usize, seed: u64) -> Bootstrap {
    let users = streams.first().map_or(0, |s| user_count(s));
    let orders: Vec<Vec<u32>> = streams.iter().map(|s| sorted_by_score(s)).collect();
    let user_aucs: Vec<Vec<Option<f64>>> = streams.iter().map(|s| per_user_auc(s)).collect();
    let sizes = streams.first().map_or_else(Vec::new, |s| user_sizes(s));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut samples: Vec<Vec<[f64; 3]>> = vec![Vec::with_capacity(resamples); streams.len()];
    let mut weights = vec![0f64; users];
    for _ in 0..resamples {
        weights.fill(0.0);
        for _ in 0..users {
            let u = (rng.next_u64() % users as u64) as usize;
            weights[u] += 1.0;
        }
        for (i, s) in streams.iter().enumerate() {
            samples[i].push([
                weighted_auc(s, &orders[i], &weights),
                weighted_gauc(&user_aucs[i], &sizes, &weights),
                weighted_logloss(s, &weights),
            ]);
        }
    }
    let interval_of = |values: Vec<f64>| percentile_interval(values);
    let intervals = samples
        .iter()
        .map(|s| {
            (
                interval_of(s.iter().map(|m| m[0]).collect()),
                interval_of(s.iter().map(|m| m[1]).collect()),
                interval_of(s.iter().map(|m| m[2]).collect()),
            )
        })
        .collect();
    let paired = pairs
        .iter()
        .map(|&(a, b)| {
            let d_auc = samples[a].iter().zip(&samples[b]).map(|(x, y)| x[0] - y[0]).collect();
            let d_ll = samples[a].iter().zip(&samples[b]).map(|(x, y)| x[2] - y[2]).collect();
            (interval_of(d_auc), interval_of(d_ll))
        })
        .collect();
    Bootstrap { intervals, paired }
}

fn percentile_interval(mut values: Vec<f64>) -> Interval {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return Interval { lo: f64::NAN, hi: f64::NAN };
    }
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    Interval { lo: at(0.025), hi: at(0.975) }
}

fn user_count(events: &[Scored]) -> usize {
    events.iter().map(|e| e.user as usize + 1).max().unwrap_or(0)
}

fn user_sizes(events: &[Scored]) -> Vec<f64> {
    let mut sizes = vec![0f64; user_count(events)];
    for e in events {
        sizes[e.user as usize] += 1.0;
    }
    sizes
}

fn sorted_by_score(events: &[Scored]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..events.len() as u32).collect();
    order.sort_by(|&a, &b| events[a as usize].score.total_cmp(&events[b as usize].score));
    order
}

/// Weighted rank AUC: ties share credit equally.
fn weighted_auc(events: &[Scored], order: &[u32], user_weight: &[f64]) -> f64 {
    let (mut neg_below, mut num, mut pos_total, mut neg_total) = (0f64, 0f64, 0f64, 0f64);
    let mut i = 0;
    while i < order.len() {
        let score = events[order[i] as usize].score;
        let (mut pos, mut neg) = (0f64, 0f64);
        let mut j = i;
        while j < order.len() && events[order[j] as usize].score == score {
            let e = &events[order[j] as usize];
            let w = user_weight[e.user as usize];
            if e.label {
                pos += w
            } else {
                neg += w
            }
            j += 1;
        }
        num += pos * (neg_below + 0.5 * neg);
        neg_below += neg;
        pos_total += pos;
        neg_total += neg;
        i = j;
    }
    if pos_total == 0.0 || neg_total == 0.0 { f64::NAN } else { num / (pos_total * neg_total) }
}

/// AUC of each user's own events; `None` for users with one label only.
fn per_user_auc(events: &[Scored]) -> Vec<Option<f64>> {
    let users = user_count(events);
    let mut by_user: Vec<Vec<Scored>> = vec![Vec::new(); users];
    for e in events {
        by_user[e.user as usize].push(Scored { user: 0, ..*e });
    }
    by_user
        .iter()
        .map(|evs| {
            let order = sorted_by_score(evs);
            let auc = weighted_auc(evs, &order, &[1.0]);
            auc.is_finite().then_some(auc)
        })
        .collect()
}

fn weighted_gauc(user_auc: &[Option<f64>], sizes: &[f64], user_weight: &[f64]) -> f64 {
    let (mut num, mut den) = (0f64, 0f64);
    for ((auc, size), w) in user_auc.iter().zip(sizes).zip(user_weight) {
        if let Some(a) = auc {
            num += a * size * w;
            den += size * w;
        }
    }
    if den > 0.0 { num / den } else { f64::NAN }
}

fn weighted_logloss(events: &[Scored], user_weight: &[f64]) -> f64 {
    let (mut sum, mut den) = (0f64, 0f64);
    for e in events {
        let w = user_weight[e.user as usize];
        if w == 0.0 {
            continue;
        }
        sum += w * event_loss(e.score, e.label);
        den += w;
    }
    sum / den
}

/// Negative log-likelihood of one outcome (see [`reloop_core::prob::log_loss`]).
pub fn event_loss(p: f32, clicked: bool) -> f64 {
    log_loss(f64::from(p), clicked)
}

fn ece(events: &[Scored]) -> f64 {
    let mut bins = [(0f64, 0f64, 0f64); ECE_BINS]; // (n, Σp, Σy)
    for e in events {
        let p = f64::from(e.score).clamp(0.0, 1.0);
        let b = ((p * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        bins[b].0 += 1.0;
        bins[b].1 += p;
        bins[b].2 += f64::from(u8::from(e.label));
    }
    let n = events.len() as f64;
    bins.iter().filter(|b| b.0 > 0.0).map(|b| (b.1 - b.2).abs() / n).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(score: f32, label: bool, user: u32) -> Scored {
        Scored { score, label, user }
    }

    #[test]
    fn auc_counts_pairs_and_ties() {
        let perfect = [ev(0.1, false, 0), ev(0.2, false, 0), ev(0.8, true, 0), ev(0.9, true, 0)];
        assert_eq!(metrics(&perfect).auc, 1.0);
        let reversed = [ev(0.9, false, 0), ev(0.1, true, 0)];
        assert_eq!(metrics(&reversed).auc, 0.0);
        let tied = [ev(0.5, false, 0), ev(0.5, true, 0)];
        assert_eq!(metrics(&tied).auc, 0.5);
        // 1 positive above 1 of 2 negatives, tie with the other: (1 + 0.5) / 2.
        let mixed = [ev(0.2, false, 0), ev(0.6, false, 0), ev(0.6, true, 0)];
        assert_eq!(metrics(&mixed).auc, 0.75);
    }

    #[test]
    fn gauc_ignores_single_label_users_and_weights_by_events() {
        let events = [
            ev(0.1, false, 0),
            ev(0.9, true, 0), // user 0: AUC 1, 2 events
            ev(0.9, false, 1),
            ev(0.1, true, 1),
            ev(0.5, true, 1),
            ev(0.5, false, 1), // user 1: AUC (0 + 0.5 + 1 + 0.5) / 4 = 0.5... computed below
            ev(0.3, true, 2),  // user 2: one label only
        ];
        let m = metrics(&events);
        let u1 = [ev(0.9, false, 0), ev(0.1, true, 0), ev(0.5, true, 0), ev(0.5, false, 0)];
        let a1 = metrics(&u1).auc;
        assert!((m.gauc - (2.0 * 1.0 + 4.0 * a1) / 6.0).abs() < 1e-12);
    }

    #[test]
    fn logloss_and_ece_of_a_calibrated_constant() {
        let events: Vec<Scored> = (0..100).map(|i| ev(0.3, i < 30, 0)).collect();
        let m = metrics(&events);
        let want = -(0.3f64 * 0.3f64.ln() + 0.7 * 0.7f64.ln());
        assert!((m.logloss - want).abs() < 1e-6);
        assert!(m.ece < 1e-6);
        let events: Vec<Scored> = (0..100).map(|i| ev(0.9, i < 30, 0)).collect();
        assert!((metrics(&events).ece - 0.6).abs() < 1e-6);
    }

    #[test]
    fn plain_auc_and_logloss_agree_with_the_event_metrics() {
        assert_eq!(auc(&[0.1, 0.9], &[false, true]), Some(1.0));
        assert_eq!(auc(&[0.9, 0.1], &[false, true]), Some(0.0));
        assert_eq!(auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        assert_eq!(auc(&[0.2, 0.4, 0.3, 0.8], &[false, true, false, true]), Some(1.0));
        assert_eq!(auc(&[0.5], &[true]), None);
        assert!((logloss(&[0.5, 0.5], &[true, false]) - std::f64::consts::LN_2).abs() < 1e-12);
        let events = [ev(0.2, false, 0), ev(0.6, false, 0), ev(0.6, true, 0)];
        let m = metrics(&events);
        assert_eq!(auc(&[0.2, 0.6, 0.6], &[false, false, true]), Some(m.auc));
        assert_eq!(logloss(&[0.2, 0.6, 0.6], &[false, false, true]), m.logloss);
    }

    #[test]
    fn bootstrap_brackets_the_point_estimate_and_pairs_are_signed() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for u in 0..60u32 {
            for _ in 0..20 {
                let label = rng.next_u32() % 2 == 0;
                let noise = (rng.next_u32() % 1000) as f32 / 1000.0;
                good.push(ev(if label { 0.3 + 0.6 * noise } else { 0.6 * noise }, label, u));
                bad.push(ev(noise, label, u));
            }
        }
        let b = bootstrap(&[&good, &bad], &[(0, 1)], 200, 7);
        let m = metrics(&good);
        let (auc, _, ll) = b.intervals[0];
        assert!(auc.lo <= m.auc && m.auc <= auc.hi, "{auc:?} {}", m.auc);
        assert!(ll.lo <= m.logloss && m.logloss <= ll.hi);
        let (d_auc, _) = b.paired[0];
        assert!(d_auc.lo > 0.0, "good beats random: {d_auc:?}");
    }
}
