//! Session options: the one type every layer spells them with, and their
//! resolution against a model and a saved memory.
//!
//! [`SessionOptions`] is what `new Session(model, options, saved)` takes in
//! JavaScript, what [`crate::Session::new`] / [`crate::Session::restore`]
//! take in Rust, what the replay writes as tuned options, and (with every
//! key filled in) what a session reports it runs with
//! ([`crate::Session::options`]). Every key is optional; a key left out
//! takes the saved memory's value when one is restored, else the
//! recommended default (the `Default` of [`reloop_core::MemoryConfig`], with
//! the model's hidden width and `p0`). Keys are camelCase and unknown keys
//! are refused. The TypeScript declaration of the npm package is derived
//! from this type (feature `ts`).
//!
//! # Resolution ([`SessionOptions::resolve`])
//! * Without saved bytes: a fresh memory with the given keys over the
//!   defaults.
//! * With saved bytes: the memory is decoded under this model (its identity,
//!   `μ` and hidden width must match); memory keys given here (`bits`,
//!   `arrays`, `seed`, `errorFilter`, `halfLife`) must equal the saved ones,
//!   estimator keys given here replace the saved ones.
//! * A memory of another model, or of another layout than the options ask
//!   for, is [`ErrorKind::ModelMismatch`]: under `onModelMismatch: "reset"`
//!   (the default) a fresh memory starts and the error is kept in
//!   [`Resolved::discarded`]; under `"error"` it is returned. Corrupt or
//!   unknown-version bytes are always errors.
//!
//! # Examples
//! ```
//! use reloop_runtime::SessionOptions;
//! let options = SessionOptions::from_json(r#"{ "halfLife": 50, "pool": 0 }"#)?;
//! assert_eq!(options.half_life, Some(Some(50.0)));
//! assert!(SessionOptions::from_json(r#"{ "halflife": 50 }"#).is_err()); // unknown key
//! # Ok::<(), reloop_core::Error>(())
//! ```

use reloop_core::{
    Error, ErrorKind, Estimator, Memory, MemoryConfig, PaperParams, ResidualParams, Result, SketchConfig, codec,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::Model;
use reloop_core::codec::SavedImpression;
use reloop_core::impressions::{
    DEFAULT_IMPRESSIONS, DEFAULT_SAVED_IMPRESSIONS, MAX_IMPRESSIONS, MAX_SAVED_IMPRESSIONS,
};

/// Which estimator turns the memory's readouts into a corrected score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum EstimatorKind {
    /// The residual with a session-wide offset credited by how spread the
    /// session's evidence is, and the item's own buckets on top (the default).
    #[default]
    Intent,
    /// The model's logit-space error on similar recent items, shrunk when
    /// evidence is thin, pulled toward the whole memory's (`pool`).
    Residual,
    /// ReLoop2 as published (pulls scores toward bucket means).
    Paper,
}

impl EstimatorKind {
    /// The kind of `estimator`.
    pub fn of(estimator: &Estimator) -> EstimatorKind {
        match estimator {
            Estimator::Intent(_) => EstimatorKind::Intent,
            Estimator::Residual(_) => EstimatorKind::Residual,
            Estimator::Paper(_) => EstimatorKind::Paper,
        }
    }

    /// This kind's recommended estimator, with `p0` for the logit-space ones.
    pub fn recommended(self, p0: f32) -> Estimator {
        match self {
            EstimatorKind::Intent => Estimator::Intent(ResidualParams { p0, ..ResidualParams::INTENT }),
            EstimatorKind::Residual => Estimator::Residual(ResidualParams { p0, ..ResidualParams::default() }),
            EstimatorKind::Paper => Estimator::Paper(PaperParams::default()),
        }
    }
}

/// What a saved memory that does not fit the model or the options leads to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum OnModelMismatch {
    /// Start a fresh memory and report why (the default).
    #[default]
    Reset,
    /// Refuse with `E_MODEL_MISMATCH`.
    Error,
}

/// Options of a session (`new Session(model, options, saved)`). Every key
/// is optional; unknown keys, wrong types and out-of-range values are
/// `E_INVALID_CONFIG` errors. Defaults are the recommended setup, tuned on
/// the first 25% of the MovieLens-100K stream. With saved bytes, memory
/// keys must match the saved memory and estimator keys replace the saved
/// ones. `session.options` reports every key the session runs with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionOptions {
    /// "intent" (default): the model's logit-space error, with a session-wide
    /// offset that grows with how varied the session's feedback is and the
    /// item's own region on top, so a few likes of one kind lift that kind.
    /// "residual": the logit-space error of similar recent items, pulled
    /// toward the whole memory's. "paper": ReLoop2 as published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimator: Option<EstimatorKind>,
    /// Correction strength, in [0, 100] (logit units; intent default 2,
    /// residual 1; paper: a probability mix, default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda: Option<f32>,
    /// Attention temperature over bucket shares, > 0 (intent default 0.3,
    /// residual 0.1, paper 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<f32>,
    /// Intent and residual: evidence at which the session-wide offset (intent;
    /// residual with pool > 0) or a bucket (residual, pool 0) gets half
    /// weight, ≥ 0 (intent default 16, residual 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n0: Option<f32>,
    /// Intent and residual: pseudo-counts smoothing toward `p0`, ≥ 0 (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f32>,
    /// Intent and residual: pseudo-samples pulling each bucket toward the
    /// session-wide offset, ≥ 0 (intent default 4, residual 10; residual 0 =
    /// buckets only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<f32>,
    /// Intent and residual: the prior click rate the smoothing pulls toward,
    /// in (0, 1) (default: the model's `p0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p0: Option<f32>,
    /// Paper only: mix of label mean vs base mean, in [0, 1] (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f32>,
    /// L, sign bits per array (2^L buckets), 0..=16 (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bits: Option<u8>,
    /// K, independent hash arrays, 1..=64 (default 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrays: Option<u8>,
    /// Seed of the hash planes (a saved memory is only read with the same seed). Default 0x5EED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", tsify(type = "number | bigint"))]
    pub seed: Option<u64>,
    /// σ: record an outcome only if |y − y_base| ≥ σ, in [0, 1] (default 0.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_filter: Option<f32>,
    /// Half-life of old evidence, in recorded outcomes, > 0 (default 15);
    /// `null` never forgets.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "nullable")]
    #[cfg_attr(feature = "ts", tsify(type = "number | null"))]
    pub half_life: Option<Option<f32>>,
    /// How many recent impressions (ids given to `score`) are kept for
    /// `recordImpression`, 0..=65536 (default 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impressions: Option<u32>,
    /// How many of the most recent impressions `save()` keeps in the saved
    /// bytes, so `recordImpression` works after a restore with no model run,
    /// 0..=1024 (default 64; each costs 5 + id length + 2·arrays bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_impressions: Option<u32>,
    /// A saved memory written under another model (or another bits, arrays,
    /// seed, errorFilter or halfLife than given here): "reset" (default)
    /// starts a fresh memory and sets `session.restoreError`; "error" throws
    /// `E_MODEL_MISMATCH`. Corrupt or unknown-version bytes always throw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_model_mismatch: Option<OnModelMismatch>,
}

/// `halfLife`: absent = not given, `null` = never forget, a number = that half-life.
mod nullable {
    use super::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Option<f32>>, s: S) -> Result<S::Ok, S::Error> {
        // Only called for `Some` (skip_serializing_if): `null` or the number.
        value.flatten().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<f32>>, D::Error> {
        Option::<f32>::deserialize(d).map(Some)
    }
}

/// What [`SessionOptions::resolve`] settles on.
#[derive(Debug)]
pub struct Resolved {
    /// The restored memory (estimator keys applied) or a fresh one.
    pub memory: Memory,
    /// Recent impressions kept for recording by id.
    pub impressions: usize,
    /// How many of them `save()` keeps.
    pub saved_impressions: usize,
    /// The impressions the saved bytes carried, oldest first (none for a
    /// fresh or discarded memory).
    pub restored_impressions: Vec<SavedImpression>,
    /// The mismatch policy in force.
    pub on_model_mismatch: OnModelMismatch,
    /// Why the saved memory was not restored (`onModelMismatch: "reset"`).
    pub discarded: Option<Error>,
}

impl SessionOptions {
    /// Parses options from JSON text (e.g. the replay's tuned options).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] for malformed JSON, an unknown key or a
    /// wrong type, naming it.
    pub fn from_json(text: &str) -> Result<SessionOptions> {
        let mut de = serde_json::Deserializer::from_str(text);
        let options = serde_path_to_error::deserialize(&mut de).map_err(|e| Error::config(keyed("options", &e)))?;
        de.end().map_err(|e| Error::config(format!("options: {e}")))?;
        Ok(options)
    }

    /// The options as JSON text (only the keys that are set).
    pub fn to_json(&self) -> String {
        // Plain fields and finite numbers: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Settles the memory a session over `model` starts with: restored
    /// from `saved` when given and usable, else fresh (see the
    /// [module docs](self)).
    ///
    /// # Errors
    /// * [`ErrorKind::InvalidConfig`] for an option out of range or one
    ///   that does not apply to the estimator (`gamma` with residual, `n0`,
    ///   `alpha`, `pool` or `p0` with paper);
    /// * [`ErrorKind::CorruptData`] / [`ErrorKind::UnsupportedVersion`] for
    ///   unreadable saved bytes;
    /// * [`ErrorKind::ModelMismatch`] for a memory of another model or
    ///   layout under `onModelMismatch: "error"`.
    pub fn resolve(&self, model: &Model, saved: Option<&[u8]>) -> Result<Resolved> {
        let impressions = self.impressions.map_or(DEFAULT_IMPRESSIONS, |n| n as usize);
        if impressions > MAX_IMPRESSIONS {
            return Err(Error::config(format!(
                "options.impressions must be in 0..={MAX_IMPRESSIONS}, got {impressions}"
            )));
        }
        let saved_impressions = self.saved_impressions.map_or(DEFAULT_SAVED_IMPRESSIONS, |n| n as usize);
        if saved_impressions > MAX_SAVED_IMPRESSIONS {
            return Err(Error::config(format!(
                "options.savedImpressions must be in 0..={MAX_SAVED_IMPRESSIONS}, got {saved_impressions}"
            )));
        }
        let on_model_mismatch = self.on_model_mismatch.unwrap_or_default();
        let mut discarded = None;
        let restored = match saved {
            None => None,
            Some(bytes) => match self.restore(model, bytes) {
                Ok(memory) => Some(memory),
                Err(e) if e.kind() == ErrorKind::ModelMismatch && on_model_mismatch == OnModelMismatch::Reset => {
                    discarded = Some(e);
                    None
                }
                Err(e) => return Err(e),
            },
        };
        let (memory, restored_impressions) = match restored {
            Some((mut memory, carried)) => {
                let estimator = self.estimator_over(*memory.estimator())?;
                memory.set_estimator(estimator)?;
                (memory, carried)
            }
            None => (Memory::new(self.fresh_config(model)?, *model.id(), model.mu().map(<[f32]>::to_vec))?, Vec::new()),
        };
        Ok(Resolved { memory, impressions, saved_impressions, restored_impressions, on_model_mismatch, discarded })
    }

    /// The options that give a memory `config` (a session's, or one a replay
    /// tuned): every memory key and every key of its estimator, set.
    /// `impressions`, `savedImpressions` and `onModelMismatch` are left out
    /// (session settings).
    pub fn of(config: &MemoryConfig) -> SessionOptions {
        let sketch = &config.sketch;
        let mut options = SessionOptions {
            bits: Some(sketch.bits),
            arrays: Some(sketch.arrays),
            seed: Some(sketch.seed),
            error_filter: Some(sketch.error_filter),
            half_life: Some(sketch.half_life),
            ..SessionOptions::default()
        };
        match config.estimator {
            Estimator::Paper(p) => {
                options.estimator = Some(EstimatorKind::Paper);
                options.lambda = Some(p.lambda);
                options.tau = Some(p.tau);
                options.gamma = Some(p.gamma);
            }
            Estimator::Residual(r) | Estimator::Intent(r) => {
                options.estimator = Some(EstimatorKind::of(&config.estimator));
                options.lambda = Some(r.lambda);
                options.tau = Some(r.tau);
                options.n0 = Some(r.n0);
                options.alpha = Some(r.alpha);
                options.pool = Some(r.pool);
                options.p0 = Some(r.p0);
            }
        }
        options
    }

    /// The saved memory and its impressions, if it belongs to this model
    /// and fits these options.
    fn restore(&self, model: &Model, bytes: &[u8]) -> Result<(Memory, Vec<SavedImpression>)> {
        let (memory, carried) =
            codec::decode_with_impressions(bytes, model.id(), model.mu(), codec::DEFAULT_MAX_HEAP_BYTES)?;
        let saved = memory.sketch().config();
        if saved.dim as usize != model.hidden_dim() {
            return Err(Error::new(
                ErrorKind::ModelMismatch,
                format!(
                    "memory keys have {} values but the model's hidden vector has {}",
                    saved.dim,
                    model.hidden_dim()
                ),
            ));
        }
        match self.layout_conflict(saved) {
            Some(why) => Err(Error::new(ErrorKind::ModelMismatch, why)),
            None => Ok((memory, carried)),
        }
    }

    /// A fresh memory's config: the given keys over the defaults, with the
    /// model's hidden width and `p0`.
    fn fresh_config(&self, model: &Model) -> Result<MemoryConfig> {
        let defaults = SketchConfig::default();
        let sketch = SketchConfig {
            bits: self.bits.unwrap_or(defaults.bits),
            arrays: self.arrays.unwrap_or(defaults.arrays),
            dim: u32::try_from(model.hidden_dim()).unwrap_or(u32::MAX),
            seed: self.seed.unwrap_or(defaults.seed),
            error_filter: self.error_filter.unwrap_or(defaults.error_filter),
            half_life: self.half_life.unwrap_or(defaults.half_life),
        };
        sketch.validate().map_err(|e| e.with_context("options"))?;
        let base = EstimatorKind::default().recommended(self.p0_for(model)?);
        Ok(MemoryConfig { sketch, estimator: self.estimator_over(base)? })
    }

    /// The `p0` a fresh memory starts from: the options', else the spec's.
    /// The paper estimator does not use it.
    fn p0_for(&self, model: &Model) -> Result<f32> {
        match (self.p0.or(model.p0()), self.estimator) {
            (Some(p0), _) => Ok(p0),
            (None, Some(EstimatorKind::Paper)) => Ok(ResidualParams::default().p0),
            (None, _) => Err(Error::config(
                "p0: the model's spec has no p0 and options.p0 is not given; p0 is the model's training click rate \
                 (clicks / rows of the data it was trained on), in (0, 1), which the intent and residual estimators \
                 smooth toward. `reloop check MODEL SPEC ROWS.jsonl` computes it from a log",
            )),
        }
    }

    /// The estimator: `base` (the saved or default one) with the given keys
    /// applied; another `estimator` kind than `base`'s starts from that
    /// kind's defaults (keeping `base`'s `p0` for residual).
    fn estimator_over(&self, base: Estimator) -> Result<Estimator> {
        let p0 = match base {
            Estimator::Residual(r) | Estimator::Intent(r) => r.p0,
            Estimator::Paper(_) => ResidualParams::default().p0,
        };
        let mut estimator = match self.estimator {
            Some(kind) if kind != EstimatorKind::of(&base) => kind.recommended(p0),
            _ => base,
        };
        match &mut estimator {
            Estimator::Paper(p) => {
                if self.n0.is_some() || self.alpha.is_some() || self.pool.is_some() || self.p0.is_some() {
                    return Err(Error::config(
                        "options: n0, alpha, pool and p0 apply to the intent and residual estimators, not paper",
                    ));
                }
                set(&mut p.lambda, self.lambda);
                set(&mut p.tau, self.tau);
                set(&mut p.gamma, self.gamma);
            }
            Estimator::Residual(r) | Estimator::Intent(r) => {
                if self.gamma.is_some() {
                    return Err(Error::config("options: gamma applies to the paper estimator only"));
                }
                set(&mut r.lambda, self.lambda);
                set(&mut r.tau, self.tau);
                set(&mut r.n0, self.n0);
                set(&mut r.alpha, self.alpha);
                set(&mut r.pool, self.pool);
                set(&mut r.p0, self.p0);
            }
        }
        estimator.validate().map_err(|e| e.with_context("options"))?;
        Ok(estimator)
    }

    /// The first memory key given that differs from the saved memory's.
    fn layout_conflict(&self, saved: &SketchConfig) -> Option<String> {
        let differs = |name: &str, given: String, has: String| {
            Some(format!("options.{name} is {given} but the saved memory has {has}"))
        };
        if let Some(b) = self.bits.filter(|b| *b != saved.bits) {
            return differs("bits", b.to_string(), saved.bits.to_string());
        }
        if let Some(a) = self.arrays.filter(|a| *a != saved.arrays) {
            return differs("arrays", a.to_string(), saved.arrays.to_string());
        }
        if let Some(s) = self.seed.filter(|s| *s != saved.seed) {
            return differs("seed", s.to_string(), saved.seed.to_string());
        }
        if let Some(f) = self.error_filter.filter(|f| f.to_bits() != saved.error_filter.to_bits()) {
            return differs("errorFilter", f.to_string(), saved.error_filter.to_string());
        }
        let half_life = |h: Option<f32>| h.map_or_else(|| "none".to_string(), |h| h.to_string());
        if let Some(h) = self.half_life.filter(|h| h.map(f32::to_bits) != saved.half_life.map(f32::to_bits)) {
            return differs("halfLife", half_life(h), half_life(saved.half_life));
        }
        None
    }
}

/// A deserialisation error as `what: key.path: message` (just
/// `what: message` when the error is not inside a key).
pub fn keyed<E: std::fmt::Display>(what: &str, e: &serde_path_to_error::Error<E>) -> String {
    let path = e.path().to_string();
    if path == "." { format!("{what}: {}", e.inner()) } else { format!("{what}: {path}: {}", e.inner()) }
}

fn set(slot: &mut f32, value: Option<f32>) {
    if let Some(v) = value {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_wrong_types_are_config_errors_naming_them() {
        for (text, names) in [
            (r#"{ "bogus": 1 }"#, "bogus"),
            (r#"{ "bits": "4" }"#, "bits"),
            (r#"{ "bits": 4.5 }"#, "bits"),
            (r#"{ "estimator": "knn" }"#, "knn"),
            (r#"{ "onModelMismatch": "ignore" }"#, "ignore"),
        ] {
            let e = SessionOptions::from_json(text).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{text}");
            assert!(e.message().contains(names), "{text}: {e}");
        }
    }

    #[test]
    fn half_life_tells_absent_from_null() {
        assert_eq!(SessionOptions::from_json("{}").unwrap().half_life, None);
        assert_eq!(SessionOptions::from_json(r#"{ "halfLife": null }"#).unwrap().half_life, Some(None));
        assert_eq!(SessionOptions::from_json(r#"{ "halfLife": 3 }"#).unwrap().half_life, Some(Some(3.0)));
        let never = SessionOptions { half_life: Some(None), ..SessionOptions::default() };
        assert_eq!(never.to_json(), r#"{"halfLife":null}"#);
        assert_eq!(SessionOptions::from_json(&never.to_json()).unwrap(), never);
        assert_eq!(SessionOptions::default().to_json(), "{}");
    }

    #[test]
    fn the_resolved_view_round_trips_through_json() {
        let config = MemoryConfig::default();
        let options = SessionOptions::of(&config);
        assert_eq!((options.bits, options.estimator), (Some(5), Some(EstimatorKind::Intent)));
        assert_eq!(options.half_life, Some(Some(15.0)));
        assert_eq!(options.gamma, None);
        assert_eq!(SessionOptions::from_json(&options.to_json()).unwrap(), options);
        let paper = MemoryConfig { estimator: Estimator::Paper(PaperParams::default()), ..MemoryConfig::default() };
        let options = SessionOptions::of(&paper);
        assert_eq!((options.estimator, options.gamma, options.pool), (Some(EstimatorKind::Paper), Some(1.0), None));
    }

    #[test]
    fn estimator_keys_must_fit_the_estimator() {
        let base = Estimator::default();
        let paper = SessionOptions { estimator: Some(EstimatorKind::Paper), pool: Some(3.0), ..Default::default() };
        assert!(paper.estimator_over(base).unwrap_err().message().contains("pool"));
        let residual = SessionOptions { gamma: Some(0.5), ..Default::default() };
        assert!(residual.estimator_over(base).unwrap_err().message().contains("gamma"));
        let switched = SessionOptions { estimator: Some(EstimatorKind::Paper), ..Default::default() };
        assert_eq!(switched.estimator_over(base).unwrap(), Estimator::Paper(PaperParams::default()));
        let bad = SessionOptions { lambda: Some(f32::NAN), ..Default::default() };
        assert_eq!(bad.estimator_over(base).unwrap_err().kind(), ErrorKind::InvalidConfig);
    }
}
