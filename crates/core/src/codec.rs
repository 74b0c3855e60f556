//! Saved-memory format (DESIGN §4): a [`Memory`] — its buckets, config and
//! model binding — as compact little-endian bytes, and a validating decoder
//! for bytes from outside.
//!
//! Layout of versions 1 to 3 (offsets in bytes; each is a constant of
//! [`offset`]); version 2 adds the intent estimator (kind 2) with the same
//! layout; version 3 adds the impressions section after the buckets:
//!
//! | off | size | field |
//! |----:|-----:|-------|
//! |   0 |  4 | magic `RLEM` |
//! |   4 |  2 | format version (3; 1 and 2 are still read) |
//! |   6 |  1 | bits `L` (0..=16) |
//! |   7 |  1 | arrays `K` (1..=64) |
//! |   8 |  4 | dim `d` (1..=4096) |
//! |  12 |  8 | seed |
//! |  20 |  4 | error filter σ, f32 in [0, 1] |
//! |  24 |  4 | half-life in writes, f32 (0 = none) |
//! |  28 |  1 | estimator (0 paper, 1 residual, 2 intent — from version 2) |
//! |  29 |  1 | model identity length (16 or 32) |
//! |  30 |  1 | centred (0 or 1) |
//! |  31 |  1 | bucket layout (0 dense, 1 sparse) |
//! |  32 | 24 | estimator parameters, 6 × f32: λ, τ, then γ (paper) or n0, α, p0, pool (residual, intent); unused = 0 |
//! |  56 | 32 | model identity, zero-padded |
//! |  88 |  8 | centre fingerprint (first 8 bytes of SHA-256 of μ; zeros if none) |
//! |  96 |  8 | writes, u64 |
//! | 104 |  8 | scale (stored weight of the last write), f64 |
//! | 112 |  8 | total stored weight per array, f64 |
//! | 120 |  8 | stored sum of labels over the memory, f64 |
//! | 128 |  8 | stored sum of base predictions over the memory, f64 |
//! | 136 |  4 | entries: buckets stored |
//! | 140 |  … | dense: `K·2^L` × (count, sum_y, sum_base) f32; sparse: entries × (index u32, count, sum_y, sum_base f32) in increasing index |
//! |   … |  2 | impressions `n`, u16 (version 3; at most [`MAX_SAVED_IMPRESSIONS`]) |
//! |   … |  … | `n` × (id length u8 (1..=255), id UTF-8, `y_base` f32, `K` × bucket u16 below `2^L`), oldest first, ids unique |
//! | end |  4 | CRC-32 (IEEE) of everything before it |
//!
//! Values are stored exactly (f32), so a loaded memory reads bit-identically
//! to the one saved, and a saved impression records exactly as it would
//! have before saving; the encoder picks the sparse layout when it is smaller,
//! which it is for a memory with few events. A per-session memory with
//! `L = 4, K = 4` is at most 912 bytes.
//!
//! Version policy: a reader accepts only versions it knows
//! ([`READ_VERSIONS`]); any change of layout or meaning bumps
//! [`FORMAT_VERSION`] and gets new golden files, and the golden files of
//! older versions still read.

use crate::error::{Error, ErrorKind, Result};
use crate::estimator::{Estimator, PaperParams, ResidualParams};
use crate::identity::{MAX_ID_LEN, ModelId, fingerprint};
use crate::impressions::{Impressions, MAX_SAVED_ID_BYTES, MAX_SAVED_IMPRESSIONS};
use crate::memory::Memory;
use crate::sketch::{Bucket, MAX_ARRAYS, MAX_BITS, MAX_DIM, RENORM_AT, Sketch, SketchConfig, StoredState};

/// First four bytes of every saved memory.
pub const MAGIC: [u8; 4] = *b"RLEM";
/// The format version this build writes.
pub const FORMAT_VERSION: u16 = 3;
/// The format versions this build reads.
pub const READ_VERSIONS: [u16; 3] = [1, 2, 3];
/// Bytes before the bucket payload.
pub const HEADER_LEN: usize = offset::PAYLOAD;
/// Bytes of the trailing CRC-32.
pub const CRC_LEN: usize = 4;

/// Byte offsets of the header fields (the table above). The
/// encoder writes and the decoder reads each field at its constant; tests
/// and the fuzz target patch fields through them.
pub mod offset {
    /// `RLEM`, 4 bytes.
    pub const MAGIC: usize = 0;
    /// Format version, u16.
    pub const VERSION: usize = 4;
    /// `L`, u8.
    pub const BITS: usize = 6;
    /// `K`, u8.
    pub const ARRAYS: usize = 7;
    /// `d`, u32.
    pub const DIM: usize = 8;
    /// Hash-plane seed, u64.
    pub const SEED: usize = 12;
    /// `σ`, f32.
    pub const ERROR_FILTER: usize = 20;
    /// Half-life, f32 (0 = none).
    pub const HALF_LIFE: usize = 24;
    /// Estimator kind, u8 (0 paper, 1 residual).
    pub const ESTIMATOR: usize = 28;
    /// Model identity length, u8 (16 or 32).
    pub const MODEL_ID_LEN: usize = 29;
    /// Centred flag, u8.
    pub const CENTRED: usize = 30;
    /// Bucket layout, u8 (0 dense, 1 sparse).
    pub const LAYOUT: usize = 31;
    /// Six f32 estimator parameters: λ, τ, then γ (paper) or n0, α, p0, pool (residual).
    pub const PARAMS: usize = 32;
    /// The residual estimator's `pool`, the sixth parameter.
    pub const POOL: usize = PARAMS + 5 * 4;
    /// Model identity, 32 bytes zero-padded.
    pub const MODEL_ID: usize = 56;
    /// Centre fingerprint, 8 bytes.
    pub const CENTRE_FINGERPRINT: usize = 88;
    /// Accepted writes, u64.
    pub const WRITES: usize = 96;
    /// Stored weight of the last write, f64.
    pub const SCALE: usize = 104;
    /// Total stored weight per array, f64.
    pub const TOTAL: usize = 112;
    /// Stored sum of labels, f64.
    pub const SUM_Y: usize = 120;
    /// Stored sum of base predictions, f64.
    pub const SUM_BASE: usize = 128;
    /// Buckets stored, u32.
    pub const ENTRIES: usize = 136;
    /// First bucket entry (the header's length).
    pub const PAYLOAD: usize = 140;
}
/// Default cap on the heap a decoded memory may claim (buckets, planes,
/// centre), checked from the header before allocating: a sparse file of a
/// few bytes can legally describe `K = 64, L = 16`, which would otherwise
/// make a hostile token cost 66 MB. See [`decode_with_limit`].
pub const DEFAULT_MAX_HEAP_BYTES: usize = 16 << 20;
const DENSE_ENTRY: usize = 12;
const SPARSE_ENTRY: usize = 16;

/// Serialises a memory: buckets, config and model identity (no impressions).
pub fn encode(memory: &Memory) -> Vec<u8> {
    encode_with(memory, None, 0)
}

/// Serialises a memory with the `max` most recent of `impressions`
/// (at most [`MAX_SAVED_IMPRESSIONS`]; ids longer than
/// [`MAX_SAVED_ID_BYTES`] are left out), so that their outcomes can still be
/// recorded after a restore.
pub fn encode_with(memory: &Memory, impressions: Option<&Impressions>, max: usize) -> Vec<u8> {
    let sketch = memory.sketch();
    let config = sketch.config();
    let buckets = sketch.buckets();
    let live = buckets.iter().filter(|b| b.count != 0.0 || b.sum_y != 0.0 || b.sum_base != 0.0).count();
    let sparse = live * SPARSE_ENTRY < buckets.len() * DENSE_ENTRY;
    let entries = if sparse { live } else { buckets.len() };
    let entry = if sparse { SPARSE_ENTRY } else { DENSE_ENTRY };

    let mut header = [0u8; HEADER_LEN];
    let mut put = |at: usize, bytes: &[u8]| {
        if let Some(slot) = header.get_mut(at..at + bytes.len()) {
            slot.copy_from_slice(bytes);
        }
    };
    put(offset::MAGIC, &MAGIC);
    put(offset::VERSION, &FORMAT_VERSION.to_le_bytes());
    put(offset::BITS, &[config.bits]);
    put(offset::ARRAYS, &[config.arrays]);
    put(offset::DIM, &config.dim.to_le_bytes());
    put(offset::SEED, &config.seed.to_le_bytes());
    put(offset::ERROR_FILTER, &config.error_filter.to_le_bytes());
    put(offset::HALF_LIFE, &config.half_life.unwrap_or(0.0).to_le_bytes());
    let (kind, params) = match memory.estimator() {
        Estimator::Paper(p) => (0u8, [p.lambda, p.tau, p.gamma, 0.0, 0.0, 0.0]),
        Estimator::Residual(r) => (1u8, [r.lambda, r.tau, r.n0, r.alpha, r.p0, r.pool]),
        Estimator::Intent(r) => (2u8, [r.lambda, r.tau, r.n0, r.alpha, r.p0, r.pool]),
    };
    put(offset::ESTIMATOR, &[kind]);
    let id = memory.model_id().as_bytes();
    put(offset::MODEL_ID_LEN, &[id.len() as u8]);
    put(offset::CENTRED, &[u8::from(sketch.centre().is_some())]);
    put(offset::LAYOUT, &[u8::from(sparse)]);
    for (i, p) in params.iter().enumerate() {
        put(offset::PARAMS + 4 * i, &p.to_le_bytes());
    }
    put(offset::MODEL_ID, id);
    put(offset::CENTRE_FINGERPRINT, &sketch.centre().map_or([0u8; 8], fingerprint));
    let state = sketch.stored_state();
    put(offset::WRITES, &state.writes.to_le_bytes());
    put(offset::SCALE, &state.scale.to_le_bytes());
    put(offset::TOTAL, &state.total.to_le_bytes());
    put(offset::SUM_Y, &state.sum_y.to_le_bytes());
    put(offset::SUM_BASE, &state.sum_base.to_le_bytes());
    put(offset::ENTRIES, &(entries as u32).to_le_bytes());

    let mut out = Vec::with_capacity(HEADER_LEN + entries * entry + CRC_LEN);
    out.extend_from_slice(&header);
    for (i, b) in buckets.iter().enumerate() {
        if sparse {
            if b.count == 0.0 && b.sum_y == 0.0 && b.sum_base == 0.0 {
                continue;
            }
            out.extend_from_slice(&(i as u32).to_le_bytes());
        }
        out.extend_from_slice(&b.count.to_le_bytes());
        out.extend_from_slice(&b.sum_y.to_le_bytes());
        out.extend_from_slice(&b.sum_base.to_le_bytes());
    }
    let arrays = usize::from(config.arrays);
    let saved: Vec<(&str, f32, &[u16])> = impressions
        .map(|imp| imp.recent(max.min(MAX_SAVED_IMPRESSIONS)))
        .unwrap_or_default()
        .into_iter()
        .filter(|(id, _, b)| !id.is_empty() && id.len() <= MAX_SAVED_ID_BYTES && b.len() == arrays)
        .collect();
    out.extend_from_slice(&(saved.len() as u16).to_le_bytes());
    for (id, y, buckets) in saved {
        out.push(id.len() as u8);
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(&y.to_le_bytes());
        for b in buckets {
            out.extend_from_slice(&b.to_le_bytes());
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// One impression read from saved bytes: its id, `y_base` and bucket per array.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedImpression {
    /// The impression id.
    pub id: String,
    /// The model's probability when it was scored.
    pub y_base: f32,
    /// Its bucket in each array (`0..2^L`).
    pub buckets: Vec<u16>,
}

/// What a saved memory says about itself, read from the header alone.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedHeader {
    /// Memory config.
    pub sketch: SketchConfig,
    /// Estimator and parameters.
    pub estimator: Estimator,
    /// The model the memory was written under.
    pub model_id: ModelId,
    /// Fingerprint of the centring vector, if the memory was centred.
    pub centre: Option<[u8; 8]>,
    /// Accepted writes.
    pub writes: u64,
}

/// Validates `bytes` completely and rebuilds the memory, provided it was
/// saved under `model_id` with the centring vector `centre`.
///
/// # Errors
/// * [`ErrorKind::CorruptData`] naming the field for wrong magic, truncation,
///   a failed checksum, out-of-range fields or non-finite payload values;
/// * [`ErrorKind::UnsupportedVersion`] for another format version;
/// * [`ErrorKind::ModelMismatch`] if the memory belongs to another model or
///   centring vector.
///
/// Nothing is allocated in proportion to the input before the header and
/// the exact length have been checked.
pub fn decode(bytes: &[u8], model_id: &ModelId, centre: Option<&[f32]>) -> Result<Memory> {
    decode_with_limit(bytes, model_id, centre, DEFAULT_MAX_HEAP_BYTES)
}

/// [`decode`] with an explicit cap on the heap the restored memory may use
/// (see [`crate::Sketch::heap_bytes`]).
///
/// # Errors
/// As [`decode`]; a memory whose config needs more than `max_heap_bytes` is
/// [`ErrorKind::CorruptData`] naming `buckets`.
pub fn decode_with_limit(
    bytes: &[u8],
    model_id: &ModelId,
    centre: Option<&[f32]>,
    max_heap_bytes: usize,
) -> Result<Memory> {
    decode_with_impressions(bytes, model_id, centre, max_heap_bytes).map(|(memory, _)| memory)
}

/// [`decode_with_limit`], also returning the impressions the bytes carry
/// (version 3; none for older versions), oldest first.
///
/// # Errors
/// As [`decode`]; impressions that are malformed (a bad length, id, `y_base`
/// or bucket, a repeated id, trailing bytes) are [`ErrorKind::CorruptData`]
/// naming the field.
pub fn decode_with_impressions(
    bytes: &[u8],
    model_id: &ModelId,
    centre: Option<&[f32]>,
    max_heap_bytes: usize,
) -> Result<(Memory, Vec<SavedImpression>)> {
    let (header, body) = read_header(bytes)?;
    let need = Sketch::heap_bytes_for(&header.sketch, header.centre.is_some());
    if need > max_heap_bytes {
        return Err(Error::corrupt(format!(
            "buckets: a {}x2^{} memory of dim {} needs {need} bytes, over the {max_heap_bytes}-byte decode limit",
            header.sketch.arrays, header.sketch.bits, header.sketch.dim
        )));
    }
    if header.model_id != *model_id {
        return Err(Error::new(
            ErrorKind::ModelMismatch,
            format!(
                "memory was saved under model {} but this model is {}",
                header.model_id.to_hex(),
                model_id.to_hex()
            ),
        ));
    }
    let expected = centre.map(fingerprint);
    if header.centre != expected {
        return Err(Error::new(ErrorKind::ModelMismatch, "memory was saved with a different centre (mu) vector"));
    }
    let buckets = read_buckets(&header.sketch, &body)?;
    check_totals(&header.sketch, &buckets, body.state.total)?;
    let mut sketch = Sketch::new(header.sketch, centre.map(<[f32]>::to_vec))
        .map_err(|e| e.with_kind(ErrorKind::CorruptData).with_context("config"))?;
    sketch.restore(buckets, body.state)?;
    Ok((Memory::from_parts(sketch, header.estimator, header.model_id), body.impressions))
}

/// Reads and validates only the header (and checksum): what a caller needs
/// to decide whether a memory fits before restoring it.
///
/// # Errors
/// As [`decode`], except model mismatch, which the caller judges.
pub fn peek(bytes: &[u8]) -> Result<SavedHeader> {
    read_header(bytes).map(|(h, _)| h)
}

/// Header fields that only the payload reader needs.
struct Body<'a> {
    state: StoredState,
    sparse: bool,
    entries: usize,
    payload: &'a [u8],
    impressions: Vec<SavedImpression>,
}

fn read_header(bytes: &[u8]) -> Result<(SavedHeader, Body<'_>)> {
    let whole = Reader { bytes };
    if whole.take("magic", offset::MAGIC, MAGIC.len())? != MAGIC {
        return Err(Error::corrupt("magic: not a reloop-edge memory (expected \"RLEM\")"));
    }
    let version = whole.u16("version", offset::VERSION)?;
    if !READ_VERSIONS.contains(&version) {
        return Err(Error::new(
            ErrorKind::UnsupportedVersion,
            format!("version: format {version} is not supported (this build reads {READ_VERSIONS:?})"),
        ));
    }
    if bytes.len() < HEADER_LEN + CRC_LEN {
        return Err(Error::corrupt(format!(
            "length: {} bytes is shorter than the {}-byte header",
            bytes.len(),
            HEADER_LEN + CRC_LEN
        )));
    }
    let (content, crc) = bytes.split_at(bytes.len() - CRC_LEN);
    let stored_crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(content) != stored_crc {
        return Err(Error::corrupt("checksum: CRC-32 mismatch (truncated or altered bytes)"));
    }
    let r = Reader { bytes: content };

    let bits = r.u8("bits", offset::BITS)?;
    if bits > MAX_BITS {
        return Err(Error::corrupt(format!("bits: {bits} exceeds {MAX_BITS}")));
    }
    let arrays = r.u8("arrays", offset::ARRAYS)?;
    if arrays == 0 || arrays > MAX_ARRAYS {
        return Err(Error::corrupt(format!("arrays: {arrays} is outside 1..={MAX_ARRAYS}")));
    }
    let dim = r.u32("dim", offset::DIM)?;
    if dim == 0 || dim > MAX_DIM {
        return Err(Error::corrupt(format!("dim: {dim} is outside 1..={MAX_DIM}")));
    }
    let seed = r.u64("seed", offset::SEED)?;
    let error_filter = r.f32("errorFilter", offset::ERROR_FILTER)?;
    let half_life = match r.f32("halfLife", offset::HALF_LIFE)? {
        0.0 => None,
        h => Some(h),
    };
    let sketch = SketchConfig { bits, arrays, dim, seed, error_filter, half_life };
    sketch.validate().map_err(|e| e.with_kind(ErrorKind::CorruptData).with_context("config"))?;

    let kind = r.u8("estimator", offset::ESTIMATOR)?;
    let id_len = usize::from(r.u8("modelIdLength", offset::MODEL_ID_LEN)?);
    let centred = r.u8("centred", offset::CENTRED)?;
    let layout = r.u8("layout", offset::LAYOUT)?;
    let mut params = [0f32; 6];
    for (i, p) in params.iter_mut().enumerate() {
        *p = r.f32("estimatorParams", offset::PARAMS + 4 * i)?;
    }
    let estimator = match kind {
        0 => {
            if params[3..].iter().any(|&p| p != 0.0) {
                return Err(Error::corrupt("estimatorParams: unused paper parameters are not zero"));
            }
            Estimator::Paper(PaperParams { lambda: params[0], tau: params[1], gamma: params[2] })
        }
        1 | 2 if kind == 1 || version >= 2 => {
            let r = ResidualParams {
                lambda: params[0],
                tau: params[1],
                n0: params[2],
                alpha: params[3],
                p0: params[4],
                pool: params[5],
            };
            if kind == 1 { Estimator::Residual(r) } else { Estimator::Intent(r) }
        }
        k => return Err(Error::corrupt(format!("estimator: unknown kind {k} in format {version}"))),
    };
    estimator.validate().map_err(|e| e.with_kind(ErrorKind::CorruptData).with_context("estimatorParams"))?;

    if id_len != 16 && id_len != 32 {
        return Err(Error::corrupt(format!("modelIdLength: {id_len} is not 16 or 32")));
    }
    let id_field = r.take("modelId", offset::MODEL_ID, MAX_ID_LEN)?;
    if id_field[id_len..].iter().any(|&b| b != 0) {
        return Err(Error::corrupt("modelId: padding is not zero"));
    }
    let model_id = ModelId::from_bytes(&id_field[..id_len]).map_err(|e| e.with_kind(ErrorKind::CorruptData))?;
    let print = r.take("centreFingerprint", offset::CENTRE_FINGERPRINT, 8)?;
    let centre = match centred {
        0 if print.iter().all(|&b| b == 0) => None,
        0 => return Err(Error::corrupt("centreFingerprint: set on an uncentred memory")),
        1 => {
            let mut f = [0u8; 8];
            f.copy_from_slice(print);
            Some(f)
        }
        c => return Err(Error::corrupt(format!("centred: {c} is not 0 or 1"))),
    };

    let writes = r.u64("writes", offset::WRITES)?;
    let scale = r.f64("scale", offset::SCALE)?;
    let scale_ok = match half_life {
        None => scale == 1.0,
        Some(_) => scale.is_finite() && (1.0..RENORM_AT * 2.0).contains(&scale),
    };
    if !scale_ok {
        return Err(Error::corrupt(format!("scale: {scale} is out of range")));
    }
    let total = r.f64("total", offset::TOTAL)?;
    if !(total.is_finite() && total >= 0.0 && total <= f64::from(f32::MAX)) {
        return Err(Error::corrupt(format!("total: {total} is out of range")));
    }
    if writes == 0 && total != 0.0 {
        return Err(Error::corrupt("total: non-zero weight with zero writes"));
    }
    let sum_y = r.f64("sumY", offset::SUM_Y)?;
    let sum_base = r.f64("sumBase", offset::SUM_BASE)?;
    let limit = total * (1.0 + 1e-6);
    for (field, v) in [("sumY", sum_y), ("sumBase", sum_base)] {
        if !(0.0..=limit).contains(&v) {
            return Err(Error::corrupt(format!("{field}: {v} is outside [0, total {total}]")));
        }
    }
    let entries = r.u32("entries", offset::ENTRIES)? as usize;
    let sparse = match layout {
        0 => false,
        1 => true,
        l => return Err(Error::corrupt(format!("layout: {l} is not 0 (dense) or 1 (sparse)"))),
    };
    let capacity = sketch.bucket_count();
    if (!sparse && entries != capacity) || entries > capacity {
        return Err(Error::corrupt(format!("entries: {entries} does not fit {capacity} buckets")));
    }
    let entry = if sparse { SPARSE_ENTRY } else { DENSE_ENTRY };
    let rest = content.get(offset::PAYLOAD..).unwrap_or(&[]);
    let need = entries * entry;
    let (payload, tail) = if version >= 3 && rest.len() >= need { rest.split_at(need) } else { (rest, &[][..]) };
    if payload.len() != need || (version >= 3 && tail.is_empty()) {
        return Err(Error::corrupt(format!(
            "payload: {} bytes where {entries} entries need {need}{}",
            rest.len(),
            if version >= 3 { " and the impressions section at least 2" } else { "" }
        )));
    }
    let impressions = if version >= 3 { read_impressions(tail, &sketch)? } else { Vec::new() };
    let header = SavedHeader { sketch, estimator, model_id, centre, writes };
    let state = StoredState { writes, scale, total, sum_y, sum_base };
    Ok((header, Body { state, sparse, entries, payload, impressions }))
}

/// The impressions section of version 3 (see the table above).
fn read_impressions(bytes: &[u8], config: &SketchConfig) -> Result<Vec<SavedImpression>> {
    let r = Reader { bytes };
    let n = usize::from(r.u16("impressions", 0)?);
    if n > MAX_SAVED_IMPRESSIONS {
        return Err(Error::corrupt(format!("impressions: {n} is more than {MAX_SAVED_IMPRESSIONS}")));
    }
    let arrays = usize::from(config.arrays);
    let per_array = config.buckets_per_array();
    // Each entry takes at least 1 + 1 + 4 + 2K bytes: checked before allocating.
    if n.saturating_mul(6 + 2 * arrays) > bytes.len() {
        return Err(Error::corrupt(format!("impressions: {n} do not fit in {} bytes", bytes.len())));
    }
    let mut out: Vec<SavedImpression> = Vec::with_capacity(n);
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut at = 2;
    for i in 0..n {
        let len = usize::from(r.u8("impressionIdLength", at)?);
        if len == 0 {
            return Err(Error::corrupt(format!("impressionIdLength: impression {i} has an empty id")));
        }
        let id = std::str::from_utf8(r.take("impressionId", at + 1, len)?)
            .map_err(|_| Error::corrupt(format!("impressionId: impression {i} is not UTF-8")))?;
        at += 1 + len;
        let y_base = r.f32("impressionBase", at)?;
        if !(0.0..=1.0).contains(&y_base) {
            return Err(Error::corrupt(format!("impressionBase: impression {i} has y_base {y_base}")));
        }
        at += 4;
        let mut buckets = Vec::with_capacity(arrays);
        for k in 0..arrays {
            let b = r.u16("impressionBucket", at)?;
            if usize::from(b) >= per_array {
                return Err(Error::corrupt(format!(
                    "impressionBucket: impression {i} has bucket {b} in array {k}, not below {per_array}"
                )));
            }
            buckets.push(b);
            at += 2;
        }
        if !seen.insert(id) {
            return Err(Error::corrupt(format!("impressionId: impression {i} repeats an id")));
        }
        out.push(SavedImpression { id: id.to_string(), y_base, buckets });
    }
    if at != bytes.len() {
        return Err(Error::corrupt(format!("impressions: {} bytes after the last impression", bytes.len() - at)));
    }
    Ok(out)
}

fn read_buckets(config: &SketchConfig, body: &Body<'_>) -> Result<Vec<Bucket>> {
    let capacity = config.bucket_count();
    let mut buckets = vec![Bucket::default(); capacity];
    let r = Reader { bytes: body.payload };
    let entry = if body.sparse { SPARSE_ENTRY } else { DENSE_ENTRY };
    let mut next_free = 0usize;
    for e in 0..body.entries {
        let mut at = e * entry;
        let index = if body.sparse {
            let i = r.u32("bucketIndex", at)? as usize;
            at += 4;
            if i < next_free || i >= capacity {
                return Err(Error::corrupt(format!(
                    "bucketIndex: entry {e} has index {i}, not increasing below {capacity}"
                )));
            }
            i
        } else {
            e
        };
        next_free = index + 1;
        let b =
            Bucket { count: r.f32("count", at)?, sum_y: r.f32("sumY", at + 4)?, sum_base: r.f32("sumBase", at + 8)? };
        let slack = b.count * 1e-5;
        let valid = b.count.is_finite()
            && b.sum_y.is_finite()
            && b.sum_base.is_finite()
            && b.count >= 0.0
            && (0.0..=b.count + slack).contains(&b.sum_y)
            && (0.0..=b.count + slack).contains(&b.sum_base)
            && (b.count > 0.0 || !body.sparse);
        if !valid {
            return Err(Error::corrupt(format!(
                "bucket {index}: values ({}, {}, {}) are not a valid count and sums",
                b.count, b.sum_y, b.sum_base
            )));
        }
        if let Some(slot) = buckets.get_mut(index) {
            *slot = b;
        }
    }
    Ok(buckets)
}

/// Every array receives every write, so each array's counts add up to the
/// stored total (up to f32 rounding).
fn check_totals(config: &SketchConfig, buckets: &[Bucket], total: f64) -> Result<()> {
    for (k, array) in buckets.chunks_exact(config.buckets_per_array()).enumerate() {
        let sum: f64 = array.iter().map(|b| f64::from(b.count)).sum();
        if (sum - total).abs() > 1e-3 * total.max(1.0) {
            return Err(Error::corrupt(format!("array {k}: counts add to {sum} but total is {total}")));
        }
    }
    Ok(())
}

/// Bounds-checked little-endian reads at a byte offset that name the field
/// on failure.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&self, field: &str, at: usize, n: usize) -> Result<&'a [u8]> {
        at.checked_add(n)
            .and_then(|end| self.bytes.get(at..end))
            .ok_or_else(|| Error::corrupt(format!("{field}: truncated at byte {}", at.min(self.bytes.len()))))
    }

    fn array<const N: usize>(&self, field: &str, at: usize) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(field, at, N)?);
        Ok(a)
    }

    fn u8(&self, field: &str, at: usize) -> Result<u8> {
        Ok(self.array::<1>(field, at)?[0])
    }
    fn u16(&self, field: &str, at: usize) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(field, at)?))
    }
    fn u32(&self, field: &str, at: usize) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(field, at)?))
    }
    fn u64(&self, field: &str, at: usize) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(field, at)?))
    }
    fn f32(&self, field: &str, at: usize) -> Result<f32> {
        let v = f32::from_le_bytes(self.array(field, at)?);
        if v.is_finite() { Ok(v) } else { Err(Error::corrupt(format!("{field}: {v} is not finite"))) }
    }
    fn f64(&self, field: &str, at: usize) -> Result<f64> {
        let v = f64::from_le_bytes(self.array(field, at)?);
        if v.is_finite() { Ok(v) } else { Err(Error::corrupt(format!("{field}: {v} is not finite"))) }
    }
}
