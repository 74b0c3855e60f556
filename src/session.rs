//! The session loop: one error memory and one estimator, fed with the base
//! model's `(y_base, h)` pairs. Model-agnostic: whatever produces `y_base`
//! and `h` (the ONNX runtime, a test, the replay) drives it.

use crate::error::{Error, Result};
use crate::estimate::{Estimator, Prediction};
use crate::identity::ModelId;
use crate::sketch::{Readout, Sketch, SketchConfig, check_probability};

/// How a session is set up: its memory and its estimator.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionConfig {
    /// The error memory's shape and behaviour.
    pub sketch: SketchConfig,
    /// How readouts become a corrected score.
    pub estimator: Estimator,
}

impl SessionConfig {
    /// The recommended per-session setup for a model of hidden width `dim`
    /// and training label rate `p0`: the pooled residual estimator with
    /// recency decay, as tuned on the first 25% of the MovieLens-100K stream
    /// (`make replay`; `K` held at 4 so the saved memory stays under 1 KB):
    /// `L = 4, K = 4`, half-life 15 writes, σ = 0.1, λ = 1, τ = 0.1,
    /// `n0 = 1`, α = 2, pool = 10.
    pub fn recommended(dim: u32, p0: f32) -> SessionConfig {
        SessionConfig {
            sketch: SketchConfig {
                bits: 4,
                arrays: 4,
                dim,
                half_life: Some(15.0),
                error_filter: 0.1,
                ..SketchConfig::default()
            },
            estimator: Estimator::Residual(crate::estimate::ResidualParams {
                lambda: 1.0,
                tau: 0.1,
                n0: 1.0,
                alpha: 2.0,
                p0,
                pool: 10.0,
            }),
        }
    }

    /// Checks the memory config and the estimator parameters.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidConfig`] naming the first bad field.
    pub fn validate(&self) -> Result<()> {
        self.sketch.validate()?;
        self.estimator.validate()
    }
}

/// One user's (or one page's) error-compensation state.
#[derive(Clone, Debug)]
pub struct Session {
    sketch: Sketch,
    estimator: Estimator,
    model_id: ModelId,
    /// Scratch for readouts, reused across calls (at most `K`).
    readouts: Vec<Readout>,
}

impl Session {
    /// A fresh session bound to `model_id`; `centre` is the model's `μ`.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidConfig`] if the config or centre is invalid.
    pub fn new(config: SessionConfig, model_id: ModelId, centre: Option<Vec<f32>>) -> Result<Self> {
        config.estimator.validate()?;
        let sketch = Sketch::new(config.sketch, centre)?;
        Ok(Session::from_parts(sketch, config.estimator, model_id))
    }

    pub(crate) fn from_parts(sketch: Sketch, estimator: Estimator, model_id: ModelId) -> Self {
        let readouts = Vec::with_capacity(usize::from(sketch.config().arrays));
        Session { sketch, estimator, model_id, readouts }
    }

    /// Scores one pair.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] for a bad `h` or a `y_base` outside [0, 1].
    pub fn score_one(&mut self, y_base: f32, h: &[f32]) -> Result<Prediction> {
        check_probability("y_base", y_base)?;
        self.sketch.read(h, &mut self.readouts)?;
        Ok(self.estimator.apply_pooled(y_base, &self.readouts, Some(&self.sketch.overall())))
    }

    /// Scores a batch: `y_base[i]` with key `h[i·d .. (i+1)·d]`. `out` is
    /// cleared and filled with one prediction per row.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] naming the row if `h.len()` is not
    /// `y_base.len() · d` or a row is bad; `out` is then left empty.
    pub fn score(&mut self, y_base: &[f32], h: &[f32], out: &mut Vec<Prediction>) -> Result<()> {
        out.clear();
        let d = self.sketch.config().dim as usize;
        if h.len() != y_base.len() * d {
            return Err(Error::input(format!(
                "hidden batch has {} values, expected {} rows x dim {d}",
                h.len(),
                y_base.len()
            )));
        }
        out.reserve(y_base.len());
        for (i, (&yb, row)) in y_base.iter().zip(h.chunks_exact(d)).enumerate() {
            match self.score_one(yb, row) {
                Ok(p) => out.push(p),
                Err(e) => {
                    out.clear();
                    return Err(Error::new(e.kind(), format!("row {i}: {}", e.message())));
                }
            }
        }
        Ok(())
    }

    /// Records whether the user clicked an item the model scored `y_base`
    /// with key `h`. Returns whether the memory stored it (the error filter
    /// may drop small errors).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] for a bad `h` or `y_base`; the memory is unchanged.
    pub fn record(&mut self, y_base: f32, h: &[f32], clicked: bool) -> Result<bool> {
        self.sketch.write(h, if clicked { 1.0 } else { 0.0 }, y_base)
    }

    /// Forgets everything recorded; config and model binding stay.
    pub fn reset(&mut self) {
        self.sketch.reset();
    }

    /// The error memory.
    pub fn sketch(&self) -> &Sketch {
        &self.sketch
    }

    /// Mutable memory access, e.g. to merge another session's memory in.
    pub fn sketch_mut(&mut self) -> &mut Sketch {
        &mut self.sketch
    }

    /// The estimator.
    pub fn estimator(&self) -> &Estimator {
        &self.estimator
    }

    /// Switches estimator (the memory is estimator-independent).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidConfig`] for bad parameters; the old one stays.
    pub fn set_estimator(&mut self, estimator: Estimator) -> Result<()> {
        estimator.validate()?;
        self.estimator = estimator;
        Ok(())
    }

    /// The identity of the model this session's memory belongs to.
    pub fn model_id(&self) -> &ModelId {
        &self.model_id
    }

    /// The full config (memory + estimator).
    pub fn config(&self) -> SessionConfig {
        SessionConfig { sketch: self.sketch.config().clone(), estimator: self.estimator }
    }
}
