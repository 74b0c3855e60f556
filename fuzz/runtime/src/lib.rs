//! What the runtime's fuzz targets share: the models they start from (the
//! bundled MovieLens model and the runtime tests' ONNX fixtures, generated
//! by the tests' own code), items that reach every field's extremes, a
//! generator of hostile field values, and the one check of a loaded model
//! (warm-up, a scored batch, a recorded outcome) that must end in `Ok` or a
//! coded error, never a panic.

use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use prost::Message;
use reloop_core::{ErrorKind, Result};
use reloop_runtime::spec::FieldSpec;
use reloop_runtime::{Item, Model, ModelOutput, ModelSpec, Session, SessionOptions};
use serde_json::{Number, Value, json};
use tract_onnx::pb;

/// The runtime tests' fixtures: small ONNX CTR models written with
/// `tract_onnx::pb` and their specs (`crates/runtime/tests/common`).
#[path = "../../../crates/runtime/tests/common/mod.rs"]
#[allow(clippy::all, unused_imports)]
pub mod fixture;

/// A model the targets start from: its ONNX bytes (and decoded protobuf),
/// its spec, and items that are valid for it.
pub struct Base {
    /// Short name (`bundled`, `sigmoid`, `logit`, `softmax2`).
    pub name: &'static str,
    /// The ONNX bytes.
    pub onnx: Vec<u8>,
    /// The same bytes decoded, for structure-aware mutation.
    pub proto: pb::ModelProto,
    /// The spec it ships with.
    pub spec: ModelSpec,
    /// A small batch of items valid for the spec.
    pub items: Vec<Item>,
    /// The context the items share.
    pub context: Item,
}

fn object(value: Value) -> Item {
    match value {
        Value::Object(map) => map,
        _ => Item::new(),
    }
}

/// The bundled model first, then the three fixture heads.
pub fn bases() -> &'static [Base] {
    static BASES: OnceLock<Vec<Base>> = OnceLock::new();
    BASES.get_or_init(|| {
        let bundled_items = vec![
            object(json!({ "itemId": 50, "genres": ["Action", "Sci-Fi"], "year": 1977 })),
            object(json!({ "itemId": 99_999, "genres": ["Comedy"] })),
            object(json!({ "itemId": 1, "genres": [], "year": 1995, "userId": 123_456 })),
        ];
        let bundled_context = object(json!({
            "userId": 1, "age": 24, "gender": "M", "occupation": "technician", "zip": "8", "hour": 20, "weekday": 5
        }));
        let fixture_items = vec![
            object(json!({ "user": "u1", "item": "a", "age": 25 })),
            object(json!({ "user": "nobody", "item": 7 })),
        ];
        let mut bases = vec![base(
            "bundled",
            reloop_runtime::bundled::onnx().to_vec(),
            reloop_runtime::bundled::spec_json(),
            bundled_items,
            bundled_context,
        )];
        for (name, head) in [
            ("sigmoid", fixture::Head::Sigmoid),
            ("logit", fixture::Head::Logit),
            ("softmax2", fixture::Head::Softmax2),
        ] {
            let spec = fixture::mlp_spec(head);
            bases.push(base(name, fixture::mlp_onnx(head), &spec, fixture_items.clone(), Item::new()));
        }
        bases
    })
}

fn base(name: &'static str, onnx: Vec<u8>, spec_json: &str, items: Vec<Item>, context: Item) -> Base {
    // The seeds themselves must be sound, or every run would stop here.
    let proto = pb::ModelProto::decode(onnx.as_slice()).expect("seed model decodes");
    let spec = ModelSpec::from_json(spec_json).expect("seed spec is valid");
    Base { name, onnx, proto, spec, items, context }
}

/// The bundled model, loaded once.
pub fn bundled_model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| reloop_runtime::bundled::model().expect("the bundled model loads"))
}

/// The names of the graph inputs of `onnx`, if it decodes as ONNX.
pub fn graph_inputs(onnx: &[u8]) -> Option<Vec<String>> {
    let proto = pb::ModelProto::decode(onnx).ok()?;
    Some(proto.graph?.input.into_iter().map(|i| i.name).collect())
}

/// The bases whose spec inputs all appear among `inputs`: the specs a
/// loader could pair these ONNX bytes with.
pub fn bases_for(inputs: &[String]) -> impl Iterator<Item = &'static Base> {
    bases().iter().filter(move |b| b.spec.inputs.iter().all(|i| inputs.contains(&i.name)))
}

/// Loading untrusted bytes or specs fails only with the load's kinds.
pub fn loaded(result: Result<Model>) -> Option<Model> {
    match result {
        Ok(model) => Some(model),
        Err(e) => {
            assert!(matches!(e.kind(), ErrorKind::Model | ErrorKind::InvalidConfig), "load: unexpected kind: {e}");
            None
        }
    }
}

/// One item per extreme of every field the spec reads: each vocabulary's
/// highest and lowest index, an unknown category, numbers far outside
/// every bucket and normalisation, and lists of them. Whatever the model
/// loads with, these reach the edges of its tables.
pub fn extreme_items(spec: &ModelSpec) -> Vec<Item> {
    let mut high = Item::new();
    let mut low = Item::new();
    let mut unknown = Item::new();
    let number = |v: f64| Number::from_f64(v).map_or(Value::Null, Value::Number);
    for (name, field) in &spec.fields {
        let vocabulary = match field {
            FieldSpec::Categorical(c) => c.vocabulary.as_ref(),
            FieldSpec::MultiCategorical(m) => m.vocabulary.as_ref(),
            FieldSpec::Numeric(_) | FieldSpec::Bucketized(_) => None,
        };
        let by_index = |pick_max: bool| {
            vocabulary.and_then(|v| {
                let best = if pick_max { v.iter().max_by_key(|(_, i)| **i) } else { v.iter().min_by_key(|(_, i)| **i) };
                best.map(|(k, _)| Value::String(k.clone()))
            })
        };
        let (h, l, u) = match field {
            FieldSpec::Categorical(_) => (
                by_index(true).unwrap_or_else(|| json!("h")),
                by_index(false).unwrap_or_else(|| json!(-1)),
                json!("\u{0}fuzz-unknown"),
            ),
            FieldSpec::MultiCategorical(_) => {
                let (h, l) = (by_index(true).unwrap_or(json!("h")), by_index(false).unwrap_or(json!(0)));
                (json!([h.clone(), l.clone(), "\u{0}fuzz-unknown", h]), json!([l]), json!(["\u{0}fuzz-unknown"]))
            }
            FieldSpec::Numeric(_) | FieldSpec::Bucketized(_) => (number(1e300), number(-1e300), number(0.5)),
        };
        high.insert(name.clone(), h);
        low.insert(name.clone(), l);
        unknown.insert(name.clone(), u);
    }
    vec![high, low, unknown]
}

/// Everything a caller does with a freshly loaded model: warm-up, a scored
/// batch of the base's items and of `extra`, a recorded outcome, a saved and
/// restored session. Each step returns `Ok` or a coded error; scores that
/// come back are probabilities.
pub fn exercise(model: &Model, items: &[Item], context: &Item, extra: &[Item]) {
    let _ = model.warm_up();
    let mut out = ModelOutput::default();
    for batch in [items, extra] {
        if model.run(batch, context, &mut out).is_ok() {
            assert_eq!(out.rows(), batch.len());
            assert!(out.y_base().iter().all(|p| p.is_finite() && (0.0..=1.0).contains(p)), "{:?}", out.y_base());
            assert!(out.hidden().iter().all(|h| h.is_finite()));
        }
    }
    let Ok(mut session) = Session::new(model, &SessionOptions::default()) else { return };
    if let Ok(scores) = session.score(items, context) {
        assert!(scores.iter().all(|p| p.score.is_finite() && (0.0..=1.0).contains(&p.score)));
    }
    if let Some(first) = items.first() {
        let _ = session.record(first, context, true);
    }
    let saved = session.save();
    let restored = Session::restore(model, &SessionOptions::default(), &saved);
    assert!(restored.is_ok(), "a saved session restores on its own model: {:?}", restored.err());
}

/// A hostile field value: any JSON type the value grammar reads or
/// refuses, with edge numbers (2^53 ± 1, -0, huge, fractional), known
/// categories of the bundled model, arbitrary strings, nested lists and
/// objects.
pub fn value(u: &mut Unstructured<'_>, depth: u32) -> ArbResult<Value> {
    const CATEGORIES: &[&str] = &[
        "F",
        "M",
        "Action",
        "Sci-Fi",
        "Comedy",
        "unknown",
        "writer",
        "student",
        "technician",
        "9",
        "0",
        "1",
        "50",
        "1997",
        "",
        "none",
        "-1",
    ];
    const NUMBERS: &[f64] = &[
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        17.999_999,
        18.0,
        23.0,
        24.0,
        1997.0,
        1e15,
        9_007_199_254_740_992.0,
        9_007_199_254_740_993.0,
        -9_007_199_254_740_992.0,
        1.7e308,
        -1.7e308,
        5e-324,
        2_147_483_648.0,
    ];
    let max = if depth >= 3 { 6 } else { 8 };
    Ok(match u.int_in_range(0..=max)? {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => json!(u.int_in_range(-3i64..=2200)?),
        3 => Value::Number(Number::from(u.arbitrary::<i64>()?)),
        4 => Number::from_f64(u.arbitrary::<f64>()?).map_or(Value::Null, Value::Number),
        5 => Value::String((*u.choose(CATEGORIES)?).to_string()),
        6 => match u.int_in_range(0..=1)? {
            0 => Number::from_f64(*u.choose(NUMBERS)?).map_or(Value::Null, Value::Number),
            _ => Value::String(u.arbitrary::<&str>()?.chars().take(24).collect()),
        },
        7 => {
            let n = u.int_in_range(0..=6)?;
            Value::Array((0..n).map(|_| value(u, depth + 1)).collect::<ArbResult<_>>()?)
        }
        _ => {
            let mut map = serde_json::Map::new();
            map.insert("k".into(), value(u, depth + 1)?);
            Value::Object(map)
        }
    })
}

/// An item of hostile values: mostly the model's own field names, some
/// left out, some unknown names.
pub fn item(u: &mut Unstructured<'_>, names: &[&str]) -> ArbResult<Item> {
    let mut item = Item::new();
    for name in names {
        if u.ratio(3u8, 4u8)? {
            item.insert((*name).to_string(), value(u, 0)?);
        }
    }
    if u.ratio(1u8, 8u8)? {
        item.insert(u.arbitrary::<&str>()?.chars().take(12).collect(), value(u, 0)?);
    }
    Ok(item)
}
