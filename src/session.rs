//! The JS class `Session`: one user's (or page's) error memory over a shared
//! `Model`, wrapping [`reloop_runtime::Session`]. Items are read by
//! [`crate::reader`], options by [`crate::options`]; scores come back as
//! `Float32Array`s.

use js_sys::{Float32Array, Object, Reflect, Uint8Array};
use reloop_core::{Error, ErrorKind, Prediction};
use reloop_runtime::InputTensor;
use wasm_bindgen::prelude::*;

use crate::error::{JsResult, coded, to_js};

use crate::catalog::{Catalog, busy};
use crate::model::Model;
use crate::reader::{ItemReader, read_entries};
use crate::tensors::{self, TensorData};
use crate::{bytes_arg, input, options};

/// One user's (or page's) error memory over a shared model (JS class
/// `Session`).
#[wasm_bindgen]
pub struct Session {
    /// `None` only for the throw-away probe of [`crate::start`].
    session: Option<reloop_runtime::Session>,
    /// Why a saved memory given to the constructor was discarded.
    discarded: Option<Error>,
    reader: ItemReader,
    /// The last call's compensated scores, reused.
    scores: Vec<f32>,
}

impl Session {
    /// An instance with no session, only to reach the class prototype.
    pub(crate) fn probe() -> Session {
        Session { session: None, discarded: None, reader: ItemReader::default(), scores: Vec::new() }
    }

    fn get(&self) -> JsResult<&reloop_runtime::Session> {
        self.session.as_ref().ok_or_else(not_set_up)
    }

    fn get_mut(&mut self) -> JsResult<&mut reloop_runtime::Session> {
        self.session.as_mut().ok_or_else(not_set_up)
    }

    /// Reads and scores a batch; the compensated scores are left in `scores`.
    fn score_batch(&mut self, items: &JsValue, context: &JsValue, ids: &JsValue) -> JsResult<&[Prediction]> {
        let Session { session, reader, scores, .. } = self;
        let session = session.as_mut().ok_or_else(not_set_up)?;
        reader.batch(items, context, ids).map_err(|e| to_js(&e))?;
        let predictions = match &reader.ids {
            Some(ids) => session.score_impressions(&reader.items, &reader.context, ids),
            None => session.score(&reader.items, &reader.context),
        }
        .map_err(|e| to_js(&e))?;
        scores.clear();
        scores.extend(predictions.iter().map(|p| p.score));
        Ok(predictions)
    }
}

fn not_set_up() -> JsValue {
    coded(ErrorKind::InvalidInput.code(), "this Session is not set up")
}

fn clicked_arg(value: &JsValue) -> Result<bool, Error> {
    value.as_bool().ok_or_else(|| input("clicked must be a boolean"))
}

fn float32(values: &[f32]) -> Float32Array {
    let array = Float32Array::new_with_length(u32::try_from(values.len()).unwrap_or(u32::MAX));
    array.copy_from(values);
    array
}

#[wasm_bindgen]
impl Session {
    /// A session over `model`. With `saved` (bytes from `save()`), the memory
    /// is restored: its layout (bits, arrays, seed, errorFilter, halfLife)
    /// comes from the bytes, and estimator options given here replace the
    /// saved ones.
    ///
    /// @throws {ReloopError} `E_INVALID_CONFIG` for bad options; `E_CORRUPT_MEMORY` /
    /// `E_UNSUPPORTED_VERSION` for unreadable saved bytes; `E_MODEL_MISMATCH` for a
    /// memory of another model or layout when `onModelMismatch` is "error";
    /// `E_INVALID_INPUT` when `model` is not a live `Model`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Model<I, C>")] model: &JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SessionOptions")] options: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "Uint8Array | ArrayBuffer | null")] saved: JsValue,
    ) -> JsResult<Session> {
        crate::start();
        let model = Model::lookup(model)?;
        let options = options::read(&options).map_err(|e| to_js(&e))?;
        let saved = if saved.is_undefined() || saved.is_null() {
            None
        } else {
            Some(bytes_arg("saved", &saved).map_err(|e| to_js(&e))?)
        };
        let resolved = match saved {
            None => reloop_runtime::Session::new(&model, &options).map(|s| (s, None)),
            Some(bytes) => reloop_runtime::Session::restore(&model, &options, &bytes).map(|r| (r.session, r.discarded)),
        };
        let (session, discarded) = resolved.map_err(|e| to_js(&e))?;
        Ok(Session { session: Some(session), discarded, reader: ItemReader::new(&model), scores: Vec::new() })
    }

    /// Scores `items` (each an object of fields; `context` fills what they
    /// lack): the compensated click probability of each, in order. With
    /// `ids` (one string per item), each impression is remembered so its
    /// outcome can be recorded later with `recordImpression(id, clicked)`.
    /// Where the model has the first-layer split (the bundled model does),
    /// 48 items or more score through it once it is made (see
    /// `Model.warmUp`): within 1e-5 of the whole model, keys bit for bit.
    ///
    /// @throws {ReloopError} `E_INVALID_INPUT` naming the item and field (wrong type,
    /// missing field, non-finite number, batch above `model.maxBatch`); `E_MODEL` if
    /// the model fails. The session is unchanged then.
    #[wasm_bindgen(unchecked_return_type = "Float32Array")]
    pub fn score(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "I[]")] items: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "C | null")] context: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string[] | null")] ids: JsValue,
    ) -> JsResult<JsValue> {
        self.score_batch(&items, &context, &ids)?;
        Ok(float32(&self.scores).into())
    }

    /// As `score`, returning the compensated scores, the model's own
    /// probabilities and the corrections (`scores − base`); with
    /// `{ hidden: true }`, also the key vectors the model gave (`hidden`,
    /// `items.length × model.hiddenDim`, row-major; the memory hashes them
    /// minus `model.mu`). The key is only copied out when asked for.
    ///
    /// @throws {ReloopError} as `score`; `E_INVALID_CONFIG` for detail options other
    /// than `{ hidden?: boolean }`.
    #[wasm_bindgen(js_name = scoreDetailed, unchecked_return_type = "ScoreDetail")]
    pub fn score_detailed(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "I[]")] items: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "C | null")] context: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string[] | null")] ids: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "ScoreDetailOptions | null")] detail: JsValue,
    ) -> JsResult<JsValue> {
        let detail = options::read_detail(&detail).map_err(|e| to_js(&e))?;
        let predictions = self.score_batch(&items, &context, &ids)?;
        let base: Vec<f32> = predictions.iter().map(|p| p.base).collect();
        let corrections: Vec<f32> = predictions.iter().map(|p| p.correction).collect();
        let out = Object::new();
        for (key, values) in [("scores", &self.scores), ("base", &base), ("corrections", &corrections)] {
            Reflect::set(&out, &JsValue::from_str(key), &float32(values))?;
        }
        if detail.hidden {
            let hidden = self.get()?.last_output().hidden();
            Reflect::set(&out, &JsValue::from_str("hidden"), &float32(hidden))?;
        }
        Ok(out.into())
    }

    /// Records whether the user clicked `item` (seen with `context`): the
    /// model is run on it again. Returns whether the memory stored it (the
    /// error filter may skip small errors).
    ///
    /// @throws {ReloopError} `E_INVALID_INPUT` for a bad item or a `clicked` that is
    /// not a boolean; the memory is unchanged then.
    pub fn record(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "I")] item: JsValue,
        #[wasm_bindgen(unchecked_param_type = "boolean")] clicked: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "C | null")] context: JsValue,
    ) -> JsResult<bool> {
        let Session { session, reader, .. } = self;
        let session = session.as_mut().ok_or_else(not_set_up)?;
        let clicked = clicked_arg(&clicked).map_err(|e| to_js(&e))?;
        reader.item(&item, &context).map_err(|e| to_js(&e))?;
        let item = reader.items.first().ok_or_else(|| to_js(&input("item")))?;
        session.record(item, &reader.context, clicked).map_err(|e| to_js(&e))
    }

    /// Scores catalog entries (`entries`: a `Uint32Array` or an array of
    /// indices, or an array of ids) with `context` read and encoded once:
    /// the same scores as `score` on the items themselves (bit for bit below
    /// 48 entries; from 48, where the model's first layer is affine over its
    /// features, that layer runs once for the context and the entries'
    /// shares were computed when added: within 1e-5). With `ids` (one
    /// string per entry), each impression is remembered for
    /// `recordImpression`.
    ///
    /// @throws {ReloopError} `E_INVALID_INPUT` for a catalog that is not a live
    /// `Catalog` of this session's model, an unknown id or index, a field neither an
    /// entry nor the context gives, or as `score`. The session is unchanged then.
    #[wasm_bindgen(js_name = scoreCatalog, unchecked_return_type = "Float32Array")]
    pub fn score_catalog(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Catalog<I>")] catalog: JsValue,
        #[wasm_bindgen(unchecked_param_type = "Uint32Array | number[] | string[]")] entries: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "C | null")] context: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string[] | null")] ids: JsValue,
    ) -> JsResult<JsValue> {
        let shared = Catalog::lookup(&catalog)?;
        let Session { session, reader, scores, .. } = self;
        let session = session.as_mut().ok_or_else(not_set_up)?;
        reader.context(&context, &ids).map_err(|e| to_js(&e))?;
        let catalog = shared.try_borrow().map_err(|_| busy())?;
        let entries = read_entries(&entries, &catalog).map_err(|e| to_js(&e))?;
        let predictions = match &reader.ids {
            Some(ids) => session.score_catalog_impressions(&catalog, &entries, &reader.context, ids),
            None => session.score_catalog(&catalog, &entries, &reader.context),
        }
        .map_err(|e| to_js(&e))?;
        scores.clear();
        scores.extend(predictions.iter().map(|p| p.score));
        Ok(float32(scores).into())
    }

    /// Records whether the user clicked catalog entry `entry` (an index or
    /// an id), seen with `context`, as `record` does for the item itself.
    ///
    /// @throws {ReloopError} as `scoreCatalog` and `record`; the memory is unchanged then.
    #[wasm_bindgen(js_name = recordCatalog)]
    pub fn record_catalog(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Catalog<I>")] catalog: JsValue,
        #[wasm_bindgen(unchecked_param_type = "number | string")] entry: JsValue,
        #[wasm_bindgen(unchecked_param_type = "boolean")] clicked: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "C | null")] context: JsValue,
    ) -> JsResult<bool> {
        let shared = Catalog::lookup(&catalog)?;
        let Session { session, reader, .. } = self;
        let session = session.as_mut().ok_or_else(not_set_up)?;
        let clicked = clicked_arg(&clicked).map_err(|e| to_js(&e))?;
        reader.context(&context, &JsValue::NULL).map_err(|e| to_js(&e))?;
        let catalog = shared.try_borrow().map_err(|_| busy())?;
        let entry = read_entries(&js_sys::Array::of1(&entry).into(), &catalog).map_err(|e| to_js(&e))?;
        let entry = entry.first().copied().ok_or_else(|| to_js(&input("entry")))?;
        session.record_catalog(&catalog, entry, &reader.context, clicked).map_err(|e| to_js(&e))
    }

    /// Scores input tensors you encoded yourself: `inputs` holds one typed
    /// array per model input, by the spec's input names (`BigInt64Array`
    /// for i64 inputs, `Float32Array` for f32), `rows × width` values each.
    /// Every value is checked against what the spec's field for its column
    /// can write. With `ids`, impressions are remembered as in `score`.
    ///
    /// @throws {ReloopError} `E_INVALID_INPUT` naming the input, row and column of a
    /// value out of range, or a wrong type or length. The session is unchanged then.
    #[wasm_bindgen(js_name = scoreTensors, unchecked_return_type = "Float32Array")]
    pub fn score_tensors(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "Record<string, BigInt64Array | Float32Array>")] inputs: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string[] | null")] ids: JsValue,
    ) -> JsResult<JsValue> {
        let Session { session, reader, scores, .. } = self;
        let session = session.as_mut().ok_or_else(not_set_up)?;
        let (data, rows) = tensors::read(session.model(), &inputs).map_err(|e| to_js(&e))?;
        reader.context(&JsValue::NULL, &ids).map_err(|e| to_js(&e))?;
        let views: Vec<InputTensor<'_>> = data
            .iter()
            .map(|d| match d {
                TensorData::I64(v) => InputTensor::I64(v),
                TensorData::F32(v) => InputTensor::F32(v),
            })
            .collect();
        let predictions = match &reader.ids {
            Some(ids) => session.score_tensors_impressions(&views, rows, ids),
            None => session.score_tensors(&views, rows),
        }
        .map_err(|e| to_js(&e))?;
        scores.clear();
        scores.extend(predictions.iter().map(|p| p.score));
        Ok(float32(scores).into())
    }

    /// Records the outcome of an impression scored with ids. Each
    /// impression records at most one outcome.
    ///
    /// @throws {ReloopError} `E_INVALID_INPUT` if `id` is not among the recent
    /// impressions (never scored, already recorded or evicted).
    #[wasm_bindgen(js_name = recordImpression)]
    pub fn record_impression(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue,
        #[wasm_bindgen(unchecked_param_type = "boolean")] clicked: JsValue,
    ) -> JsResult<bool> {
        let session = self.get_mut()?;
        let clicked = clicked_arg(&clicked).map_err(|e| to_js(&e))?;
        let id = id.as_string().ok_or_else(|| to_js(&input("id must be a string")))?;
        session.record_impression(&id, clicked).map_err(|e| to_js(&e))
    }

    /// The memory as compact bytes (the versioned saved format): keep them
    /// (localStorage, a cookie token) and pass them to `new Session` later.
    #[wasm_bindgen(unchecked_return_type = "Uint8Array")]
    pub fn save(&self) -> JsResult<JsValue> {
        Ok(Uint8Array::from(&self.get()?.save()[..]).into())
    }

    /// Forgets everything recorded (and the remembered impressions).
    pub fn reset(&mut self) -> JsResult<()> {
        self.get_mut()?.reset();
        Ok(())
    }

    /// Outcomes stored in the memory (after the error filter).
    #[wasm_bindgen(getter)]
    pub fn events(&self) -> JsResult<f64> {
        Ok(self.get()?.memory().sketch().len() as f64)
    }

    /// Heap bytes the memory uses (buckets, hash planes, centre).
    #[wasm_bindgen(getter, js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> JsResult<u32> {
        Ok(u32::try_from(self.get()?.memory().sketch().heap_bytes()).unwrap_or(u32::MAX))
    }

    /// Impressions currently remembered for `recordImpression`.
    #[wasm_bindgen(getter)]
    pub fn impressions(&self) -> JsResult<u32> {
        Ok(u32::try_from(self.get()?.impressions()).unwrap_or(u32::MAX))
    }

    /// The identity (hex) of the model the memory belongs to.
    #[wasm_bindgen(getter, js_name = modelId)]
    pub fn model_id(&self) -> JsResult<String> {
        Ok(self.get()?.memory().model_id().to_hex())
    }

    /// Why the saved memory given to the constructor was discarded
    /// (`E_MODEL_MISMATCH` under `onModelMismatch: "reset"`), else `undefined`.
    #[wasm_bindgen(getter, js_name = restoreError, unchecked_return_type = "ReloopError | undefined")]
    pub fn restore_error(&self) -> JsResult<JsValue> {
        self.get()?;
        Ok(self.discarded.as_ref().map_or(JsValue::UNDEFINED, to_js))
    }

    /// The options the session runs with: every key that applies to its
    /// estimator, defaults filled in.
    #[wasm_bindgen(getter, unchecked_return_type = "SessionOptions")]
    pub fn options(&self) -> JsResult<JsValue> {
        options::write(&self.get()?.options()).map_err(|e| to_js(&e))
    }
}
