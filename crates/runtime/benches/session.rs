//! The scoring path natively, on the bundled MovieLens model: a batch of
//! 100 items through `Model::run` (encoding + tract; below, by page size,
//! through the first-layer split and the whole model) and through
//! `Session::score` (plus the memory read and the correction), and
//! one `record`. The wasm package runs the same code; `benches/node`
//! measures it there against onnxruntime-web.
//!
//! On x86-64 hosts with AVX-512 (this machine), the memory read after a
//! model run is far slower than `benches/sketch.rs` suggests: once tract's
//! AVX-512 matrix kernel has run, scalar SSE code such as `f64::ln` takes
//! ~190 ns a call instead of ~6 ns for the rest of the thread (MXCSR is
//! unchanged; likely dirty upper ZMM state). wasm is not affected.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reloop_runtime::{Catalog, Item, ModelOutput, Session, SessionOptions, bundled};
use serde_json::{Value, json};
use std::hint::black_box;

const GENRES: [&str; 6] = ["Drama", "Comedy", "Action", "Thriller", "Romance", "Sci-Fi"];

fn item(v: Value) -> Item {
    match v {
        Value::Object(map) => map,
        _ => Item::new(),
    }
}

fn batch(n: u32) -> Vec<Item> {
    (0..n)
        .map(|i| {
            let genres = [GENRES[(i % 6) as usize], GENRES[((i / 6) % 6) as usize]];
            item(json!({ "itemId": 1 + (i * 37) % 1682, "genres": genres, "year": 1960 + i % 39 }))
        })
        .collect()
}

fn scoring(c: &mut Criterion) {
    let model = bundled::model().expect("bundled model loads");
    let context = item(json!({
        "userId": 196, "age": 49, "gender": "M", "occupation": "writer", "zip": "5", "hour": 21, "weekday": 3
    }));
    let items = batch(100);
    let mut group = c.benchmark_group("bundled");
    group.throughput(Throughput::Elements(items.len() as u64));

    let mut out = ModelOutput::default();
    group.bench_function("model_run_100", |b| {
        b.iter(|| model.run(black_box(&items), &context, &mut out).expect("runs"));
    });

    // The catalog path, through the first-layer split and through the general plan.
    let ids: Vec<String> = (0..items.len()).map(|i| format!("m{i}")).collect();
    let entries: Vec<u32> = (0..items.len() as u32).collect();
    for (name, split) in [("catalog_run_100_split", true), ("catalog_run_100_general", false)] {
        let mut catalog = Catalog::with_split(&model, split);
        catalog.insert(&ids, &items).expect("inserts");
        group.bench_function(name, |b| {
            b.iter(|| model.run_catalog(&catalog, black_box(&entries), &context, &mut out).expect("runs"));
        });
    }
    group.finish();

    // Small pages: a split catalog takes the general path below
    // `SPLIT_MIN_ROWS` rows, so `split_n` and `general_n` match there.
    let mut sizes = c.benchmark_group("catalog_rows");
    for split in [true, false] {
        let mut catalog = Catalog::with_split(&model, split);
        catalog.insert(&ids, &items).expect("inserts");
        for n in [1usize, 16, 32, 48, 64] {
            let page = &entries[..n];
            let name = format!("{}_{n}", if split { "split" } else { "general" });
            sizes.bench_function(name, |b| {
                b.iter(|| model.run_catalog(&catalog, black_box(page), &context, &mut out).expect("runs"));
            });
        }
    }
    sizes.finish();

    // Pages of items: through the split (column shares, once made) and the
    // whole model, by page size.
    let mut sizes = c.benchmark_group("item_rows");
    model.warm_up_sizes(&[100]).expect("warms up");
    for n in [32usize, 48, 64, 100] {
        let page = &items[..n];
        sizes.bench_function(format!("split_{n}"), |b| {
            b.iter(|| model.run(black_box(page), &context, &mut out).expect("runs"));
        });
        sizes.bench_function(format!("whole_{n}"), |b| {
            b.iter(|| model.run_unsplit(black_box(page), &context, &mut out).expect("runs"));
        });
    }
    sizes.finish();
    let mut group = c.benchmark_group("bundled");

    let mut session = Session::new(&model, &SessionOptions::default()).expect("session");
    for (i, it) in batch(200).iter().enumerate() {
        session.record(it, &context, i % 3 == 0).expect("records");
    }
    group.bench_function("score_100", |b| {
        b.iter(|| black_box(session.score(black_box(&items), &context).expect("scores").len()));
    });
    group.throughput(Throughput::Elements(1));
    let one = &items[..1];
    group.bench_function("score_1", |b| {
        b.iter(|| black_box(session.score(black_box(one), &context).expect("scores").len()));
    });
    let mut k = 0usize;
    group.bench_function("record", |b| {
        b.iter(|| {
            k += 1;
            session.record(&items[k % items.len()], &context, k % 4 == 0).expect("records")
        });
    });
    group.finish();
}

criterion_group!(benches, scoring);
criterion_main!(benches);
