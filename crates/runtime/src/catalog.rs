//! The catalog: items registered once per model, their own fields encoded
//! once, so that a session scores them by entry (index or id) with only the
//! context encoded per call and the items' rows copied.
//!
//! A catalog belongs to one [`Model`] and is shared by every session of a
//! process or isolate (its entries read-only while scoring; it keeps each
//! entry's memory buckets once a call has computed them,
//! [`crate::entry_buckets`]). Each entry has an id (a
//! non-empty string, unique in the catalog) and the item's encoded row:
//! the columns of the fields the item carries. Fields it does not carry
//! come from the call's context, then the spec's default, exactly as for
//! [`Session::score`](crate::Session::score) with the item itself.
//!
//! Where the model's first layer is affine over per-column features
//! ([`crate::split`], [`Model::has_split`]), an entry also keeps its share
//! of that layer (and of key outputs computed inside it), computed once at
//! insert; a call of at least
//! [`SPLIT_MIN_ROWS`](crate::model::SPLIT_MIN_ROWS) entries then runs the
//! layer once for the context and only the rest of the model per entry,
//! scoring within 1e-5 of the item itself (the sums are taken in another
//! order). Shorter calls, and every call on a catalog made with
//! [`Catalog::with_split`]`(model, false)`, run the whole model and score
//! bit for bit like the items themselves.
//!
//! [`Catalog::insert`] adds entries or replaces those whose id is already
//! there (in place: their index stays), all or nothing; [`Catalog::clear`]
//! empties it. The model is never reloaded. A catalog holds at most
//! [`MAX_CATALOG_BYTES`] of encoded rows.
//!
//! # Examples
//! ```
//! use reloop_runtime::{Catalog, Item, Session, SessionOptions};
//! use serde_json::json;
//!
//! let model = reloop_runtime::bundled::model()?;
//! let object = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
//! let mut catalog = Catalog::new(&model);
//! catalog.insert(&["m50", "m181"], &[
//!     object(json!({ "itemId": 50, "genres": ["Sci-Fi"], "year": 1977 })),
//!     object(json!({ "itemId": 181, "genres": ["Action"], "year": 1983 })),
//! ])?;
//! let context = object(json!({ "userId": 42, "age": 31, "gender": "F", "occupation": "writer",
//!                              "zip": "9", "hour": 20, "weekday": 4 }));
//! let mut session = Session::new(&model, &SessionOptions::default())?;
//! let rows = [catalog.index_of("m181").unwrap_or(0), 0];
//! let scores = session.score_catalog(&catalog, &rows, &context)?;
//! assert_eq!(scores.len(), 2);
//! # Ok::<(), reloop_core::Error>(())
//! ```

use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::HashMap;
use reloop_core::{Error, Result};

use reloop_core::Memory;

use crate::encoder::{InputBuffer, Scratch};
use crate::entry_buckets::EntryBuckets;
use crate::item::Fields;
use crate::model::{Model, ModelOutput, OwnedRows, RowData};
use crate::spec::DType;
use crate::split::{Split, combine_into};

/// Most bytes of encoded rows one catalog may hold (a Worker isolate has
/// 128 MB in all).
pub const MAX_CATALOG_BYTES: usize = 64 << 20;
/// Longest entry id, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// One input's encoded rows, entry-major.
#[derive(Clone, Debug)]
enum Rows {
    I64(Vec<i64>),
    F32(Vec<f32>),
}

/// The fields a group of entries carries, and the columns they fill.
#[derive(Clone, Debug)]
struct Layout {
    carried: Vec<bool>,
    /// Per input: column ranges copied from the entry's row.
    segments: Vec<Vec<(usize, usize)>>,
}

/// Items registered once for a model; see the module docs.
#[derive(Clone, Debug)]
pub struct Catalog {
    model: Model,
    ids: Vec<String>,
    index_of: HashMap<String, u32>,
    /// Per input (spec order): `len × width` values.
    rows: Vec<Rows>,
    widths: Vec<usize>,
    /// Per entry: its layout.
    layout_of: Vec<u32>,
    layouts: Vec<Layout>,
    layout_index: HashMap<Vec<bool>, u32>,
    /// With the model's [split](crate::split): per entry, the share of its
    /// row with the reference row in the columns it does not carry
    /// (`len × split_width`, the split's share width).
    split: Vec<f32>,
    split_width: usize,
    /// Each entry's buckets in the memories scoring it, where its key is its own.
    buckets: EntryBuckets,
    /// See [`Catalog::revision`].
    revision: u64,
}

/// The last [`Catalog::revision`] handed out in this process.
static LAST_REVISION: AtomicU64 = AtomicU64::new(0);

fn next_revision() -> u64 {
    LAST_REVISION.fetch_add(1, Ordering::Relaxed) + 1
}

impl Catalog {
    /// An empty catalog for `model`, taking the model's first-layer split
    /// where it has one ([`Model::has_split`]).
    pub fn new(model: &Model) -> Catalog {
        Catalog::with_split(model, true)
    }

    /// An empty catalog for `model`; with `split` false, calls take the
    /// general path even where the model has the split: scores then equal
    /// [`Model::run`] on the items bit for bit at every page size rather
    /// than within 1e-5 from [`SPLIT_MIN_ROWS`](crate::model::SPLIT_MIN_ROWS)
    /// entries (and an entry costs no first-layer share).
    pub fn with_split(model: &Model, split: bool) -> Catalog {
        let encoder = model.encoder();
        let inputs: Vec<(DType, usize)> =
            (0..encoder.input_count()).filter_map(|k| encoder.input(k).map(|(_, t, w)| (t, w))).collect();
        Catalog {
            model: model.clone(),
            ids: Vec::new(),
            index_of: HashMap::new(),
            rows: inputs
                .iter()
                .map(|(dtype, _)| match dtype {
                    DType::I64 => Rows::I64(Vec::new()),
                    DType::F32 => Rows::F32(Vec::new()),
                })
                .collect(),
            widths: inputs.iter().map(|(_, w)| *w).collect(),
            layout_of: Vec::new(),
            layouts: Vec::new(),
            layout_index: HashMap::new(),
            split: Vec::new(),
            split_width: if split { model.split().map_or(0, Split::share_width) } else { 0 },
            buckets: EntryBuckets::default(),
            revision: next_revision(),
        }
    }

    /// A number that names the catalog's ids and their indices as they are
    /// now: taken afresh whenever entries are added or cleared, and never
    /// the same for two catalogs (a clone keeps it until either changes),
    /// so a lookup of ids cached under it stays right while it is current.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The model the catalog encodes for.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The index of the entry `id`.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.index_of.get(id).copied()
    }

    /// The id of entry `index`.
    pub fn id(&self, index: u32) -> Option<&str> {
        self.ids.get(index as usize).map(String::as_str)
    }

    /// Bytes of encoded rows held (with each entry's share of the first
    /// layer, for a model with the split).
    pub fn row_bytes(&self) -> usize {
        self.entry_bytes().saturating_mul(self.len())
    }

    fn entry_bytes(&self) -> usize {
        self.widths.iter().map(|w| w * 8).sum::<usize>() + self.split_width * 4
    }

    /// Whether calls take the model's first-layer split.
    pub(crate) fn has_split(&self) -> bool {
        self.split_width > 0
    }

    /// Entry indices of `ids`, into `out`.
    ///
    /// # Errors
    /// [`reloop_core::ErrorKind::InvalidInput`] naming the first id that is
    /// not in the catalog.
    pub fn indices_of<S: AsRef<str>>(&self, ids: &[S], out: &mut Vec<u32>) -> Result<()> {
        out.clear();
        out.reserve(ids.len());
        for (i, id) in ids.iter().enumerate() {
            let id = id.as_ref();
            let index = self.index_of(id).ok_or_else(|| self.not_found(i, id))?;
            out.push(index);
        }
        Ok(())
    }

    /// The error for the `i`-th id of a call, `id`, not being in the catalog.
    pub fn not_found(&self, i: usize, id: &str) -> Error {
        Error::input(format!("id {i}: `{}` is not in the catalog", truncate(id)))
    }

    /// Adds `items` under `ids` (one per item), replacing the entries whose
    /// id is already there in place. Fields an item does not carry come
    /// from the context when it is scored.
    ///
    /// # Errors
    /// [`reloop_core::ErrorKind::InvalidInput`] if `ids` and `items` differ in
    /// length, an id is empty, too long or repeated, an item has a field of
    /// the wrong type (naming the id and field), or the catalog would
    /// exceed [`MAX_CATALOG_BYTES`]. The catalog is unchanged then.
    pub fn insert<I: Fields, S: AsRef<str>>(&mut self, ids: &[S], items: &[I]) -> Result<()> {
        if ids.len() != items.len() {
            return Err(Error::input(format!("{} ids for {} items", ids.len(), items.len())));
        }
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(ids.len());
        let mut new = 0usize;
        for (i, id) in ids.iter().enumerate() {
            let id = id.as_ref();
            if id.is_empty() || id.len() > MAX_ID_BYTES {
                return Err(Error::input(format!("id {i} must be 1 to {MAX_ID_BYTES} bytes long")));
            }
            if let Some(first) = seen.insert(id, i) {
                return Err(Error::input(format!("ids {first} and {i} are both `{}`", truncate(id))));
            }
            if !self.index_of.contains_key(id) {
                new += 1;
            }
        }
        let row_bytes = self.entry_bytes();
        let after = self.len().saturating_add(new).saturating_mul(row_bytes);
        if after > MAX_CATALOG_BYTES || self.len().saturating_add(new) > u32::MAX as usize {
            return Err(Error::input(format!(
                "the catalog would hold {after} bytes of encoded items, above the limit of {MAX_CATALOG_BYTES}"
            )));
        }

        // Encode everything first: nothing changes unless all items are valid.
        let encoder = self.model.encoder();
        let mut scratch = Scratch::default();
        let mut fresh: Vec<Rows> = self
            .rows
            .iter()
            .zip(&self.widths)
            .map(|(r, w)| match r {
                Rows::I64(_) => Rows::I64(vec![0; w * items.len()]),
                Rows::F32(_) => Rows::F32(vec![0.0; w * items.len()]),
            })
            .collect();
        let mut carried = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let mut buffers: Vec<InputBuffer<'_>> = fresh
                .iter_mut()
                .zip(&self.widths)
                .map(|(r, &w)| match r {
                    Rows::I64(v) => InputBuffer::I64(v.get_mut(i * w..(i + 1) * w).unwrap_or_default()),
                    Rows::F32(v) => InputBuffer::F32(v.get_mut(i * w..(i + 1) * w).unwrap_or_default()),
                })
                .collect();
            let fields = encoder.encode_own(item, &mut buffers, &mut scratch).map_err(|e| {
                e.with_context(format_args!("item {i} (`{}`)", truncate(ids.get(i).map_or("", AsRef::as_ref))))
            })?;
            carried.push(fields);
        }
        let split = self.split_rows(&fresh, &carried)?;
        self.buckets.clear();
        self.revision = next_revision();

        for (i, (id, fields)) in ids.iter().zip(carried).enumerate() {
            let id = id.as_ref();
            let layout = match self.layout_index.get(&fields) {
                Some(&l) => l,
                None => {
                    let l = u32::try_from(self.layouts.len()).unwrap_or(u32::MAX);
                    let segments = encoder.segments(&fields);
                    self.layouts.push(Layout { carried: fields.clone(), segments });
                    self.layout_index.insert(fields, l);
                    l
                }
            };
            let at = match self.index_of.get(id) {
                Some(&at) => at as usize,
                None => {
                    let at = self.ids.len();
                    self.ids.push(id.to_string());
                    self.index_of.insert(id.to_string(), u32::try_from(at).unwrap_or(u32::MAX));
                    self.layout_of.push(layout);
                    for (rows, &w) in self.rows.iter_mut().zip(&self.widths) {
                        match rows {
                            Rows::I64(v) => v.resize(v.len() + w, 0),
                            Rows::F32(v) => v.resize(v.len() + w, 0.0),
                        }
                    }
                    at
                }
            };
            if let Some(l) = self.layout_of.get_mut(at) {
                *l = layout;
            }
            for ((rows, source), &w) in self.rows.iter_mut().zip(&fresh).zip(&self.widths) {
                match (rows, source) {
                    (Rows::I64(to), Rows::I64(from)) => copy(to, at * w, from, i * w, w),
                    (Rows::F32(to), Rows::F32(from)) => copy(to, at * w, from, i * w, w),
                    _ => {}
                }
            }
            let w = self.split_width;
            if w > 0 {
                if self.split.len() < (at + 1) * w {
                    self.split.resize((at + 1) * w, 0.0);
                }
                copy(&mut self.split, at * w, &split, i * w, w);
            }
        }
        Ok(())
    }

    /// The share of each fresh item's row (its carried fields, the reference
    /// row elsewhere) through the split's head, in batches of at most
    /// `maxBatch`; empty without a split.
    fn split_rows(&self, fresh: &[Rows], carried: &[Vec<bool>]) -> Result<Vec<f32>> {
        if !self.has_split() {
            return Ok(Vec::new());
        }
        let Some(split) = self.model.split() else { return Ok(Vec::new()) };
        let encoder = self.model.encoder();
        let reference = &split.reference_row;
        let chunk = encoder.max_batch().max(1);
        let mut z = Vec::with_capacity(carried.len() * self.split_width);
        let mut start = 0;
        while start < carried.len() {
            let end = (start + chunk).min(carried.len());
            let mut rows = Vec::with_capacity(fresh.len());
            for (k, (source, &w)) in fresh.iter().zip(&self.widths).enumerate() {
                let base = reference.0.get(k);
                let mut data = match (source, base) {
                    (Rows::I64(_), Some(RowData::I64(r))) => RowData::I64(r.repeat(end - start)),
                    (Rows::F32(_), Some(RowData::F32(r))) => RowData::F32(r.repeat(end - start)),
                    _ => return Err(Error::model("split: input types disagree with the catalog")),
                };
                for (j, fields) in carried.get(start..end).unwrap_or_default().iter().enumerate() {
                    let segments = encoder.segments(fields);
                    let segments = segments.get(k).map_or(&[][..], Vec::as_slice);
                    let (i, at) = (start + j, j * w);
                    match (&mut data, source) {
                        (RowData::I64(to), Rows::I64(from)) => fill_row(to, at, None, from, i * w, w, segments),
                        (RowData::F32(to), Rows::F32(from)) => fill_row(to, at, None, from, i * w, w, segments),
                        _ => {}
                    }
                }
                rows.push(data);
            }
            let rows = OwnedRows(rows);
            z.extend(self.model.head_shares(&rows.tensors(), end - start)?);
            start = end;
        }
        Ok(z)
    }

    /// Removes every entry (the model stays loaded).
    pub fn clear(&mut self) {
        self.revision = next_revision();
        self.buckets.clear();
        self.split.clear();
        self.ids.clear();
        self.index_of.clear();
        self.layout_of.clear();
        self.layouts.clear();
        self.layout_index.clear();
        for rows in &mut self.rows {
            match rows {
                Rows::I64(v) => v.clear(),
                Rows::F32(v) => v.clear(),
            }
        }
    }

    /// How many entries' buckets the catalog keeps, summed over the plane
    /// sets of the memories that scored it ([`crate::entry_buckets`]).
    pub fn kept_buckets(&self) -> usize {
        self.buckets.kept()
    }

    /// The buckets of every row of a call's output `out` on `entries`
    /// (`K` per row) into `to`, kept per entry where its key is its own
    /// ([`crate::entry_buckets`]).
    ///
    /// # Errors
    /// As [`Memory::buckets_of_rows`].
    pub(crate) fn buckets_of(
        &self,
        memory: &Memory,
        entries: &[u32],
        out: &ModelOutput,
        to: &mut Vec<u16>,
    ) -> Result<()> {
        self.buckets.fill(memory, self.len(), entries, out, to)
    }

    /// Checks that `model` is the catalog's.
    pub(crate) fn check_model(&self, model: &Model) -> Result<()> {
        if self.model.id() != model.id() {
            return Err(Error::input("the catalog was made for another model"));
        }
        Ok(())
    }

    /// The layout of `entry`, the `i`-th of a call.
    ///
    /// # Errors
    /// [`reloop_core::ErrorKind::InvalidInput`] for an index past the end.
    fn layout_at(&self, i: usize, entry: u32) -> Result<u32> {
        self.layout_of.get(entry as usize).copied().ok_or_else(|| {
            Error::input(format!("entry {i}: index {entry} is past the catalog's {} entries", self.len()))
        })
    }

    /// `err` about `entry`, the `i`-th of a call, naming it and its id.
    fn entry_error(&self, i: usize, entry: u32, err: Error) -> Error {
        let id = self.ids.get(entry as usize).map_or("", String::as_str);
        err.with_context(format_args!("entry {i} (`{}`)", truncate(id)))
    }

    /// Writes the rows of `entries` into `buffers` (one per input, `n × width`):
    /// the context row in `scratch` ([`crate::encoder::Encoder::encode_context`]),
    /// then each entry's own columns over it.
    ///
    /// # Errors
    /// [`reloop_core::ErrorKind::InvalidInput`] for an index past the end, or
    /// an entry lacking a field the context does not give either.
    pub(crate) fn fill(&self, entries: &[u32], buffers: &mut [InputBuffer<'_>], scratch: &Scratch) -> Result<()> {
        let encoder = self.model.encoder();
        let covered: Vec<Result<()>> =
            self.layouts.iter().map(|l| encoder.context_covers(&l.carried, scratch)).collect();
        let context = &scratch.context;
        for (i, &entry) in entries.iter().enumerate() {
            let e = entry as usize;
            let layout = self.layout_at(i, entry)?;
            if let Some(Err(err)) = covered.get(layout as usize) {
                return Err(self.entry_error(i, entry, err.clone()));
            }
            let Some(layout) = self.layouts.get(layout as usize) else { continue };
            for (k, (buffer, rows)) in buffers.iter_mut().zip(&self.rows).enumerate() {
                let w = self.widths.get(k).copied().unwrap_or(0);
                let segments = layout.segments.get(k).map_or(&[][..], Vec::as_slice);
                match (buffer, rows) {
                    (InputBuffer::I64(to), Rows::I64(from)) => {
                        fill_row(to, i * w, context.i64s.get(k), from, e * w, w, segments);
                    }
                    (InputBuffer::F32(to), Rows::F32(from)) => {
                        fill_row(to, i * w, context.f32s.get(k), from, e * w, w, segments);
                    }
                    _ => return Err(Error::input("input types disagree with the catalog")),
                }
            }
        }
        Ok(())
    }
}

impl Catalog {
    /// Writes the shares of `entries`: `z` into `z` (`n × width`, for the
    /// split's tail) and the key outputs' rows into `key` (`n × key_width`).
    /// Each is the entry's kept share combined ([`crate::split::combine_into`])
    /// with the context's share for the fields its group does not carry
    /// (one head run per group in the call). With `own_keys`, `(read,
    /// own)`: `own` gets, per entry, whether the key values in the ranges
    /// `read` (of a share's key part) are all its kept share's, because the
    /// context's share of them is the reference row's.
    ///
    /// # Errors
    /// As [`Catalog::fill`]; [`reloop_core::ErrorKind::Model`] if the head fails.
    pub(crate) fn fill_shares(
        &self,
        split: &Split,
        entries: &[u32],
        z: &mut [f32],
        key: &mut Vec<f32>,
        own_keys: &mut Option<(&[Range<usize>], Vec<bool>)>,
        scratch: &Scratch,
    ) -> Result<()> {
        let encoder = self.model.encoder();
        let (w, kw, sw) = (split.width, split.key_width, split.share_width());
        // The groups (layouts) of this call, in first-seen order, checked as `fill` does.
        let mut groups: Vec<u32> = Vec::new();
        let mut slot_of: Vec<u32> = Vec::with_capacity(entries.len());
        for (i, &entry) in entries.iter().enumerate() {
            let layout = self.layout_at(i, entry)?;
            let slot = match groups.iter().position(|&g| g == layout) {
                Some(slot) => slot,
                None => {
                    if let Some(l) = self.layouts.get(layout as usize) {
                        if let Err(err) = encoder.context_covers(&l.carried, scratch) {
                            return Err(self.entry_error(i, entry, err));
                        }
                    }
                    groups.push(layout);
                    groups.len() - 1
                }
            };
            slot_of.push(u32::try_from(slot).unwrap_or(u32::MAX));
        }
        // Per group: the context row with the reference row in the group's columns.
        let reference = &split.reference_row;
        let context = &scratch.context;
        let mut rows = Vec::with_capacity(self.widths.len());
        for (k, &w) in self.widths.iter().enumerate() {
            let mut data = match reference.0.get(k) {
                Some(RowData::I64(_)) => RowData::I64(Vec::with_capacity(w * groups.len())),
                Some(RowData::F32(_)) => RowData::F32(Vec::with_capacity(w * groups.len())),
                None => return Err(Error::model("split: no reference row")),
            };
            for &g in &groups {
                let segments =
                    self.layouts.get(g as usize).and_then(|l| l.segments.get(k)).map_or(&[][..], Vec::as_slice);
                match (&mut data, reference.0.get(k)) {
                    (RowData::I64(to), Some(RowData::I64(r))) => {
                        let at = to.len();
                        to.resize(at + w, 0);
                        fill_row(to, at, context.i64s.get(k), r, 0, w, segments);
                    }
                    (RowData::F32(to), Some(RowData::F32(r))) => {
                        let at = to.len();
                        to.resize(at + w, 0.0);
                        fill_row(to, at, context.f32s.get(k), r, 0, w, segments);
                    }
                    _ => {}
                }
            }
            rows.push(data);
        }
        let rows = OwnedRows(rows);
        let calls = self.model.head_shares(&rows.tensors(), groups.len())?;
        key.clear();
        key.resize(entries.len() * kw, 0.0);
        let (reference_z, reference_key) = split.parts(&split.reference);
        // A group whose call share of the key values read is the reference
        // row's takes each of them from the entry's kept share ([`combine_into`]).
        if let Some((read, own_keys)) = own_keys {
            let own: Vec<bool> = (0..groups.len())
                .map(|slot| {
                    let call_key = calls.get(slot * sw..(slot + 1) * sw).map_or(&[][..], |call| split.parts(call).1);
                    read.iter().all(|range| match (call_key.get(range.clone()), reference_key.get(range.clone())) {
                        (Some(b), Some(r)) => b.iter().zip(r).all(|(b, r)| b.to_bits() == r.to_bits()),
                        _ => false,
                    })
                })
                .collect();
            own_keys.clear();
            own_keys.extend(slot_of.iter().map(|&slot| own.get(slot as usize).copied().unwrap_or(false)));
        }
        for (i, (&entry, &slot)) in entries.iter().zip(&slot_of).enumerate() {
            let (e, slot) = (entry as usize, slot as usize);
            let (Some(to_z), Some(to_key), Some(kept), Some(call)) = (
                z.get_mut(i * w..(i + 1) * w),
                key.get_mut(i * kw..(i + 1) * kw),
                self.split.get(e * sw..(e + 1) * sw),
                calls.get(slot * sw..(slot + 1) * sw),
            ) else {
                return Err(Error::model("split: rows out of range"));
            };
            let ((kept_z, kept_key), (call_z, call_key)) = (split.parts(kept), split.parts(call));
            combine_into(to_z, kept_z, call_z, reference_z);
            combine_into(to_key, kept_key, call_key, reference_key);
        }
        Ok(())
    }
}

/// `to[at..at + w]` = the context row, then the entry's `segments` from `from[src..]`.
fn fill_row<T: Copy>(
    to: &mut [T],
    at: usize,
    context: Option<&Vec<T>>,
    from: &[T],
    src: usize,
    w: usize,
    segments: &[(usize, usize)],
) {
    let Some(row) = to.get_mut(at..at + w) else { return };
    if let Some(context) = context.filter(|c| c.len() == w) {
        row.copy_from_slice(context);
    }
    for &(a, b) in segments {
        if let (Some(dst), Some(s)) = (row.get_mut(a..b), from.get(src + a..src + b)) {
            dst.copy_from_slice(s);
        }
    }
}

fn copy<T: Copy>(to: &mut [T], at: usize, from: &[T], src: usize, w: usize) {
    if let (Some(dst), Some(s)) = (to.get_mut(at..at + w), from.get(src..src + w)) {
        dst.copy_from_slice(s);
    }
}

/// An id shortened for a message.
fn truncate(id: &str) -> &str {
    match id.char_indices().nth(64) {
        Some((at, _)) => id.get(..at).unwrap_or(id),
        None => id,
    }
}
