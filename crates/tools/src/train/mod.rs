//! Training of the bundled default model on MovieLens-100K (feature `train`).
//!
//! A small embedding + MLP click-through-rate model ([`net`]) is fitted
//! with Adam on the binary cross-entropy of the train part of
//! [`Dataset::split`], with early stopping on the valid part, then frozen
//! and scored on the stream part. The inputs are encoded by the crate's own
//! [`Encoder`] from the spec of the [`layout`], so what the model learns
//! from is exactly what the runtime feeds it. [`Trained::onnx`] and
//! [`Trained::spec_json`] are what `models/` holds.
//!
//! Everything random (initialisation, shuffling, id dropout) comes from
//! ChaCha8 seeded by [`TrainConfig::seed`].
//!
//! The command: `cargo run --release --features train --bin train -- --out models/`.

pub mod layout;

pub mod net;

use std::ops::Range;
use std::time::Instant;

use candle_core::{D, Device, Tensor};
use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

use crate::metrics;
use crate::movielens::Dataset;
use layout::{ID_FIELDS, Layout};
use net::{Net, NetConfig, candle_err};
use reloop_core::{Error, ErrorKind, Result};
use reloop_runtime::Item;
use reloop_runtime::encoder::{EncodedBatch, Encoder};
use reloop_runtime::{Model, ModelSpec};

/// Hyper-parameters of a training run. Defaults are the bundled model's.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Seed of initialisation, shuffling and id dropout. Default 42.
    pub seed: u64,
    /// Embedding width. Default 8.
    pub dim: usize,
    /// First hidden layer. Default 64.
    pub hidden1: usize,
    /// Last hidden layer, the key vector `h`. Default 32.
    pub hidden: usize,
    /// Most epochs. Default 20.
    pub max_epochs: usize,
    /// Epochs without a better valid logloss before stopping. Default 2.
    pub patience: usize,
    /// Mini-batch size. Default 256.
    pub batch_size: usize,
    /// Adam learning rate. Default 0.002.
    pub lr: f64,
    /// Decoupled weight decay (AdamW). Default 0.
    pub weight_decay: f64,
    /// Probability of replacing a row's user (and, independently, item) by
    /// the out-of-vocabulary row during training, so the OOV rows learn
    /// what an unseen user or item looks like. Default 0.1.
    pub id_dropout: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 42,
            dim: 8,
            hidden1: 64,
            hidden: 32,
            max_epochs: 20,
            patience: 2,
            batch_size: 256,
            lr: 0.002,
            weight_decay: 0.0,
            id_dropout: 0.1,
        }
    }
}

/// Encoded events: the two input tensors' data and the labels.
#[derive(Clone, Debug, Default)]
pub struct Encoded {
    /// `rows × id_columns` indices into the shared embedding table.
    pub ids: Vec<i64>,
    /// `rows × genre_width` mean-pooled genres.
    pub genres: Vec<f32>,
    /// Labels (`rating >= 4`).
    pub labels: Vec<bool>,
    /// Columns of `ids`.
    pub id_columns: usize,
    /// Columns of `genres`.
    pub genre_width: usize,
}

impl Encoded {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The `ids` and `genres` data of `rows`.
    pub fn rows(&self, rows: Range<usize>) -> (&[i64], &[f32]) {
        let ids = self.ids.get(rows.start * self.id_columns..rows.end * self.id_columns).unwrap_or_default();
        let genres = self.genres.get(rows.start * self.genre_width..rows.end * self.genre_width).unwrap_or_default();
        (ids, genres)
    }
}

/// An event's item fields and context merged into one map.
pub fn event_item(data: &Dataset, index: usize) -> Item {
    let Some(e) = data.events.get(index) else { return Item::new() };
    let mut item = data.context(e);
    item.extend(data.item_fields(e.item));
    item
}

/// Encodes the events in `range` with the crate's [`Encoder`] for `spec`.
///
/// # Errors
/// As [`Encoder::encode`] (an event whose features the spec cannot encode),
/// or [`ErrorKind::InvalidConfig`] if the spec is not this module's layout.
pub fn encode_events(data: &Dataset, spec: &ModelSpec, range: Range<usize>) -> Result<Encoded> {
    let encoder = Encoder::new(spec)?;
    let (Some((_, _, id_columns)), Some((_, _, genre_width))) = (encoder.input(0), encoder.input(1)) else {
        return Err(Error::new(ErrorKind::InvalidConfig, "spec: expected the `ids` and `genres` inputs"));
    };
    let mut out = Encoded { id_columns, genre_width, ..Encoded::default() };
    let mut batch = EncodedBatch::default();
    let empty = Item::new();
    let step = encoder.max_batch();
    let mut start = range.start;
    while start < range.end {
        let end = (start + step).min(range.end);
        let items: Vec<Item> = (start..end).map(|i| event_item(data, i)).collect();
        encoder.encode(&items, &empty, &mut batch)?;
        out.ids.extend_from_slice(batch.i64_data(0).unwrap_or_default());
        out.genres.extend_from_slice(batch.f32_data(1).unwrap_or_default());
        out.labels.extend(data.events.get(start..end).unwrap_or_default().iter().map(|e| e.label));
        start = end;
    }
    Ok(out)
}

/// Figures of one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Logloss on the train part (frozen weights after the epoch, no dropout).
    pub train_logloss: f64,
    /// AUC on the train part.
    pub train_auc: f64,
    /// Logloss on the valid part.
    pub valid_logloss: f64,
    /// AUC on the valid part.
    pub valid_auc: f64,
    /// Wall time of the epoch, seconds.
    pub seconds: f64,
}

/// Progress callbacks of [`train`] (all optional).
pub trait Progress {
    /// An epoch of `batches` mini-batches starts.
    fn epoch_start(&mut self, _epoch: usize, _batches: usize) {}
    /// A mini-batch was fitted with this loss.
    fn batch(&mut self, _loss: f32) {}
    /// An epoch ended.
    fn epoch_end(&mut self, _report: &EpochReport) {}
}

/// No progress output.
impl Progress for () {}

/// The result of [`train`].
#[derive(Clone, Debug)]
pub struct Trained {
    /// The network with the best valid logloss.
    pub net: Net,
    /// Its vocabularies.
    pub layout: Layout,
    /// Its spec (with `mu` and `p0`).
    pub spec: ModelSpec,
    /// Every epoch run.
    pub epochs: Vec<EpochReport>,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// AUC of the frozen model on the stream part.
    pub stream_auc: f64,
    /// Logloss of the frozen model on the stream part.
    pub stream_logloss: f64,
    /// Share of stream events whose user has no embedding of its own.
    pub stream_user_oov: f64,
    /// Share of stream events whose item has no embedding of its own.
    pub stream_item_oov: f64,
    /// Wall time of the whole run, seconds.
    pub seconds: f64,
}

impl Trained {
    /// The ONNX model bytes.
    ///
    /// # Errors
    /// As [`Net::to_onnx`].
    pub fn onnx(&self) -> Result<Vec<u8>> {
        self.net.to_onnx()
    }

    /// The spec as compact JSON text.
    pub fn spec_json(&self) -> String {
        String::from_utf8(self.spec.canonical_bytes()).unwrap_or_default()
    }
}

/// Probabilities of the `rows` of `data`.
fn evaluate(net: &Net, data: &Encoded, rows: Range<usize>) -> Result<Vec<f32>> {
    const CHUNK: usize = 4096;
    let mut probs = Vec::with_capacity(rows.len());
    let mut start = rows.start;
    while start < rows.end {
        let end = (start + CHUNK).min(rows.end);
        let (ids, genres) = data.rows(start..end);
        probs.extend(net.predict(ids, genres)?.0);
        start = end;
    }
    Ok(probs)
}

/// Mean of softplus(z) − y·z, the numerically stable BCE on logits.
fn bce_with_logits(logits: &Tensor, labels: &Tensor) -> candle_core::Result<Tensor> {
    let softplus = (logits.relu()? + (logits.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
    (softplus - (logits * labels)?)?.mean_all()
}

/// Trains the bundled model's network on `data` (see the [module docs](self)).
///
/// # Errors
/// [`ErrorKind::Model`] if candle fails; as [`encode_events`].
pub fn train(data: &Dataset, config: &TrainConfig, progress: &mut dyn Progress) -> Result<Trained> {
    let started = Instant::now();
    let split = data.split();
    let layout = Layout::from_dataset(data, split.train.clone());
    let provisional = layout.spec(None, 0.5);
    let all = encode_events(data, &provisional, 0..data.events.len())?;
    let train_rows = split.train.clone();
    let labels_of = |rows: Range<usize>| all.labels.get(rows).unwrap_or_default().to_vec();

    let net_config = NetConfig {
        vocab: layout.vocab_size(),
        id_columns: ID_FIELDS.len(),
        genres: layout.genre_width(),
        dim: config.dim,
        hidden1: config.hidden1,
        hidden: config.hidden,
    };
    let net = Net::init(net_config, config.seed)?;
    let params = ParamsAdamW { lr: config.lr, weight_decay: config.weight_decay, ..ParamsAdamW::default() };
    let mut opt = AdamW::new(net.vars(), params).map_err(|e| candle_err("optimiser", e))?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(1));
    let (user_oov, item_oov) = layout.oov_rows();
    let c = all.id_columns;
    let g = all.genre_width;
    let batch_size = config.batch_size.max(1);
    let dev = Device::Cpu;

    let mut epochs = Vec::new();
    let mut best: Option<(f64, usize, Vec<Tensor>)> = None;
    let mut order: Vec<usize> = train_rows.clone().collect();
    for epoch in 1..=config.max_epochs {
        let t0 = Instant::now();
        // Fisher–Yates with the seeded generator.
        for i in (1..order.len()).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let batches = order.len().div_ceil(batch_size);
        progress.epoch_start(epoch, batches);
        let mut ids = Vec::with_capacity(batch_size * c);
        let mut genres = Vec::with_capacity(batch_size * g);
        let mut labels = Vec::with_capacity(batch_size);
        for chunk in order.chunks(batch_size) {
            ids.clear();
            genres.clear();
            labels.clear();
            for &row in chunk {
                let (i, gs) = all.rows(row..row + 1);
                let at = ids.len();
                ids.extend_from_slice(i);
                genres.extend_from_slice(gs);
                labels.push(if all.labels.get(row).copied().unwrap_or(false) { 1.0f32 } else { 0.0 });
                let drop = |rng: &mut ChaCha8Rng| {
                    ((rng.next_u64() >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < config.id_dropout
                };
                if drop(&mut rng) {
                    if let Some(x) = ids.get_mut(at) {
                        *x = user_oov;
                    }
                }
                if drop(&mut rng) {
                    if let Some(x) = ids.get_mut(at + 1) {
                        *x = item_oov;
                    }
                }
            }
            let n = chunk.len();
            let mut step = || -> candle_core::Result<f32> {
                let ids = Tensor::from_slice(&ids, (n, c), &dev)?;
                let genres = Tensor::from_slice(&genres, (n, g), &dev)?;
                let y = Tensor::from_slice(&labels, n, &dev)?;
                let out = net.forward(&ids, &genres)?;
                let loss = bce_with_logits(&out.logit.squeeze(D::Minus1)?, &y)?;
                opt.backward_step(&loss)?;
                loss.to_scalar::<f32>()
            };
            let loss = step().map_err(|e| candle_err("training step", e))?;
            progress.batch(loss);
        }
        let train_probs = evaluate(&net, &all, train_rows.clone())?;
        let valid_probs = evaluate(&net, &all, split.valid.clone())?;
        let (train_labels, valid_labels) = (labels_of(train_rows.clone()), labels_of(split.valid.clone()));
        let report = EpochReport {
            epoch,
            train_logloss: metrics::logloss(&train_probs, &train_labels),
            train_auc: metrics::auc(&train_probs, &train_labels).unwrap_or(0.5),
            valid_logloss: metrics::logloss(&valid_probs, &valid_labels),
            valid_auc: metrics::auc(&valid_probs, &valid_labels).unwrap_or(0.5),
            seconds: t0.elapsed().as_secs_f64(),
        };
        progress.epoch_end(&report);
        let better = best.as_ref().is_none_or(|(loss, _, _)| report.valid_logloss < *loss);
        let valid_logloss = report.valid_logloss;
        epochs.push(report);
        if better {
            best = Some((valid_logloss, epoch, net.snapshot()?));
        } else if best.as_ref().is_some_and(|(_, at, _)| epoch >= at + config.patience) {
            break;
        }
    }
    let Some((_, best_epoch, weights)) = best else {
        return Err(Error::new(ErrorKind::InvalidConfig, "max_epochs: at least one epoch is needed"));
    };
    net.restore(&weights)?;

    // p0: the train part's label rate; μ: the memory key's mean on it, read
    // from the exported graph by the runtime (the key is not a candle output).
    let n = train_rows.len().max(1) as f64;
    let train_labels = labels_of(train_rows.clone());
    let p0 = (train_labels.iter().filter(|&&y| y).count() as f64 / n) as f32;
    let onnx = net.to_onnx()?;
    let uncentred = layout.spec(None, p0);
    let mu = crate::replay::stream::mean_key(data, &Model::load(&onnx, uncentred)?, train_rows.clone())?;
    let spec = layout.spec(Some(mu), p0);
    spec.validate()?;

    let stream_probs = evaluate(&net, &all, split.stream.clone())?;
    let stream_labels = labels_of(split.stream.clone());
    let (stream_ids, _) = all.rows(split.stream.clone());
    let share = |col: usize, oov: i64| {
        let hits = stream_ids.chunks(c).filter(|r| r.get(col) == Some(&oov)).count();
        hits as f64 / split.stream.len().max(1) as f64
    };
    Ok(Trained {
        stream_auc: metrics::auc(&stream_probs, &stream_labels).unwrap_or(0.5),
        stream_logloss: metrics::logloss(&stream_probs, &stream_labels),
        stream_user_oov: share(0, user_oov),
        stream_item_oov: share(1, item_oov),
        net,
        layout,
        spec,
        epochs,
        best_epoch,
        seconds: started.elapsed().as_secs_f64(),
    })
}
