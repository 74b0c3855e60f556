//! Write and read latency of the error memory across its shape, and the
//! saved size. Inputs are built once per case; only the call is timed.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use reloop_core::{Estimator, Memory, MemoryConfig, ModelId, ResidualParams, SketchConfig, codec};
use std::hint::black_box;

const KEYS: usize = 1024;

fn keys(dim: usize) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    (0..KEYS).map(|_| (0..dim).map(|_| StandardNormal.sample(&mut rng)).collect()).collect()
}

/// A memory of the given shape, every sample written (no error filter), with
/// the residual estimator the README's figures were measured with.
fn session(bits: u8, arrays: u8, dim: usize) -> Memory {
    let sketch = SketchConfig {
        bits,
        arrays,
        dim: dim as u32,
        half_life: Some(500.0),
        error_filter: 0.0,
        ..SketchConfig::default()
    };
    let estimator =
        Estimator::Residual(ResidualParams { lambda: 1.0, tau: 1.0, n0: 5.0, alpha: 2.0, p0: 0.5, pool: 0.0 });
    let config = MemoryConfig { sketch, estimator };
    let mut s = Memory::new(config, ModelId::digest(&[b"bench"]), Some(vec![0.1; dim])).expect("valid config");
    for (i, h) in keys(dim).iter().enumerate() {
        s.record(0.3, h, i % 3 == 0).expect("valid sample");
    }
    s
}

fn shapes() -> impl Iterator<Item = (u8, u8, usize)> {
    [0u8, 4, 8, 12]
        .into_iter()
        .flat_map(|l| [1u8, 4, 16].into_iter().flat_map(move |k| [32usize, 64].into_iter().map(move |d| (l, k, d))))
}

fn bench_write(c: &mut Criterion) {
    let mut group = c.benchmark_group("write");
    group.throughput(Throughput::Elements(1));
    for (l, k, d) in shapes() {
        let mut s = session(l, k, d);
        let hs = keys(d);
        let mut i = 0usize;
        group.bench_function(BenchmarkId::from_parameter(format!("L{l}_K{k}_d{d}")), |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                black_box(s.record(0.3, black_box(&hs[i]), i % 2 == 0).expect("valid"));
            })
        });
    }
    group.finish();
}

fn bench_read(c: &mut Criterion) {
    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(1));
    for (l, k, d) in shapes() {
        let s = session(l, k, d);
        let hs = keys(d);
        let mut out = Vec::with_capacity(usize::from(k));
        let mut i = 0usize;
        group.bench_function(BenchmarkId::from_parameter(format!("L{l}_K{k}_d{d}")), |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                s.sketch().read(black_box(&hs[i]), &mut out).expect("valid");
                black_box(out.len())
            })
        });
    }
    group.finish();
}

/// Read plus estimator: what `score` costs per item beyond the model.
fn bench_score(c: &mut Criterion) {
    let mut group = c.benchmark_group("score");
    group.throughput(Throughput::Elements(1));
    for (l, k, d) in shapes() {
        let mut s = session(l, k, d);
        let hs = keys(d);
        let mut i = 0usize;
        group.bench_function(BenchmarkId::from_parameter(format!("L{l}_K{k}_d{d}")), |b| {
            b.iter(|| {
                i = (i + 1) % KEYS;
                black_box(s.score_one(0.3, black_box(&hs[i])).expect("valid"))
            })
        });
    }
    group.finish();
}

fn bench_codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    println!("saved sizes after {KEYS} writes (bytes):");
    for (l, k, d) in shapes().filter(|s| s.2 == 32) {
        let s = session(l, k, d);
        let bytes = codec::encode(&s);
        let fresh = Memory::new(s.config(), *s.model_id(), Some(vec![0.1; d])).expect("valid");
        println!("  L{l} K{k}: {} (empty: {})", bytes.len(), codec::encode(&fresh).len());
        if (l, k) == (4, 4) {
            group.bench_function("encode_L4_K4", |b| b.iter(|| black_box(codec::encode(&s))));
            let id = *s.model_id();
            let mu = vec![0.1f32; d];
            group.bench_function("decode_L4_K4", |b| {
                b.iter(|| black_box(codec::decode(black_box(&bytes), &id, Some(&mu)).expect("valid")))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_write, bench_read, bench_score, bench_codec);
criterion_main!(benches);
