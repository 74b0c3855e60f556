//! Prequential replay of the MovieLens-100K test period through the real
//! loop (DESIGN §5): tunes every method on the first 25% of the stream,
//! reports AUC, per-user AUC, logloss and ECE with user-bootstrap intervals
//! on the rest, and writes a markdown table and a JSON file.
//!
//! `cargo run --release --features replay --bin replay -- --help`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use reloop_tools::movielens::Dataset;
use reloop_tools::replay::{self, Protocol};

/// Replays the MovieLens stream through the frozen model, the error memory
/// and the reference adapters, and reports the metrics.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// MovieLens-100K directory (from scripts/fetch-movielens.sh); default:
    /// $RELOOP_DATA_DIR or the user cache.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Use only the first N events of the stream (smoke runs).
    #[arg(long)]
    limit: Option<usize>,
    /// Coordinate-descent passes over each method's parameters.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// User-bootstrap resamples for the intervals.
    #[arg(long, default_value_t = 200)]
    bootstrap: usize,
    /// Writes kept by the exact kNN reference per scope.
    #[arg(long, default_value_t = 1000)]
    knn_window: usize,
    /// Where to write the markdown table.
    #[arg(long, default_value = "target/replay/report.md")]
    out_md: PathBuf,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/replay/report.json")]
    out_json: PathBuf,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replay: {e}");
            ExitCode::FAILURE
        }
    }
}

fn bar(quiet: bool, len: u64, what: &'static str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} {elapsed_precise}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    ProgressBar::new(len).with_style(style).with_message(what)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let dir = args.data.unwrap_or_else(Dataset::default_dir);
    let dataset = Dataset::load(&dir)?;
    let model = reloop_runtime::bundled::model()?;
    let split = dataset.split();
    let mut stream_range = split.stream.clone();
    if let Some(n) = args.limit {
        stream_range.end = stream_range.end.min(stream_range.start + n);
    }
    let events = stream_range.len();
    let pb = bar(args.quiet, events as u64, "model");
    let stream = replay::stream::build(&dataset, &model, stream_range, &mut |done| pb.set_position(done as u64))?;
    pb.finish_and_clear();

    let protocol =
        Protocol { rounds: args.rounds, resamples: args.bootstrap, knn_window: args.knn_window, ..Protocol::default() };
    let pb = bar(args.quiet, 1, "replay");
    let report = replay::evaluate(&stream, &protocol, &mut |done, total| {
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
    for path in [&args.out_md, &args.out_json] {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
    }
    std::fs::write(&args.out_md, &md)?;
    std::fs::write(&args.out_json, serde_json::to_string_pretty(&report)?)?;
    eprintln!("wrote {} and {}", args.out_md.display(), args.out_json.display());
    Ok(())
}
