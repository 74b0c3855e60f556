//! Exports what the browser demo page (`www/`) needs from MovieLens-100K as
//! compact JSON: the movies with their model features and titles, the
//! users' context fields, a feed of candidate movies, and the test period
//! (the stream of `Dataset::split`) for the in-browser replay.
//!
//! Features come from `src/movielens.rs` ([`Dataset::item_fields`],
//! [`Dataset::context`]), so the page sends the model exactly what the native
//! replay and the training saw. The data's licence forbids redistribution:
//! the output goes to a gitignored directory and is rebuilt from the fetched
//! data, never committed.
//!
//! `cargo run --profile native --features data --bin demo_data -- [OUT_DIR] [DATA_DIR]`
//! (defaults: `target/www/data`, `Dataset::default_dir()`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use reloop_tools::movielens::{Dataset, Event, hour_weekday};
use serde_json::{Value, json};

/// How many of the most-rated movies (before the stream starts) the feed offers.
const FEED_SIZE: usize = 60;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let out = args.next().map_or_else(|| PathBuf::from("target/www/data"), PathBuf::from);
    let data = args.next().map_or_else(Dataset::default_dir, PathBuf::from);
    match run(&out, &data) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo_data: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(out: &Path, data: &Path) -> Result<(), String> {
    let dataset = Dataset::load(data).map_err(|e| e.to_string())?;
    let split = dataset.split();
    fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;

    // Movies: the model's item fields plus the title (the model ignores fields it does not read).
    let movies: Vec<Value> = dataset
        .items
        .keys()
        .map(|&id| {
            let mut fields = dataset.item_fields(id);
            fields.insert("title".into(), Value::from(dataset.title(id).unwrap_or_default()));
            Value::Object(fields)
        })
        .collect();

    // Users: the context fields that do not depend on time (hour/weekday are per event).
    let users: BTreeMap<String, Value> = dataset
        .users
        .keys()
        .map(|&user| {
            let mut context = dataset.context(&Event { user, item: 0, timestamp: 0, rating: 1, label: false });
            context.remove("hour");
            context.remove("weekday");
            (user.to_string(), Value::Object(context))
        })
        .collect();

    // Feed candidates: the most-rated movies of the period the model was trained on.
    let feed = dataset.most_rated(FEED_SIZE, split.stream.start);

    // The stream, column-wise: user, item, time, label, and the time features as the model reads them.
    let events = &dataset.events[split.stream.clone()];
    let column = |f: &dyn Fn(&Event) -> Value| -> Value { events.iter().map(f).collect() };
    let stream = json!({
        "start": split.stream.start,
        // The native replay tunes on the first 25% of the stream and reports the rest.
        "tuneEvents": events.len() / 4,
        "user": column(&|e| e.user.into()),
        "item": column(&|e| e.item.into()),
        "timestamp": column(&|e| e.timestamp.into()),
        "label": column(&|e| u8::from(e.label).into()),
        "hour": column(&|e| hour_weekday(e.timestamp).0.into()),
        "weekday": column(&|e| hour_weekday(e.timestamp).1.into()),
    });

    write(out, "movies.json", &json!({ "movies": movies, "feed": feed }))?;
    write(out, "users.json", &json!(users))?;
    write(out, "stream.json", &stream)?;
    eprintln!(
        "demo_data: wrote {} movies, {} users, {} stream events to {}",
        movies.len(),
        users.len(),
        events.len(),
        out.display()
    );
    Ok(())
}

fn write(dir: &Path, name: &str, value: &Value) -> Result<(), String> {
    let path = dir.join(name);
    let text = serde_json::to_string(value).map_err(|e| format!("{name}: {e}"))?;
    fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}
