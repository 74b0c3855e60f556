//! Trains the bundled default model on MovieLens-100K and writes
//! `movielens.onnx` and `movielens.spec.json` (DESIGN §2, §5).
//!
//! ```text
//! scripts/fetch-movielens.sh
//! cargo run --release --features train --bin train -- --out models/
//! ```
//!
//! Reproducible: every random draw comes from `--seed`. Prints per-epoch
//! train/valid logloss and AUC, the frozen model's stream figures, and a
//! check that the exported ONNX run by tract gives candle's numbers.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use reloop_runtime::{Item, Model, ModelOutput};
use reloop_tools::movielens::Dataset;
use reloop_tools::train::{self, EpochReport, Progress, TrainConfig, event_item};

/// Train the bundled MovieLens-100K CTR model (embedding + MLP) and export it as ONNX + spec.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Directory to write movielens.onnx and movielens.spec.json into.
    #[arg(long, default_value = "models")]
    out: PathBuf,
    /// Data directory (default: $RELOOP_DATA_DIR, else the cache dir of scripts/fetch-movielens.sh).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Also save the weights as safetensors here.
    #[arg(long)]
    safetensors: Option<PathBuf>,
    /// Seed of initialisation, shuffling and id dropout.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Embedding width.
    #[arg(long, default_value_t = TrainConfig::default().dim)]
    dim: usize,
    /// First hidden layer width.
    #[arg(long, default_value_t = TrainConfig::default().hidden1)]
    hidden1: usize,
    /// Last hidden layer width (the key vector h).
    #[arg(long, default_value_t = TrainConfig::default().hidden)]
    hidden: usize,
    /// Most epochs.
    #[arg(long, default_value_t = TrainConfig::default().max_epochs)]
    epochs: usize,
    /// Epochs without a better valid logloss before stopping.
    #[arg(long, default_value_t = TrainConfig::default().patience)]
    patience: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    lr: f64,
    /// Decoupled weight decay.
    #[arg(long, default_value_t = TrainConfig::default().weight_decay)]
    weight_decay: f64,
    /// Probability of training a row with the out-of-vocabulary user (and item) row.
    #[arg(long, default_value_t = TrainConfig::default().id_dropout)]
    id_dropout: f64,
}

struct Bar(Option<ProgressBar>);

impl Progress for Bar {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        let bar = ProgressBar::new(batches as u64);
        if let Ok(style) = ProgressStyle::with_template("epoch {prefix:>2} [{bar:30}] {pos}/{len} loss {msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(epoch.to_string());
        self.0 = Some(bar);
    }

    fn batch(&mut self, loss: f32) {
        if let Some(bar) = &self.0 {
            bar.set_message(format!("{loss:.4}"));
            bar.inc(1);
        }
    }

    fn epoch_end(&mut self, r: &EpochReport) {
        if let Some(bar) = self.0.take() {
            bar.finish_and_clear();
        }
        println!(
            "epoch {:>2}: train logloss {:.4} AUC {:.4} | valid logloss {:.4} AUC {:.4} | {:.1} s",
            r.epoch, r.train_logloss, r.train_auc, r.valid_logloss, r.valid_auc, r.seconds
        );
    }
}

fn run(args: Args) -> Result<(), String> {
    let dir = args.data.clone().unwrap_or_else(Dataset::default_dir);
    let data = Dataset::load(&dir).map_err(|e| e.to_string())?;
    println!("data: {} events from {}", data.events.len(), dir.display());
    let config = TrainConfig {
        seed: args.seed,
        dim: args.dim,
        hidden1: args.hidden1,
        hidden: args.hidden,
        max_epochs: args.epochs,
        patience: args.patience,
        batch_size: args.batch_size,
        lr: args.lr,
        weight_decay: args.weight_decay,
        id_dropout: args.id_dropout,
    };
    println!("config: {config:?}");
    let trained = train::train(&data, &config, &mut Bar(None)).map_err(|e| e.to_string())?;
    println!(
        "kept epoch {} of {}; {} parameters; trained in {:.1} s",
        trained.best_epoch,
        trained.epochs.len(),
        trained.net.param_count(),
        trained.seconds
    );
    println!(
        "stream (last 40%, frozen): AUC {:.4} logloss {:.4} | unseen users {:.1}%, unseen items {:.1}%",
        trained.stream_auc,
        trained.stream_logloss,
        100.0 * trained.stream_user_oov,
        100.0 * trained.stream_item_oov
    );

    let onnx = trained.onnx().map_err(|e| e.to_string())?;
    let spec = trained.spec_json();
    // The exported pair must load in the runtime, and give candle's numbers
    // (probability and last hidden layer: the memory key is no candle output).
    Model::from_json(&onnx, &spec).map_err(|e| format!("exported model does not load: {e}"))?;
    let mut hidden_spec = trained.spec.clone();
    hidden_spec.outputs.hidden = train::layout::hidden_key();
    hidden_spec.mu = None;
    let model = Model::load(&onnx, hidden_spec).map_err(|e| format!("exported model does not load: {e}"))?;
    let split = data.split();
    let rows = split.stream.start..split.stream.start + 1000.min(split.stream.len());
    let items: Vec<Item> = rows.clone().map(|i| event_item(&data, i)).collect();
    let mut out = ModelOutput::default();
    model.run_unsplit(&items, &Item::new(), &mut out).map_err(|e| e.to_string())?;
    let encoded = train::encode_events(&data, &trained.spec, rows).map_err(|e| e.to_string())?;
    let (probs, hidden) = trained.net.predict(&encoded.ids, &encoded.genres).map_err(|e| e.to_string())?;
    let dp = probs.iter().zip(out.y_base()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    let dh = hidden.iter().flatten().zip(out.hidden()).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    println!("parity tract vs candle on 1000 stream events: max |Δprob| {dp:.2e}, max |Δh| {dh:.2e}");
    if dp > 1e-5 || dh > 1e-5 {
        return Err("the exported ONNX disagrees with candle".into());
    }

    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let onnx_path = args.out.join("movielens.onnx");
    let spec_path = args.out.join("movielens.spec.json");
    std::fs::write(&onnx_path, &onnx).map_err(|e| format!("{}: {e}", onnx_path.display()))?;
    std::fs::write(&spec_path, format!("{spec}\n")).map_err(|e| format!("{}: {e}", spec_path.display()))?;
    println!("wrote {} ({} bytes)", onnx_path.display(), onnx.len());
    println!("wrote {} ({} bytes)", spec_path.display(), spec.len() + 1);
    if let Some(path) = &args.safetensors {
        trained.net.save_safetensors(path).map_err(|e| e.to_string())?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("train: {e}");
            ExitCode::FAILURE
        }
    }
}
