//! The error memory of one session: an LSH [`Sketch`] of the model's recent
//! mistakes plus the [`Estimator`] that turns its readouts into corrected
//! scores, bound to the model it learned under. Model-agnostic: whatever
//! produces `y_base` and `h` (the ONNX runtime, a test, the replay) drives it.

use crate::error::{Error, Result};
use crate::estimator::{Estimator, MemoryLevel, Prediction, ResidualCache};
use crate::identity::ModelId;
use crate::sketch::{Readout, Sketch, SketchConfig, check_probability};

/// How a memory is set up: its sketch and its estimator. The `Default` is
/// the recommended per-session setup (see [`SketchConfig`] and
/// [`crate::ResidualParams`]); `sketch.dim` and the residual `p0` come from
/// the model.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemoryConfig {
    /// The sketch's shape and behaviour.
    pub sketch: SketchConfig,
    /// How readouts become a corrected score.
    pub estimator: Estimator,
}

impl MemoryConfig {
    /// Checks the sketch config and the estimator parameters.
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
pub struct Memory {
    sketch: Sketch,
    estimator: Estimator,
    model_id: ModelId,
    /// Scratch for readouts and their buckets, reused across calls (at most `K`).
    readouts: Vec<Readout>,
    buckets: Vec<usize>,
    /// Scratch for a batch's buckets in [`Memory::score`] (`K` per row).
    row_buckets: Vec<u16>,
    /// Per-bucket residuals within one batch.
    cache: ResidualCache,
}

impl Memory {
    /// A fresh memory bound to `model_id`; `centre` is the model's `μ`.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidConfig`] if the config or centre is invalid.
    pub fn new(config: MemoryConfig, model_id: ModelId, centre: Option<Vec<f32>>) -> Result<Self> {
        config.estimator.validate()?;
        let sketch = Sketch::new(config.sketch, centre)?;
        Ok(Memory::from_parts(sketch, config.estimator, model_id))
    }

    pub(crate) fn from_parts(sketch: Sketch, estimator: Estimator, model_id: ModelId) -> Self {
        let readouts = Vec::with_capacity(usize::from(sketch.config().arrays));
        Memory {
            sketch,
            estimator,
            model_id,
            readouts,
            buckets: Vec::new(),
            row_buckets: Vec::new(),
            cache: ResidualCache::default(),
        }
    }

    /// Scores one pair.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] for a bad `h` or a `y_base` outside [0, 1].
    pub fn score_one(&mut self, y_base: f32, h: &[f32]) -> Result<Prediction> {
        let level = self.level();
        self.score_at(y_base, h, &level)
    }

    /// What the estimator knows of the whole memory (the same for every
    /// query until the next write).
    fn level(&self) -> MemoryLevel {
        let concentration = match self.estimator {
            // Only the intent estimator reads it, and it costs a pass over the buckets.
            Estimator::Intent(_) => self.sketch.concentration(),
            _ => None,
        };
        MemoryLevel { whole: self.sketch.overall(), arrays: self.sketch.config().arrays, concentration }
    }

    fn score_at(&mut self, y_base: f32, h: &[f32], level: &MemoryLevel) -> Result<Prediction> {
        check_probability("y_base", y_base)?;
        self.sketch.read(h, &mut self.readouts)?;
        Ok(self.estimator.apply_with(y_base, &self.readouts, Some(level)))
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
        let mut buckets = std::mem::take(&mut self.row_buckets);
        let scored = self.buckets_of_rows(h, &mut buckets).and_then(|()| self.score_buckets(y_base, &buckets, out));
        self.row_buckets = buckets;
        scored
    }

    /// Scores a batch whose keys are already hashed: `y_base[i]` with the
    /// buckets `buckets[i·K .. (i+1)·K]` ([`Memory::buckets_of_rows`]), exactly
    /// as [`Memory::score`] with the keys. `out` is cleared and filled with
    /// one prediction per row.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] naming the row if `buckets.len()`
    /// is not `y_base.len() · K`, a bucket is not below `2^L` or a `y_base`
    /// is outside [0, 1]; `out` is then left empty.
    pub fn score_buckets(&mut self, y_base: &[f32], buckets: &[u16], out: &mut Vec<Prediction>) -> Result<()> {
        out.clear();
        let arrays = usize::from(self.sketch.config().arrays);
        if buckets.len() != y_base.len() * arrays {
            return Err(Error::input(format!("{} buckets for {} rows x {arrays} arrays", buckets.len(), y_base.len())));
        }
        out.reserve(y_base.len());
        let level = self.level();
        self.cache.reset(self.sketch.config().bucket_count());
        for (i, (&yb, row)) in y_base.iter().zip(buckets.chunks_exact(arrays)).enumerate() {
            let read = check_probability("y_base", yb)
                .and_then(|()| self.sketch.read_buckets(row, &mut self.readouts, &mut self.buckets));
            match read {
                Ok(()) => out.push(self.estimator.apply_batched(
                    yb,
                    &self.readouts,
                    &self.buckets,
                    Some(&level),
                    &mut self.cache,
                )),
                Err(e) => {
                    out.clear();
                    return Err(e.with_context(format_args!("row {i}")));
                }
            }
        }
        Ok(())
    }

    /// The buckets of a batch of keys `h` (`d` values per row): each row's
    /// bucket in every array ([`Memory::buckets_of`]), `K` per row, written
    /// to `out` (cleared first).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] naming the row if `h.len()` is not
    /// a multiple of `d` or a row is bad; `out` is then left empty.
    pub fn buckets_of_rows(&self, h: &[f32], out: &mut Vec<u16>) -> Result<()> {
        out.clear();
        let d = self.sketch.config().dim as usize;
        let arrays = usize::from(self.sketch.config().arrays);
        if h.len() % d != 0 {
            return Err(Error::input(format!("hidden batch has {} values, not rows x dim {d}", h.len())));
        }
        out.resize(h.len() / d * arrays, 0);
        for (i, (row, to)) in h.chunks_exact(d).zip(out.chunks_exact_mut(arrays)).enumerate() {
            if let Err(e) = self.sketch.buckets_of(row, to) {
                out.clear();
                return Err(e.with_context(format_args!("row {i}")));
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

    /// Records an outcome at the buckets an impression's key fell into
    /// ([`Memory::buckets_of`]), exactly as [`Memory::record`] with its key.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] for buckets that do not fit the
    /// memory or a bad `y_base`; the memory is unchanged.
    pub fn record_buckets(&mut self, y_base: f32, buckets: &[u16], clicked: bool) -> Result<bool> {
        self.sketch.write_buckets(buckets, if clicked { 1.0 } else { 0.0 }, y_base)
    }

    /// The bucket of each array (`0..2^L`) that key `h` falls into, in `out[..K]`.
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidInput`] for a bad `h` or a short `out`.
    pub fn buckets_of(&self, h: &[f32], out: &mut [u16]) -> Result<()> {
        self.sketch.buckets_of(h, out)
    }

    /// Forgets everything recorded; config and model binding stay.
    pub fn reset(&mut self) {
        self.sketch.reset();
    }

    /// The sketch.
    pub fn sketch(&self) -> &Sketch {
        &self.sketch
    }

    /// Mutable sketch access, e.g. to merge another memory in.
    pub fn sketch_mut(&mut self) -> &mut Sketch {
        &mut self.sketch
    }

    /// The estimator.
    pub fn estimator(&self) -> &Estimator {
        &self.estimator
    }

    /// Switches estimator (the sketch is estimator-independent).
    ///
    /// # Errors
    /// [`crate::ErrorKind::InvalidConfig`] for bad parameters; the old one stays.
    pub fn set_estimator(&mut self, estimator: Estimator) -> Result<()> {
        estimator.validate()?;
        self.estimator = estimator;
        Ok(())
    }

    /// The identity of the model this memory belongs to.
    pub fn model_id(&self) -> &ModelId {
        &self.model_id
    }

    /// The full config (sketch + estimator).
    pub fn config(&self) -> MemoryConfig {
        MemoryConfig { sketch: self.sketch.config().clone(), estimator: self.estimator }
    }
}
