//! What can sit beside the frozen model in a replay: the error memory (any
//! estimator), and the two references it is judged against — an exact kNN
//! memory (what the LSH sketch approximates) and a per-scope online logit
//! bias (the strongest cheap alternative).

use reloop_core::prob::{clip, logit, sigmoid};
use reloop_core::{Estimator, Memory, Readout};

/// Something that corrects `y_base` for one scope (session, user or all).
pub trait Adapter {
    /// The corrected probability for an event about to be shown.
    fn score(&mut self, y_base: f32, h: &[f32]) -> f32;
    /// The event's outcome, after scoring.
    fn record(&mut self, y_base: f32, h: &[f32], clicked: bool);
}

/// The reloop-edge error memory.
impl Adapter for Memory {
    fn score(&mut self, y_base: f32, h: &[f32]) -> f32 {
        // The replay feeds the model's own finite outputs; an error here is
        // a bug in the replay, reported as "no correction".
        self.score_one(y_base, h).map_or(y_base, |p| p.score)
    }
    fn record(&mut self, y_base: f32, h: &[f32], clicked: bool) {
        let _ = Memory::record(self, y_base, h, clicked);
    }
}

/// Exact kNN memory: keeps every written `(h, y, y_base)` (unit-normalised
/// keys) and reads the top-`k` by cosine similarity as one readout, which
/// the same estimator turns into a score. `window` bounds it to the latest
/// writes.
#[derive(Clone, Debug)]
pub struct Knn {
    k: usize,
    window: usize,
    estimator: Estimator,
    dim: usize,
    keys: Vec<f32>,
    labels: Vec<f32>,
    bases: Vec<f32>,
    scratch: Vec<(f32, u32)>,
}

impl Knn {
    /// An empty kNN memory of `dim`-wide keys.
    pub fn new(k: usize, window: usize, estimator: Estimator, dim: usize) -> Self {
        Knn { k, window, estimator, dim, keys: Vec::new(), labels: Vec::new(), bases: Vec::new(), scratch: Vec::new() }
    }

    fn normalised(h: &[f32]) -> impl Iterator<Item = f32> + '_ {
        let norm = h.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        h.iter().map(move |v| v / norm)
    }
}

impl Adapter for Knn {
    fn score(&mut self, y_base: f32, h: &[f32]) -> f32 {
        let n = self.labels.len();
        if n == 0 || self.k == 0 {
            return y_base;
        }
        let q: Vec<f32> = Knn::normalised(h).collect();
        self.scratch.clear();
        for (i, key) in self.keys.chunks_exact(self.dim).enumerate() {
            let sim: f32 = key.iter().zip(&q).map(|(a, b)| a * b).sum();
            self.scratch.push((sim, i as u32));
        }
        let k = self.k.min(n);
        self.scratch.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
        let mut r = Readout { count: k as f32, sum_y: 0.0, sum_base: 0.0, total: n as f32 };
        for &(_, i) in &self.scratch[..k] {
            r.sum_y += self.labels[i as usize];
            r.sum_base += self.bases[i as usize];
        }
        self.estimator.apply(y_base, &[r]).score
    }

    fn record(&mut self, y_base: f32, h: &[f32], clicked: bool) {
        if self.labels.len() == self.window {
            self.keys.drain(..self.dim);
            self.labels.remove(0);
            self.bases.remove(0);
        }
        self.keys.extend(Knn::normalised(h));
        self.labels.push(if clicked { 1.0 } else { 0.0 });
        self.bases.push(y_base);
    }
}

/// Online logit bias: `y = σ(logit(y_base) + b)`, with `b` moved by one SGD
/// step on the log-loss per outcome, `b += η (y − ŷ)`.
#[derive(Clone, Copy, Debug)]
pub struct LogitBias {
    bias: f64,
    rate: f64,
}

impl LogitBias {
    /// Zero bias, learning rate `rate`.
    pub fn new(rate: f64) -> Self {
        LogitBias { bias: 0.0, rate }
    }

    fn predict(&self, y_base: f32) -> f64 {
        clip(sigmoid(logit(f64::from(y_base)) + self.bias))
    }
}

impl Adapter for LogitBias {
    fn score(&mut self, y_base: f32, _h: &[f32]) -> f32 {
        self.predict(y_base) as f32
    }
    fn record(&mut self, y_base: f32, _h: &[f32], clicked: bool) {
        let y = if clicked { 1.0 } else { 0.0 };
        self.bias += self.rate * (y - self.predict(y_base));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logit_bias_moves_towards_the_click_rate() {
        let mut b = LogitBias::new(0.5);
        assert!((b.score(0.3, &[]) - 0.3).abs() < 1e-6);
        for _ in 0..50 {
            b.record(0.3, &[], true);
        }
        assert!(b.score(0.3, &[]) > 0.8);
    }

    #[test]
    fn knn_reads_the_nearest_neighbours_only() {
        let mut m =
            Knn::new(2, 100, Estimator::Paper(reloop_core::PaperParams { lambda: 1.0, tau: 1.0, gamma: 1.0 }), 2);
        m.record(0.5, &[1.0, 0.0], true);
        m.record(0.5, &[0.9, 0.1], true);
        m.record(0.5, &[-1.0, 0.0], false);
        assert!((m.score(0.5, &[1.0, 0.05]) - 1.0).abs() < 1e-6);
        let mut m = Knn::new(1, 2, Estimator::Paper(reloop_core::PaperParams { lambda: 1.0, tau: 1.0, gamma: 1.0 }), 2);
        m.record(0.5, &[1.0, 0.0], true);
        m.record(0.5, &[0.0, 1.0], false);
        m.record(0.5, &[0.0, -1.0], false); // evicts the first
        assert!(m.score(0.5, &[1.0, 0.0]) < 0.5);
    }
}
