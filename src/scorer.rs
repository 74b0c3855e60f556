//! The full loop for one user: items → [encoder](crate::features) →
//! [model](crate::model) → `(y_base, h)` → [`Session`] (memory read →
//! estimator) → predictions; and an outcome → [`Session::record`].
//!
//! A [`Scorer`] is the shared part (the model and its encoder, behind an
//! `Arc`): create one per process or isolate and a [`ScoringSession`] per
//! user or page. Callers never handle hidden vectors: an outcome is recorded
//! either for an item (its `(y_base, h)` is re-derived by running the model
//! on it) or for an impression id given when the item was scored, looked up
//! in a short per-session cache of recent impressions.
//!
//! Sessions start with the model's `μ` as the memory's centre and its `p0`
//! as the residual estimator's prior, unless a config says otherwise. A
//! saved memory is restored only under the model it was written with;
//! [`RestorePolicy`] chooses between refusing another model's memory and
//! starting afresh.
//!
//! # Examples
//! ```no_run
//! use reloop_edge::features::Item;
//! use reloop_edge::model::Model;
//! use reloop_edge::scorer::{RestorePolicy, Scorer};
//! # fn demo(onnx: &[u8], spec: &str, items: &[Item], saved: &[u8]) -> reloop_edge::Result<()> {
//! let scorer = Scorer::new(Model::from_json(onnx, spec)?);
//! let mut session = scorer.restore(saved, RestorePolicy::Reset)?.session;
//! let scores: Vec<f32> = session.score_impressions(items, &Item::new(), &["a", "b"])?.iter().map(|p| p.score).collect();
//! session.record_impression("b", true)?; // the user clicked item "b"
//! let token = session.save();
//! # let _ = (scores, token); Ok(()) }
//! ```

use crate::codec;
use crate::error::{Error, ErrorKind, Result};
use crate::estimate::Prediction;
use crate::features::Item;
use crate::model::{Model, ModelOutput};
use crate::session::{Session, SessionConfig};

/// Default number of recent impressions a session remembers.
pub const DEFAULT_IMPRESSIONS: usize = 256;
/// Largest impression cache accepted.
pub const MAX_IMPRESSIONS: usize = 65_536;

/// What to do with a saved memory that cannot be used with this model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Return the error ([`ErrorKind::ModelMismatch`] for another model's
    /// memory, [`ErrorKind::CorruptData`] or
    /// [`ErrorKind::UnsupportedVersion`] for unreadable bytes).
    Refuse,
    /// Start a fresh memory and report why in [`Restored::discarded`].
    Reset,
}

/// The outcome of [`Scorer::restore`].
#[derive(Debug)]
pub struct Restored {
    /// The restored session, or a fresh one under [`RestorePolicy::Reset`].
    pub session: ScoringSession,
    /// Why the saved memory was discarded, if it was.
    pub discarded: Option<Error>,
}

/// The shared part: model, encoder and session defaults. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Scorer {
    model: Model,
    impressions: usize,
}

impl Scorer {
    /// A scorer over `model`, remembering [`DEFAULT_IMPRESSIONS`] per session.
    pub fn new(model: Model) -> Scorer {
        Scorer { model, impressions: DEFAULT_IMPRESSIONS }
    }

    /// Sets how many recent impressions each new session remembers (0 turns
    /// the impression path off).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] above [`MAX_IMPRESSIONS`].
    pub fn with_impression_capacity(mut self, capacity: usize) -> Result<Scorer> {
        if capacity > MAX_IMPRESSIONS {
            return Err(Error::config(format!("impressions must be in 0..={MAX_IMPRESSIONS}, got {capacity}")));
        }
        self.impressions = capacity;
        Ok(self)
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The default session config: [`SessionConfig::recommended`] for the
    /// model's hidden width and `p0`.
    pub fn default_config(&self) -> SessionConfig {
        SessionConfig::recommended(self.model.hidden_dim() as u32, self.model.p0())
    }

    /// A fresh session with [`Scorer::default_config`].
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] if the defaults do not fit the model
    /// (e.g. a hidden width above the memory's limit).
    pub fn session(&self) -> Result<ScoringSession> {
        self.session_with(self.default_config())
    }

    /// A fresh session with `config`, centred on the model's `μ`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] if the config is invalid or its
    /// `sketch.dim` is not the model's hidden width.
    pub fn session_with(&self, config: SessionConfig) -> Result<ScoringSession> {
        let d = self.model.hidden_dim();
        if config.sketch.dim as usize != d {
            return Err(Error::config(format!(
                "sketch.dim is {} but the model's hidden vector has {d} values",
                config.sketch.dim
            )));
        }
        config.validate()?;
        let session = Session::new(config, *self.model.id(), self.model.mu().map(<[f32]>::to_vec))?;
        Ok(self.wrap(session))
    }

    /// Restores a saved memory (see [`codec`]) for this model.
    ///
    /// # Errors
    /// Under [`RestorePolicy::Refuse`], the decoder's error:
    /// [`ErrorKind::ModelMismatch`] if the memory was saved under another
    /// model (or another `μ`), [`ErrorKind::CorruptData`] /
    /// [`ErrorKind::UnsupportedVersion`] for unreadable bytes. Under
    /// [`RestorePolicy::Reset`] those give a fresh session instead; only a
    /// failure to create it is an error.
    pub fn restore(&self, saved: &[u8], policy: RestorePolicy) -> Result<Restored> {
        let decoded = codec::decode(saved, self.model.id(), self.model.mu()).and_then(|session| {
            let dim = session.sketch().config().dim as usize;
            if dim == self.model.hidden_dim() {
                Ok(session)
            } else {
                Err(Error::new(
                    ErrorKind::ModelMismatch,
                    format!(
                        "memory keys have {dim} values but the model's hidden vector has {}",
                        self.model.hidden_dim()
                    ),
                ))
            }
        });
        match (decoded, policy) {
            (Ok(session), _) => Ok(Restored { session: self.wrap(session), discarded: None }),
            (Err(e), RestorePolicy::Refuse) => Err(e),
            (Err(e), RestorePolicy::Reset) => Ok(Restored { session: self.session()?, discarded: Some(e) }),
        }
    }

    fn wrap(&self, session: Session) -> ScoringSession {
        ScoringSession {
            model: self.model.clone(),
            session,
            impressions: Impressions::new(self.impressions, self.model.hidden_dim()),
            out: ModelOutput::default(),
            predictions: Vec::new(),
        }
    }
}

/// One user's loop: the shared model plus this session's memory, estimator
/// and recent impressions.
#[derive(Debug)]
pub struct ScoringSession {
    model: Model,
    session: Session,
    impressions: Impressions,
    out: ModelOutput,
    predictions: Vec<Prediction>,
}

impl ScoringSession {
    /// Scores `items` (with `context`, e.g. the user's features, filling
    /// what they lack): one prediction per item, in order.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] from the encoder (naming item and field)
    /// or [`ErrorKind::Model`] from the model; nothing is remembered then.
    pub fn score(&mut self, items: &[Item], context: &Item) -> Result<&[Prediction]> {
        self.predictions.clear();
        self.model.run(items, context, &mut self.out)?;
        self.session.score(self.out.y_base(), self.out.hidden(), &mut self.predictions)?;
        Ok(&self.predictions)
    }

    /// As [`ScoringSession::score`], and remembers each item's
    /// `(y_base, h)` under `ids[i]` so an outcome can later be recorded by
    /// id alone. An id scored again replaces its older impression; beyond
    /// the capacity the oldest impressions are forgotten.
    ///
    /// # Errors
    /// As [`ScoringSession::score`]; also [`ErrorKind::InvalidInput`] if
    /// `ids` is not as long as `items`, an id is empty, or the impression
    /// cache is turned off.
    pub fn score_impressions<S: AsRef<str>>(
        &mut self,
        items: &[Item],
        context: &Item,
        ids: &[S],
    ) -> Result<&[Prediction]> {
        if ids.len() != items.len() {
            return Err(Error::input(format!("{} impression ids for {} items", ids.len(), items.len())));
        }
        if self.impressions.capacity == 0 && !ids.is_empty() {
            return Err(Error::input("the impression cache is turned off (capacity 0)"));
        }
        if let Some(i) = ids.iter().position(|id| id.as_ref().is_empty()) {
            return Err(Error::input(format!("impression id {i} is empty")));
        }
        self.score(items, context)?;
        for (row, id) in ids.iter().enumerate() {
            if let (Some(&y), Some(h)) = (self.out.y_base().get(row), self.out.hidden_row(row)) {
                self.impressions.insert(id.as_ref(), y, h);
            }
        }
        Ok(&self.predictions)
    }

    /// Records whether the user clicked `item` (scored with `context`): the
    /// model is run on it again to get its `(y_base, h)`. Returns whether
    /// the memory stored it (the error filter may skip small errors).
    ///
    /// # Errors
    /// As [`ScoringSession::score`]; the memory is unchanged on error.
    pub fn record(&mut self, item: &Item, context: &Item, clicked: bool) -> Result<bool> {
        self.model.run(std::slice::from_ref(item), context, &mut self.out)?;
        let (Some(&y), Some(h)) = (self.out.y_base().first(), self.out.hidden_row(0)) else {
            return Err(Error::new(ErrorKind::Model, "the model returned no row for the item"));
        };
        self.session.record(y, h, clicked)
    }

    /// Records the outcome of an impression scored by
    /// [`ScoringSession::score_impressions`]. Each impression records at
    /// most one outcome: it is forgotten once recorded.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] if `id` is not among the recent
    /// impressions (never scored, already recorded, or evicted).
    pub fn record_impression(&mut self, id: &str, clicked: bool) -> Result<bool> {
        let Some(slot) = self.impressions.find(id) else {
            return Err(Error::input(format!(
                "impression `{id}` is not among the last {} scored (never scored, already recorded or expired)",
                self.impressions.capacity
            )));
        };
        let (y, h) = self.impressions.get(slot);
        let stored = self.session.record(y, h, clicked)?;
        self.impressions.remove(slot);
        Ok(stored)
    }

    /// Forgets the memory and the recent impressions.
    pub fn reset(&mut self) {
        self.session.reset();
        self.impressions.clear();
    }

    /// The saved-memory bytes of this session ([`codec::encode`]).
    pub fn save(&self) -> Vec<u8> {
        codec::encode(&self.session)
    }

    /// The engine session (memory and estimator).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Mutable engine session, e.g. to switch estimator.
    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    /// The model's raw output for the last scored batch or recorded item.
    pub fn last_output(&self) -> &ModelOutput {
        &self.out
    }

    /// Impressions currently remembered.
    pub fn impressions(&self) -> usize {
        self.impressions.live
    }
}

/// A bounded FIFO of recent impressions: id → (y_base, h), stored flat.
#[derive(Clone, Debug)]
struct Impressions {
    capacity: usize,
    dim: usize,
    ids: Vec<String>,
    alive: Vec<bool>,
    y_base: Vec<f32>,
    hidden: Vec<f32>,
    /// Next slot to overwrite once full.
    next: usize,
    live: usize,
}

impl Impressions {
    fn new(capacity: usize, dim: usize) -> Impressions {
        Impressions {
            capacity,
            dim,
            ids: Vec::new(),
            alive: Vec::new(),
            y_base: Vec::new(),
            hidden: Vec::new(),
            next: 0,
            live: 0,
        }
    }

    fn find(&self, id: &str) -> Option<usize> {
        self.ids.iter().zip(&self.alive).position(|(s, &alive)| alive && s == id)
    }

    fn insert(&mut self, id: &str, y: f32, h: &[f32]) {
        if self.capacity == 0 || h.len() != self.dim {
            return;
        }
        let slot = match self.find(id) {
            Some(slot) => slot,
            None if self.ids.len() < self.capacity => {
                self.ids.push(String::new());
                self.alive.push(false);
                self.y_base.push(0.0);
                self.hidden.resize(self.hidden.len() + self.dim, 0.0);
                self.ids.len() - 1
            }
            None => {
                let slot = self.next;
                self.next = (self.next + 1) % self.capacity;
                slot
            }
        };
        let (Some(s), Some(alive), Some(yb), Some(hs)) = (
            self.ids.get_mut(slot),
            self.alive.get_mut(slot),
            self.y_base.get_mut(slot),
            self.hidden.get_mut(slot * self.dim..(slot + 1) * self.dim),
        ) else {
            return;
        };
        if !*alive {
            self.live += 1;
        }
        s.clear();
        s.push_str(id);
        *alive = true;
        *yb = y;
        hs.copy_from_slice(h);
    }

    fn get(&self, slot: usize) -> (f32, &[f32]) {
        let y = self.y_base.get(slot).copied().unwrap_or(0.0);
        let h = self.hidden.get(slot * self.dim..(slot + 1) * self.dim).unwrap_or(&[]);
        (y, h)
    }

    fn remove(&mut self, slot: usize) {
        if let Some(alive) = self.alive.get_mut(slot) {
            if *alive {
                *alive = false;
                self.live -= 1;
            }
        }
    }

    fn clear(&mut self) {
        self.alive.iter_mut().for_each(|a| *a = false);
        self.live = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impressions_are_bounded_fifo_and_replace_by_id() {
        let mut imp = Impressions::new(3, 2);
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            imp.insert(id, i as f32 / 10.0, &[i as f32, 1.0]);
        }
        assert_eq!(imp.live, 3);
        imp.insert("b", 0.9, &[9.0, 9.0]); // replaces b in place
        assert_eq!(imp.live, 3);
        assert_eq!(imp.get(imp.find("b").unwrap()), (0.9, &[9.0, 9.0][..]));
        imp.insert("d", 0.5, &[5.0, 5.0]); // evicts the oldest slot, a
        assert!(imp.find("a").is_none());
        assert!(imp.find("d").is_some() && imp.find("c").is_some());
        let slot = imp.find("c").unwrap();
        imp.remove(slot);
        assert!(imp.find("c").is_none());
        assert_eq!(imp.live, 2);
        imp.insert("e", 0.1, &[0.0, 0.0]);
        imp.insert("f", 0.1, &[0.0, 0.0]);
        assert_eq!(imp.live, 3);
    }
}
