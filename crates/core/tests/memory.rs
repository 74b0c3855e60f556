//! The memory loop, independent of any model: batches, outcomes, errors
//! that leave state intact, and the loop doing its job on a drifting stream.

use reloop_core::{
    ErrorKind, Estimator, Memory, MemoryConfig, ModelId, PaperParams, Prediction, ResidualParams, SketchConfig,
};

/// The residual estimator these tests were written for (no pooling).
fn residual() -> Estimator {
    Estimator::Residual(ResidualParams { lambda: 1.0, tau: 1.0, n0: 5.0, alpha: 2.0, p0: 0.5, pool: 0.0 })
}

fn session(estimator: Estimator) -> Memory {
    let sketch =
        SketchConfig { bits: 3, arrays: 4, dim: 2, error_filter: 0.0, half_life: None, ..SketchConfig::default() };
    Memory::new(MemoryConfig { sketch, estimator }, ModelId::digest(&[b"m"]), None).expect("config")
}

/// A batch reuses what it computed per bucket across its rows: it must
/// give exactly the rows' single scores, for every estimator.
#[test]
fn batch_scores_match_single_scores() {
    let pooled = Estimator::Residual(ResidualParams { pool: 4.0, ..ResidualParams::default() });
    for estimator in [residual(), pooled, Estimator::default(), Estimator::Paper(PaperParams::default())] {
        let mut s = session(estimator);
        for i in 0..30 {
            let h = [(i % 5) as f32 - 2.0, (i % 3) as f32 - 1.0];
            s.record(0.3, &h, i % 2 == 0).expect("record");
        }
        // 40 rows over a few keys: many share buckets.
        let y_base: Vec<f32> = (0..40).map(|i| 0.05 + 0.9 * (i as f32 / 40.0)).collect();
        let h: Vec<f32> = (0..80).map(|j| ((j * 7 % 11) as f32 - 5.0) / 3.0).collect();
        let mut out = Vec::new();
        s.score(&y_base, &h, &mut out).expect("score");
        assert_eq!(out.len(), 40);
        for (i, p) in out.iter().enumerate() {
            assert_eq!(*p, s.score_one(y_base[i], &h[i * 2..i * 2 + 2]).expect("one"), "{estimator:?} row {i}");
            assert_eq!(p.base, y_base[i]);
            assert!((p.score - p.base - p.correction).abs() < 1e-7);
        }
    }
}

/// Scoring by buckets hashed beforehand gives the keys' own scores, bit
/// for bit; buckets that do not fit the memory are named errors.
#[test]
fn scores_by_buckets_equal_scores_by_key() {
    for estimator in [residual(), Estimator::default(), Estimator::Paper(PaperParams::default())] {
        let mut s = session(estimator);
        for i in 0..30 {
            s.record(0.3, &[(i % 5) as f32 - 2.0, (i % 3) as f32 - 1.0], i % 2 == 0).expect("record");
        }
        let y_base: Vec<f32> = (0..40).map(|i| 0.05 + 0.9 * (i as f32 / 40.0)).collect();
        let h: Vec<f32> = (0..80).map(|j| ((j * 7 % 11) as f32 - 5.0) / 3.0).collect();
        let mut buckets = Vec::new();
        s.buckets_of_rows(&h, &mut buckets).expect("hash");
        assert_eq!(buckets.len(), 40 * 4);
        let (mut by_key, mut by_buckets) = (Vec::new(), Vec::new());
        s.score(&y_base, &h, &mut by_key).expect("score");
        s.score_buckets(&y_base, &buckets, &mut by_buckets).expect("score buckets");
        assert_eq!(by_key, by_buckets, "{estimator:?}");
        let mut one = [0u16; 4];
        s.buckets_of(&h[6..8], &mut one).expect("one");
        assert_eq!(&buckets[12..16], &one);
    }
    let mut s = session(residual());
    let mut out = vec![Prediction { base: 0.0, correction: 0.0, score: 0.0 }];
    let e = s.score_buckets(&[0.5, 0.5], &[0, 1, 2, 3, 0, 1, 8, 3], &mut out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("row 1") && e.to_string().contains("bucket 8"), "{e}");
    assert!(out.is_empty());
    let e = s.score_buckets(&[0.5], &[0, 1, 2], &mut out).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let mut buckets = vec![1];
    let e = s.buckets_of_rows(&[0.0, 1.0, f32::NAN, 0.0], &mut buckets).unwrap_err();
    assert!(e.to_string().contains("row 1"), "{e}");
    assert!(buckets.is_empty());
}

#[test]
fn bad_rows_are_named_and_leave_the_memory_alone() {
    let mut s = session(residual());
    s.record(0.4, &[1.0, 1.0], true).expect("record");
    let mut out = vec![Prediction::default(); 4];
    let e = s.score(&[0.1, 0.2], &[1.0, 2.0, 3.0], &mut out).expect_err("shape");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(out.is_empty());
    let e = s.score(&[0.1, 0.2], &[1.0, 2.0, 3.0, f32::NAN], &mut out).expect_err("nan");
    assert!(e.message().starts_with("row 1:"), "{e}");
    let e = s.score(&[0.1, -0.2], &[1.0, 2.0, 3.0, 4.0], &mut out).expect_err("range");
    assert!(e.message().contains("row 1") && e.message().contains("y_base"), "{e}");
    assert!(s.record(f32::NAN, &[1.0, 1.0], true).is_err());
    assert!(s.record(0.5, &[1.0], true).is_err());
    assert_eq!(s.sketch().len(), 1, "failed calls wrote nothing");
}

#[test]
fn estimator_can_be_switched_but_not_to_a_bad_one() {
    let mut s = session(residual());
    let bad = Estimator::Paper(PaperParams { gamma: 2.0, ..PaperParams::default() });
    assert_eq!(s.set_estimator(bad).expect_err("gamma").kind(), ErrorKind::InvalidConfig);
    assert_eq!(*s.estimator(), residual());
    let paper = Estimator::Paper(PaperParams::default());
    s.set_estimator(paper).expect("valid");
    assert_eq!(s.config().estimator, paper);
}

/// A user who clicks everything in one region of key space and nothing in
/// another, while the frozen model says 0.3 everywhere: after a few events
/// both estimators move scores the right way, and reset forgets.
#[test]
fn the_loop_learns_a_users_taste_and_reset_forgets_it() {
    for est in [residual(), Estimator::Paper(PaperParams::default())] {
        let mut s = session(est);
        let liked = [2.0, 1.5];
        let disliked = [-2.0, -1.5];
        for _ in 0..10 {
            s.record(0.3, &liked, true).expect("record");
            s.record(0.3, &disliked, false).expect("record");
        }
        let up = s.score_one(0.3, &liked).expect("score");
        let down = s.score_one(0.3, &disliked).expect("score");
        assert!(up.score > 0.5, "{est:?}: {up:?}");
        assert!(down.score < 0.3, "{est:?}: {down:?}");
        s.reset();
        assert_eq!(s.score_one(0.3, &liked).expect("score").score, 0.3);
        assert_eq!(s.sketch().len(), 0);
    }
}

/// The residual estimator keeps the base model's order between two items
/// that share buckets; the paper estimator pulls both to the bucket mean.
#[test]
fn residual_keeps_the_base_ranking_within_a_bucket() {
    let h = [1.0, 1.0];
    let mut residual = session(residual());
    let mut paper = session(Estimator::Paper(PaperParams { lambda: 1.0, ..PaperParams::default() }));
    for s in [&mut residual, &mut paper] {
        for i in 0..20 {
            s.record(0.2, &h, i % 2 == 0).expect("record");
        }
    }
    let (lo, hi) = (0.1, 0.6);
    let r = (residual.score_one(lo, &h).expect("s").score, residual.score_one(hi, &h).expect("s").score);
    let p = (paper.score_one(lo, &h).expect("s").score, paper.score_one(hi, &h).expect("s").score);
    assert!(r.0 < r.1, "residual keeps order: {r:?}");
    assert!((p.0 - p.1).abs() < 1e-6, "paper with lambda 1 collapses to the mean: {p:?}");
}
