//! A synthetic ad-click model and event log with another field set than
//! MovieLens: for the command-line tool's tests and throughput benchmark,
//! and the Worker's own-model test (`reloop example`).
//!
//! The model (seeded weights, ONNX written with [`crate::onnx_graph`]):
//!
//! ```text
//! ids [N, 3] (site, ad, hour) + [0, 40, 241] ─Gather(emb 245 × 8)─Flatten (`emb_flat`)─┐
//! dense [N, 4] (device one-hot, price) ───────────────────────────────────────────────┴─Concat
//!   ─MatMul + b─Relu (`hidden1`, not a graph output)─MatMul + b─Sigmoid (`ctr`)
//! ```
//!
//! Fields: `site` (hashed into 40), `ad` (a vocabulary of 200, unknown ads
//! at index 0), `hour` (bucketized, right-closed at 6, 12, 18), `device`
//! (one-hot of ios/android/web, anything else all zeros), `price`
//! (numeric). Ads come in 8 groups (`ad{g + 8k}`) whose embeddings cluster.
//! The spec's key is the ad's embedding, columns 8..16 of the intermediate
//! `emb_flat` (the last hidden layer `hidden1` is the other obvious choice;
//! on the example log the ad's embedding gives the memory more to work
//! with).
//!
//! The log: users in sessions (tens of seconds between events, hours
//! between sessions); in each session the user likes one ad group more
//! than the model knows (and a third of the ads shown are of it), so the
//! click is drawn from `sigmoid(logit(y_base) + drift)` with `drift` +1.5
//! on that group and −0.3 elsewhere: what a session memory can learn and a
//! frozen model cannot.

use std::io::Write;
use std::path::Path;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};
use reloop_core::prob::{logit, sigmoid};
use reloop_core::{Error, Result};
use reloop_runtime::{Item, Model, ModelOutput, ModelSpec};
use serde_json::{Value, json};
use tract_onnx::pb;

use crate::log::Format;
use crate::onnx_graph::{ONNX_FLOAT, ONNX_INT64, int_attr, model_bytes, node, tensor_f32, tensor_i64, value_info};

/// Sites (hashed), ads (vocabulary), hour buckets: the rows of each block.
const SITES: usize = 40;
const ADS: usize = 200;
const HOUR_BOUNDARIES: [f64; 3] = [6.0, 12.0, 18.0];
const GROUPS: usize = 8;
const EMB: usize = 8;
const HIDDEN: usize = 16;
const DEVICES: [&str; 3] = ["ios", "android", "web"];

/// The example model and its spec (with `p0` once a log is written).
#[derive(Clone, Debug)]
pub struct Example {
    /// The ONNX bytes.
    pub onnx: Vec<u8>,
    /// The spec.
    pub spec: ModelSpec,
}

/// The example's spec as JSON (without `p0`).
pub fn spec_json() -> Value {
    let ads: serde_json::Map<String, Value> = (0..ADS).map(|i| (format!("ad{i}"), json!(i + 1))).collect();
    json!({
        "inputs": [
            { "name": "ids", "dtype": "i64", "columns": ["site", "ad", "hour"] },
            { "name": "dense", "dtype": "f32", "columns": ["device", "price"] }
        ],
        "fields": {
            "site": { "kind": "categorical", "hashBuckets": SITES },
            "ad": { "kind": "categorical", "vocabulary": ads, "oovIndex": 0 },
            "hour": { "kind": "bucketized", "boundaries": HOUR_BOUNDARIES, "closed": "right" },
            "device": { "kind": "categorical", "vocabulary": { "ios": 0, "android": 1, "web": 2 },
                        "oovIndex": "none", "oneHot": true },
            "price": { "kind": "numeric", "mean": 20.0, "std": 10.0, "default": 20.0 }
        },
        "outputs": { "probability": "ctr", "hidden": [{ "node": "emb_flat", "columns": [8, 16] }] }
    })
}

/// The example model with weights drawn from `seed`.
///
/// # Errors
/// Only if the generated spec or graph were inconsistent (a bug).
pub fn model(seed: u64) -> Result<Example> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let unit = Normal::new(0.0f32, 1.0).map_err(|e| Error::config(e.to_string()))?;
    let mut normal = |sd: f32, n: usize| -> Vec<f32> { (0..n).map(|_| sd * unit.sample(&mut rng)).collect() };
    let rows = SITES + ADS + 1 + HOUR_BOUNDARIES.len() + 1;
    let mut emb = normal(0.5, rows * EMB);
    let centroids = normal(0.8, GROUPS * EMB);
    let noise = normal(0.15, (ADS + 1) * EMB);
    for ad in 0..=ADS {
        let group = ad % GROUPS;
        for k in 0..EMB {
            emb[(SITES + ad) * EMB + k] = centroids[group * EMB + k] + noise[ad * EMB + k];
        }
    }
    let width = 3 * EMB + DEVICES.len() + 1;
    let initializer = vec![
        tensor_f32("emb", &[rows, EMB], emb),
        tensor_i64("offsets", &[3], vec![0, SITES as i64, (SITES + ADS + 1) as i64]),
        tensor_f32("w1", &[width, HIDDEN], normal(0.35, width * HIDDEN)),
        tensor_f32("b1", &[HIDDEN], normal(0.1, HIDDEN)),
        tensor_f32("w2", &[HIDDEN, 1], normal(0.5, HIDDEN)),
        tensor_f32("b2", &[1], vec![-1.4]),
    ];
    let nodes = vec![
        node("Add", &["ids", "offsets"], "rows", vec![]),
        node("Gather", &["emb", "rows"], "embedded", vec![int_attr("axis", 0)]),
        node("Flatten", &["embedded"], "emb_flat", vec![int_attr("axis", 1)]),
        node("Concat", &["emb_flat", "dense"], "x", vec![int_attr("axis", 1)]),
        node("MatMul", &["x", "w1"], "mm1", vec![]),
        node("Add", &["mm1", "b1"], "pre1", vec![]),
        node("Relu", &["pre1"], "hidden1", vec![]),
        node("MatMul", &["hidden1", "w2"], "mm2", vec![]),
        node("Add", &["mm2", "b2"], "logit", vec![]),
        node("Sigmoid", &["logit"], "ctr", vec![]),
    ];
    let graph = pb::GraphProto {
        name: "reloop_example_ads".into(),
        node: nodes,
        initializer,
        input: vec![value_info("ids", ONNX_INT64, 3), value_info("dense", ONNX_FLOAT, DEVICES.len() + 1)],
        output: vec![value_info("ctr", ONNX_FLOAT, 1)],
        ..Default::default()
    };
    let onnx = model_bytes(graph, "reloop-edge-example");
    let spec = ModelSpec::from_json(&spec_json().to_string())?;
    Model::load(&onnx, spec.clone())?;
    Ok(Example { onnx, spec })
}

/// One generated impression before its label.
#[derive(Clone, Copy, Debug)]
struct Impression {
    time: i64,
    user: u32,
    site: u16,
    ad: u16,
    device: u8,
    price: f64,
    liked: u8,
}

/// Start of the log: 2026-01-05T00:00:00Z.
const START: i64 = 1_767_571_200;

/// Writes a log of `events` impressions as JSONL or CSV to `path` (rows in
/// time order; CSV times as RFC 3339, JSONL times as Unix seconds), the
/// clicks drawn from `example`'s model plus each session's taste. Returns
/// the label rate. `progress` gets the events written.
///
/// # Errors
/// The file cannot be written, or the model fails (a bug).
pub fn write_log(
    example: &Example,
    events: usize,
    seed: u64,
    format: Format,
    path: &Path,
    progress: &mut dyn FnMut(usize),
) -> Result<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_1065);
    let users = (events / 120).max(1) as u32;
    let mut impressions: Vec<Impression> = Vec::with_capacity(events);
    'users: for user in 0..users {
        let home = (rng.next_u32() as usize % SITES) as u16;
        let device = (rng.next_u32() % 50) as u8; // 0..=2 mostly, 3 (unknown "tv") 2% of users
        let device = if device == 49 { 3 } else { device % 3 };
        let mut t = START + i64::from(rng.next_u32() % (14 * 86_400));
        let sessions = 1 + rng.next_u32() % 6;
        for _ in 0..sessions {
            let liked = (rng.next_u32() as usize % GROUPS) as u8;
            let n = 15 + rng.next_u32() % 45;
            for _ in 0..n {
                if impressions.len() == events {
                    break 'users;
                }
                // A third of the ads shown are of the session's taste (what it browses);
                // ids ≥ ADS are unknown ads.
                let ad = if rng.next_u32() % 3 == 0 {
                    (usize::from(liked) + GROUPS * (rng.next_u32() as usize % (ADS / GROUPS))) as u16
                } else {
                    (rng.next_u32() as usize % (ADS + 8)) as u16
                };
                let site = if rng.next_u32() % 10 < 7 { home } else { (rng.next_u32() as usize % SITES) as u16 };
                let price = 1.0 + f64::from(rng.next_u32() % 6000) / 100.0;
                impressions.push(Impression { time: t, user, site, ad, device, price, liked });
                t += 20 + i64::from(rng.next_u32() % 200);
            }
            t += 2 * 3600 + i64::from(rng.next_u32() % (2 * 86_400));
        }
    }
    // More events than the users gave: keep adding sessions to the last users.
    while impressions.len() < events {
        let mut extra = impressions.last().copied().unwrap_or(Impression {
            time: START,
            user: 0,
            site: 0,
            ad: 0,
            device: 0,
            price: 10.0,
            liked: 0,
        });
        extra.time += 3 * 3600;
        extra.ad = (rng.next_u32() as usize % ADS) as u16;
        impressions.push(extra);
    }
    impressions.sort_by_key(|i| (i.time, i.user));

    let model = Model::load(&example.onnx, example.spec.clone())?;
    let file = std::fs::File::create(path).map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    let io = |e: std::io::Error| Error::input(format!("{}: {e}", path.display()));
    if format == Format::Csv {
        writeln!(out, "time,user,label,site,ad,hour,device,price").map_err(io)?;
    }
    let mut clicks = 0usize;
    let mut result = ModelOutput::default();
    let empty = Item::new();
    let unit = Normal::new(0.0f64, 1.0).map_err(|e| Error::input(e.to_string()))?;
    for (done, chunk) in impressions.chunks(500).enumerate() {
        let items: Vec<Item> = chunk.iter().map(fields).collect();
        model.run_unsplit(&items, &empty, &mut result)?;
        for ((imp, item), &y_base) in chunk.iter().zip(&items).zip(result.y_base()) {
            let group = usize::from(imp.ad) % GROUPS;
            let drift = if group == usize::from(imp.liked) { 1.5 } else { -0.3 };
            let p = sigmoid(logit(f64::from(y_base)) + drift + 0.2 * unit.sample(&mut rng));
            let label = (f64::from(rng.next_u32()) / f64::from(u32::MAX)) < p;
            clicks += usize::from(label);
            write_row(&mut out, format, imp, item, label).map_err(io)?;
        }
        progress((done + 1) * 500);
    }
    out.flush().map_err(io)?;
    Ok(((clicks as f64 + 0.5) / (events as f64 + 1.0)) as f32)
}

fn fields(imp: &Impression) -> Item {
    let hour = (imp.time.rem_euclid(86_400) / 3600) as u32;
    let device = DEVICES.get(usize::from(imp.device)).copied().unwrap_or("tv");
    let mut item = Item::new();
    item.insert("site".into(), json!(format!("s{}", imp.site)));
    item.insert("ad".into(), json!(format!("ad{}", imp.ad)));
    item.insert("hour".into(), json!(hour));
    item.insert("device".into(), json!(device));
    item.insert("price".into(), json!(imp.price));
    item
}

fn write_row(out: &mut impl Write, format: Format, imp: &Impression, item: &Item, label: bool) -> std::io::Result<()> {
    let text =
        |k: &str| item.get(k).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).unwrap_or_default();
    match format {
        Format::Csv => {
            let time = chrono::DateTime::from_timestamp(imp.time, 0).map(|d| d.to_rfc3339()).unwrap_or_default();
            writeln!(
                out,
                "{time},u{},{},{},{},{},{},{}",
                imp.user,
                u8::from(label),
                text("site"),
                text("ad"),
                text("hour"),
                text("device"),
                text("price")
            )
        }
        _ => {
            let mut row = item.clone();
            row.insert("time".into(), json!(imp.time));
            row.insert("user".into(), json!(format!("u{}", imp.user)));
            row.insert("label".into(), json!(label));
            serde_json::to_writer(&mut *out, &row)?;
            writeln!(out)
        }
    }
}
