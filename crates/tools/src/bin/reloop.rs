//! `reloop`: the command-line tool for your own model and logs.
//!
//! * `reloop inspect MODEL.onnx` — inputs, outputs, key candidates, a draft spec;
//! * `reloop check MODEL.onnx SPEC.json [ROWS]` — every load-time check, index
//!   ranges against their tables, and the rows' scores, keys, `p0` and `mu`;
//! * `reloop replay MODEL.onnx SPEC.json EVENTS` — the prequential protocol of
//!   DESIGN §5 on your log: the table, the tuned options JSON and a verdict;
//! * `reloop movielens` — the same protocol on MovieLens-100K (`make replay`);
//! * `reloop example DIR` — a synthetic model, spec and log (another field set).
//!
//! Install: `cargo install --locked --path crates/tools --bin reloop`; help:
//! `reloop --help`, `reloop replay --help`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use reloop_runtime::{Model, ModelSpec, Session, SessionOptions};
use reloop_tools::log::{Columns, Format};
use reloop_tools::movielens::Dataset;
use reloop_tools::output::Outputs;
use reloop_tools::replay::report::describe;
use reloop_tools::replay::stream::LogSource;
use reloop_tools::replay::tune::{self, Search};
use reloop_tools::replay::{self, Protocol};
use reloop_tools::replay::{Method, Scope, feed, keys, verdict};

/// reloop-edge's tool for your own model and logs: inspect a model, check a
/// spec, replay a log through the error memory and get the options to ship.
#[derive(Parser, Debug)]
#[command(name = "reloop", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Inspect(InspectArgs),
    Check(CheckArgs),
    Replay(ReplayArgs),
    Movielens(MovieLensArgs),
    Example(ExampleArgs),
}

/// Replays the MovieLens-100K test period through the frozen model, the
/// error memory and the reference adapters, and reports the metrics (`make
/// replay`).
#[derive(Parser, Debug)]
struct MovieLensArgs {
    /// MovieLens-100K directory (from scripts/fetch-movielens.sh); default:
    /// $RELOOP_DATA_DIR or the user cache.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Use only the first N events of the stream (smoke runs).
    #[arg(long)]
    limit: Option<usize>,
    #[command(flatten)]
    tuning: TuningArgs,
    /// Where to write the markdown table.
    #[arg(long, default_value = "target/replay/report.md")]
    out_md: PathBuf,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/replay/report.json")]
    out_json: PathBuf,
    /// The memory's key as JSON — a tensor name or a list of parts
    /// (`[{"node": "x", "columns": [8, 16], "scale": 1}, ...]`, see the spec
    /// docs) — in place of the bundled spec's; centred on its mean over the
    /// training part. The spec used is written beside the report.
    #[arg(long)]
    key: Option<String>,
    /// Where to write the spec used with `--key`.
    #[arg(long, default_value = "target/replay/spec.json")]
    out_spec: PathBuf,
    /// Only the model's own key: no rows for the key variants tried.
    #[arg(long)]
    no_variants: bool,
    /// Instead of the report: write the stream as a log `reloop replay`
    /// reads (`ts`, `uid`, `clicked` and the model's fields; `.csv` for CSV,
    /// else JSONL) and stop.
    #[arg(long)]
    export: Option<PathBuf>,
    /// Instead of the report: tune the intent estimator per session on the
    /// first 25% of the stream with K held at 4 (the saved memory's size)
    /// and only configurations under which three likes of one genre on the
    /// demo feed lift that genre at least `--min-lift` times the others and
    /// change the top ten (Horror, as the page's test; the feed's other
    /// minority genres are printed); print them as options JSON.
    #[arg(long)]
    tune_defaults: bool,
    /// The genre lift `--tune-defaults` requires.
    #[arg(long, default_value_t = 3.0)]
    min_lift: f64,
    /// Where `--tune-defaults` starts (options JSON over the shipped
    /// defaults, e.g. `{"estimator": "residual", "n0": 50}` to tune another
    /// family under the same constraint); the start must meet it.
    #[arg(long)]
    start: Option<String>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(a) => inspect(a),
        Command::Check(a) => check(a),
        Command::Replay(a) => replay_log(a),
        Command::Movielens(a) => movielens(a),
        Command::Example(a) => example(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reloop: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bar(quiet: bool, len: u64, what: &'static str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    // Without a length (a log being read): a count and a rate.
    let template = if len == 0 {
        "{msg:>10} {pos} events {elapsed_precise} ({per_sec})"
    } else {
        "{msg:>10} [{bar:40}] {pos}/{len} {elapsed_precise}"
    };
    let style =
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ");
    ProgressBar::new(len).with_style(style).with_message(what)
}

/// `--tune-defaults`: see its flag.
fn tune_defaults(
    dataset: &Dataset,
    model: &Model,
    stream: &replay::Stream,
    start: Option<&str>,
    rounds: usize,
    min_lift: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let cut = stream.len() / 4;
    let mut page = |method: &Method| {
        let Method::Memory(config) = method else { return false };
        let options = SessionOptions::of(config);
        feed::genre_lift(dataset, model, &options, feed::PAGE_GENRE)
            .is_ok_and(|l| l.ratio() >= min_lift && l.top10_changed)
    };
    let start = match start {
        None => Method::Memory(tune::shipped_defaults(stream.dim, stream.p0)),
        Some(json) => Method::Memory(Session::new(model, &SessionOptions::from_json(json)?)?.memory().config()),
    };
    let ok = page(&start);
    if !ok {
        return Err(
            format!("the start does not meet the constraint (genre lift {min_lift}): {}", describe(&start)).into()
        );
    }
    let search = Search { rounds, skip: &["arrays"], accept: Some(&mut page) };
    let (best, loss) = tune::tune(stream, 0..cut, start.clone(), Scope::Session, search, &mut || {});
    let Method::Memory(config) = &best else { return Err("tuning returned no memory".into()) };
    let options = SessionOptions::of(config);
    println!("tuned on the first {cut} events from {}: log-loss {loss:.5}, {}", describe(&start), describe(&best));
    for genre in feed::MINORITY_GENRES {
        let lift = feed::genre_lift(dataset, model, &options, genre)?;
        println!(
            "  {genre}: liked {:+.4}, others {:+.4}, ratio {:.2}, top 10 changed {}",
            lift.liked,
            lift.others,
            lift.ratio(),
            lift.top10_changed
        );
    }
    println!("{}", options.to_json());
    Ok(())
}

fn movielens(args: MovieLensArgs) -> Result<(), Box<dyn std::error::Error>> {
    let dir = args.data.unwrap_or_else(Dataset::default_dir);
    let dataset = Dataset::load(&dir)?;
    let split = dataset.split();
    let onnx = reloop_runtime::bundled::onnx();
    let bundled = ModelSpec::from_json(reloop_runtime::bundled::spec_json())?;
    let spec = match &args.key {
        None => bundled.clone(),
        Some(key) => {
            let spec = keys::with_key(onnx, &bundled, key, &dataset, split.train.clone())?;
            if let Some(parent) = args.out_spec.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&args.out_spec, serde_json::to_string_pretty(&spec)?)?;
            eprintln!("key {}, centred on the training part; spec in {}", spec.outputs.hidden, args.out_spec.display());
            spec
        }
    };
    let model = Model::load(onnx, spec.clone())?;
    let mut stream_range = split.stream.clone();
    if let Some(n) = args.limit {
        stream_range.end = stream_range.end.min(stream_range.start + n);
    }
    if let Some(path) = &args.export {
        let csv = Format::of(path) == Some(Format::Csv);
        let mut bytes = Vec::new();
        dataset.export(stream_range.clone(), csv, &mut bytes)?;
        let mut out = Outputs::default();
        out.add(path.clone(), bytes);
        out.commit()?;
        eprintln!("wrote {} events of the stream to {}", stream_range.len(), path.display());
        return Ok(());
    }
    let events = stream_range.len();
    let build = |model: &Model, what: &'static str| {
        let pb = bar(args.quiet, events as u64, what);
        let stream =
            replay::stream::build(&dataset, model, stream_range.clone(), &mut |done| pb.set_position(done as u64));
        pb.finish_and_clear();
        stream
    };
    let stream = build(&model, "model")?;

    if args.tune_defaults {
        return tune_defaults(&dataset, &model, &stream, args.start.as_deref(), args.tuning.rounds, args.min_lift);
    }

    // The key variants tried, each on its own stream of the same events.
    let mut variants = Vec::new();
    if !args.no_variants {
        for variant in keys::TRIED {
            let spec = keys::with_key(onnx, &bundled, variant.key, &dataset, split.train.clone())?;
            if spec.outputs.hidden == model.spec().outputs.hidden {
                continue;
            }
            variants.push((variant.name, build(&Model::load(onnx, spec)?, variant.name)?));
        }
    }
    let shipped = spec.outputs.hidden.to_string().replace('`', "");
    let mut streams: Vec<(&str, &replay::Stream)> = vec![(shipped.as_str(), &stream)];
    streams.extend(variants.iter().map(|(name, s)| (*name, s)));

    let protocol = Protocol {
        rounds: args.tuning.rounds,
        resamples: args.tuning.bootstrap,
        knn_window: args.tuning.knn_window,
        ..Protocol::default()
    };
    let pb = bar(args.quiet, 1, "replay");
    let report = replay::evaluate(&streams, Some(keys::HIDDEN.name), &protocol, &mut |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    });
    pb.finish_and_clear();

    let title = format!(
        "MovieLens-100K prequential replay: {} stream events, {} users, model {}\n\n",
        events,
        stream.user.iter().max().map_or(0, |u| u + 1),
        &model.id().to_hex()[..12]
    );
    let md = title + &report.markdown();
    println!("{md}");
    let mut out = Outputs::default();
    out.add(args.out_md.clone(), md.clone());
    out.add(args.out_json.clone(), serde_json::to_string_pretty(&report)?);
    out.commit()?;
    eprintln!("wrote {} and {}", args.out_md.display(), args.out_json.display());
    Ok(())
}

/// How hard the replay tunes and how it measures (both replays).
#[derive(clap::Args, Debug)]
struct TuningArgs {
    /// Coordinate-descent passes over each method's parameters (0: every
    /// method at its starting point, fast).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// User-bootstrap resamples for the intervals.
    #[arg(long, default_value_t = 200)]
    bootstrap: usize,
    /// Writes kept by the exact kNN reference per scope.
    #[arg(long, default_value_t = 1000)]
    knn_window: usize,
}

/// Lists a model's inputs, outputs and the tensors that can serve as the
/// memory's key, and writes a draft spec to fill in.
#[derive(Parser, Debug)]
struct InspectArgs {
    /// The ONNX model.
    model: PathBuf,
    /// Write the draft spec here (default: print it).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs every load-time check of a model with its spec; with rows, scores
/// them and prints their keys, label rate (`p0`) and mean key (`mu`).
#[derive(Parser, Debug)]
struct CheckArgs {
    /// The ONNX model.
    model: PathBuf,
    /// Its spec (JSON).
    spec: PathBuf,
    /// Rows to score: JSONL, CSV or Parquet, one item (with its context
    /// fields) per row.
    rows: Option<PathBuf>,
    /// The rows' format (default: from the extension).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// The rows' label column (for `p0`).
    #[arg(long)]
    label: Option<String>,
    /// How many rows' scores and keys to print.
    #[arg(long, default_value_t = 5)]
    show: usize,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Replays your event log through your model and the error memory with the
/// protocol of the MovieLens replay: every method tuned on the first part of
/// the log (in time order), reported on the rest with user-bootstrap
/// intervals; writes the table, the tuned options for `new Session(model,
/// options)` and a verdict.
#[derive(Parser, Debug)]
struct ReplayArgs {
    /// The ONNX model.
    model: PathBuf,
    /// Its spec (JSON); without `p0`, the log's label rate on the tuning
    /// part is used and the completed spec is written.
    spec: PathBuf,
    /// The log: JSONL, CSV or Parquet, one impression per row; every column
    /// but time, user, session and label that the spec names is a field.
    events: PathBuf,
    /// The log's format (default: from the extension).
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Time column: seconds (Unix time or any origin) or RFC 3339.
    #[arg(long, default_value = "time")]
    time: String,
    /// User column.
    #[arg(long, default_value = "user")]
    user: String,
    /// Session column (default: a user's session ends after --session-gap
    /// seconds without an event).
    #[arg(long)]
    session: Option<String>,
    /// Label column: clicked (1/true) or not (0/false).
    #[arg(long, default_value = "label")]
    label: String,
    /// Seconds without an event that end a session.
    #[arg(long, default_value_t = 3600.0)]
    session_gap: f64,
    /// Share of the log (from its start) used for tuning.
    #[arg(long, default_value_t = 0.25)]
    tune_share: f64,
    #[command(flatten)]
    tuning: TuningArgs,
    /// Replay only these options (a SessionOptions JSON file, e.g. what is
    /// deployed now) per session against the frozen model: no tuning.
    #[arg(long)]
    options: Option<PathBuf>,
    /// Output directory: report.md, report.json, options.json (and spec.json
    /// when p0 was computed), all written at the end or not at all.
    #[arg(long, default_value = "reloop-replay")]
    out: PathBuf,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

/// Writes a synthetic ad-click model (another field set than MovieLens, a
/// key from an intermediate node), its spec and an event log.
#[derive(Parser, Debug)]
struct ExampleArgs {
    /// Output directory: model.onnx, spec.json and events.jsonl (or .csv).
    out: PathBuf,
    /// Events in the log.
    #[arg(long, default_value_t = 20_000)]
    events: usize,
    /// Seed of the weights and the log.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// The log's format (jsonl or csv).
    #[arg(long, value_enum, default_value_t = Format::Jsonl)]
    format: Format,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn read_spec(path: &Path) -> Result<ModelSpec, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(ModelSpec::from_json(&text).map_err(|e| e.with_context(path.display()))?)
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    Ok(std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?)
}

fn inspect(args: InspectArgs) -> Result<(), Box<dyn std::error::Error>> {
    let onnx = read_bytes(&args.model)?;
    let graph = reloop_runtime::inspect::graph(&onnx)?;
    eprintln!("inputs:");
    for i in &graph.inputs {
        let width = i.width.map_or_else(|| "?".to_string(), |w| w.to_string());
        let shape = if i.rank1 { "[N]".to_string() } else { format!("[N, {width}]") };
        eprintln!("  {:<24} {:<8} {shape}", i.name, i.elem);
    }
    eprintln!("outputs:");
    for t in &graph.outputs {
        eprintln!("  {:<24} {:<8} [{}]  from {}", t.name, t.elem, t.shape.join(", "), t.op);
    }
    if let Some(why) = &graph.untyped {
        eprintln!("(shapes unknown: {why})");
    }
    eprintln!("key candidates (float, batch first, in graph order):");
    for t in &graph.keys {
        eprintln!("  {:<24} {:>5} values per row  [{}]  from {}", t.name, t.row.unwrap_or(0), t.shape.join(", "), t.op);
    }
    let draft = reloop_tools::draft::draft(&onnx, &graph);
    eprintln!("\nnotes on the draft:");
    for n in &draft.notes {
        eprintln!("  - {n}");
    }
    if let Some(e) = &draft.load_error {
        eprintln!("  - the draft does not load as it is: {e}");
    }
    let text = serde_json::to_string_pretty(&draft.spec)? + "\n";
    match &args.out {
        Some(path) => {
            let mut out = Outputs::default();
            out.add(path.clone(), text);
            out.commit()?;
            eprintln!("\nwrote the draft spec to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn check(args: CheckArgs) -> Result<(), Box<dyn std::error::Error>> {
    let onnx = read_bytes(&args.model)?;
    let spec = read_spec(&args.spec)?;
    let rows = args.rows.as_deref().map(|path| reloop_tools::check::Rows {
        path,
        format: args.format,
        label: args.label.as_deref(),
        show: args.show,
    });
    let checked = reloop_tools::check::check(&onnx, spec, rows)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checked)?);
    } else {
        print!("{}", checked.text());
    }
    Ok(())
}

fn replay_log(args: ReplayArgs) -> Result<(), Box<dyn std::error::Error>> {
    if !(args.tune_share > 0.0 && args.tune_share < 1.0) {
        return Err(format!("--tune-share must be in (0, 1), got {}", args.tune_share).into());
    }
    let onnx = read_bytes(&args.model)?;
    let mut spec = read_spec(&args.spec)?;
    let columns = Columns {
        time: Some(args.time.clone()),
        user: Some(args.user.clone()),
        session: args.session.clone(),
        label: Some(args.label.clone()),
    };
    let source = LogSource { path: &args.events, format: args.format, columns: &columns, gap: args.session_gap };
    let computed_p0 = match spec.p0 {
        Some(_) => None,
        None => {
            let (rate, n) = replay::stream::label_rate(&source, &spec, args.tune_share)?;
            eprintln!("p0: the spec has none; the label rate of the first {n} events is {rate:.6}");
            spec.p0 = Some(rate);
            Some(rate)
        }
    };
    let p0 = spec.p0.unwrap_or(0.5);
    let model = Model::load(&onnx, spec.clone())?;
    let pb = bar(args.quiet, 0, "model");
    let stream = replay::stream::from_log(&source, &model, p0, &mut |done| pb.set_position(done as u64))?;
    pb.finish_and_clear();
    if stream.len() < 20 {
        return Err(format!("{}: {} events are too few to replay", args.events.display(), stream.len()).into());
    }
    let users = stream.user.iter().max().map_or(0, |u| u + 1);
    let sessions = stream.session.iter().max().map_or(0, |s| s + 1);
    let protocol = Protocol {
        tune_share: args.tune_share,
        rounds: args.tuning.rounds,
        resamples: args.tuning.bootstrap,
        knn_window: args.tuning.knn_window,
        pairs: verdict::pairs(),
        ..Protocol::default()
    };
    let key = spec.outputs.hidden.to_string().replace('`', "");
    let title = format!(
        "Prequential replay of {}: {} events, {users} users, {sessions} sessions, model {}\n\n",
        args.events.display(),
        stream.len(),
        &model.id().to_hex()[..12]
    );
    let pb = bar(args.quiet, 1, "replay");
    let mut step = |done: usize, total: usize| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    };
    let mut out = Outputs::default();
    let md = match &args.options {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let options = SessionOptions::from_json(&text).map_err(|e| e.with_context(path.display()))?;
            let config = Session::new(&model, &options)?.memory().config();
            let report = replay::evaluate_one(&stream, Method::Memory(config), &protocol, &mut step);
            let verdict = verdict::verdict_one(&report).ok_or("the replay produced no row")?;
            out.add(args.out.join("report.json"), serde_json::to_string_pretty(&report)? + "\n");
            format!("{title}{verdict}\n{}", report.markdown())
        }
        None => {
            let report = replay::evaluate(&[(key.as_str(), &stream)], None, &protocol, &mut step);
            let verdict = verdict::verdict(&report).ok_or("the replay produced no memory row")?;
            out.add(args.out.join("report.json"), serde_json::to_string_pretty(&report)? + "\n");
            out.add(args.out.join("options.json"), verdict.options.to_json() + "\n");
            format!("{title}{}\n{}", verdict.text, report.markdown())
        }
    };
    pb.finish_and_clear();
    out.add(args.out.join("report.md"), md.clone());
    if computed_p0.is_some() {
        out.add(args.out.join("spec.json"), serde_json::to_string_pretty(&spec)? + "\n");
    }
    let paths: Vec<String> = out.paths().map(|p| p.display().to_string()).collect();
    out.commit()?;
    println!("{md}");
    eprintln!("wrote {}", paths.join(", "));
    Ok(())
}

fn example(args: ExampleArgs) -> Result<(), Box<dyn std::error::Error>> {
    if args.format == Format::Parquet {
        return Err("the example log is written as jsonl or csv".into());
    }
    let mut ex = reloop_tools::example::model(args.seed)?;
    std::fs::create_dir_all(&args.out)?;
    let name = if args.format == Format::Csv { "events.csv" } else { "events.jsonl" };
    let log = args.out.join(name);
    let pb = bar(args.quiet, args.events as u64, "events");
    let rate = reloop_tools::example::write_log(&ex, args.events, args.seed, args.format, &log, &mut |done| {
        pb.set_position(done as u64);
    })?;
    pb.finish_and_clear();
    ex.spec.p0 = Some(rate);
    let mut out = Outputs::default();
    out.add(args.out.join("model.onnx"), ex.onnx.clone());
    out.add(args.out.join("spec.json"), serde_json::to_string_pretty(&ex.spec)? + "\n");
    out.commit()?;
    eprintln!(
        "wrote {}, {} and {} ({} events, label rate {rate:.4})",
        args.out.join("model.onnx").display(),
        args.out.join("spec.json").display(),
        log.display(),
        args.events
    );
    Ok(())
}
