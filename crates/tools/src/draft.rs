//! A draft spec from a graph (`reloop inspect`): one field per input
//! column, the probability output and a key chosen from the graph, so that
//! writing a spec starts from the model rather than a blank page.
//!
//! Integer columns become hashed categorical placeholders whose bucket
//! count is the number of rows of the table the column feeds (found by the
//! runtime's index check), so the draft loads as it is; float columns
//! become numeric fields. The notes say what to replace: the field names
//! (with your log's column names), the vocabularies the model was trained
//! with, the numeric fields' mean and std, `mu` and `p0` (`reloop check`
//! computes both from a log).

use std::collections::BTreeMap;

use reloop_runtime::inspect::{Graph, GraphTensor};
use reloop_runtime::spec::{DType, FieldSpec, KeySpec};
use reloop_runtime::{Model, ModelSpec};
use serde_json::{Value, json};

/// A draft spec and what to do with it.
#[derive(Clone, Debug)]
pub struct Draft {
    /// The spec, as JSON (loadable when `load_error` is `None`).
    pub spec: Value,
    /// What the draft guessed and what to replace, one line each.
    pub notes: Vec<String>,
    /// Why the draft does not load as it is, if it does not.
    pub load_error: Option<String>,
}

/// The name of column `j` of input `input` of width `width`.
fn column_name(input: &str, j: usize, width: usize) -> String {
    if width == 1 { input.to_string() } else { format!("{input}_{j}") }
}

/// Drafts a spec for `onnx`, whose graph is `graph`.
pub fn draft(onnx: &[u8], graph: &Graph) -> Draft {
    let mut notes = Vec::new();
    let mut inputs = Vec::new();
    let mut fields = serde_json::Map::new();
    for input in &graph.inputs {
        let (Some(dtype), Some(width)) = (input.dtype, input.width) else {
            notes.push(format!(
                "inputs: `{}` ({}, width {:?}) cannot be fed by a spec (int64 or float, [N] or [N, width])",
                input.name, input.elem, input.width
            ));
            continue;
        };
        let columns: Vec<String> = (0..width).map(|j| column_name(&input.name, j, width)).collect();
        for c in &columns {
            let field = match dtype {
                DType::I64 => json!({ "kind": "categorical", "hashBuckets": 1 }),
                DType::F32 => json!({ "kind": "numeric", "mean": 0.0, "std": 1.0 }),
            };
            fields.insert(c.clone(), field);
        }
        inputs.push(json!({ "name": input.name, "dtype": dtype.name(), "columns": columns }));
    }
    let (probability, kind) = probability(graph, &mut notes);
    let hidden = key(graph, probability.as_deref(), &mut notes);
    let mut spec = json!({
        "version": 1,
        "inputs": inputs,
        "fields": fields,
        "outputs": { "probability": probability.clone().unwrap_or_default(), "kind": kind, "hidden": hidden.clone().unwrap_or_default() },
    });
    let load_error = size_tables(onnx, &mut spec, &mut notes).err();
    notes.push(
        "fields: rename each field to the name your items (or your log's columns) use — also in inputs[].columns — \
         and give it the encoding the model was trained with: a vocabulary (value → index) or hashing for \
         categorical columns, mean and std for numeric ones (SPEC.md)"
            .into(),
    );
    notes.push("mu, p0: `reloop check MODEL SPEC ROWS.jsonl --label COLUMN` computes both from a log".into());
    Draft { spec, notes, load_error }
}

/// The probability output: the graph's float output with one value per
/// row (or two: `softmax2`), its kind from the operator producing it.
fn probability(graph: &Graph, notes: &mut Vec<String>) -> (Option<String>, &'static str) {
    let float = |t: &&GraphTensor| t.elem == "float";
    let pick = graph
        .outputs
        .iter()
        .filter(float)
        .find(|t| t.row == Some(1))
        .or_else(|| graph.outputs.iter().filter(float).find(|t| t.row == Some(2)));
    let Some(t) = pick else {
        notes.push(
            "outputs.probability: no float graph output of one (or two) values per row; name the score tensor".into(),
        );
        return (None, "probability");
    };
    let kind = match (t.op.as_str(), t.row) {
        ("Sigmoid", _) => "probability",
        (_, Some(2)) => {
            notes.push(format!(
                "outputs.kind: `{}` has two columns (as skl2onnx writes probabilities): softmax2",
                t.name
            ));
            "softmax2"
        }
        (op, _) => {
            notes.push(format!(
                "outputs.kind: `{}` comes from {op}, not a Sigmoid: read as a logit; if it already is a probability, \
                 make it \"probability\"",
                t.name
            ));
            "logit"
        }
    };
    (Some(t.name.clone()), kind)
}

/// The key: the last float tensor before the output with more than two
/// values per row that is not a graph input or output (typically the last
/// hidden layer), with the alternatives listed.
fn key(graph: &Graph, probability: Option<&str>, notes: &mut Vec<String>) -> Option<String> {
    let outputs: Vec<&str> = graph.outputs.iter().map(|t| t.name.as_str()).collect();
    let usable = |t: &&GraphTensor| {
        t.op != "input"
            && Some(t.name.as_str()) != probability
            && !outputs.contains(&t.name.as_str())
            && t.row.is_some_and(|r| r > 2 && r <= 1024)
    };
    let chosen =
        graph.keys.iter().rev().find(usable).or_else(|| graph.keys.iter().find(|t| t.row.is_some_and(|r| r > 2)));
    match chosen {
        Some(t) => {
            notes.push(format!(
                "outputs.hidden: `{}` ({}, {} values per row) — the last hidden layer; a key of item-side tensors \
                 (embeddings, a column range of one) often tells a session's items apart better (SPEC.md, \"The key\")",
                t.name,
                t.op,
                t.row.unwrap_or(0)
            ));
            Some(t.name.clone())
        }
        None => {
            notes.push("outputs.hidden: no float tensor of batch × d found; name the key tensor".into());
            None
        }
    }
}

/// Loads the draft (placeholders index 0, which fits any table) to find the
/// rows of the table each integer column feeds, and sets its hashBuckets.
fn size_tables(onnx: &[u8], spec: &mut Value, notes: &mut Vec<String>) -> Result<(), String> {
    let parsed = ModelSpec::from_json(&spec.to_string()).map_err(|e| e.to_string())?;
    let model = Model::load(onnx, parsed).map_err(|e| e.to_string())?;
    // Indices a column may take: the table's rows minus the offset the graph
    // adds (what the placeholder index 0 became), the fewest over its tables.
    let mut rows: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for u in model.index_uses() {
        let offset = u.range.map_or(0, |(lo, _)| usize::try_from(lo).unwrap_or(0));
        // A use of no fixed size is refused at load, so `rows` is known here.
        let free = u.rows.unwrap_or(0).saturating_sub(offset);
        let entry = rows.entry(u.field.clone()).or_insert((free, u.table.clone()));
        if free < entry.0 {
            *entry = (free, u.table.clone());
        }
    }
    for (name, field) in &model.spec().fields {
        if !matches!(field, FieldSpec::Categorical(_)) {
            continue;
        }
        match rows.get(name) {
            Some((n, table)) => {
                spec["fields"][name]["hashBuckets"] = json!(n.max(&1));
                notes.push(format!(
                    "fields.{name}: feeds `{table}`, which has room for indices 0..{n} from this column: \
                     hashBuckets {n} is a placeholder"
                ));
            }
            None => notes.push(format!(
                "fields.{name}: an integer column whose use the check could not follow to a table; hashBuckets 1 is a placeholder"
            )),
        }
    }
    if matches!(model.spec().outputs.hidden, KeySpec::Node(_)) {
        notes.push(format!(
            "the draft loads: key of {} values, model {}",
            model.hidden_dim(),
            &model.id().to_hex()[..12]
        ));
    }
    Ok(())
}
