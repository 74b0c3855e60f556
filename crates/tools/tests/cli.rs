//! The `reloop` binary end to end: the MovieLens stream exported as a user's
//! log (JSONL and CSV) replays to the same frozen and shipped-default rows
//! as `make replay`; the synthetic example goes inspect → edited draft →
//! check → replay → options; bad rows name their line and column and leave
//! no output behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::dataset;
use reloop_tools::replay::{self, Protocol, Scope};
use serde_json::{Value, json};

fn reloop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reloop")).args(args).output().expect("run reloop")
}

fn ok(args: &[&str]) -> String {
    let out = reloop(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "reloop {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    let out = reloop(args);
    assert!(!out.status.success(), "reloop {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("reloop-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// AUC, gAUC, log-loss and ECE of a row of the README's replay table.
fn readme_row(name: &str) -> [f64; 4] {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).expect("README");
    let line = readme
        .lines()
        .find(|l| l.starts_with(&format!("| {name} |")))
        .unwrap_or_else(|| panic!("README has no row {name}"));
    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
    // | name | key | AUC [CI] | ΔAUC | gAUC | logloss [CI] | Δlogloss | ECE | tuned |
    let first = |cell: &str| cell.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    [first(cells[3]), first(cells[5]), first(cells[6]), first(cells[8])]
}

/// A row of `report.json` by name: (AUC, gAUC, log-loss, ECE).
fn metrics(report: &Value, name: &str) -> [f64; 4] {
    let rows = report["rows"].as_array().expect("rows");
    let row = rows.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("no row {name}"));
    let m = &row["metrics"];
    ["auc", "gauc", "logloss", "ece"].map(|k| m[k].as_f64().unwrap_or(f64::NAN))
}

#[test]
fn the_movielens_stream_as_a_log_replays_to_the_same_frozen_and_default_rows() {
    let Some(dataset) = dataset() else { return };
    // The whole stream `make replay` uses.
    let range = dataset.split().stream;
    let model = reloop_runtime::bundled::model().expect("bundled");
    let stream = replay::stream::build(&dataset, &model, range.clone(), &mut |_| {}).expect("stream");
    let protocol =
        Protocol { rounds: 0, resamples: 20, scopes: vec![Scope::Session, Scope::User], ..Protocol::default() };
    let report = replay::evaluate(&[("bundled", &stream)], None, &protocol, &mut |_, _| {});
    let want = serde_json::to_value(&report).expect("json");

    let dir = temp_dir("movielens");
    std::fs::write(dir.join("model.onnx"), reloop_runtime::bundled::onnx()).expect("write");
    std::fs::write(dir.join("spec.json"), reloop_runtime::bundled::spec_json()).expect("write");
    for (file, csv) in [("events.jsonl", false), ("events.csv", true)] {
        let mut bytes = Vec::new();
        dataset.export(range.clone(), csv, &mut bytes).expect("export");
        std::fs::write(dir.join(file), bytes).expect("write");
    }
    for log in ["events.jsonl", "events.csv"] {
        let out = dir.join(format!("out-{log}"));
        ok(&[
            "replay",
            s(&dir.join("model.onnx")),
            s(&dir.join("spec.json")),
            s(&dir.join(log)),
            "--time",
            "ts",
            "--user",
            "uid",
            "--label",
            "clicked",
            "--rounds",
            "0",
            "--bootstrap",
            "20",
            "--out",
            s(&out),
            "--quiet",
        ]);
        let got: Value = serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report"))
            .expect("report json");
        assert_eq!(got["tune_events"], want["tune_events"], "{log}");
        for name in ["frozen", "recommended/session"] {
            let (g, w) = (metrics(&got, name), metrics(&want, name));
            for (k, (a, b)) in ["AUC", "gAUC", "log-loss", "ECE"].iter().zip(g.iter().zip(&w)) {
                assert!((a - b).abs() < 5e-5, "{log}: {name} {k} {a:.6} vs make replay's {b:.6}");
            }
        }
        // The same rows as the README's table (what `make replay` printed), to 4 decimals.
        for name in ["frozen", "recommended/session"] {
            let g = metrics(&got, name);
            let published = readme_row(name);
            for (k, (a, b)) in ["AUC", "gAUC", "log-loss", "ECE"].iter().zip(g.iter().zip(&published)) {
                assert!((a - b).abs() <= 5e-5 + 1e-9, "{log}: {name} {k} {a:.6} vs the README's {b:.4}");
            }
        }
        let options = std::fs::read_to_string(out.join("options.json")).expect("options.json");
        reloop_runtime::SessionOptions::from_json(&options).expect("options parse");
        assert!(!out.join("spec.json").exists(), "the spec had p0: no completed spec is written");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The example's log, and the draft `inspect` writes for its model, edited
/// as a user would: the log's column names and the encodings from training.
fn edited_draft(dir: &Path) -> PathBuf {
    ok(&["example", s(dir), "--events", "6000", "--quiet"]);
    let out = reloop(&["inspect", s(&dir.join("model.onnx")), "--out", s(&dir.join("draft.json"))]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let notes = String::from_utf8_lossy(&out.stderr);
    for expected in ["ids", "[N, 3]", "hidden1", "emb_flat", "from Relu", "the draft loads", "hashBuckets"] {
        assert!(notes.contains(expected), "inspect does not mention {expected}:\n{notes}");
    }
    let draft: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("draft.json")).expect("draft")).expect("json");
    assert_eq!(draft["inputs"][0]["columns"], json!(["ids_0", "ids_1", "ids_2"]));
    assert_eq!(draft["outputs"]["probability"], "ctr");
    assert_eq!(draft["outputs"]["hidden"], "hidden1");
    // The draft loads as it is; then the edit: names, vocabularies, encodings
    // (the example's own spec stands in for what the model was trained with),
    // and an item-side key, as SPEC.md advises.
    ok(&["check", s(&dir.join("model.onnx")), s(&dir.join("draft.json"))]);
    let trained: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("spec.json")).expect("spec")).expect("json");
    let mut edited = draft.clone();
    edited["inputs"] = trained["inputs"].clone();
    edited["fields"] = trained["fields"].clone();
    edited["outputs"]["hidden"] = json!([{ "node": "emb_flat", "columns": [8, 16] }]);
    let path = dir.join("edited.json");
    std::fs::write(&path, serde_json::to_string_pretty(&edited).expect("json")).expect("write");
    path
}

#[test]
fn inspect_an_edited_draft_check_and_replay_give_options_for_a_session() {
    let dir = temp_dir("pipeline");
    let spec = edited_draft(&dir);
    let model = dir.join("model.onnx");
    let events = dir.join("events.jsonl");
    // check: loads, indices against the table, p0 and mu from the rows.
    let out = ok(&["check", s(&model), s(&spec), s(&events), "--label", "label", "--json"]);
    let checked: Value = serde_json::from_str(&out).expect("check json");
    assert_eq!(checked["hidden_dim"], 8);
    assert_eq!(checked["p0"], Value::Null);
    let uses = checked["index_uses"].as_array().expect("uses");
    let ad = uses.iter().find(|u| u["field"] == "ad").expect("ad reaches the table");
    assert_eq!(
        (ad["range"].clone(), ad["rows"].clone(), ad["fits"].clone()),
        (json!([40, 240]), json!(245), json!(true))
    );
    let rate = checked["label_rate"].as_f64().expect("label rate");
    assert!(rate > 0.1 && rate < 0.9, "{rate}");
    assert_eq!(checked["mean_key"].as_array().map(Vec::len), Some(8));
    // replay without p0: computed from the tuning part and written in the completed spec.
    let out = dir.join("out");
    let report = ok(&[
        "replay",
        s(&model),
        s(&spec),
        s(&events),
        "--rounds",
        "1",
        "--bootstrap",
        "30",
        "--out",
        s(&out),
        "--quiet",
    ]);
    assert!(report.contains("**Verdict**") && report.contains("against the frozen model"), "{report}");
    for file in ["report.md", "report.json", "options.json", "spec.json"] {
        assert!(out.join(file).exists(), "{file} not written");
    }
    let completed =
        reloop_runtime::ModelSpec::from_json(&std::fs::read_to_string(out.join("spec.json")).expect("spec"))
            .expect("the completed spec parses");
    let p0 = completed.p0.expect("p0 filled in");
    assert!(p0 > 0.1 && p0 < 0.9);
    // The options go straight into a session of the model with the completed spec.
    let options = std::fs::read_to_string(out.join("options.json")).expect("options");
    let onnx = std::fs::read(&model).expect("model");
    let model = reloop_runtime::Model::load(&onnx, completed).expect("model");
    let options = reloop_runtime::SessionOptions::from_json(&options).expect("options");
    let mut session = reloop_runtime::Session::new(&model, &options).expect("session from the tuned options");
    let item = json!({ "site": "s1", "ad": "ad3", "hour": 9, "device": "ios", "price": 12.5 });
    let item = item.as_object().cloned().unwrap_or_default();
    let before = session.score(std::slice::from_ref(&item), &reloop_runtime::Item::new()).expect("score")[0].score;
    session.record(&item, &reloop_runtime::Item::new(), true).expect("record");
    let after = session.score(std::slice::from_ref(&item), &reloop_runtime::Item::new()).expect("score")[0].score;
    assert!(after > before, "a click on the ad did not lift it: {before} → {after}");
    // On this log (sessions with a taste the model does not know) the memory beats the frozen model.
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report")).expect("json");
    let paired = json["paired"].as_array().expect("paired");
    let vs_frozen = paired.iter().find(|p| p["a"] == "intent/session" && p["b"] == "frozen").expect("pair");
    assert!(vs_frozen["d_logloss_ci"]["hi"].as_f64().unwrap_or(1.0) < 0.0, "{vs_frozen}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_rows_name_their_line_and_column_and_leave_no_output() {
    let dir = temp_dir("bad");
    let spec = edited_draft(&dir);
    let model = dir.join("model.onnx");
    let text = std::fs::read_to_string(dir.join("events.jsonl")).expect("log");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let cases = [
        (1200, r#""price":"cheap""#, "line 1201", "price"),
        (4000, r#""label":"maybe""#, "line 4001", "label"),
        (77, r#""time":"yesterday""#, "line 78", "time"),
        (5000, r#""user":null"#, "line 5001", "user"),
    ];
    for (i, (line, replacement, named, column)) in cases.iter().enumerate() {
        let original = lines[*line].clone();
        let key = replacement.split(':').next().unwrap_or_default();
        let mut row: serde_json::Map<String, Value> = serde_json::from_str(&original).expect("row");
        let (k, v) = replacement.split_once(':').expect("k:v");
        row.insert(k.trim_matches('"').into(), serde_json::from_str(v).expect("value"));
        lines[*line] = serde_json::to_string(&row).expect("row");
        let bad = dir.join(format!("bad{i}.jsonl"));
        std::fs::write(&bad, lines.join("\n")).expect("write");
        lines[*line] = original;
        let out = dir.join(format!("out{i}"));
        let err = fails(&["replay", s(&model), s(&spec), s(&bad), "--rounds", "0", "--out", s(&out), "--quiet"]);
        assert!(err.contains(named) && err.contains(column), "{key}: {err}");
        assert!(!out.exists(), "{key}: output written despite the error");
    }
    // Not JSON at all, a missing column, an unknown format.
    std::fs::write(dir.join("broken.jsonl"), "{\"time\": 1}\nnot json\n").expect("write");
    let err =
        fails(&["replay", s(&model), s(&spec), s(&dir.join("broken.jsonl")), "--out", s(&dir.join("o")), "--quiet"]);
    assert!(err.contains("line 1") || err.contains("line 2"), "{err}");
    let csv = dir.join("e.csv");
    std::fs::write(&csv, "time,who,label,site,ad,hour,device,price\n1,u1,0,s1,ad1,3,ios,2\n").expect("write");
    let err = fails(&["replay", s(&model), s(&spec), s(&csv), "--out", s(&dir.join("o")), "--quiet"]);
    assert!(err.contains("no column `user`") && err.contains("--user"), "{err}");
    let err = fails(&["replay", s(&model), s(&spec), s(&dir.join("events.txt")), "--quiet"]);
    assert!(err.contains("--format"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn csv_logs_out_of_time_order_named_sessions_and_given_options() {
    let dir = temp_dir("csv");
    ok(&["example", s(&dir), "--events", "3000", "--format", "csv", "--quiet"]);
    let model = dir.join("model.onnx");
    let spec = dir.join("spec.json");
    let csv = std::fs::read_to_string(dir.join("events.csv")).expect("csv");
    // Reverse the rows: the replay puts them back in time order.
    let mut lines: Vec<&str> = csv.lines().collect();
    let header = lines.remove(0);
    lines.reverse();
    let reversed = dir.join("reversed.csv");
    std::fs::write(&reversed, format!("{header}\n{}\n", lines.join("\n"))).expect("write");
    let run = |log: &Path, out: &str| -> Value {
        let out = dir.join(out);
        ok(&["replay", s(&model), s(&spec), s(log), "--rounds", "0", "--bootstrap", "10", "--out", s(&out), "--quiet"]);
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report")).expect("json")
    };
    let a = run(&dir.join("events.csv"), "a");
    let b = run(&reversed, "b");
    // Ties in time keep file order, so reversing moves only same-second events:
    // the frozen model's metrics do not depend on the order at all.
    assert_eq!(metrics(&a, "frozen"), metrics(&b, "frozen"));
    assert_eq!(a["tune_events"], 750);
    // A session column replaces the gap rule: here every user is one session.
    let out = dir.join("c");
    let args = ["replay", s(&model), s(&spec), s(&reversed), "--session", "user", "--rounds", "0", "--bootstrap", "10"];
    let md = ok(&[&args[..], &["--out", s(&out), "--quiet"]].concat());
    let title = md.lines().next().unwrap_or_default();
    let count =
        |what: &str| title.split(", ").find(|p| p.ends_with(what)).map(|p| p.trim_end_matches(what).trim().to_string());
    assert_eq!(count(" users"), count(" sessions"), "{title}");
    // Only given options (what is deployed now), against the frozen model: no tuning.
    let given = dir.join("given.json");
    std::fs::write(&given, r#"{ "estimator": "intent", "lambda": 1.5 }"#).expect("write");
    let out = dir.join("d");
    let md = ok(&[
        "replay",
        s(&model),
        s(&spec),
        s(&reversed),
        "--options",
        s(&given),
        "--bootstrap",
        "10",
        "--out",
        s(&out),
        "--quiet",
    ]);
    assert!(md.contains("**Verdict**") && md.contains("`given/session` against the frozen model"), "{md}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).expect("report")).expect("json");
    let names: Vec<&str> = report["rows"].as_array().expect("rows").iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(names, ["frozen", "given/session"]);
    assert_eq!(metrics(&report, "frozen"), metrics(&b, "frozen"));
    assert!(!out.join("options.json").exists());
    std::fs::write(&given, r#"{ "lamda": 1 }"#).expect("write");
    let err = fails(&[
        "replay",
        s(&model),
        s(&spec),
        s(&reversed),
        "--options",
        s(&given),
        "--out",
        s(&dir.join("e")),
        "--quiet",
    ]);
    assert!(err.contains("lamda"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
