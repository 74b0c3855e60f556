//! The bundled model's network in candle, and its ONNX form.
//!
//! ```text
//! ids [N, C] ──Gather(embeddings)──Flatten──┐
//! genres [N, G] ──MatMul(genre_embeddings)──┴─Concat─MatMul w1 + b1─Relu─MatMul w2 + b2─Relu (`hidden`)
//!                                                     ─MatMul w3 + b3 (`logit`)─Sigmoid (`prob`)
//! ```
//!
//! [`Net::to_onnx`] writes exactly this graph (opset 13, symbolic batch
//! `N`); [`Net::from_onnx`] reads the weights back from such a file, so
//! the committed model can be checked against candle without shipping a
//! second copy of its weights.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{D, DType, Device, Tensor, Var};
use prost::Message;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, Normal, Uniform};
use tract_onnx::pb;

use crate::onnx_graph::{ONNX_FLOAT, ONNX_INT64, int_attr, model_bytes, node, tensor_f32, value_info};

use crate::train::layout::{FIRST_LAYER_INPUT, GENRES_INPUT, HIDDEN_OUTPUT, IDS_INPUT, PROB_OUTPUT};
use reloop_core::{Error, ErrorKind, Result};

/// Converts a candle error at this module's edge.
pub(crate) fn candle_err(context: &str, e: candle_core::Error) -> Error {
    Error::new(ErrorKind::Model, format!("{context}: {e}"))
}

/// Sizes of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// Rows of the shared embedding table.
    pub vocab: usize,
    /// Columns of the `ids` input (single-valued fields).
    pub id_columns: usize,
    /// Columns of the `genres` input.
    pub genres: usize,
    /// Embedding width.
    pub dim: usize,
    /// Width of the first hidden layer.
    pub hidden1: usize,
    /// Width of the last hidden layer (the key vector `h`).
    pub hidden: usize,
}

impl NetConfig {
    /// Width of the concatenated embeddings.
    pub fn input_width(&self) -> usize {
        (self.id_columns + 1) * self.dim
    }

    /// Number of trainable parameters.
    pub fn param_count(&self) -> usize {
        let x = self.input_width();
        self.vocab * self.dim
            + self.genres * self.dim
            + x * self.hidden1
            + self.hidden1
            + self.hidden1 * self.hidden
            + self.hidden
            + self.hidden
            + 1
    }
}

/// The network's parameters (candle variables, f32, CPU).
#[derive(Clone, Debug)]
pub struct Net {
    /// Sizes.
    pub config: NetConfig,
    /// `[vocab, dim]` shared embedding table.
    pub embeddings: Var,
    /// `[genres, dim]` genre embeddings.
    pub genre_embeddings: Var,
    /// `[input_width, hidden1]`.
    pub w1: Var,
    /// `[hidden1]`.
    pub b1: Var,
    /// `[hidden1, hidden]`.
    pub w2: Var,
    /// `[hidden]`.
    pub b2: Var,
    /// `[hidden, 1]`.
    pub w3: Var,
    /// `[1]`.
    pub b3: Var,
}

/// The network's outputs for a batch.
#[derive(Debug)]
pub struct Forward {
    /// `[N, 1]` logits.
    pub logit: Tensor,
    /// `[N, hidden]` last hidden layer (after ReLU).
    pub hidden: Tensor,
}

/// Initializer names in the ONNX graph, in [`Net::vars`] order.
const NAMES: [&str; 8] = ["embeddings", "genre_embeddings", "w1", "b1", "w2", "b2", "w3", "b3"];

impl Net {
    /// A freshly initialised network: embeddings N(0, 0.05²), weights
    /// uniform in ±1/√fan_in (PyTorch's default), from a seeded ChaCha8.
    ///
    /// # Errors
    /// [`ErrorKind::Model`] if candle cannot build a tensor.
    pub fn init(config: NetConfig, seed: u64) -> Result<Net> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let dev = Device::Cpu;
        let mut normal = |rows: usize, cols: usize, std: f32| -> Result<Var> {
            let dist = Normal::new(0.0f32, std).map_err(|e| Error::new(ErrorKind::Model, format!("init: {e}")))?;
            let data: Vec<f32> = (0..rows * cols).map(|_| dist.sample(&mut rng)).collect();
            Var::from_vec(data, (rows, cols), &dev).map_err(|e| candle_err("init", e))
        };
        let embeddings = normal(config.vocab, config.dim, 0.05)?;
        let genre_embeddings = normal(config.genres, config.dim, 0.05)?;
        let mut uniform = |shape: &[usize], fan_in: usize| -> Result<Var> {
            let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
            let dist = Uniform::new(-bound, bound).map_err(|e| Error::new(ErrorKind::Model, format!("init: {e}")))?;
            let n = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|_| dist.sample(&mut rng)).collect();
            Var::from_vec(data, shape.to_vec(), &dev).map_err(|e| candle_err("init", e))
        };
        let x = config.input_width();
        let w1 = uniform(&[x, config.hidden1], x)?;
        let b1 = uniform(&[config.hidden1], x)?;
        let w2 = uniform(&[config.hidden1, config.hidden], config.hidden1)?;
        let b2 = uniform(&[config.hidden], config.hidden1)?;
        let w3 = uniform(&[config.hidden, 1], config.hidden)?;
        let b3 = uniform(&[1], config.hidden)?;
        Ok(Net { config, embeddings, genre_embeddings, w1, b1, w2, b2, w3, b3 })
    }

    /// All variables, in a fixed order (for the optimiser and snapshots).
    pub fn vars(&self) -> Vec<Var> {
        vec![
            self.embeddings.clone(),
            self.genre_embeddings.clone(),
            self.w1.clone(),
            self.b1.clone(),
            self.w2.clone(),
            self.b2.clone(),
            self.w3.clone(),
            self.b3.clone(),
        ]
    }

    /// Number of trainable parameters.
    pub fn param_count(&self) -> usize {
        self.vars().iter().map(|v| v.elem_count()).sum()
    }

    /// The forward pass: `ids` `[N, C]` i64, `genres` `[N, G]` f32.
    ///
    /// # Errors
    /// candle's, e.g. on shape mismatches or out-of-range indices.
    pub fn forward(&self, ids: &Tensor, genres: &Tensor) -> candle_core::Result<Forward> {
        let (n, c) = ids.dims2()?;
        let embedded =
            self.embeddings.as_tensor().index_select(&ids.flatten_all()?, 0)?.reshape((n, c * self.config.dim))?;
        let genre = genres.matmul(self.genre_embeddings.as_tensor())?;
        let x = Tensor::cat(&[&embedded, &genre], 1)?;
        let h1 = x.matmul(self.w1.as_tensor())?.broadcast_add(self.b1.as_tensor())?.relu()?;
        let hidden = h1.matmul(self.w2.as_tensor())?.broadcast_add(self.b2.as_tensor())?.relu()?;
        let logit = hidden.matmul(self.w3.as_tensor())?.broadcast_add(self.b3.as_tensor())?;
        Ok(Forward { logit, hidden })
    }

    /// Probabilities (`[N]`) and hidden vectors (`N` rows) of a batch given as flat host data.
    ///
    /// # Errors
    /// [`ErrorKind::Model`] if the data does not fit the network.
    pub fn predict(&self, ids: &[i64], genres: &[f32]) -> Result<(Vec<f32>, Vec<Vec<f32>>)> {
        let c = self.config.id_columns;
        let n = ids.len() / c.max(1);
        let dev = Device::Cpu;
        let run = || -> candle_core::Result<(Vec<f32>, Vec<Vec<f32>>)> {
            let ids = Tensor::from_slice(ids, (n, c), &dev)?;
            let genres = Tensor::from_slice(genres, (n, self.config.genres), &dev)?;
            let out = self.forward(&ids, &genres)?;
            let prob = candle_nn::ops::sigmoid(&out.logit.squeeze(D::Minus1)?)?.to_vec1::<f32>()?;
            Ok((prob, out.hidden.to_vec2::<f32>()?))
        };
        run().map_err(|e| candle_err("forward", e))
    }

    /// Copies of the current values (a snapshot for early stopping).
    ///
    /// # Errors
    /// [`ErrorKind::Model`] if candle cannot copy.
    pub fn snapshot(&self) -> Result<Vec<Tensor>> {
        self.vars().iter().map(|v| v.as_tensor().copy().map_err(|e| candle_err("snapshot", e))).collect()
    }

    /// Restores a [`Net::snapshot`].
    ///
    /// # Errors
    /// [`ErrorKind::Model`] on a shape mismatch.
    pub fn restore(&self, snapshot: &[Tensor]) -> Result<()> {
        for (var, value) in self.vars().iter().zip(snapshot) {
            var.set(value).map_err(|e| candle_err("restore", e))?;
        }
        Ok(())
    }

    /// Saves the weights as safetensors (names as in the ONNX initializers).
    ///
    /// # Errors
    /// [`ErrorKind::Model`] if the file cannot be written.
    pub fn save_safetensors(&self, path: &Path) -> Result<()> {
        let map: HashMap<String, Tensor> =
            NAMES.iter().zip(self.vars()).map(|(n, v)| (n.to_string(), v.as_tensor().clone())).collect();
        candle_core::safetensors::save(&map, path).map_err(|e| candle_err(&format!("{}", path.display()), e))
    }

    /// The ONNX model (opset 13, symbolic batch `N`): inputs `ids` `[N, C]`
    /// i64 and `genres` `[N, G]` f32; outputs `prob` `[N, 1]` and `hidden`
    /// `[N, H]`.
    ///
    /// # Errors
    /// [`ErrorKind::Model`] if a weight cannot be read back from candle.
    pub fn to_onnx(&self) -> Result<Vec<u8>> {
        let mut initializer = Vec::with_capacity(NAMES.len());
        for (name, var) in NAMES.iter().zip(self.vars()) {
            let t = var.as_tensor();
            let data = t.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(|e| candle_err("export", e))?;
            initializer.push(tensor_f32(name, t.dims(), data));
        }
        let c = self.config;
        let int = int_attr;
        let nodes = vec![
            node("Gather", &["embeddings", IDS_INPUT], "embedded", vec![int("axis", 0)]),
            node("Flatten", &["embedded"], "flat", vec![int("axis", 1)]),
            node("MatMul", &[GENRES_INPUT, "genre_embeddings"], "genre_mean", vec![]),
            node("Concat", &["flat", "genre_mean"], FIRST_LAYER_INPUT, vec![int("axis", 1)]),
            node("MatMul", &[FIRST_LAYER_INPUT, "w1"], "mm1", vec![]),
            node("Add", &["mm1", "b1"], "pre1", vec![]),
            node("Relu", &["pre1"], "relu1", vec![]),
            node("MatMul", &["relu1", "w2"], "mm2", vec![]),
            node("Add", &["mm2", "b2"], "pre2", vec![]),
            node("Relu", &["pre2"], HIDDEN_OUTPUT, vec![]),
            node("MatMul", &[HIDDEN_OUTPUT, "w3"], "mm3", vec![]),
            node("Add", &["mm3", "b3"], "logit", vec![]),
            node("Sigmoid", &["logit"], PROB_OUTPUT, vec![]),
        ];
        let graph = pb::GraphProto {
            name: "reloop_movielens_ctr".into(),
            node: nodes,
            initializer,
            input: vec![
                value_info(IDS_INPUT, ONNX_INT64, c.id_columns),
                value_info(GENRES_INPUT, ONNX_FLOAT, c.genres),
            ],
            output: vec![value_info(PROB_OUTPUT, ONNX_FLOAT, 1), value_info(HIDDEN_OUTPUT, ONNX_FLOAT, c.hidden)],
            ..Default::default()
        };
        Ok(model_bytes(graph, "reloop-edge-train"))
    }

    /// Reads the weights back from an ONNX file written by [`Net::to_onnx`].
    ///
    /// # Errors
    /// [`ErrorKind::Model`] if the bytes are not such a model.
    pub fn from_onnx(bytes: &[u8]) -> Result<Net> {
        let model = pb::ModelProto::decode(bytes).map_err(|e| Error::new(ErrorKind::Model, format!("onnx: {e}")))?;
        let graph = model.graph.ok_or_else(|| Error::new(ErrorKind::Model, "onnx: no graph"))?;
        let dev = Device::Cpu;
        let mut vars = Vec::with_capacity(NAMES.len());
        for name in NAMES {
            let t = graph
                .initializer
                .iter()
                .find(|t| t.name == name)
                .ok_or_else(|| Error::new(ErrorKind::Model, format!("onnx: no initializer `{name}`")))?;
            let shape: Vec<usize> = t.dims.iter().map(|&d| usize::try_from(d).unwrap_or(0)).collect();
            let data = if !t.float_data.is_empty() {
                t.float_data.clone()
            } else {
                t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
            };
            vars.push(Var::from_vec(data, shape, &dev).map_err(|e| candle_err(&format!("onnx: `{name}`"), e))?);
        }
        let dim = |v: &Var, i: usize| v.dims().get(i).copied().unwrap_or(0);
        let [embeddings, genre_embeddings, w1, b1, w2, b2, w3, b3] =
            <[Var; 8]>::try_from(vars).map_err(|_| Error::new(ErrorKind::Model, "onnx: weights"))?;
        let config = NetConfig {
            vocab: dim(&embeddings, 0),
            dim: dim(&embeddings, 1),
            genres: dim(&genre_embeddings, 0),
            id_columns: (dim(&w1, 0) / dim(&embeddings, 1).max(1)).saturating_sub(1),
            hidden1: dim(&w1, 1),
            hidden: dim(&w2, 1),
        };
        let net = Net { config, embeddings, genre_embeddings, w1, b1, w2, b2, w3, b3 };
        if net.param_count() != config.param_count() {
            return Err(Error::new(ErrorKind::Model, "onnx: weight shapes do not form the expected network"));
        }
        Ok(net)
    }

    /// Loads weights saved by [`Net::save_safetensors`] into a network of `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Model`] if the file is unreadable or a weight is missing.
    pub fn load_safetensors(config: NetConfig, path: &Path) -> Result<Net> {
        let map = candle_core::safetensors::load(path, &Device::Cpu)
            .map_err(|e| candle_err(&path.display().to_string(), e))?;
        let net = Net::init(config, 0)?;
        for (name, var) in NAMES.iter().zip(net.vars()) {
            let t = map.get(*name).ok_or_else(|| Error::new(ErrorKind::Model, format!("no tensor `{name}`")))?;
            var.set(&t.to_dtype(DType::F32).map_err(|e| candle_err(name, e))?).map_err(|e| candle_err(name, e))?;
        }
        Ok(net)
    }
}
