//! The estimators against 300 cases computed by an independent
//! implementation (tests/data/estimators.json, from shared/golden), and
//! their output range on arbitrary finite input.

use proptest::prelude::*;
use reloop_core::estimator::MemoryLevel;
use reloop_core::{Estimator, PaperParams, Readout, ResidualParams};
use serde_json::Value;

const TOLERANCE: f64 = 1e-6;

fn f(v: &Value, key: &str) -> f32 {
    v[key].as_f64().unwrap_or_else(|| panic!("missing {key}")) as f32
}

fn readouts(case: &Value) -> Vec<Readout> {
    case["readouts"]
        .as_array()
        .expect("readouts")
        .iter()
        .map(|row| {
            let r: Vec<f32> = row.as_array().expect("row").iter().map(|x| x.as_f64().expect("num") as f32).collect();
            Readout { count: r[0], sum_y: r[1], sum_base: r[2], total: r[3] }
        })
        .collect()
}

#[test]
fn golden_cases_from_an_independent_implementation() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/estimators.json")).expect("golden");
    let doc: Value = serde_json::from_str(&text).expect("json");
    let cases = doc["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 300);
    let mut worst = 0f64;
    for (i, case) in cases.iter().enumerate() {
        let y_base = case["y_base"].as_f64().expect("y_base") as f32;
        let rs = readouts(case);
        let p = &case["paper"];
        let paper = Estimator::Paper(PaperParams { lambda: f(p, "lam"), tau: f(p, "tau"), gamma: f(p, "gamma") });
        let r = &case["residual"];
        let residual = Estimator::Residual(ResidualParams {
            lambda: f(r, "lam"),
            tau: f(r, "tau"),
            n0: f(r, "n0"),
            alpha: f(r, "alpha"),
            p0: f(r, "p0"),
            pool: 0.0,
        });
        for (name, est, spec) in [("paper", paper, p), ("residual", residual, r)] {
            est.validate().unwrap_or_else(|e| panic!("case {i} {name}: {e}"));
            let got = f64::from(est.apply(y_base, &rs).score);
            let want = spec["expected"].as_f64().expect("expected");
            let err = (got - want).abs();
            worst = worst.max(err);
            assert!(err <= TOLERANCE, "case {i} {name}: got {got}, want {want}");
        }
    }
    eprintln!("worst absolute error over 600 estimates: {worst:e}");
}

fn arb_readout() -> impl Strategy<Value = Readout> {
    (0f32..1e6, 0f32..=1.0, 0f32..=1.0, 1f32..100.0).prop_map(|(count, fy, fb, extra)| Readout {
        count,
        sum_y: count * fy,
        sum_base: count * fb,
        total: count * extra,
    })
}

fn arb_estimator() -> impl Strategy<Value = Estimator> {
    prop_oneof![
        (0f32..=100.0, 1e-3f32..10.0, 0f32..=1.0).prop_map(|(lambda, tau, gamma)| Estimator::Paper(PaperParams {
            lambda,
            tau,
            gamma
        })),
        (0f32..=100.0, 1e-3f32..10.0, 0f32..1e3, 0f32..1e3, 1e-4f32..0.9999, 0f32..1e3).prop_map(
            |(lambda, tau, n0, alpha, p0, pool)| Estimator::Residual(ResidualParams {
                lambda,
                tau,
                n0,
                alpha,
                p0,
                pool
            })
        ),
        (0f32..=100.0, 1e-3f32..10.0, 0f32..1e3, 0f32..1e3, 1e-4f32..0.9999, 0f32..1e3).prop_map(
            |(lambda, tau, n0, alpha, p0, pool)| Estimator::Intent(ResidualParams { lambda, tau, n0, alpha, p0, pool })
        ),
    ]
}

proptest! {
    #[test]
    fn output_is_finite_and_a_probability(
        est in arb_estimator(),
        y_base in 0f32..=1.0,
        rs in proptest::collection::vec(arb_readout(), 0..8),
        whole in arb_readout(),
        arrays in 0u8..12,
        concentration in proptest::option::of(0f64..=1.0),
    ) {
        let p = est.apply_with(y_base, &rs, Some(&MemoryLevel { whole, arrays, concentration }));
        prop_assert!(p.score.is_finite() && (0.0..=1.0).contains(&p.score), "{p:?}");
        prop_assert!(p.correction.is_finite());
        prop_assert_eq!(p.base, y_base);
    }

    #[test]
    fn paper_with_gamma_one_mixes_base_and_label_mean(
        lambda in 0f32..=1.0,
        y_base in 1e-3f32..0.999,
        count in 1f32..1e4,
        frac in 0f32..=1.0,
    ) {
        let est = Estimator::Paper(PaperParams { lambda, tau: 1.0, gamma: 1.0 });
        let r = Readout { count, sum_y: count * frac, sum_base: count * 0.5, total: count * 2.0 };
        let got = f64::from(est.apply(y_base, &[r]).score);
        let ybar = f64::from(r.sum_y) / f64::from(r.count);
        let want = ((1.0 - f64::from(lambda)) * f64::from(y_base) + f64::from(lambda) * ybar).clamp(1e-7, 1.0 - 1e-7);
        prop_assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}
