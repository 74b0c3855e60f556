//! The error memory: an LSH sketch of the model's recent mistakes
//! (ReLoop2 §3.2.2, DESIGN §1.1).
//!
//! `K` independent arrays of `2^L` buckets. Array `k` hashes a key vector
//! `h ∈ R^d` (optionally centred, `h − μ`) with its own `L` signed random
//! projections drawn from N(0,1) by a seeded ChaCha8 generator, so the same
//! seed gives the same planes on every target. Each bucket keeps
//! (`count`, `sum_y`, `sum_base`).
//!
//! Decay by half-life (counted in accepted writes) is O(1) per write: each
//! write is stored with a weight that grows by `2^(1/H)` per write, and reads
//! divide by the current weight. When the weight passes [`RENORM_AT`] every
//! bucket is rescaled once, which amortises to a small constant per write.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::error::{Error, ErrorKind, Result, check_finite};

/// Largest `L` (bits per array): `2^16` buckets per array.
pub const MAX_BITS: u8 = 16;
/// Largest `K` (number of arrays).
pub const MAX_ARRAYS: u8 = 64;
/// Largest key dimension `d` accepted.
pub const MAX_DIM: u32 = 4096;
/// Planes projected per pass of [`Sketch::hash`] (its accumulator size).
const PLANE_BLOCK: usize = 64;
/// The write weight at which all buckets are rescaled back to weight 1.
pub const RENORM_AT: f64 = 4_294_967_296.0; // 2^32

/// Shape and behaviour of an error memory.
///
/// Two memories can be merged, and a saved memory read, only when
/// `bits`, `arrays`, `dim` and `seed` agree (they fix the hash planes).
///
/// The `Default` is the recommended per-session setup, tuned on the first
/// 25% of the MovieLens-100K stream (`replay --tune-defaults`; `K` held at 4
/// so a saved memory stays under 2 KB); `dim` comes from the model.
#[derive(Clone, Debug, PartialEq)]
pub struct SketchConfig {
    /// `L`: sign bits per array; each array has `2^L` buckets. `0` gives a
    /// single bucket (a plain running average). Default 5.
    pub bits: u8,
    /// `K`: independent arrays (hash repetitions). Default 4.
    pub arrays: u8,
    /// `d`: dimension of the key vector `h` (the model's hidden layer).
    /// Default 32 (the bundled model's); set it from the model.
    pub dim: u32,
    /// Seed of the hash planes. Default `0x5EED`.
    pub seed: u64,
    /// `σ`: a sample is written only when `|y − y_base| ≥ σ`. `0` writes
    /// every sample. Default 0.1.
    pub error_filter: f32,
    /// Half-life of old evidence, in accepted writes; `None` never forgets.
    /// Default 15.
    pub half_life: Option<f32>,
}

/// The recommended seed of the hash planes.
pub const DEFAULT_SEED: u64 = 0x5EED;

impl Default for SketchConfig {
    fn default() -> Self {
        SketchConfig { bits: 5, arrays: 4, dim: 32, seed: DEFAULT_SEED, error_filter: 0.1, half_life: Some(15.0) }
    }
}

impl SketchConfig {
    /// Checks every field.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] naming the first field out of range.
    pub fn validate(&self) -> Result<()> {
        if self.bits > MAX_BITS {
            return Err(Error::config(format!("bits (L) must be in 0..={MAX_BITS}, got {}", self.bits)));
        }
        if self.arrays == 0 || self.arrays > MAX_ARRAYS {
            return Err(Error::config(format!("arrays (K) must be in 1..={MAX_ARRAYS}, got {}", self.arrays)));
        }
        if self.dim == 0 || self.dim > MAX_DIM {
            return Err(Error::config(format!("dim (d) must be in 1..={MAX_DIM}, got {}", self.dim)));
        }
        if !(0.0..=1.0).contains(&self.error_filter) {
            return Err(Error::config(format!("errorFilter (sigma) must be in [0, 1], got {}", self.error_filter)));
        }
        if let Some(h) = self.half_life {
            if !(h.is_finite() && h > 0.0) {
                return Err(Error::config(format!("halfLife must be a finite number > 0 or none, got {h}")));
            }
        }
        Ok(())
    }

    /// Buckets per array, `2^L`.
    pub fn buckets_per_array(&self) -> usize {
        1usize << self.bits
    }

    /// Buckets in all arrays, `K · 2^L`.
    pub fn bucket_count(&self) -> usize {
        usize::from(self.arrays) * self.buckets_per_array()
    }

    /// Hash planes in all arrays, `K · L`.
    fn plane_count(&self) -> usize {
        usize::from(self.arrays) * usize::from(self.bits)
    }

    fn same_layout(&self, other: &SketchConfig) -> bool {
        self.bits == other.bits && self.arrays == other.arrays && self.dim == other.dim && self.seed == other.seed
    }
}

/// One bucket's accumulators, in the memory's stored (scaled) units.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bucket {
    /// Number of samples (decayed, scaled).
    pub count: f32,
    /// Sum of labels `y`.
    pub sum_y: f32,
    /// Sum of base predictions `y_base`.
    pub sum_base: f32,
}

/// What one array says about a query: the query's bucket, in real
/// (decayed) units, and the array's total weight.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Readout {
    /// Samples in the query's bucket (`n_k`).
    pub count: f32,
    /// Sum of labels in the bucket.
    pub sum_y: f32,
    /// Sum of base predictions in the bucket.
    pub sum_base: f32,
    /// Samples in the whole array (`Σ_b count_k[b]`).
    pub total: f32,
}

impl Readout {
    /// The bucket's share of its array, `s_k`.
    pub fn share(&self) -> f32 {
        if self.total > 0.0 { self.count / self.total } else { 0.0 }
    }
    /// Mean label `ȳ_k`.
    pub fn mean_y(&self) -> f32 {
        self.sum_y / self.count
    }
    /// Mean base prediction `ȳbase_k`.
    pub fn mean_base(&self) -> f32 {
        self.sum_base / self.count
    }
}

/// The memory-wide counters, in stored units, as the codec saves them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct StoredState {
    pub writes: u64,
    pub scale: f64,
    pub total: f64,
    pub sum_y: f64,
    pub sum_base: f64,
}

/// The LSH error memory.
#[derive(Clone, Debug)]
pub struct Sketch {
    config: SketchConfig,
    /// `μ`, subtracted from `h` before hashing.
    centre: Option<Vec<f32>>,
    /// Planes transposed: row `j` holds component `j` of all `K·L` planes,
    /// plane `k·L + w` at column `k·L + w`, so projection is a run of
    /// independent multiply-adds the compiler can vectorise.
    planes: Vec<f32>,
    /// `K` arrays of `2^L` buckets, array-major.
    buckets: Vec<Bucket>,
    /// Stored weight of the latest write (1 without decay).
    scale: f64,
    /// Per-write growth of `scale`, `2^(1/H)` (1 without decay).
    growth: f64,
    /// Stored total weight of each array (all arrays receive every write).
    total: f64,
    /// Stored sums of labels and base predictions over the whole memory.
    sum_y: f64,
    sum_base: f64,
    /// Accepted writes since creation or reset.
    writes: u64,
}

impl Sketch {
    /// Creates an empty memory.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] if the config is out of range or the
    /// centring vector's length is not `dim` or holds NaN/Inf.
    pub fn new(config: SketchConfig, centre: Option<Vec<f32>>) -> Result<Self> {
        config.validate()?;
        if let Some(mu) = &centre {
            if mu.len() != config.dim as usize {
                return Err(Error::config(format!("centre (mu) has {} values but dim is {}", mu.len(), config.dim)));
            }
            if let Some(i) = mu.iter().position(|v| !v.is_finite()) {
                return Err(Error::config(format!("centre (mu)[{i}] is not finite")));
            }
        }
        let planes = draw_planes(&config);
        let growth = config.half_life.map_or(1.0, |h| 2f64.powf(1.0 / f64::from(h)));
        Ok(Sketch {
            buckets: vec![Bucket::default(); config.bucket_count()],
            planes,
            centre,
            config,
            scale: 1.0,
            growth,
            total: 0.0,
            sum_y: 0.0,
            sum_base: 0.0,
            writes: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SketchConfig {
        &self.config
    }

    /// The centring vector, if any.
    pub fn centre(&self) -> Option<&[f32]> {
        self.centre.as_deref()
    }

    /// Accepted writes since creation, reset or load (merges add theirs).
    pub fn len(&self) -> u64 {
        self.writes
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.writes == 0
    }

    /// Total (decayed) weight held by each array.
    pub fn total_weight(&self) -> f64 {
        self.total / self.scale
    }

    /// Exact heap bytes held: buckets, planes and centring vector.
    pub fn heap_bytes(&self) -> usize {
        Sketch::heap_bytes_for(&self.config, self.centre.is_some())
    }

    /// Heap bytes a memory of this config would hold, known before
    /// allocating it.
    pub fn heap_bytes_for(config: &SketchConfig, centred: bool) -> usize {
        let dim = config.dim as usize;
        config.bucket_count() * std::mem::size_of::<Bucket>()
            + config.plane_count() * dim * std::mem::size_of::<f32>()
            + if centred { dim * std::mem::size_of::<f32>() } else { 0 }
    }

    /// Empties every bucket; config, planes and centre stay.
    pub fn reset(&mut self) {
        self.buckets.fill(Bucket::default());
        self.scale = 1.0;
        self.total = 0.0;
        self.sum_y = 0.0;
        self.sum_base = 0.0;
        self.writes = 0;
    }

    /// Records a sample if its error `|y − y_base|` reaches the filter σ.
    /// Returns whether it was stored.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] if `h` has the wrong length or any value is
    /// NaN/Inf, or `y`/`y_base` lie outside [0, 1]. Nothing is written then.
    pub fn write(&mut self, h: &[f32], y: f32, y_base: f32) -> Result<bool> {
        check_probability("y", y)?;
        check_probability("y_base", y_base)?;
        let mut index = [0usize; MAX_ARRAYS as usize];
        self.hash(h, &mut index)?;
        Ok(self.write_indices(&index, y, y_base))
    }

    /// As [`Sketch::write`], at the bucket of each array given directly
    /// (`buckets[k]` in `0..2^L`, from [`Sketch::buckets_of`]): what
    /// recording a remembered impression needs, without its key vector.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] unless there is one bucket per array, each
    /// below `2^L`, and `y`/`y_base` lie in [0, 1]. Nothing is written then.
    pub fn write_buckets(&mut self, buckets: &[u16], y: f32, y_base: f32) -> Result<bool> {
        check_probability("y", y)?;
        check_probability("y_base", y_base)?;
        let mut index = [0usize; MAX_ARRAYS as usize];
        self.index_of_buckets(buckets, &mut index)?;
        Ok(self.write_indices(&index, y, y_base))
    }

    /// The absolute index (into the bucket vector) of each array's bucket
    /// `buckets[k]`, written to `index[..K]`.
    fn index_of_buckets(&self, buckets: &[u16], index: &mut [usize; MAX_ARRAYS as usize]) -> Result<()> {
        let arrays = usize::from(self.config.arrays);
        let per_array = self.config.buckets_per_array();
        if buckets.len() != arrays {
            return Err(Error::input(format!("{} buckets given for {arrays} arrays", buckets.len())));
        }
        for (k, (slot, &b)) in index.iter_mut().zip(buckets).enumerate() {
            if usize::from(b) >= per_array {
                return Err(Error::input(format!("bucket {b} of array {k} is not below {per_array}")));
            }
            *slot = k * per_array + usize::from(b);
        }
        Ok(())
    }

    /// Each array's bucket for `h` (`0..2^L`), written to `out[..K]`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] if `h` is bad or `out` is shorter than `K`.
    pub fn buckets_of(&self, h: &[f32], out: &mut [u16]) -> Result<()> {
        let arrays = usize::from(self.config.arrays);
        let per_array = self.config.buckets_per_array();
        if out.len() < arrays {
            return Err(Error::input(format!("room for {} buckets, {arrays} arrays", out.len())));
        }
        let mut index = [0usize; MAX_ARRAYS as usize];
        self.hash(h, &mut index)?;
        for (o, i) in out.iter_mut().zip(&index[..arrays]) {
            // 2^L ≤ 65,536: the bucket fits a u16.
            *o = u16::try_from(i % per_array).unwrap_or(u16::MAX);
        }
        Ok(())
    }

    /// Adds one sample at the absolute bucket indices `index[..K]`, unless
    /// the error filter drops it.
    fn write_indices(&mut self, index: &[usize; MAX_ARRAYS as usize], y: f32, y_base: f32) -> bool {
        if (y - y_base).abs() < self.config.error_filter {
            return false;
        }
        self.scale *= self.growth;
        let w = self.scale as f32;
        for &i in &index[..usize::from(self.config.arrays)] {
            if let Some(b) = self.buckets.get_mut(i) {
                b.count += w;
                b.sum_y += w * y;
                b.sum_base += w * y_base;
            }
        }
        self.total += self.scale;
        self.sum_y += self.scale * f64::from(y);
        self.sum_base += self.scale * f64::from(y_base);
        self.writes += 1;
        if self.scale >= RENORM_AT {
            self.renormalise();
        }
        true
    }

    /// Fills `out` with the readout of every array whose bucket for `h` is
    /// non-empty (at most `K`); clears `out` first.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] if `h` has the wrong length or holds NaN/Inf.
    pub fn read(&self, h: &[f32], out: &mut Vec<Readout>) -> Result<()> {
        out.clear();
        let mut index = [0usize; MAX_ARRAYS as usize];
        self.hash(h, &mut index)?;
        let inv = (1.0 / self.scale) as f32;
        let total = (self.total / self.scale) as f32;
        for &i in &index[..usize::from(self.config.arrays)] {
            if let Some(b) = self.buckets.get(i) {
                if b.count > 0.0 {
                    out.push(Readout { count: b.count * inv, sum_y: b.sum_y * inv, sum_base: b.sum_base * inv, total });
                }
            }
        }
        Ok(())
    }

    /// As [`Sketch::read`], also filling `buckets` with each readout's
    /// bucket (its index among all `K·2^L` buckets), in the same order:
    /// a key for caching what is computed from a bucket within one batch.
    ///
    /// # Errors
    /// As [`Sketch::read`].
    pub fn read_indexed(&self, h: &[f32], out: &mut Vec<Readout>, buckets: &mut Vec<usize>) -> Result<()> {
        out.clear();
        buckets.clear();
        let mut index = [0usize; MAX_ARRAYS as usize];
        self.hash(h, &mut index)?;
        self.read_index(&index, out, buckets);
        Ok(())
    }

    /// As [`Sketch::read_indexed`], for a key already hashed: `buckets[k]`
    /// is its bucket in array `k` (`0..2^L`, from [`Sketch::buckets_of`]).
    /// The readouts are those of the key itself, bit for bit.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] unless there is one bucket per array,
    /// each below `2^L`; `out` and `indices` are left empty then.
    pub fn read_buckets(&self, buckets: &[u16], out: &mut Vec<Readout>, indices: &mut Vec<usize>) -> Result<()> {
        out.clear();
        indices.clear();
        let mut index = [0usize; MAX_ARRAYS as usize];
        self.index_of_buckets(buckets, &mut index)?;
        self.read_index(&index, out, indices);
        Ok(())
    }

    /// The readouts of the buckets `index[..K]` that are non-empty, each
    /// with its index.
    fn read_index(&self, index: &[usize; MAX_ARRAYS as usize], out: &mut Vec<Readout>, indices: &mut Vec<usize>) {
        let inv = (1.0 / self.scale) as f32;
        let total = (self.total / self.scale) as f32;
        for &i in &index[..usize::from(self.config.arrays)] {
            if let Some(b) = self.buckets.get(i) {
                if b.count > 0.0 {
                    out.push(Readout { count: b.count * inv, sum_y: b.sum_y * inv, sum_base: b.sum_base * inv, total });
                    indices.push(i);
                }
            }
        }
    }

    /// Whether this sketch hashes every key as a sketch of `config` centred
    /// on `centre` would (the same planes and centre): then
    /// [`Sketch::buckets_of`] gives the same buckets in both.
    pub fn hashes_like(&self, config: &SketchConfig, centre: Option<&[f32]>) -> bool {
        let same_centre = match (self.centre.as_deref(), centre) {
            (None, None) => true,
            (Some(a), Some(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            _ => false,
        };
        self.config.same_layout(config) && same_centre
    }

    /// The bucket `h` falls into in each array (`0..2^L`, array by array):
    /// which evidence it reads and where it would be written.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] if `h` has the wrong length or holds NaN/Inf.
    pub fn bucket_indices(&self, h: &[f32]) -> Result<Vec<usize>> {
        let mut index = [0usize; MAX_ARRAYS as usize];
        self.hash(h, &mut index)?;
        let per_array = self.config.buckets_per_array();
        Ok(index[..usize::from(self.config.arrays)].iter().map(|i| i % per_array).collect())
    }

    /// The whole memory as one readout: every sample written (decayed),
    /// whatever its key. Empty (`count == 0`) when nothing was written.
    pub fn overall(&self) -> Readout {
        let total = (self.total / self.scale) as f32;
        Readout {
            count: total,
            sum_y: (self.sum_y / self.scale) as f32,
            sum_base: (self.sum_base / self.scale) as f32,
            total,
        }
    }

    /// How concentrated the memory's evidence is across the hash planes, in
    /// [0, 1]: the mean over the `K·L` planes of the squared imbalance
    /// `((w₊ − w₋) / (w₊ + w₋))²` between the (decayed) weight written on
    /// each side of the plane. 1 when every sample fell on the same side of
    /// every plane (all evidence in one direction, e.g. three likes of one
    /// genre under a genre key); about `1/N` when `N` samples point every
    /// way. `None` when nothing was written or the memory has no planes
    /// (`L = 0`). Computed from the buckets, `O(K·2^L·L)`.
    pub fn concentration(&self) -> Option<f64> {
        let bits = usize::from(self.config.bits);
        let per_array = self.config.buckets_per_array();
        if bits == 0 || self.total <= 0.0 {
            return None;
        }
        let mut sum = 0.0;
        let mut planes = 0usize;
        for array in self.buckets.chunks_exact(per_array) {
            let total: f64 = array.iter().map(|b| f64::from(b.count)).sum();
            if total <= 0.0 {
                continue;
            }
            for w in 0..bits {
                // The buckets whose index has bit `w` set, in index order:
                // every other run of `2^w`.
                let above: f64 =
                    array.chunks_exact(1 << w).skip(1).step_by(2).flatten().map(|b| f64::from(b.count)).sum();
                let imbalance = (2.0 * above - total) / total;
                sum += imbalance * imbalance;
                planes += 1;
            }
        }
        (planes > 0).then(|| (sum / planes as f64).clamp(0.0, 1.0))
    }

    /// Adds another memory's evidence bucket-wise (a RACE-sketch property):
    /// without decay, writing stream A then B equals merging A and B.
    /// With decay, `other`'s current (decayed) weights are added as if
    /// written now.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidConfig`] unless `bits`, `arrays`, `dim`, `seed`
    /// and the centring vector are equal.
    pub fn merge(&mut self, other: &Sketch) -> Result<()> {
        if !self.config.same_layout(&other.config) {
            return Err(Error::config(format!(
                "cannot merge memories with different layouts (bits/arrays/dim/seed {}/{}/{}/{} vs {}/{}/{}/{})",
                self.config.bits,
                self.config.arrays,
                self.config.dim,
                self.config.seed,
                other.config.bits,
                other.config.arrays,
                other.config.dim,
                other.config.seed
            )));
        }
        if self.centre != other.centre {
            return Err(Error::config("cannot merge memories with different centre (mu) vectors"));
        }
        let factor = self.scale / other.scale;
        let f = factor as f32;
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            a.count += b.count * f;
            a.sum_y += b.sum_y * f;
            a.sum_base += b.sum_base * f;
        }
        self.total += other.total * factor;
        self.sum_y += other.sum_y * factor;
        self.sum_base += other.sum_base * factor;
        self.writes = self.writes.saturating_add(other.writes);
        Ok(())
    }

    /// Bucket index of `h` in each array (absolute index into the bucket
    /// vector), written to `index[..K]`.
    fn hash(&self, h: &[f32], index: &mut [usize; MAX_ARRAYS as usize]) -> Result<()> {
        let d = self.config.dim as usize;
        if h.len() != d {
            return Err(Error::input(format!("key vector h has {} values but the memory expects dim {d}", h.len())));
        }
        if let Some(j) = h.iter().position(|v| !v.is_finite()) {
            return Err(Error::input(format!("key vector h[{j}] is not finite")));
        }
        let bits = usize::from(self.config.bits);
        let arrays = usize::from(self.config.arrays);
        let per_array = self.config.buckets_per_array();
        let p = self.config.plane_count();
        for (k, slot) in index.iter_mut().take(arrays).enumerate() {
            *slot = k * per_array;
        }
        // Common plane counts get a fixed-size accumulator the compiler
        // vectorises; other counts go a block at a time (no 4 KB zeroing per
        // call). The sums run over `j` in order in both, so the bits are
        // identical on every target.
        let centre = self.centre.as_deref();
        let mut set = |plane: usize, v: f32| {
            if v >= 0.0 {
                index[plane / bits] |= 1 << (plane % bits);
            }
        };
        match p {
            0 => {}
            4 => project_fixed::<4>(&self.planes, h, centre, &mut set),
            8 => project_fixed::<8>(&self.planes, h, centre, &mut set),
            12 => project_fixed::<12>(&self.planes, h, centre, &mut set),
            16 => project_fixed::<16>(&self.planes, h, centre, &mut set),
            20 => project_fixed::<20>(&self.planes, h, centre, &mut set),
            24 => project_fixed::<24>(&self.planes, h, centre, &mut set),
            32 => project_fixed::<32>(&self.planes, h, centre, &mut set),
            48 => project_fixed::<48>(&self.planes, h, centre, &mut set),
            64 => project_fixed::<64>(&self.planes, h, centre, &mut set),
            _ => project_blocks(&self.planes, p, h, centre, &mut set),
        }
        Ok(())
    }

    fn renormalise(&mut self) {
        let inv = 1.0 / self.scale;
        let f = inv as f32;
        for b in &mut self.buckets {
            b.count *= f;
            b.sum_y *= f;
            b.sum_base *= f;
        }
        self.total *= inv;
        self.sum_y *= inv;
        self.sum_base *= inv;
        self.scale = 1.0;
    }

    // --- state access for the codec (crate-private) ---

    pub(crate) fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    pub(crate) fn stored_state(&self) -> StoredState {
        StoredState {
            writes: self.writes,
            scale: self.scale,
            total: self.total,
            sum_y: self.sum_y,
            sum_base: self.sum_base,
        }
    }

    /// Restores bucket state decoded (and validated) by the codec.
    pub(crate) fn restore(&mut self, buckets: Vec<Bucket>, state: StoredState) -> Result<()> {
        if buckets.len() != self.buckets.len() {
            return Err(Error::new(ErrorKind::CorruptData, "bucket count does not match the config"));
        }
        self.buckets = buckets;
        self.writes = state.writes;
        self.scale = state.scale;
        self.total = state.total;
        self.sum_y = state.sum_y;
        self.sum_base = state.sum_base;
        Ok(())
    }

    /// The hash planes, plane-major (`K·L` planes of `d` values): for tests
    /// that pin the generator across targets.
    pub fn plane(&self, array: usize, bit: usize) -> Option<Vec<f32>> {
        let bits = usize::from(self.config.bits);
        if array >= usize::from(self.config.arrays) || bit >= bits {
            return None;
        }
        let p = self.config.plane_count();
        let col = array * bits + bit;
        Some(self.planes.iter().skip(col).step_by(p).copied().collect())
    }
}

/// Projects `h − μ` onto `P` planes stored transposed (`d` rows of `P`)
/// and hands each plane's dot product to `set`.
fn project_fixed<const P: usize>(planes: &[f32], h: &[f32], centre: Option<&[f32]>, set: &mut impl FnMut(usize, f32)) {
    let mut acc = [0f32; P];
    for (j, row) in planes.chunks_exact(P).enumerate() {
        let x = match centre {
            Some(mu) => h[j] - mu[j],
            None => h[j],
        };
        if let Ok(row) = <&[f32; P]>::try_from(row) {
            for i in 0..P {
                acc[i] += row[i] * x;
            }
        }
    }
    for (plane, &v) in acc.iter().enumerate() {
        set(plane, v);
    }
}

/// [`project_fixed`] for any plane count `p`, [`PLANE_BLOCK`] planes a pass.
fn project_blocks(planes: &[f32], p: usize, h: &[f32], centre: Option<&[f32]>, set: &mut impl FnMut(usize, f32)) {
    let mut start = 0;
    while start < p {
        let end = (start + PLANE_BLOCK).min(p);
        let mut acc = [0f32; PLANE_BLOCK];
        let acc = &mut acc[..end - start];
        for (j, row) in planes.chunks_exact(p).enumerate() {
            let x = match centre {
                Some(mu) => h[j] - mu[j],
                None => h[j],
            };
            for (a, r) in acc.iter_mut().zip(&row[start..end]) {
                *a += r * x;
            }
        }
        for (i, &v) in acc.iter().enumerate() {
            set(start + i, v);
        }
        start = end;
    }
}

/// Draws the `K·L` planes, plane by plane (array-major, then bit, then
/// component), into the transposed layout.
fn draw_planes(config: &SketchConfig) -> Vec<f32> {
    let d = config.dim as usize;
    let p = config.plane_count();
    let mut planes = vec![0f32; d * p];
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    for col in 0..p {
        for j in 0..d {
            let z: f64 = StandardNormal.sample(&mut rng);
            planes[j * p + col] = z as f32;
        }
    }
    planes
}

pub(crate) fn check_probability(name: &str, value: f32) -> Result<()> {
    check_finite(name, value)?;
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::input(format!("{name} must be in [0, 1], got {value}")))
    }
}
