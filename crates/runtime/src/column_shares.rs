//! Column shares: the first-layer split ([`crate::split`]) for items scored
//! as they are ([`crate::Model::run`]), not from a catalog.
//!
//! With the split, a row's *share* (the first layer's pre-activation `z`
//! and the key outputs inside the head) is a sum of one term per input
//! column. Here the columns are taken in *units*: each column of an `i64`
//! input (an index into a table: a finite range of values, which the spec
//! gives), and each `f32` input as a whole (a multi-hot or mean block, or
//! numbers). A *unit share* is the head's share of the reference row
//! ([`Split::reference_row`]) with one unit set to one of its values. A
//! row's `z` is the reference row's plus each of its units' difference
//! from it; each key value is folded from the units' key values with
//! [`combine`] (`a + (b − r)`, taken exactly where one side equals the
//! reference), over the units that can change it (an index column whose
//! table changes that value, every float input). No plan runs on the
//! rows' first layer at all, only the tail does.
//!
//! # Why it is exact where it must be
//! A key value that depends on one unit only (the bundled model's genres
//! mean and year embedding) equals the reference's in every other unit's
//! share, bit for bit, so the fold takes it as that one unit's share has
//! it: the general path's value. `z` is a sum taken in another order,
//! equal within rounding (`tests/column_shares.rs`: 1e-5).
//!
//! # Cost
//! Every share is computed by the head's general plan, on batches of
//! [`UNIT_BATCH`] rows for float rows (the index tables: once, in batches
//! of 256), so it is the same bits whichever call computes it.
//! Every value of every index column is tabled when a model's items first
//! take this path (the bundled model: 2,162 rows through the head, about
//! 0.7 MB), unless that would exceed [`TABLE_BYTES`]; then items keep the
//! general path. An `f32` input's shares are kept per distinct row as calls
//! meet them (a catalogue's genre sets repeat), up to [`FLOAT_ROWS`] per
//! input, and a call computes the rows it meets for the first time through
//! the head. When the store is full and more than half of a call's rows are
//! new (numbers that never repeat), the call takes the general path.

use std::sync::Mutex;

use hashbrown::HashMap;
use reloop_core::{Error, Result};

use crate::model::{OwnedRows, RowData};
use crate::split::{Split, combine};
use crate::tensors::ColumnBound;

/// Most bytes of index-column shares one model tables.
pub const TABLE_BYTES: usize = 8 << 20;

/// Most distinct rows of one `f32` input whose shares are kept.
pub const FLOAT_ROWS: usize = 4096;

/// Rows of every head run here, padded with the reference row. One batch
/// size on one plan (the head's general plan) whatever the history of the
/// process: tract picks its matrix kernels by batch size, and a plan fixed
/// to a size fuses them, either of which can round the last bit of `z`
/// differently. So a value's share, and a row's score, never depends on
/// which call met the value first (a Worker and a replay of its requests
/// elsewhere agree bit for bit).
pub const UNIT_BATCH: usize = 16;

/// Rows of each head run that tables the index columns (once per model,
/// the same runs in every process).
const TABLE_BATCH: usize = 256;

/// One column of an `i64` input, tabled.
#[derive(Debug)]
struct IndexColumn {
    input: usize,
    column: usize,
    /// Its lowest value and how many values it has.
    lowest: i64,
    count: usize,
    /// Its first row in the table.
    start: usize,
    /// The key values some value of the column changes.
    key_cells: Vec<usize>,
}

/// An `f32` input, whose shares are kept per distinct row.
#[derive(Debug)]
struct FloatInput {
    input: usize,
    width: usize,
    store: Mutex<FloatStore>,
}

/// Shares of the rows of an `f32` input met so far (as unit rows, see
/// [`ColumnShares::table`]).
#[derive(Debug, Default)]
struct FloatStore {
    /// The row's values' bits → its place in `shares`.
    slot_of: HashMap<Box<[u32]>, usize>,
    shares: Vec<f32>,
}

/// The unit shares of a split model; see the module docs.
#[derive(Debug)]
pub(crate) struct ColumnShares {
    columns: Vec<IndexColumn>,
    /// The index columns' unit rows, `share_width` values per value: its
    /// share's `z` less the reference's, then its share's key values.
    table: Vec<f32>,
    floats: Vec<FloatInput>,
}

/// Runs the split's head (its general plan) on rows given as input data
/// (spec order) and returns their shares, row after row.
pub(crate) type Head<'a> = dyn Fn(&OwnedRows, usize) -> Result<Vec<f32>> + 'a;

impl ColumnShares {
    /// Tables every value of every index column through `head`. `None` if
    /// an index column's values are not bounded, the table would exceed
    /// [`TABLE_BYTES`], or the head fails on a row.
    pub(crate) fn new(split: &Split, bounds: &[Vec<ColumnBound>], head: &Head<'_>) -> Option<Self> {
        let sw = split.share_width();
        let mut columns = Vec::new();
        let mut floats = Vec::new();
        let mut rows = 0usize;
        for (input, (data, bounds)) in split.reference_row.0.iter().zip(bounds).enumerate() {
            match data {
                RowData::I64(_) => {
                    for (column, bound) in bounds.iter().enumerate() {
                        let (lowest, highest) = bound.range()?;
                        let count = usize::try_from(highest.checked_sub(lowest)?.checked_add(1)?).ok()?;
                        columns.push(IndexColumn { input, column, lowest, count, start: rows, key_cells: Vec::new() });
                        rows = rows.checked_add(count)?;
                        if rows.saturating_mul(sw).saturating_mul(size_of::<f32>()) > TABLE_BYTES {
                            return None;
                        }
                    }
                }
                RowData::F32(_) => {
                    floats.push(FloatInput { input, width: bounds.len(), store: Mutex::default() });
                }
            }
        }
        let mut table = Vec::with_capacity(rows * sw);
        let mut units = columns.iter().flat_map(|c| (0..c.count).map(move |v| (c, c.lowest + v as i64)));
        let mut done = 0;
        while done < rows {
            let n = TABLE_BATCH.min(rows - done);
            let mut data = split.reference_row.repeated(TABLE_BATCH);
            for row in 0..n {
                let (c, value) = units.next()?;
                if let Some(RowData::I64(v)) = data.0.get_mut(c.input) {
                    let width = v.len() / TABLE_BATCH;
                    *v.get_mut(row * width + c.column)? = value;
                }
            }
            table.extend_from_slice(head(&data, TABLE_BATCH).ok()?.get(..n * sw)?);
            done += n;
        }
        if table.len() != rows * sw {
            return None;
        }
        for row in table.chunks_exact_mut(sw) {
            unit_row(split, row);
        }
        let (_, reference_key) = split.parts(&split.reference);
        for c in &mut columns {
            let rows = table.get(c.start * sw..(c.start + c.count) * sw).unwrap_or_default();
            c.key_cells = (0..split.key_width)
                .filter(|&p| {
                    let r = reference_key.get(p).map(|v| v.to_bits());
                    rows.chunks_exact(sw).any(|row| row.get(split.width + p).map(|v| v.to_bits()) != r)
                })
                .collect();
        }
        Some(ColumnShares { columns, table, floats })
    }

    /// The shares of `n` encoded rows (`data`: each input's rows, spec
    /// order) into `z` (`n × width`) and `key` (`n × key_width`). Returns
    /// `false` when an `f32` input's store is full and more than half of
    /// the rows are new to it (the general path is cheaper then), or when a
    /// value lies outside its column's range (the general path then scores
    /// the page as it always did).
    ///
    /// # Errors
    /// [`reloop_core::ErrorKind::Model`] if the head fails on a new row.
    pub(crate) fn fill(
        &self,
        split: &Split,
        data: &[RowData],
        n: usize,
        z: &mut [f32],
        key: &mut [f32],
        head: &Head<'_>,
    ) -> Result<bool> {
        let (w, kw, sw) = (split.width, split.key_width, split.share_width());
        if z.len() != n * w || key.len() != n * kw {
            return Err(Error::model("column shares: buffers of another size"));
        }
        // Each f32 input's share per row: from its store, or computed now.
        let mut stores = Vec::with_capacity(self.floats.len());
        let mut fresh: Vec<Vec<f32>> = Vec::with_capacity(self.floats.len());
        let mut places: Vec<Vec<(bool, usize)>> = Vec::with_capacity(self.floats.len());
        for f in &self.floats {
            let Some(RowData::F32(values)) = data.get(f.input) else {
                return Err(Error::model("column shares: an f32 input is missing"));
            };
            let store = f.store.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let bits: Vec<u32> = values.iter().map(|v| v.to_bits()).collect();
            let row = |r: usize| bits.get(r * f.width..(r + 1) * f.width).unwrap_or_default();
            // (from the store, slot) or (new, index among `new`).
            let mut place = Vec::with_capacity(n);
            let mut new: Vec<usize> = Vec::new();
            let mut new_of: HashMap<&[u32], usize> = HashMap::new();
            for r in 0..n {
                let key = row(r);
                match store.slot_of.get(key) {
                    Some(&slot) => place.push((true, slot)),
                    None => {
                        let at = *new_of.entry(key).or_insert_with(|| {
                            new.push(r);
                            new.len() - 1
                        });
                        place.push((false, at));
                    }
                }
            }
            let room = FLOAT_ROWS.saturating_sub(store.slot_of.len());
            if new.len() > room && new.len() * 2 > n {
                return Ok(false);
            }
            // Unit rows of the new values.
            let mut shares = Vec::with_capacity(new.len() * sw);
            for chunk in new.chunks(UNIT_BATCH) {
                let mut rows = split.reference_row.repeated(UNIT_BATCH);
                if let Some(RowData::F32(to)) = rows.0.get_mut(f.input) {
                    for (i, &r) in chunk.iter().enumerate() {
                        let (to, from) = (to.get_mut(i * f.width..(i + 1) * f.width), values.get(r * f.width..));
                        if let (Some(to), Some(from)) = (to, from) {
                            to.copy_from_slice(from.get(..f.width).unwrap_or_default());
                        }
                    }
                }
                let got = head(&rows, UNIT_BATCH)?;
                let got = got
                    .get(..chunk.len() * sw)
                    .ok_or_else(|| Error::model("column shares: the head gave shares of another size"))?;
                shares.extend_from_slice(got);
            }
            for row in shares.chunks_exact_mut(sw) {
                unit_row(split, row);
            }
            // Keep what fits; the rest is this call's only.
            let mut store = store;
            let mut kept = vec![None; new.len()];
            for (i, &r) in new.iter().enumerate().take(room) {
                let slot = store.shares.len() / sw;
                store.shares.extend_from_slice(shares.get(i * sw..(i + 1) * sw).unwrap_or_default());
                store.slot_of.insert(row(r).into(), slot);
                kept[i] = Some(slot);
            }
            for p in &mut place {
                if let (false, at) = *p {
                    if let Some(slot) = kept.get(at).copied().flatten() {
                        *p = (true, slot);
                    }
                }
            }
            stores.push(store);
            fresh.push(shares);
            places.push(place);
        }
        let (reference_z, reference_key) = split.parts(&split.reference);
        // Each index column's unit row per row of the call.
        let mut units: Vec<Vec<usize>> = Vec::with_capacity(self.columns.len());
        for c in &self.columns {
            let Some(RowData::I64(values)) = data.get(c.input) else {
                return Err(Error::model("column shares: an i64 input is missing"));
            };
            let width = values.len() / n.max(1);
            let mut rows = Vec::with_capacity(n);
            for r in 0..n {
                let value = values.get(r * width + c.column).copied().unwrap_or(i64::MIN);
                let at = value.checked_sub(c.lowest).and_then(|v| usize::try_from(v).ok()).filter(|&v| v < c.count);
                // The encoder writes within the spec's ranges; should a value
                // not be, the whole model scores the page as it always did.
                let Some(at) = at else { return Ok(false) };
                rows.push(c.start + at);
            }
            units.push(rows);
        }
        // The columns with one value in every row (the context's, mostly)
        // are summed once for the call; each row adds the others.
        let (mut base_z, mut base_key) = (reference_z.to_vec(), reference_key.to_vec());
        let mut varying = Vec::with_capacity(self.columns.len());
        for (c, rows) in self.columns.iter().zip(&units) {
            match rows.split_first() {
                Some((first, rest)) if rest.iter().all(|at| at == first) => {
                    self.add_unit(split, &self.table, *first, Some(&c.key_cells), &mut base_z, &mut base_key);
                }
                _ => varying.push((c, rows)),
            }
        }
        for r in 0..n {
            let (Some(zr), Some(kr)) = (z.get_mut(r * w..(r + 1) * w), key.get_mut(r * kw..(r + 1) * kw)) else {
                return Err(Error::model("column shares: buffers of another size"));
            };
            zr.copy_from_slice(&base_z);
            kr.copy_from_slice(&base_key);
            for (c, rows) in &varying {
                let at = rows.get(r).copied().unwrap_or(usize::MAX);
                self.add_unit(split, &self.table, at, Some(&c.key_cells), zr, kr);
            }
            for ((store, shares), place) in stores.iter().zip(&fresh).zip(&places) {
                let (from, at) = place.get(r).copied().unwrap_or_default();
                self.add_unit(split, if from { &store.shares } else { shares }, at, None, zr, kr);
            }
        }
        Ok(true)
    }
}

impl ColumnShares {
    /// Adds unit row `at` of `rows` to a row's `z` and folds its key values
    /// in: those of `key_cells`, or all of them.
    fn add_unit(
        &self,
        split: &Split,
        rows: &[f32],
        at: usize,
        key_cells: Option<&[usize]>,
        z: &mut [f32],
        key: &mut [f32],
    ) {
        let sw = split.share_width();
        let unit = rows.get(at.saturating_mul(sw)..at.saturating_mul(sw).saturating_add(sw)).unwrap_or_default();
        let (dz, uk) = split.parts(unit);
        add_into(z, dz);
        let (_, reference_key) = split.parts(&split.reference);
        match key_cells {
            Some(cells) => {
                for &p in cells {
                    if let (Some(k), Some(&a), Some(&r)) = (key.get_mut(p), uk.get(p), reference_key.get(p)) {
                        *k = combine(a, *k, r);
                    }
                }
            }
            None => {
                for ((k, &a), &r) in key.iter_mut().zip(uk).zip(reference_key) {
                    *k = combine(a, *k, r);
                }
            }
        }
    }
}

/// A share as a unit row, in place: its `z` less the reference's (its key
/// values as they are).
fn unit_row(split: &Split, share: &mut [f32]) {
    let (reference_z, _) = split.parts(&split.reference);
    for (v, &r) in share.iter_mut().zip(reference_z) {
        *v -= r;
    }
}

/// `to += from`, value by value.
fn add_into(to: &mut [f32], from: &[f32]) {
    for (t, &f) in to.iter_mut().zip(from) {
        *t += f;
    }
}
