//! Estimators: turn the memory's readouts for a query into a corrected
//! click probability (DESIGN §1.2).
//!
//! * [`Estimator::Paper`] — ReLoop2 as published: attention-weighted bucket
//!   means, `y = y_base + λ·(γ(ȳ − y_base) + (1 − γ)(ȳbase − y_base))`.
//! * [`Estimator::Residual`] — the model's logit-space error on similar
//!   recent items, smoothed towards the training rate `p0` and shrunk by
//!   `n/(n + n0)` when evidence is thin; with `pool > 0` each bucket is
//!   pulled towards the whole memory's residual. It keeps the base model's
//!   ranking among items that hash alike instead of pulling them all to one
//!   bucket mean.
//! * [`Estimator::Intent`] — the shipped default: the residual estimator
//!   with its two levels kept apart deliberately. The session-wide offset
//!   (the whole memory's residual) is credited by how *spread* the
//!   session's evidence is across the hash planes, not by how much there is
//!   ([`crate::Sketch::concentration`]): three likes of one genre are
//!   evidence about that genre, not about everything, while a session that
//!   likes items of every kind moves the offset as fast as the residual
//!   estimator does. The query's own buckets correct on top of the offset,
//!   averaged over all `K` arrays (an empty array reads the offset alone),
//!   so an item that shares one bucket of four with the liked ones gets a
//!   quarter of their correction, not all of it.
//!
//! The `Default` of [`Estimator`] and of [`PaperParams`] is the recommended
//! setup of each (tuned on the first 25% of the MovieLens-100K stream,
//! `make replay`); [`ResidualParams::default`] is the residual estimator's,
//! [`ResidualParams::INTENT`] the intent estimator's. `p0` is the model's,
//! which the runtime fills in.
//!
//! All arithmetic is in f64; every output is finite and in
//! [[`CLIP_LO`](crate::prob::CLIP_LO), [`CLIP_HI`](crate::prob::CLIP_HI)].

use crate::error::{Error, Result};
use crate::prob::{clip, logit, sigmoid};
use crate::sketch::Readout;

/// Largest accepted `λ`.
pub const MAX_LAMBDA: f32 = 100.0;

/// Parameters of the published ReLoop2 estimator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaperParams {
    /// `λ`, the correction strength, in [0, 100]. Default 0.5.
    pub lambda: f32,
    /// `τ`, the attention temperature over bucket shares, > 0. Default 1.
    pub tau: f32,
    /// `γ`, the mix of label mean vs base mean, in [0, 1]. Default 1.
    pub gamma: f32,
}

impl Default for PaperParams {
    fn default() -> Self {
        PaperParams { lambda: 0.5, tau: 1.0, gamma: 1.0 }
    }
}

/// Parameters of the residual (logit-space, shrunk) estimator and of the
/// intent estimator, which reads them the same way except for how the
/// session-wide level earns its weight (see [`Estimator::Intent`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResidualParams {
    /// `λ`, the correction strength in logit units, in [0, 100]. Default 1.
    pub lambda: f32,
    /// `τ`, the attention temperature over bucket shares, > 0. Default 0.1.
    pub tau: f32,
    /// `n0`, the evidence at which a bucket gets half weight, ≥ 0. Default 1.
    pub n0: f32,
    /// `α`, pseudo-count smoothing towards `p0`, ≥ 0. Default 2.
    pub alpha: f32,
    /// `p0`, the training label rate, in (0, 1). Default 0.5; take it from the model.
    pub p0: f32,
    /// `m`, pooling strength, ≥ 0 (beyond the paper). Default 10. `0` reads
    /// the query's buckets only, exactly as DESIGN §1.2. `m > 0` adds the whole
    /// memory as a coarser level: its residual `ĉ = N/(N + n0)·c_all` is
    /// the correction when no bucket has evidence, and each bucket's
    /// residual is pulled towards it with `m` pseudo-samples,
    /// `(n_k c_k + m ĉ)/(n_k + m)`: a session-wide offset refined by
    /// similarity where the memory has seen similar items.
    pub pool: f32,
}

impl Default for ResidualParams {
    fn default() -> Self {
        ResidualParams { lambda: 1.0, tau: 0.1, n0: 1.0, alpha: 2.0, p0: 0.5, pool: 10.0 }
    }
}

impl ResidualParams {
    /// The intent estimator's recommended parameters: λ = 2, τ = 0.3,
    /// n0 = 16 (evidence spread across the planes at which the session-wide
    /// offset gets half weight), α = 2, pool = 4.
    pub const INTENT: ResidualParams =
        ResidualParams { lambda: 2.0, tau: 0.3, n0: 16.0, alpha: 2.0, p0: 0.5, pool: 4.0 };
}

/// An estimator and its parameters, selectable per memory. Default: the
/// intent estimator with [`ResidualParams::INTENT`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Estimator {
    /// The published ReLoop2 estimator.
    Paper(PaperParams),
    /// The logit-space residual with shrinkage.
    Residual(ResidualParams),
    /// The residual with a session-wide offset credited by the spread of
    /// the evidence, and bucket corrections averaged over all arrays
    /// (default; see the [module docs](self)).
    Intent(ResidualParams),
}

impl Default for Estimator {
    fn default() -> Self {
        Estimator::Intent(ResidualParams::INTENT)
    }
}

/// What an estimator may know of the memory beyond the query's buckets
/// ([`crate::Memory`] fills it in for every query).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryLevel {
    /// The whole memory as one readout: every sample written (decayed),
    /// whatever its key ([`crate::Sketch::overall`]).
    pub whole: Readout,
    /// `K`, the arrays a query is hashed into (readouts cover the non-empty ones).
    pub arrays: u8,
    /// How concentrated the evidence is across the hash planes
    /// ([`crate::Sketch::concentration`]); `None`: unknown (no planes).
    pub concentration: Option<f64>,
}

/// A scored item: the base model's probability, the compensated score and
/// their difference.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Prediction {
    /// The frozen model's probability (as given, clipped to [0, 1]).
    pub base: f32,
    /// `score − base`: how far the memory moved the probability.
    pub correction: f32,
    /// The compensated probability.
    pub score: f32,
}

impl Estimator {
    /// Checks every parameter.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidConfig`] naming the first parameter out of range.
    pub fn validate(&self) -> Result<()> {
        match self {
            Estimator::Paper(p) => {
                check_range("lambda", p.lambda, 0.0, MAX_LAMBDA)?;
                check_positive("tau", p.tau)?;
                check_range("gamma", p.gamma, 0.0, 1.0)
            }
            Estimator::Residual(r) | Estimator::Intent(r) => {
                check_range("lambda", r.lambda, 0.0, MAX_LAMBDA)?;
                check_positive("tau", r.tau)?;
                check_range("n0", r.n0, 0.0, f32::MAX)?;
                check_range("alpha", r.alpha, 0.0, f32::MAX)?;
                check_range("pool", r.pool, 0.0, f32::MAX)?;
                if !(r.p0 > 0.0 && r.p0 < 1.0) {
                    return Err(Error::config(format!("p0 must be in (0, 1), got {}", r.p0)));
                }
                Ok(())
            }
        }
    }

    /// Corrects `y_base` with the readouts of the query's buckets (non-empty
    /// ones; empty readouts are ignored). No readout → no correction.
    /// `y_base` is assumed finite (NaN is treated as 0.5); the output always
    /// is finite and in [[`CLIP_LO`](crate::prob::CLIP_LO), [`CLIP_HI`](crate::prob::CLIP_HI)].
    pub fn apply(&self, y_base: f32, readouts: &[Readout]) -> Prediction {
        self.apply_with(y_base, readouts, None)
    }

    /// [`Estimator::apply`] with what the memory knows beyond the query's
    /// buckets: the residual estimator uses the whole memory's readout when
    /// its `pool` is above 0, the intent estimator uses all of it; the paper
    /// estimator ignores it.
    pub fn apply_with(&self, y_base: f32, readouts: &[Readout], level: Option<&MemoryLevel>) -> Prediction {
        let whole = self.whole_term(level);
        let mut weighted = Vec::with_capacity(readouts.len());
        self.apply_inner(y_base, readouts, level, whole, &mut |_, r| self.bucket_terms(r), &mut weighted)
    }

    /// [`Estimator::apply_with`] for one row of a batch: `buckets[i]` is the
    /// bucket `readouts[i]` came from ([`crate::Sketch::read_indexed`]), and
    /// `cache` keeps what is computed per bucket, and from `level`, across
    /// the rows of the batch (reset it whenever the memory changes). Gives
    /// exactly the prediction of [`Estimator::apply_with`].
    pub fn apply_batched(
        &self,
        y_base: f32,
        readouts: &[Readout],
        buckets: &[usize],
        level: Option<&MemoryLevel>,
        cache: &mut ResidualCache,
    ) -> Prediction {
        let whole = *cache.whole.get_or_insert_with(|| self.whole_term(level));
        let mut weighted = std::mem::take(&mut cache.weighted);
        let prediction = self.apply_inner(
            y_base,
            readouts,
            level,
            whole,
            &mut |i, r| match buckets.get(i) {
                Some(&b) => cache.get_or_insert(b, || self.bucket_terms(r)),
                None => self.bucket_terms(r),
            },
            &mut weighted,
        );
        cache.weighted = weighted;
        prediction
    }

    fn apply_inner(
        &self,
        y_base: f32,
        readouts: &[Readout],
        level: Option<&MemoryLevel>,
        whole: Option<f64>,
        terms: &mut dyn FnMut(usize, &Readout) -> BucketTerms,
        weighted: &mut Vec<Weighted>,
    ) -> Prediction {
        let base = if y_base.is_nan() { 0.5 } else { y_base.clamp(0.0, 1.0) };
        let yb = clip(f64::from(base));
        attention(readouts, self.tau(), terms, weighted);
        let score = match self {
            Estimator::Paper(p) => paper(p, yb, readouts, weighted),
            Estimator::Residual(r) => residual(r, yb, weighted, whole),
            Estimator::Intent(r) => intent(r, yb, level, whole.unwrap_or(0.0), weighted),
        };
        let score = clip(score) as f32;
        Prediction { base, correction: score - base, score }
    }

    /// What the whole memory contributes to every query of `level`, the
    /// same for all of them: the residual estimator's pooled residual
    /// (`None` without pooling or evidence), the intent estimator's offset
    /// `g` (0 without evidence); `None` for the paper's.
    fn whole_term(&self, level: Option<&MemoryLevel>) -> Option<f64> {
        match self {
            Estimator::Paper(_) => None,
            Estimator::Residual(p) => {
                let n0 = f64::from(p.n0);
                level.map(|l| &l.whole).filter(|w| p.pool > 0.0 && w.count > 0.0 && w.count.is_finite()).map(|w| {
                    let (n, c) = smoothed_residual(p, w);
                    n / (n + n0) * c
                })
            }
            Estimator::Intent(p) => {
                let n0 = f64::from(p.n0);
                Some(level.filter(|l| live(&l.whole)).map_or(0.0, |l| {
                    let (n, c) = smoothed_residual(p, &l.whole);
                    let n_eff = l.concentration.map_or(n, |conc| n * (1.0 - conc) + conc);
                    n_eff / (n_eff + n0) * c
                }))
            }
        }
    }

    /// What a non-empty readout gives whichever row reads it: its attention
    /// weight before normalising and, for the residual and intent
    /// estimators, its smoothed residual `(n, c)` (zeros for the paper's,
    /// which does not use it).
    fn bucket_terms(&self, r: &Readout) -> BucketTerms {
        let (n, c) = match self {
            Estimator::Residual(p) | Estimator::Intent(p) => smoothed_residual(p, r),
            Estimator::Paper(_) => (0.0, 0.0),
        };
        BucketTerms { weight: raw_weight(r, f64::from(self.tau())), n, c }
    }

    /// `τ`, the attention temperature.
    fn tau(&self) -> f32 {
        match self {
            Estimator::Paper(p) => p.tau,
            Estimator::Residual(p) | Estimator::Intent(p) => p.tau,
        }
    }
}

/// What one bucket's readout gives every row that reads it
/// ([`Estimator::bucket_terms`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct BucketTerms {
    /// Attention weight before normalising ([`raw_weight`]).
    weight: f64,
    /// Evidence `n` and smoothed logit residual `c`.
    n: f64,
    c: f64,
}

/// Per-bucket terms within one batch ([`Estimator::apply_batched`]): the
/// same bucket is read by many rows, and its two logarithms and one
/// exponential need computing once.
#[derive(Clone, Debug, Default)]
pub struct ResidualCache {
    values: Vec<BucketTerms>,
    known: Vec<bool>,
    /// A row's attention, reused from row to row.
    weighted: Vec<Weighted>,
    /// The whole memory's term ([`Estimator::whole_term`]), once computed.
    whole: Option<Option<f64>>,
}

impl ResidualCache {
    /// Forgets everything (the memory changed, or a new batch starts), for
    /// a memory of `buckets` buckets in all.
    pub fn reset(&mut self, buckets: usize) {
        self.whole = None;
        self.known.clear();
        self.known.resize(buckets, false);
        self.values.resize(buckets, BucketTerms::default());
    }

    fn get_or_insert(&mut self, bucket: usize, make: impl FnOnce() -> BucketTerms) -> BucketTerms {
        match (self.known.get_mut(bucket), self.values.get_mut(bucket)) {
            (Some(known), Some(value)) => {
                if !*known {
                    *value = make();
                    *known = true;
                }
                *value
            }
            _ => make(),
        }
    }
}

fn paper(p: &PaperParams, yb: f64, readouts: &[Readout], weighted: &[Weighted]) -> f64 {
    let mut ybar = 0.0;
    let mut ybase_bar = 0.0;
    let mut any = false;
    for &Weighted { a, i, .. } in weighted {
        let Some(r) = readouts.get(i) else { continue };
        any = true;
        ybar += a * f64::from(r.sum_y) / f64::from(r.count);
        ybase_bar += a * f64::from(r.sum_base) / f64::from(r.count);
    }
    if !any {
        return yb;
    }
    let gamma = f64::from(p.gamma);
    let err = gamma * (ybar - yb) + (1.0 - gamma) * (ybase_bar - yb);
    yb + f64::from(p.lambda) * err
}

/// A readout's count and its logit residual, smoothed with `α`
/// pseudo-counts towards `p0`: `logit((Σy + αp0)/(n + α)) −
/// logit((Σy_base + αp0)/(n + α))`.
fn smoothed_residual(p: &ResidualParams, r: &Readout) -> (f64, f64) {
    let alpha = f64::from(p.alpha);
    let prior = alpha * f64::from(p.p0);
    let n = f64::from(r.count);
    let label = (f64::from(r.sum_y) + prior) / (n + alpha);
    let pred = (f64::from(r.sum_base) + prior) / (n + alpha);
    (n, logit(label) - logit(pred))
}

fn live(r: &Readout) -> bool {
    r.count > 0.0 && r.count.is_finite()
}

fn residual(p: &ResidualParams, yb: f64, weighted: &[Weighted], pooled: Option<f64>) -> f64 {
    let n0 = f64::from(p.n0);
    let mut corr = 0.0;
    let mut any = false;
    for &Weighted { a, terms: BucketTerms { n, c, .. }, .. } in weighted {
        any = true;
        corr += a * match pooled {
            Some(g) => {
                let m = f64::from(p.pool);
                (n * c + m * g) / (n + m)
            }
            None => n / (n + n0) * c,
        };
    }
    if !any {
        corr = pooled.unwrap_or(0.0);
    }
    sigmoid(logit(yb) + f64::from(p.lambda) * corr)
}

/// The intent estimator: offset `g = n_eff/(n_eff + n0)·ĉ`, where `ĉ` is the
/// whole memory's smoothed residual and `n_eff = N(1 − C) + C` the evidence
/// `N` discounted by its concentration `C` across the planes (`N` events in
/// one direction count as one); then each of the `K` arrays reads
/// `(n_k c_k + m g)/(n_k + m)` for a non-empty bucket (attention-weighted
/// among them, with `m` = `pool`) and `g` for an empty one, averaged.
fn intent(p: &ResidualParams, yb: f64, level: Option<&MemoryLevel>, offset: f64, weighted: &[Weighted]) -> f64 {
    let m = f64::from(p.pool);
    // The row's non-empty readouts.
    let found = weighted.len() as f64;
    let arrays = level.map_or(found, |l| f64::from(l.arrays).max(found));
    if found == 0.0 || arrays == 0.0 {
        return sigmoid(logit(yb) + f64::from(p.lambda) * offset);
    }
    let mut corr = (arrays - found) / arrays * offset;
    for &Weighted { a, terms: BucketTerms { n, c, .. }, .. } in weighted {
        let term = if n + m > 0.0 { (n * c + m * offset) / (n + m) } else { offset };
        corr += a * found / arrays * term;
    }
    sigmoid(logit(yb) + f64::from(p.lambda) * corr)
}

/// A non-empty readout's attention weight before normalising,
/// `exp((s − 1)/τ)` for its share `s`: the softmax of `s/τ` shifted by its
/// largest possible value (shares are at most 1), the same for every row
/// reading the bucket, so a batch takes it once per bucket.
fn raw_weight(r: &Readout, tau: f64) -> f64 {
    ((f64::from(r.share()) - 1.0) / tau).exp()
}

/// Below this a row's largest raw weight has lost precision (a `τ` far
/// below the shares' spread): that row's weights are taken again shifted by
/// its own largest `s/τ`.
const TINY_WEIGHT: f64 = 1e-200;

/// One non-empty readout of a row as the estimators read it.
#[derive(Clone, Copy, Debug)]
struct Weighted {
    /// Its softmax weight among the row's non-empty readouts.
    a: f64,
    /// Its position in the row's readouts.
    i: usize,
    /// Its bucket's terms.
    terms: BucketTerms,
}

/// The softmax of `s_k / τ` over the non-empty readouts of a row, each with
/// its bucket's terms from `terms`, into `out` (cleared first).
fn attention(
    readouts: &[Readout],
    tau: f32,
    terms: &mut dyn FnMut(usize, &Readout) -> BucketTerms,
    out: &mut Vec<Weighted>,
) {
    out.clear();
    let mut norm = 0.0;
    let mut top = 0.0f64;
    for (i, r) in readouts.iter().enumerate() {
        if live(r) {
            let t = terms(i, r);
            norm += t.weight;
            top = top.max(t.weight);
            out.push(Weighted { a: t.weight, i, terms: t });
        }
    }
    if !out.is_empty() && top < TINY_WEIGHT {
        let tau = f64::from(tau);
        let logit_of = |w: &Weighted| readouts.get(w.i).map_or(f64::NEG_INFINITY, |r| f64::from(r.share()) / tau);
        let max = out.iter().map(logit_of).fold(f64::NEG_INFINITY, f64::max);
        norm = 0.0;
        for w in out.iter_mut() {
            w.a = (logit_of(w) - max).exp();
            norm += w.a;
        }
    }
    for w in out.iter_mut() {
        w.a /= norm;
    }
}

fn check_range(name: &str, v: f32, lo: f32, hi: f32) -> Result<()> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(Error::config(format!("{name} must be in [{lo}, {hi}], got {v}")))
    }
}

fn check_positive(name: &str, v: f32) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::config(format!("{name} must be a finite number > 0, got {v}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readout(count: f32, sum_y: f32, sum_base: f32, total: f32) -> Readout {
        Readout { count, sum_y, sum_base, total }
    }

    /// The softmax of `s_k/τ` shifted by the row's own largest logit, as
    /// the weights were taken before they were shifted by `1/τ`.
    fn softmax(readouts: &[Readout], tau: f64) -> Vec<f64> {
        let logits: Vec<f64> = readouts.iter().map(|r| f64::from(r.share()) / tau).collect();
        let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
        let norm: f64 = e.iter().sum();
        e.iter().map(|w| w / norm).collect()
    }

    #[test]
    fn attention_is_the_softmax_of_shares_for_every_temperature() {
        let readouts = [readout(1.0, 1.0, 0.5, 40.0), readout(30.0, 3.0, 9.0, 40.0), readout(7.0, 0.0, 2.0, 40.0)];
        let est = Estimator::default();
        // At τ = 1e-4 even the largest share's raw weight (share 0.75)
        // underflows, so the row is taken against its own largest logit; at
        // 1e-3 the smaller shares' raw weights underflow to 0 where their
        // exact weights are below 1e-100.
        for tau in [1e-4f32, 1e-3, 0.01, 0.3, 1.0, 50.0] {
            let mut weighted = Vec::new();
            attention(
                &readouts,
                tau,
                &mut |_, r| BucketTerms { weight: raw_weight(r, f64::from(tau)), ..BucketTerms::default() },
                &mut weighted,
            );
            let want = softmax(&readouts, f64::from(tau));
            // Exact to 1e-12 of each weight; one below about 1e-100 of the
            // largest may come out as 0 (its raw weight underflowed).
            for (&Weighted { a, i, .. }, w) in weighted.iter().zip(&want) {
                assert!(a.is_finite() && (a - w).abs() <= 1e-12 * w.max(1e-100), "tau {tau} readout {i}: {a} vs {w}");
            }
            assert_eq!(weighted.len(), 3);
            let p = est.apply(0.3, &readouts);
            assert!(p.score.is_finite(), "tau {tau}");
        }
        // Shares 0.025 and 0.05 at τ = 1e-4: both raw weights underflow to
        // 0, so without the fallback the row's weights would be 0/0.
        let tiny = [readout(1.0, 1.0, 0.5, 40.0), readout(2.0, 1.0, 0.5, 40.0)];
        assert!(raw_weight(&tiny[1], 1e-4) < TINY_WEIGHT);
        let mut weighted = Vec::new();
        attention(
            &tiny,
            1e-4,
            &mut |_, r| BucketTerms { weight: raw_weight(r, 1e-4), ..BucketTerms::default() },
            &mut weighted,
        );
        let got: Vec<f64> = weighted.iter().map(|w| w.a).collect();
        assert_eq!(got, softmax(&tiny, f64::from(1e-4f32)));
    }

    #[test]
    fn no_readout_means_no_correction() {
        for est in [Estimator::Paper(PaperParams::default()), Estimator::Residual(unpooled()), Estimator::default()] {
            let p = est.apply(0.3, &[]);
            assert_eq!(p.score, 0.3);
            assert_eq!(p.correction, 0.0);
        }
    }

    #[test]
    fn paper_gamma_one_is_a_convex_mix() {
        let est = Estimator::Paper(PaperParams { lambda: 0.25, tau: 1.0, gamma: 1.0 });
        let p = est.apply(0.2, &[readout(4.0, 3.0, 1.0, 10.0)]);
        let want = 0.75 * 0.2 + 0.25 * 0.75;
        assert!((f64::from(p.score) - want).abs() < 1e-6, "{} vs {want}", p.score);
    }

    /// The parameters these unit tests were written for (no pooling).
    fn unpooled() -> ResidualParams {
        ResidualParams { lambda: 1.0, tau: 1.0, n0: 5.0, alpha: 2.0, p0: 0.5, pool: 0.0 }
    }

    #[test]
    fn residual_is_zero_when_the_model_was_right_on_average() {
        let est = Estimator::Residual(unpooled());
        let p = est.apply(0.4, &[readout(10.0, 4.0, 4.0, 10.0)]);
        assert!((p.score - 0.4).abs() < 1e-6);
    }

    #[test]
    fn residual_shrinks_thin_evidence() {
        let est = |n0| Estimator::Residual(ResidualParams { n0, alpha: 0.0, ..unpooled() });
        let r = [readout(2.0, 2.0, 0.6, 2.0)];
        let strong = est(0.0).apply(0.3, &r).correction;
        let weak = est(20.0).apply(0.3, &r).correction;
        assert!(strong > weak && weak > 0.0, "{strong} {weak}");
    }

    #[test]
    fn pooling_falls_back_to_the_whole_memory_and_is_off_at_zero() {
        let whole = readout(20.0, 15.0, 6.0, 20.0);
        let bucket = readout(2.0, 0.0, 0.6, 20.0);
        let off = Estimator::Residual(unpooled());
        let with = |whole| MemoryLevel { whole, arrays: 4, concentration: None };
        assert_eq!(off.apply_with(0.3, &[], Some(&with(whole))), off.apply(0.3, &[]));
        assert_eq!(off.apply_with(0.3, &[bucket], Some(&with(whole))), off.apply(0.3, &[bucket]));
        let on = Estimator::Residual(ResidualParams { pool: 5.0, ..unpooled() });
        let empty = on.apply_with(0.3, &[], Some(&with(whole)));
        assert!(empty.correction > 0.0, "the session liked more than predicted: {empty:?}");
        // A bucket with negative evidence pulls below the session-wide level,
        // and more pooling pulls it back up.
        let low = on.apply_with(0.3, &[bucket], Some(&with(whole))).score;
        let more = Estimator::Residual(ResidualParams { pool: 50.0, ..unpooled() });
        let high = more.apply_with(0.3, &[bucket], Some(&with(whole))).score;
        assert!(low < empty.score && low < high && high <= empty.score + 1e-6, "{low} {high} {empty:?}");
    }

    fn level(whole: Readout, arrays: u8, concentration: Option<f64>) -> MemoryLevel {
        MemoryLevel { whole, arrays, concentration }
    }

    #[test]
    fn intent_credits_the_offset_by_the_spread_of_the_evidence() {
        let est = Estimator::Intent(ResidualParams { n0: 10.0, pool: 4.0, tau: 1.0, ..ResidualParams::INTENT });
        let whole = readout(10.0, 9.0, 4.0, 10.0); // liked far more than predicted
        // No bucket knows the query: the offset alone; spread evidence moves it more.
        let spread = est.apply_with(0.4, &[], Some(&level(whole, 4, Some(0.0)))).correction;
        let concentrated = est.apply_with(0.4, &[], Some(&level(whole, 4, Some(1.0)))).correction;
        assert!(spread > 2.0 * concentrated && concentrated > 0.0, "{spread} {concentrated}");
        // Unknown concentration (no planes): counted like the residual's events.
        let unknown = est.apply_with(0.4, &[], Some(&level(whole, 4, None))).correction;
        assert_eq!(unknown, spread);
        // Nothing written: no correction.
        let empty = readout(0.0, 0.0, 0.0, 0.0);
        assert_eq!(est.apply_with(0.4, &[], Some(&level(empty, 4, None))).correction, 0.0);
    }

    #[test]
    fn intent_averages_over_all_arrays() {
        let est = Estimator::Intent(ResidualParams { n0: 1e6, pool: 0.0, tau: 1.0, ..ResidualParams::INTENT });
        let empty = readout(0.0, 0.0, 0.0, 0.0);
        let bucket = readout(5.0, 5.0, 1.0, 5.0);
        // No offset (n0 huge, nothing whole): one live array of four gives a
        // quarter of the logit correction four live arrays give.
        let one = est.apply_with(0.3, &[bucket], Some(&level(empty, 4, None)));
        let four = est.apply_with(0.3, &[bucket; 4], Some(&level(empty, 4, None)));
        let logit = |p: f32| (f64::from(p) / (1.0 - f64::from(p))).ln();
        let (l1, l4, l0) = (logit(one.score), logit(four.score), logit(0.3));
        assert!(((l1 - l0) * 4.0 - (l4 - l0)).abs() < 1e-4, "{l1} {l4} {l0}");
        // The residual estimator renormalises over the live arrays instead.
        let residual = Estimator::Residual(ResidualParams { n0: 0.0, pool: 0.0, tau: 1.0, ..unpooled() });
        assert_eq!(residual.apply(0.3, &[bucket]).score, residual.apply(0.3, &[bucket; 4]).score);
    }

    #[test]
    fn validation_names_the_parameter() {
        let bad = Estimator::Residual(ResidualParams { p0: 1.0, ..ResidualParams::default() });
        assert!(bad.validate().unwrap_err().message().contains("p0"));
        let bad = Estimator::Paper(PaperParams { tau: 0.0, ..PaperParams::default() });
        assert!(bad.validate().unwrap_err().message().contains("tau"));
        let bad = Estimator::Paper(PaperParams { lambda: f32::NAN, ..PaperParams::default() });
        assert!(bad.validate().unwrap_err().message().contains("lambda"));
    }
}
