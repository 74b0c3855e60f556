//! The scoring session: one user's loop over a shared [`Model`]. Items →
//! [encoder](crate::encoder) → model → `(y_base, h)` → [`Memory`] (sketch
//! read → estimator) → predictions; an outcome → [`Memory::record`].
//!
//! Load one [`Model`] per process or isolate and create a [`Session`] per
//! user or page with [`Session::new`] (fresh) or [`Session::restore`] (from
//! saved bytes), both configured by [`SessionOptions`]. Callers never handle
//! hidden vectors: an outcome is recorded either for an item (its
//! `(y_base, h)` is re-derived by running the model on it) or for an
//! impression id given when the item was scored, looked up among the
//! session's recent impressions.
//!
//! This is the type the JavaScript class `Session` wraps.
//!
//! # Examples
//! ```no_run
//! use reloop_runtime::{Item, Model, Session, SessionOptions};
//! # fn demo(onnx: &[u8], spec: &str, items: &[Item], saved: &[u8]) -> reloop_core::Result<()> {
//! let model = Model::from_json(onnx, spec)?;
//! let mut session = Session::restore(&model, &SessionOptions::default(), saved)?.session;
//! let scores: Vec<f32> = session.score_impressions(items, &Item::new(), &["a", "b"])?.iter().map(|p| p.score).collect();
//! session.record_impression("b", true)?; // the user clicked item "b"
//! let token = session.save();
//! # let _ = (scores, token); Ok(()) }
//! ```

use reloop_core::{Error, ErrorKind, Impressions, Memory, Prediction, Result, codec};

use crate::catalog::Catalog;
use crate::item::Fields;
use crate::model::{Model, ModelOutput};
use crate::options::{OnModelMismatch, Resolved, SessionOptions};
use crate::tensors::InputTensor;

/// The outcome of [`Session::restore`].
#[derive(Debug)]
pub struct Restored {
    /// The restored session, or a fresh one when the saved memory did not
    /// fit (`onModelMismatch: "reset"`).
    pub session: Session,
    /// Why the saved memory was discarded, if it was.
    pub discarded: Option<Error>,
}

/// One user's loop: the shared model plus this session's memory and recent
/// impressions.
#[derive(Debug)]
pub struct Session {
    model: Model,
    memory: Memory,
    impressions: Impressions,
    saved_impressions: usize,
    on_model_mismatch: OnModelMismatch,
    /// Reused per call.
    out: ModelOutput,
    /// The buckets of the last output's rows, `K` per row.
    buckets: Vec<u16>,
    predictions: Vec<Prediction>,
}

impl Session {
    /// A fresh session over `model` (cloning a [`Model`] is free).
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] for options out of range (see
    /// [`SessionOptions::resolve`]).
    pub fn new(model: &Model, options: &SessionOptions) -> Result<Session> {
        options.resolve(model, None).map(|resolved| Session::from_resolved(model, resolved).session)
    }

    /// A session over `model` restored from saved bytes ([`Session::save`]),
    /// or a fresh one if they belong to another model or layout and the
    /// options say `onModelMismatch: "reset"`.
    ///
    /// # Errors
    /// As [`SessionOptions::resolve`]: bad options, unreadable bytes, or a
    /// mismatch under `onModelMismatch: "error"`.
    pub fn restore(model: &Model, options: &SessionOptions, saved: &[u8]) -> Result<Restored> {
        options.resolve(model, Some(saved)).map(|resolved| Session::from_resolved(model, resolved))
    }

    fn from_resolved(model: &Model, resolved: Resolved) -> Restored {
        let Resolved { memory, impressions, saved_impressions, restored_impressions, on_model_mismatch, discarded } =
            resolved;
        let mut store = Impressions::new(impressions, usize::from(memory.sketch().config().arrays));
        for saved in &restored_impressions {
            store.insert(&saved.id, saved.y_base, &saved.buckets);
        }
        let session = Session {
            model: model.clone(),
            memory,
            impressions: store,
            saved_impressions,
            on_model_mismatch,
            out: ModelOutput::default(),
            buckets: Vec::new(),
            predictions: Vec::new(),
        };
        Restored { session, discarded }
    }

    /// Scores `items` (with `context`, e.g. the user's features, filling
    /// what they lack): one prediction per item, in order.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] from the encoder (naming item and field)
    /// or [`ErrorKind::Model`] from the model; nothing is remembered then.
    pub fn score<I: Fields, C: Fields + ?Sized>(&mut self, items: &[I], context: &C) -> Result<&[Prediction]> {
        self.predictions.clear();
        self.model.run(items, context, &mut self.out)?;
        self.correct(None)
    }

    /// As [`Session::score`], and remembers each item's `(y_base, h)` under
    /// `ids[i]` so an outcome can later be recorded by id alone. An id
    /// scored again replaces its older impression; beyond the capacity the
    /// oldest impressions are forgotten.
    ///
    /// # Errors
    /// As [`Session::score`]; also [`ErrorKind::InvalidInput`] if `ids` is
    /// not as long as `items`, an id is empty, or impressions are turned
    /// off (`impressions: 0`).
    pub fn score_impressions<I: Fields, C: Fields + ?Sized, S: AsRef<str>>(
        &mut self,
        items: &[I],
        context: &C,
        ids: &[S],
    ) -> Result<&[Prediction]> {
        self.check_impression_ids(ids, items.len())?;
        self.score(items, context)?;
        self.remember(ids);
        Ok(&self.predictions)
    }

    /// Scores catalog entries (`entries`: indices into `catalog`, e.g. from
    /// [`Catalog::index_of`]) with `context` encoded once: the same
    /// predictions as [`Session::score`] on the items themselves.
    ///
    /// # Errors
    /// As [`Model::run_catalog`] and [`Session::score`].
    pub fn score_catalog<C: Fields + ?Sized>(
        &mut self,
        catalog: &Catalog,
        entries: &[u32],
        context: &C,
    ) -> Result<&[Prediction]> {
        self.predictions.clear();
        self.model.run_catalog(catalog, entries, context, &mut self.out)?;
        self.correct(Some((catalog, entries)))
    }

    /// As [`Session::score_catalog`], remembering each entry's impression
    /// under `ids[i]` (as [`Session::score_impressions`] does).
    ///
    /// # Errors
    /// As [`Session::score_catalog`] and [`Session::score_impressions`].
    pub fn score_catalog_impressions<C: Fields + ?Sized, S: AsRef<str>>(
        &mut self,
        catalog: &Catalog,
        entries: &[u32],
        context: &C,
        ids: &[S],
    ) -> Result<&[Prediction]> {
        self.check_impression_ids(ids, entries.len())?;
        self.score_catalog(catalog, entries, context)?;
        self.remember(ids);
        Ok(&self.predictions)
    }

    /// Scores input tensors the caller encoded ([`Model::run_tensors`]):
    /// one per spec input, `rows × width` values each, checked before use.
    ///
    /// # Errors
    /// As [`Model::run_tensors`].
    pub fn score_tensors(&mut self, inputs: &[InputTensor<'_>], rows: usize) -> Result<&[Prediction]> {
        self.predictions.clear();
        self.model.run_tensors(inputs, rows, &mut self.out)?;
        self.correct(None)
    }

    /// As [`Session::score_tensors`], remembering each row's impression
    /// under `ids[i]`.
    ///
    /// # Errors
    /// As [`Session::score_tensors`] and [`Session::score_impressions`].
    pub fn score_tensors_impressions<S: AsRef<str>>(
        &mut self,
        inputs: &[InputTensor<'_>],
        rows: usize,
        ids: &[S],
    ) -> Result<&[Prediction]> {
        self.check_impression_ids(ids, rows)?;
        self.score_tensors(inputs, rows)?;
        self.remember(ids);
        Ok(&self.predictions)
    }

    fn check_impression_ids<S: AsRef<str>>(&self, ids: &[S], rows: usize) -> Result<()> {
        if ids.len() != rows {
            return Err(Error::input(format!("{} impression ids for {rows} items", ids.len())));
        }
        if self.impressions.capacity() == 0 && !ids.is_empty() {
            return Err(Error::input("impressions are turned off (options.impressions is 0)"));
        }
        if let Some(i) = ids.iter().position(|id| id.as_ref().is_empty()) {
            return Err(Error::input(format!("impression id {i} is empty")));
        }
        Ok(())
    }

    /// Remembers the last scored batch's rows under `ids` (checked): each
    /// row's `y_base` and the bucket its key falls into in each array.
    fn remember<S: AsRef<str>>(&mut self, ids: &[S]) {
        let arrays = usize::from(self.memory.sketch().config().arrays);
        for ((id, &y), buckets) in ids.iter().zip(self.out.y_base()).zip(self.buckets.chunks_exact(arrays)) {
            self.impressions.insert(id.as_ref(), y, buckets);
        }
    }

    /// Corrects the last output's rows with the memory: each row's buckets
    /// (for a catalog call on `entries`, kept by the catalog where the key
    /// is the entry's own), then their readouts.
    fn correct(&mut self, catalog: Option<(&Catalog, &[u32])>) -> Result<&[Prediction]> {
        let hashed = match catalog {
            Some((catalog, entries)) => catalog.buckets_of(&self.memory, entries, &self.out, &mut self.buckets),
            None => self.memory.buckets_of_rows(self.out.hidden(), &mut self.buckets),
        };
        hashed.and_then(|()| self.memory.score_buckets(self.out.y_base(), &self.buckets, &mut self.predictions))?;
        Ok(&self.predictions)
    }

    /// Records whether the user clicked catalog entry `entry` (scored with
    /// `context`), as [`Session::record`] does for the item itself.
    ///
    /// # Errors
    /// As [`Session::score_catalog`]; the memory is unchanged on error.
    pub fn record_catalog<C: Fields + ?Sized>(
        &mut self,
        catalog: &Catalog,
        entry: u32,
        context: &C,
        clicked: bool,
    ) -> Result<bool> {
        self.model.run_catalog(catalog, std::slice::from_ref(&entry), context, &mut self.out)?;
        let (Some(&y), Some(h)) = (self.out.y_base().first(), self.out.hidden_row(0)) else {
            return Err(Error::model("the model returned no row for the entry"));
        };
        self.memory.record(y, h, clicked)
    }

    /// Records whether the user clicked `item` (scored with `context`): the
    /// model is run on it again to get its `(y_base, h)`. Returns whether
    /// the memory stored it (the error filter may skip small errors).
    ///
    /// # Errors
    /// As [`Session::score`]; the memory is unchanged on error.
    pub fn record<I: Fields, C: Fields + ?Sized>(&mut self, item: &I, context: &C, clicked: bool) -> Result<bool> {
        self.model.run(std::slice::from_ref(item), context, &mut self.out)?;
        let (Some(&y), Some(h)) = (self.out.y_base().first(), self.out.hidden_row(0)) else {
            return Err(Error::model("the model returned no row for the item"));
        };
        self.memory.record(y, h, clicked)
    }

    /// Records the outcome of an impression scored by
    /// [`Session::score_impressions`]. Each impression records at most one
    /// outcome: it is forgotten once recorded.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] if `id` is not among the recent
    /// impressions (never scored, already recorded, or evicted).
    pub fn record_impression(&mut self, id: &str, clicked: bool) -> Result<bool> {
        let Some(slot) = self.impressions.find(id) else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "impression `{id}` is not among the last {} scored (never scored, already recorded or expired)",
                    self.impressions.capacity()
                ),
            ));
        };
        let (y, buckets) = self.impressions.get(slot);
        let stored = self.memory.record_buckets(y, buckets, clicked)?;
        self.impressions.remove(slot);
        Ok(stored)
    }

    /// Forgets the memory and the recent impressions.
    pub fn reset(&mut self) {
        self.memory.reset();
        self.impressions.clear();
    }

    /// The saved-memory bytes of this session ([`codec::encode_with`]):
    /// the memory and the most recent `savedImpressions` impressions, so
    /// [`Session::record_impression`] works on a restored session with no
    /// model run.
    pub fn save(&self) -> Vec<u8> {
        codec::encode_with(&self.memory, Some(&self.impressions), self.saved_impressions)
    }

    /// The options this session runs with, every key that applies set.
    pub fn options(&self) -> SessionOptions {
        SessionOptions {
            impressions: Some(u32::try_from(self.impressions.capacity()).unwrap_or(u32::MAX)),
            saved_impressions: Some(u32::try_from(self.saved_impressions).unwrap_or(u32::MAX)),
            on_model_mismatch: Some(self.on_model_mismatch),
            ..SessionOptions::of(&self.memory.config())
        }
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The error memory (sketch and estimator).
    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// Mutable memory, e.g. to merge another session's memory in.
    pub fn memory_mut(&mut self) -> &mut Memory {
        &mut self.memory
    }

    /// The model's raw output for the last scored batch or recorded item.
    pub fn last_output(&self) -> &ModelOutput {
        &self.out
    }

    /// Impressions currently remembered.
    pub fn impressions(&self) -> usize {
        self.impressions.live()
    }
}
