//! Probability helpers shared by the estimators, the model runtime and the
//! evaluation: clipping to `[CLIP_LO, CLIP_HI]`, logit, sigmoid and the
//! log-loss of one outcome. All in f64.

/// Probabilities are clipped to `[CLIP_LO, CLIP_HI]` before any logit and
/// before a log-loss, so both stay finite.
pub const CLIP_LO: f64 = 1e-7;
/// See [`CLIP_LO`].
pub const CLIP_HI: f64 = 1.0 - 1e-7;

/// `p` clipped to `[CLIP_LO, CLIP_HI]`; NaN becomes 0.5.
pub fn clip(p: f64) -> f64 {
    if p.is_nan() { 0.5 } else { p.clamp(CLIP_LO, CLIP_HI) }
}

/// `ln(p / (1 − p))` of the clipped `p`.
pub fn logit(p: f64) -> f64 {
    let p = clip(p);
    (p / (1.0 - p)).ln()
}

/// `1 / (1 + e^−x)`.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Negative log-likelihood of one outcome under the clipped `p`.
pub fn log_loss(p: f64, clicked: bool) -> f64 {
    let p = clip(p);
    if clicked { -p.ln() } else { -(1.0 - p).ln() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logit_and_sigmoid_invert_each_other_inside_the_clip() {
        for p in [1e-6, 0.1, 0.5, 0.9, 1.0 - 1e-6] {
            assert!((sigmoid(logit(p)) - p).abs() < 1e-12, "{p}");
        }
        assert_eq!(clip(0.0), CLIP_LO);
        assert_eq!(clip(f64::NAN), 0.5);
        assert!(logit(1.0).is_finite() && logit(0.0).is_finite());
        assert!((log_loss(0.5, true) - std::f64::consts::LN_2).abs() < 1e-15);
        assert!(log_loss(0.0, true).is_finite());
    }
}
