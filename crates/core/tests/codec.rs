//! The saved-memory format: exact round-trips, golden files that pin the
//! bytes, and untrusted input (truncation, bit flips, crafted fields with a
//! valid checksum) that must fail with a named field, never a panic.

use proptest::prelude::*;
use reloop_core::codec::offset;
use reloop_core::codec::{self, FORMAT_VERSION, HEADER_LEN};
use reloop_core::{
    ErrorKind, Estimator, Impressions, Memory, MemoryConfig, ModelId, PaperParams, ResidualParams, SketchConfig,
};

const GOLDEN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");

fn model_id() -> ModelId {
    ModelId::digest(&[b"codec-test-model"])
}

fn mu(dim: usize) -> Vec<f32> {
    (0..dim).map(|j| 0.05 * j as f32).collect()
}

/// The residual estimator the golden files were written with (no pooling).
fn residual() -> Estimator {
    Estimator::Residual(ResidualParams { lambda: 1.0, tau: 1.0, n0: 5.0, alpha: 2.0, p0: 0.5, pool: 0.0 })
}

fn session(bits: u8, arrays: u8, dim: u32, half_life: Option<f32>, estimator: Estimator) -> Memory {
    let sketch = SketchConfig { bits, arrays, dim, half_life, seed: 42, error_filter: 0.05 };
    Memory::new(MemoryConfig { sketch, estimator }, model_id(), Some(mu(dim as usize))).expect("config")
}

/// A deterministic key stream: no RNG, so the golden files never depend on
/// a generator's version.
fn key(i: usize, dim: u32) -> Vec<f32> {
    (0..dim as u64)
        .map(|j| {
            let x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ j.wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let x = (x ^ (x >> 31)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((x >> 40) % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

fn fill(s: &mut Memory, events: usize) {
    let dim = s.sketch().config().dim;
    for i in 0..events {
        let yb = ((i * 13) % 10) as f32 / 10.0 + 0.05;
        s.record(yb, &key(i, dim), i % 3 != 1).expect("record");
    }
}

fn probe_scores(s: &mut Memory) -> Vec<f32> {
    let dim = s.sketch().config().dim;
    (0..50).map(|i| s.score_one(0.3, &key(i * 7 + 1, dim)).expect("score").score).collect()
}

fn restore(bytes: &[u8], dim: usize) -> reloop_core::Result<Memory> {
    codec::decode(bytes, &model_id(), Some(&mu(dim)))
}

/// Recomputes the trailing CRC so a crafted field reaches its own check.
fn reseal(bytes: &mut [u8]) {
    let n = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..n]);
    bytes[n..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn round_trip_reads_identically() {
    for (events, half_life) in [(0, None), (3, None), (200, None), (200, Some(25.0)), (5000, Some(3.0))] {
        let mut a = session(4, 4, 8, half_life, residual());
        fill(&mut a, events);
        let bytes = codec::encode(&a);
        let mut b = restore(&bytes, 8).expect("decode");
        assert_eq!(b.sketch().len(), a.sketch().len());
        assert_eq!(b.config(), a.config());
        assert_eq!(probe_scores(&mut b), probe_scores(&mut a), "events {events}");
        assert_eq!(codec::encode(&b), bytes, "re-encoding is stable");
        // Both keep learning in lockstep after the restore.
        fill(&mut a, 10);
        fill(&mut b, 10);
        assert_eq!(probe_scores(&mut b), probe_scores(&mut a));
    }
}

#[test]
fn per_session_memory_saves_in_at_most_one_kilobyte() {
    let mut s = session(4, 4, 32, Some(50.0), residual());
    let empty = codec::encode(&s).len();
    fill(&mut s, 10_000);
    let full = codec::encode(&s).len();
    eprintln!("L4 K4 d32: empty {empty} B, after 10k events {full} B");
    assert!(full <= 1024, "{full} bytes");
    // The header, no buckets, an empty impressions section (2 bytes), the CRC.
    assert_eq!(empty, HEADER_LEN + 2 + 4, "an empty memory stores no buckets");
    // Few events: the sparse layout is picked.
    let mut few = session(8, 4, 32, None, residual());
    fill(&mut few, 3);
    assert!(codec::encode(&few).len() <= HEADER_LEN + 2 + 4 + 3 * 4 * 16);
}

#[test]
fn header_is_readable_without_restoring() {
    let mut s = session(6, 2, 4, Some(10.0), Estimator::Paper(PaperParams { lambda: 0.3, tau: 0.5, gamma: 0.8 }));
    fill(&mut s, 17);
    let header = codec::peek(&codec::encode(&s)).expect("peek");
    assert_eq!(header.sketch, s.sketch().config().clone());
    assert_eq!(header.estimator, *s.estimator());
    assert_eq!(header.model_id, model_id());
    assert!(header.centre.is_some());
    assert_eq!(header.writes, s.sketch().len());
}

#[test]
fn another_model_or_centre_is_a_mismatch() {
    let mut s = session(4, 4, 4, None, residual());
    fill(&mut s, 20);
    let bytes = codec::encode(&s);
    let other = ModelId::digest(&[b"another-model"]);
    let e = codec::decode(&bytes, &other, Some(&mu(4))).expect_err("other model");
    assert_eq!(e.kind(), ErrorKind::ModelMismatch);
    assert_eq!(e.code(), "E_MODEL_MISMATCH");
    let e = codec::decode(&bytes, &model_id(), Some(&[9.0; 4])).expect_err("other mu");
    assert_eq!(e.kind(), ErrorKind::ModelMismatch);
    let e = codec::decode(&bytes, &model_id(), None).expect_err("no mu");
    assert_eq!(e.kind(), ErrorKind::ModelMismatch);
}

#[test]
fn every_truncation_is_an_error() {
    let mut s = session(4, 4, 8, Some(20.0), residual());
    fill(&mut s, 100);
    let bytes = codec::encode(&s);
    for n in 0..bytes.len() {
        let e = restore(&bytes[..n], 8).expect_err("truncated");
        assert_eq!(e.kind(), ErrorKind::CorruptData, "len {n}: {e}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(restore(&longer, 8).expect_err("extra byte").kind(), ErrorKind::CorruptData);
}

#[test]
fn every_single_bit_flip_is_an_error() {
    let mut s = session(4, 4, 8, None, residual());
    fill(&mut s, 3); // sparse layout
    let sparse = codec::encode(&s);
    fill(&mut s, 300); // dense layout
    let dense = codec::encode(&s);
    assert!(sparse.len() < dense.len());
    for bytes in [sparse, dense] {
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            let e = restore(&b, 8).expect_err("flipped");
            assert!(matches!(e.kind(), ErrorKind::CorruptData | ErrorKind::UnsupportedVersion), "bit {bit}: {e}");
        }
    }
}

#[test]
fn crafted_fields_name_themselves() {
    let mut s = session(4, 4, 8, Some(20.0), residual());
    fill(&mut s, 300);
    let good = codec::encode(&s);
    assert_eq!(good[offset::LAYOUT], 0, "dense layout");
    let payload = HEADER_LEN; // first dense entry
    let cases: Vec<(usize, Vec<u8>, &str)> = vec![
        (offset::MAGIC, b"XLEM".to_vec(), "magic"),
        (offset::BITS, vec![17], "bits"),
        (offset::ARRAYS, vec![0], "arrays"),
        (offset::ARRAYS, vec![200], "arrays"),
        (offset::DIM, u32::MAX.to_le_bytes().to_vec(), "dim"),
        (offset::ERROR_FILTER, 2f32.to_le_bytes().to_vec(), "errorFilter"),
        (offset::HALF_LIFE, (-1f32).to_le_bytes().to_vec(), "halfLife"),
        (offset::ESTIMATOR, vec![9], "estimator"),
        (offset::MODEL_ID_LEN, vec![20], "modelIdLength"),
        (offset::CENTRED, vec![2], "centred"),
        (offset::LAYOUT, vec![7], "layout"),
        (offset::PARAMS, f32::NAN.to_le_bytes().to_vec(), "estimatorParams"),
        (offset::PARAMS + 4, 0f32.to_le_bytes().to_vec(), "estimatorParams"),
        (offset::POOL, (-1f32).to_le_bytes().to_vec(), "pool"),
        (offset::SCALE, f64::INFINITY.to_le_bytes().to_vec(), "scale"),
        (offset::SCALE, 0.5f64.to_le_bytes().to_vec(), "scale"),
        (offset::TOTAL, (-3f64).to_le_bytes().to_vec(), "total"),
        (offset::SUM_Y, (-1f64).to_le_bytes().to_vec(), "sumY"),
        (offset::SUM_BASE, 1e12f64.to_le_bytes().to_vec(), "sumBase"),
        (offset::ENTRIES, u32::MAX.to_le_bytes().to_vec(), "entries"),
        (payload, f32::NAN.to_le_bytes().to_vec(), "count"),
        (payload, (-1f32).to_le_bytes().to_vec(), "bucket"),
        (payload + 4, 1e9f32.to_le_bytes().to_vec(), "bucket"),
        (payload + 8, f32::INFINITY.to_le_bytes().to_vec(), "sumBase"),
    ];
    for (offset, patch, field) in cases {
        let mut b = good.clone();
        b[offset..offset + patch.len()].copy_from_slice(&patch);
        reseal(&mut b);
        let e = restore(&b, 8).expect_err(field);
        assert!(e.message().contains(field), "patch at {offset} should name {field}: {e}");
        assert_ne!(e.kind(), ErrorKind::ModelMismatch, "{e}");
    }
    let mut b = good.clone();
    b[offset::VERSION..offset::VERSION + 2].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    assert_eq!(restore(&b, 8).expect_err("version").kind(), ErrorKind::UnsupportedVersion);
    // Moving weight between buckets of one array breaks its total.
    let mut b = good.clone();
    b[payload..payload + 4].copy_from_slice(&1000f32.to_le_bytes());
    reseal(&mut b);
    let e = restore(&b, 8).expect_err("totals");
    assert_eq!(e.kind(), ErrorKind::CorruptData, "{e}");
}

#[test]
fn absurd_sizes_fail_before_allocating() {
    // A sparse header claiming K = 64, L = 16 (4M buckets) over a few
    // hundred bytes must be refused from the header, not by allocating 66 MB.
    let mut s = session(4, 4, 8, None, residual());
    fill(&mut s, 5);
    let mut b = codec::encode(&s);
    assert_eq!(b[offset::LAYOUT], 1, "sparse layout");
    b[offset::BITS] = 16;
    b[offset::ARRAYS] = 64;
    reseal(&mut b);
    let e = restore(&b, 8).expect_err("absurd");
    assert!(e.message().contains("buckets"), "{e}");
    // A dense header claiming more entries than the bytes hold fails on length.
    fill(&mut s, 300);
    let mut b = codec::encode(&s);
    assert_eq!(b[offset::LAYOUT], 0, "dense layout");
    b[offset::BITS] = 12;
    reseal(&mut b);
    let e = restore(&b, 8).expect_err("entries");
    assert!(e.message().contains("entries"), "{e}");
    // Under a generous limit the same big sparse shape is a valid memory.
    let big = session(16, 16, 8, None, residual());
    let bytes = codec::encode(&big);
    assert!(bytes.len() < 200);
    assert!(restore(&bytes, 8).is_ok(), "16x2^16 x 12 B = 12.6 MB fits the default limit");
    let e = codec::decode_with_limit(&bytes, &model_id(), Some(&mu(8)), 1 << 20).expect_err("limit");
    assert!(e.message().contains("decode limit"), "{e}");
}

fn golden_sessions() -> Vec<(&'static str, Memory)> {
    let mut empty = session(4, 4, 8, None, residual());
    fill(&mut empty, 0);
    let mut sparse = session(8, 2, 8, None, Estimator::Paper(PaperParams { lambda: 0.5, tau: 1.0, gamma: 1.0 }));
    fill(&mut sparse, 5);
    let mut dense = session(
        4,
        4,
        8,
        Some(40.0),
        Estimator::Residual(ResidualParams { lambda: 1.5, tau: 0.5, n0: 4.0, alpha: 2.0, p0: 0.55, pool: 3.0 }),
    );
    fill(&mut dense, 500);
    vec![("empty", empty), ("sparse", sparse), ("dense", dense)]
}

/// Version 2 adds the intent estimator: its golden memory.
fn golden_intent() -> Memory {
    let mut intent = session(
        5,
        4,
        8,
        Some(15.0),
        Estimator::Intent(ResidualParams { lambda: 2.0, tau: 0.3, n0: 16.0, alpha: 2.0, p0: 0.55, pool: 4.0 }),
    );
    fill(&mut intent, 300);
    intent
}

/// Version 3 adds impressions to the saved bytes: the intent memory with
/// five of them (one recorded since, so four live; `max` keeps three).
fn golden_impressions(memory: &Memory) -> Impressions {
    let mut imp = Impressions::new(8, usize::from(memory.sketch().config().arrays));
    let mut buckets = [0u16; 4];
    for i in 0..5 {
        memory.buckets_of(&key(i, 8), &mut buckets).expect("buckets");
        imp.insert(&format!("page1:{i}"), 0.1 + 0.15 * i as f32, &buckets);
    }
    let slot = imp.find("page1:2").expect("live");
    imp.remove(slot);
    imp
}

/// The golden files pin the current format byte for byte. Regenerate only on a
/// deliberate format change (with a version bump):
/// `RELOOP_UPDATE_GOLDEN=1 cargo test --test codec golden`.
#[test]
fn golden_files_pin_the_format() {
    let update = std::env::var_os("RELOOP_UPDATE_GOLDEN").is_some();
    let mut sessions = golden_sessions();
    sessions.push(("intent", golden_intent()));
    for (name, mut s) in sessions {
        let path = format!("{GOLDEN_DIR}/memory-v{FORMAT_VERSION}-{name}.bin");
        let bytes = codec::encode(&s);
        if update {
            std::fs::write(&path, &bytes).expect("write golden");
        }
        let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(bytes, golden, "{name}: encoder output changed; bump FORMAT_VERSION for a format change");
        let mut back = restore(&golden, 8).expect("golden decodes");
        assert_eq!(probe_scores(&mut back), probe_scores(&mut s), "{name}");
    }
    let intent = golden_intent();
    let path = format!("{GOLDEN_DIR}/memory-v{FORMAT_VERSION}-impressions.bin");
    let bytes = codec::encode_with(&intent, Some(&golden_impressions(&intent)), 3);
    if update {
        std::fs::write(&path, &bytes).expect("write golden");
    }
    let golden = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(bytes, golden, "impressions: encoder output changed; bump FORMAT_VERSION for a format change");
    let (_, carried) =
        codec::decode_with_impressions(&golden, &model_id(), Some(&mu(8)), codec::DEFAULT_MAX_HEAP_BYTES)
            .expect("decodes");
    let ids: Vec<&str> = carried.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["page1:1", "page1:3", "page1:4"], "the three most recent live impressions, oldest first");
    assert_eq!(carried[2].y_base, 0.1 + 0.15 * 4.0);
}

/// A saved impression records exactly what recording it before the save
/// would have, with no key vector.
#[test]
fn saved_impressions_record_as_before_the_save() {
    let mut a = golden_intent();
    let imp = golden_impressions(&a);
    let bytes = codec::encode_with(&a, Some(&imp), 64);
    let (mut b, carried) =
        codec::decode_with_impressions(&bytes, &model_id(), Some(&mu(8)), codec::DEFAULT_MAX_HEAP_BYTES)
            .expect("decodes");
    assert_eq!(carried.len(), 4);
    for (i, c) in carried.iter().enumerate() {
        let (y, buckets) = imp.get(imp.find(&c.id).expect("live"));
        assert_eq!((c.y_base, c.buckets.as_slice()), (y, buckets));
        let clicked = i % 2 == 0;
        let want = a.record(y, &key(c.id[6..].parse().expect("index"), 8), clicked).expect("record");
        assert_eq!(b.record_buckets(c.y_base, &c.buckets, clicked).expect("record_buckets"), want);
    }
    assert_eq!(codec::encode(&a), codec::encode(&b));
    // Every truncation and bit flip of the impressions section is refused.
    let start = bytes.len() - 4 - (2 + 4 * (1 + 7 + 4 + 8));
    for cut in start..bytes.len() - 4 {
        let mut t = bytes[..cut].to_vec();
        t.extend_from_slice(&[0; 4]);
        reseal(&mut t);
        assert!(restore(&t, 8).is_err(), "cut at {cut}");
    }
    let mut repeated = bytes.clone();
    let second = start + 2 + (1 + 7 + 4 + 8);
    repeated[second + 1..second + 8].copy_from_slice(b"page1:0");
    reseal(&mut repeated);
    assert!(restore(&repeated, 8).unwrap_err().message().contains("repeats"));
    let mut bucket = bytes.clone();
    bucket[start + 2 + 1 + 7 + 4..start + 2 + 1 + 7 + 4 + 2].copy_from_slice(&40u16.to_le_bytes());
    reseal(&mut bucket);
    assert!(restore(&bucket, 8).unwrap_err().message().contains("impressionBucket"));
}

/// Older versions still read: the version 1 golden files decode into the
/// memories they were written from, and re-encode as the current version.
#[test]
fn version_1_golden_files_still_read() {
    for (name, mut s) in golden_sessions() {
        let path = format!("{GOLDEN_DIR}/memory-v1-{name}.bin");
        let v1 = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(v1[offset::VERSION..offset::VERSION + 2], 1u16.to_le_bytes());
        let mut back = restore(&v1, 8).expect("a version 1 memory decodes");
        assert_eq!(probe_scores(&mut back), probe_scores(&mut s), "{name}");
        assert_eq!(codec::encode(&back), codec::encode(&s), "{name}: re-encoded as version {FORMAT_VERSION}");
    }
    // The intent estimator did not exist in version 1 (nor impressions).
    let mut v1 = codec::encode(&golden_intent());
    let at = v1.len() - 6;
    v1.drain(at..at + 2);
    v1[offset::VERSION..offset::VERSION + 2].copy_from_slice(&1u16.to_le_bytes());
    reseal(&mut v1);
    let e = restore(&v1, 8).expect_err("kind 2 in version 1");
    assert!(e.message().contains("estimator"), "{e}");
}

/// Version 2 files (no impressions section) still read, and re-encode as
/// the current version with none.
#[test]
fn version_2_golden_files_still_read() {
    let mut sessions = golden_sessions();
    sessions.push(("intent", golden_intent()));
    for (name, mut s) in sessions {
        let path = format!("{GOLDEN_DIR}/memory-v2-{name}.bin");
        let v2 = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(v2[offset::VERSION..offset::VERSION + 2], 2u16.to_le_bytes());
        let (mut back, carried) =
            codec::decode_with_impressions(&v2, &model_id(), Some(&mu(8)), codec::DEFAULT_MAX_HEAP_BYTES)
                .expect("a version 2 memory decodes");
        assert!(carried.is_empty());
        assert_eq!(probe_scores(&mut back), probe_scores(&mut s), "{name}");
        assert_eq!(codec::encode(&back), codec::encode(&s), "{name}: re-encoded as version {FORMAT_VERSION}");
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = restore(&bytes, 8);
        let _ = codec::peek(&bytes);
    }

    #[test]
    fn random_sessions_round_trip(
        bits in 0u8..7, arrays in 1u8..6, events in 0usize..300,
        half_life in proptest::option::of(1f32..100.0),
    ) {
        let mut a = session(bits, arrays, 8, half_life, residual());
        fill(&mut a, events);
        let mut b = restore(&codec::encode(&a), 8).expect("decode");
        prop_assert_eq!(probe_scores(&mut b), probe_scores(&mut a));
    }
}
