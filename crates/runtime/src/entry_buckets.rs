//! Each catalog entry's buckets in the error memory, kept by the catalog.
//!
//! Scoring hashes every row's key into one bucket per array (`K·L` signed
//! projections of a `d`-value key: 640 multiply-adds per row with the
//! defaults). Where a catalog call's key row is the entry's own — computed
//! from the entry's kept share alone, the same whatever the context
//! ([`ModelOutput`]'s entry keys: a call through the split whose key
//! outputs are all inside the first layer and carried by the entry, as the
//! bundled model's genres and year are) — its buckets are too, for every
//! memory hashing with the same planes. The catalog keeps them per entry,
//! computed the first time a call needs them, for the first
//! [`MAX_PLANE_SETS`] plane sets that score it (sessions of another seed,
//! `L`, `K` or centre; calls of further sets hash their rows, so sessions of
//! many seeds cannot make every call allocate a new set); a call reads them
//! instead of hashing. They are the hash of the same key, so scores are
//! the same bit for bit.
//!
//! The catalog is shared and scored through `&Catalog`, so the buckets sit
//! behind a mutex, taken only while a call reads or fills them (never
//! across a call into JavaScript); a call that finds it taken hashes as if
//! nothing were kept. Inserting or clearing entries forgets everything.

use std::sync::Mutex;

use reloop_core::{Memory, Result, SketchConfig};

use crate::model::ModelOutput;

/// Plane sets kept per catalog (the first that score it, until its entries change).
pub const MAX_PLANE_SETS: usize = 4;
/// Most bytes kept for one plane set (`K` buckets of 2 bytes and a flag per
/// entry); a larger catalog is hashed on every call.
pub const MAX_BYTES_PER_PLANE_SET: usize = 4 << 20;

/// The entries' buckets under one set of planes.
#[derive(Debug)]
struct PlaneSet {
    config: SketchConfig,
    centre: Option<Vec<f32>>,
    /// `K` per entry, valid where `known`.
    buckets: Vec<u16>,
    known: Vec<bool>,
}

/// Each entry's buckets, per plane set; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct EntryBuckets {
    sets: Mutex<Vec<PlaneSet>>,
}

impl Clone for EntryBuckets {
    /// An empty copy: what is kept is recomputed on use.
    fn clone(&self) -> Self {
        EntryBuckets::default()
    }
}

impl EntryBuckets {
    /// Forgets every entry's buckets (the entries changed).
    pub(crate) fn clear(&mut self) {
        match self.sets.get_mut() {
            Ok(sets) => sets.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }

    /// Entries whose buckets are kept, summed over the plane sets.
    pub(crate) fn kept(&self) -> usize {
        self.sets.try_lock().map_or(0, |sets| sets.iter().map(|s| s.known.iter().filter(|k| **k).count()).sum())
    }

    /// Writes the buckets of every row of `out` (`K` per row, row after
    /// row) into `to`: a row whose key is its entry's own (`entries[row]`
    /// of a catalog of `len` entries) from what is kept, hashing and
    /// keeping it the first time; any other row hashed.
    ///
    /// # Errors
    /// [`reloop_core::ErrorKind::InvalidInput`] naming the row for a key
    /// the memory cannot hash (as [`Memory::buckets_of_rows`]); `to` is left
    /// empty then.
    pub(crate) fn fill(
        &self,
        memory: &Memory,
        len: usize,
        entries: &[u32],
        out: &ModelOutput,
        to: &mut Vec<u16>,
    ) -> Result<()> {
        if !(0..entries.len()).any(|row| out.entry_key(row)) {
            return memory.buckets_of_rows(out.hidden(), to);
        }
        let sketch = memory.sketch();
        let arrays = usize::from(sketch.config().arrays);
        to.clear();
        to.resize(entries.len() * arrays, 0);
        // A taken or poisoned lock: hash every row, keep nothing.
        let mut sets = self.sets.try_lock().ok();
        let mut set = sets.as_mut().and_then(|sets| plane_set(sets, memory, len));
        for (row, (&entry, row_to)) in entries.iter().zip(to.chunks_exact_mut(arrays)).enumerate() {
            let e = entry as usize;
            let own = out.entry_key(row);
            if let Some(set) = set.as_deref_mut().filter(|_| own) {
                if set.known.get(e) == Some(&true) {
                    if let Some(kept) = set.buckets.get(e * arrays..(e + 1) * arrays) {
                        row_to.copy_from_slice(kept);
                        continue;
                    }
                }
            }
            let hashed = out.hidden_row(row).map_or_else(
                || Err(reloop_core::Error::model("the model returned no key for a row")),
                |h| sketch.buckets_of(h, row_to),
            );
            if let Err(e) = hashed {
                to.clear();
                return Err(e.with_context(format_args!("row {row}")));
            }
            if let Some(set) = set.as_deref_mut().filter(|_| own) {
                if let (Some(kept), Some(known)) =
                    (set.buckets.get_mut(e * arrays..(e + 1) * arrays), set.known.get_mut(e))
                {
                    kept.copy_from_slice(row_to);
                    *known = true;
                }
            }
        }
        Ok(())
    }
}

/// The plane set of `memory`'s sketch among `sets`, made (empty, for `len`
/// entries) if missing, within [`MAX_BYTES_PER_PLANE_SET`] and while fewer
/// than [`MAX_PLANE_SETS`] are kept.
fn plane_set<'a>(sets: &'a mut Vec<PlaneSet>, memory: &Memory, len: usize) -> Option<&'a mut PlaneSet> {
    let sketch = memory.sketch();
    let position = sets.iter().position(|s| s.known.len() == len && sketch.hashes_like(&s.config, s.centre.as_deref()));
    let at = match position {
        Some(at) => at,
        None => {
            let arrays = usize::from(sketch.config().arrays);
            let too_big = len.checked_mul(arrays * 2 + 1).is_none_or(|bytes| bytes > MAX_BYTES_PER_PLANE_SET);
            if too_big || sets.len() >= MAX_PLANE_SETS {
                return None;
            }
            sets.push(PlaneSet {
                config: sketch.config().clone(),
                centre: sketch.centre().map(<[f32]>::to_vec),
                buckets: vec![0; len * arrays],
                known: vec![false; len],
            });
            sets.len() - 1
        }
    };
    sets.get_mut(at)
}
