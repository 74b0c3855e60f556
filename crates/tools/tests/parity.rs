//! The exported ONNX, run by tract through `reloop_runtime::Model`,
//! gives candle's numbers (probability and hidden vector within 1e-5):
//! on a freshly initialised network exported in memory (no data needed)
//! and on the committed bundled model (weights read back from its ONNX).

#![cfg(feature = "train")]

use reloop_runtime::encoder::{EncodedBatch, Encoder};
use reloop_runtime::{Item, Model, ModelOutput, ModelSpec};
use reloop_tools::train::layout::{ID_FIELDS, Layout, bundled_key, hidden_key};
use reloop_tools::train::net::{Net, NetConfig};
use serde_json::json;

const TOLERANCE: f32 = 1e-5;

fn item(value: serde_json::Value) -> Item {
    value.as_object().cloned().unwrap()
}

/// A fixed batch: known and unknown ids and categories, empty, unknown and
/// repeated genres, a missing year, every hour and weekday edge, and
/// context overridden by the item.
fn batch() -> (Vec<Item>, Item) {
    let context = item(json!({
        "userId": 2, "age": 31, "gender": "F", "occupation": "writer", "zip": "9", "hour": 0, "weekday": 0
    }));
    let items = vec![
        item(json!({ "itemId": 10, "genres": ["Comedy"], "year": 1995 })),
        item(json!({ "itemId": 20, "genres": ["Action", "Sci-Fi", "War"], "year": 1977, "hour": 23, "weekday": 6 })),
        item(json!({ "itemId": 30, "genres": [], "year": 1930 })),
        item(json!({ "itemId": 40, "genres": ["Drama", "Nonsense"], "userId": 3, "age": 7, "gender": "M" })),
        item(json!({ "itemId": 77_777, "genres": ["Film-Noir", "Film-Noir"], "year": 1998, "userId": 999 })),
        item(json!({ "itemId": 10, "genres": "Horror", "year": 2020, "age": 73, "occupation": "pilot", "zip": "K" })),
        item(json!({ "itemId": 1, "genres": ["unknown"], "hour": 12.5, "weekday": 3, "userId": 1, "zip": "0" })),
    ];
    (items, context)
}

/// Max |tract − candle| over probabilities and hidden vectors of `items`.
fn max_differences(net: &Net, model: &Model, spec: &ModelSpec, items: &[Item], context: &Item) -> (f32, f32) {
    let mut out = ModelOutput::default();
    model.run(items, context, &mut out).unwrap();
    let mut encoded = EncodedBatch::default();
    Encoder::new(spec).unwrap().encode(items, context, &mut encoded).unwrap();
    let (probs, hidden) = net.predict(encoded.i64_data(0).unwrap(), encoded.f32_data(1).unwrap()).unwrap();
    assert_eq!(out.rows(), items.len());
    assert_eq!(probs.len(), items.len());
    assert_eq!(out.dim(), net.config.hidden);
    let dp = probs.iter().zip(out.y_base()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    let hidden: Vec<f32> = hidden.into_iter().flatten().collect();
    assert_eq!(hidden.len(), out.hidden().len());
    let dh = hidden.iter().zip(out.hidden()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    // The check means something only if the network is not constant.
    assert!(hidden.iter().any(|v| *v > 0.0), "all hidden units are zero");
    assert!(probs.iter().any(|p| (p - probs[0]).abs() > 1e-6), "all probabilities are equal: {probs:?}");
    (dp, dh)
}

#[test]
fn fresh_network_exported_in_memory_matches_candle() {
    let layout = Layout::tiny();
    let config = NetConfig {
        vocab: layout.vocab_size(),
        id_columns: ID_FIELDS.len(),
        genres: layout.genre_width(),
        dim: 4,
        hidden1: 12,
        hidden: 16,
    };
    let net = Net::init(config, 7).unwrap();
    assert_eq!(net.param_count(), config.param_count());
    let spec = layout.spec_with_key(hidden_key(), Some(vec![0.1; 16]), 0.4);
    let onnx = net.to_onnx().unwrap();
    let model = Model::load(&onnx, spec.clone()).unwrap();
    let (items, context) = batch();
    let (dp, dh) = max_differences(&net, &model, &spec, &items, &context);
    assert!(dp <= TOLERANCE && dh <= TOLERANCE, "max |Δprob| {dp}, max |Δh| {dh}");

    // The same seed gives the same network; another seed another one.
    let again = Net::init(config, 7).unwrap();
    assert_eq!(again.to_onnx().unwrap(), onnx);
    assert_ne!(Net::init(config, 8).unwrap().to_onnx().unwrap(), onnx);

    // Reading the weights back from the ONNX gives the same network.
    let read = Net::from_onnx(&onnx).unwrap();
    assert_eq!(read.config, config);
    assert_eq!(read.to_onnx().unwrap(), onnx);
}

#[test]
fn safetensors_round_trip() {
    let layout = Layout::tiny();
    let config = NetConfig {
        vocab: layout.vocab_size(),
        id_columns: ID_FIELDS.len(),
        genres: layout.genre_width(),
        dim: 4,
        hidden1: 8,
        hidden: 16,
    };
    let net = Net::init(config, 3).unwrap();
    let path = std::env::temp_dir().join(format!("reloop-parity-{}.safetensors", std::process::id()));
    net.save_safetensors(&path).unwrap();
    let back = Net::load_safetensors(config, &path).unwrap();
    std::fs::remove_file(&path).ok();
    assert_eq!(back.to_onnx().unwrap(), net.to_onnx().unwrap());
}

#[test]
fn committed_model_matches_candle() {
    let onnx = reloop_runtime::bundled::onnx();
    let bundled = ModelSpec::from_json(reloop_runtime::bundled::spec_json()).unwrap();
    let net = Net::from_onnx(onnx).unwrap();
    let c = net.config;
    assert!(net.param_count() <= 100_000, "{} parameters", net.param_count());
    assert!((16..=64).contains(&c.hidden), "hidden width {}", c.hidden);
    // The bundled spec's memory key is the one the layout defines, centred.
    assert_eq!(bundled.outputs.hidden, bundled_key(c.dim));
    let key_width = reloop_runtime::bundled::model().unwrap().hidden_dim();
    assert_eq!(bundled.mu.as_ref().map(Vec::len), Some(key_width));
    // The numbers are checked on the last hidden layer (candle's output).
    let mut spec = bundled.clone();
    spec.outputs.hidden = hidden_key();
    spec.mu = None;
    let model = Model::load(onnx, spec.clone()).unwrap();
    let (items, context) = batch();
    let (dp, dh) = max_differences(&net, &model, &spec, &items, &context);
    assert!(dp <= TOLERANCE && dh <= TOLERANCE, "max |Δprob| {dp}, max |Δh| {dh}");

    // A larger batch over many ids, every hour and weekday.
    let items: Vec<Item> = (0..500u32)
        .map(|i| {
            let genres: &[&str] = [&["Drama"][..], &["Comedy", "Romance"], &[]][(i % 3) as usize];
            let gender = ["M", "F"][(i % 2) as usize];
            let occupation = ["student", "engineer", "other", "artist"][(i % 4) as usize];
            item(json!({
                "itemId": 1 + i * 3, "userId": 1 + (i * 7) % 943, "genres": genres,
                "year": 1930 + i % 70, "age": 10 + i % 60, "gender": gender, "occupation": occupation,
                "zip": (i % 10).to_string(), "hour": i % 24, "weekday": i % 7
            }))
        })
        .collect();
    let (dp, dh) = max_differences(&net, &model, &spec, &items, &Item::new());
    assert!(dp <= TOLERANCE && dh <= TOLERANCE, "max |Δprob| {dp}, max |Δh| {dh}");
}
