//! The JS class `Model`: a loaded, optimised ONNX model with its spec,
//! shared by every session of a page or isolate.

use std::cell::OnceCell;

use reloop_core::Error;
use wasm_bindgen::prelude::*;

use crate::error::{JsResult, coded, js_type, to_js};
use crate::lifetime::{self, HANDLE_PROPERTY};
use crate::{bytes_arg, input};

thread_local! {
    static BUNDLED: OnceCell<reloop_runtime::Model> = const { OnceCell::new() };
}

/// A loaded, optimised ONNX model with its spec (JS class `Model`). Load it
/// once and share it between sessions.
#[wasm_bindgen]
pub struct Model {
    /// `None` only for the throw-away probe of [`crate::start`].
    model: Option<reloop_runtime::Model>,
    /// Its entry in the model table (0: none).
    handle: u32,
}

#[wasm_bindgen]
impl Model {
    /// The bundled MovieLens-100K model (see `MovieLensItem` /
    /// `MovieLensContext` for its fields). Loaded on the first call and
    /// shared by every later one.
    ///
    /// @throws {ReloopError} `E_MODEL` only if the build is broken.
    #[wasm_bindgen(unchecked_return_type = "Model<MovieLensItem, MovieLensContext>")]
    pub fn bundled() -> JsResult<Model> {
        crate::start();
        let model = BUNDLED.with(|cell| -> Result<reloop_runtime::Model, Error> {
            if let Some(m) = cell.get() {
                return Ok(m.clone());
            }
            let m = reloop_runtime::bundled::model()?;
            Ok(cell.get_or_init(|| m).clone())
        });
        model.map(Model::register).map_err(|e| to_js(&e))
    }

    /// Loads an ONNX model (bytes: `Uint8Array` or `ArrayBuffer`) with its
    /// spec (JSON text or the parsed object).
    ///
    /// @throws {ReloopError} `E_MODEL` for bytes tract cannot load or a graph that does
    /// not fit the spec; `E_INVALID_CONFIG` for an invalid spec; `E_INVALID_INPUT` for
    /// arguments of the wrong type.
    #[wasm_bindgen(js_name = fromOnnx, unchecked_return_type = "Model<I, C>")]
    pub fn from_onnx(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | ArrayBuffer")] onnx: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | ModelSpec")] spec: JsValue,
    ) -> JsResult<Model> {
        crate::start();
        let bytes = bytes_arg("onnx", &onnx).map_err(|e| to_js(&e))?;
        let spec_text = if let Some(text) = spec.as_string() {
            text
        } else if spec.is_object() {
            js_sys::JSON::stringify(&spec)
                .ok()
                .and_then(|s| s.as_string())
                .ok_or_else(|| to_js(&Error::config("model spec: the object cannot be turned into JSON")))?
        } else {
            return Err(to_js(&input("spec must be JSON text or an object")));
        };
        // The copy in linear memory goes to the loader, which frees it once
        // decoded instead of holding it through the whole load.
        let model = reloop_runtime::Model::from_json_owned(bytes, &spec_text).map_err(|e| to_js(&e))?;
        Ok(Model::register(model))
    }

    /// The model identity (hex SHA-256 of the ONNX bytes and the spec) that
    /// binds saved memories.
    #[wasm_bindgen(getter)]
    pub fn id(&self) -> JsResult<String> {
        Ok(self.get()?.id().to_hex())
    }

    /// The handle `new Session` finds this model by (internal; not typed).
    #[wasm_bindgen(getter = __reloopHandle, skip_typescript)]
    pub fn handle(&self) -> u32 {
        self.handle
    }

    /// Width of the hidden key vector the memory hashes.
    #[wasm_bindgen(getter, js_name = hiddenDim)]
    pub fn hidden_dim(&self) -> JsResult<u32> {
        Ok(u32::try_from(self.get()?.hidden_dim()).unwrap_or(u32::MAX))
    }

    /// The centring vector `mu` from the spec (`null` without one): the
    /// memory hashes the key minus `mu`.
    #[wasm_bindgen(getter, unchecked_return_type = "Float32Array | null")]
    pub fn mu(&self) -> JsResult<JsValue> {
        Ok(match self.get()?.mu() {
            Some(mu) => {
                let array = js_sys::Float32Array::new_with_length(u32::try_from(mu.len()).unwrap_or(u32::MAX));
                array.copy_from(mu);
                array.into()
            }
            None => JsValue::NULL,
        })
    }

    /// The training label rate `p0` from the spec (`null` if the spec has
    /// none: sessions then need `options.p0`).
    #[wasm_bindgen(getter, unchecked_return_type = "number | null")]
    pub fn p0(&self) -> JsResult<JsValue> {
        Ok(self.get()?.p0().map_or(JsValue::NULL, |p| JsValue::from_f64(f64::from(p))))
    }

    /// How many batch sizes can keep a plan fixed to their size at once (4,
    /// fewer for a model with large weights, whose every plan holds its own
    /// copy of them; 0 for one too large for any): the most batch sizes
    /// `warmUp` takes (one when 0, run on the general plan).
    #[wasm_bindgen(getter, js_name = fixedPlanLimit)]
    pub fn fixed_plan_limit(&self) -> JsResult<u32> {
        Ok(self.get()?.fixed_plan_limit() as u32)
    }

    /// Largest batch `score` accepts.
    #[wasm_bindgen(getter, js_name = maxBatch)]
    pub fn max_batch(&self) -> JsResult<u32> {
        Ok(u32::try_from(self.get()?.spec().max_batch).unwrap_or(u32::MAX))
    }

    /// The field names the model reads (from items or the context), sorted.
    #[wasm_bindgen(getter)]
    pub fn fields(&self) -> JsResult<Vec<String>> {
        Ok(self.get()?.field_names().map(String::from).collect())
    }

    /// Runs the model once on a valid row so that the host's one-time costs
    /// of a first run are paid now, not by the first request. The Worker
    /// example calls it at global scope. It draws no random numbers and
    /// changes no session.
    ///
    /// `batchSizes` (optional): batch sizes to fix a plan to now and run
    /// once, e.g. the page size a Worker serves. Otherwise a size gets its
    /// plan on its second call, which then takes a few milliseconds more.
    /// At most `fixedPlanLimit` sizes; scores agree with the general plan's
    /// up to the last bits. A size of 48 or more also makes the model's
    /// first-layer split now, if it has one (the bundled model: 30–40 ms),
    /// which `score` pages and `Catalog` pages of that size then take from
    /// their first call; without it, the second page of 48 items or more
    /// makes it. Once a `Catalog` exists, plain `warmUp()` also warms the
    /// plans its pages of 48 entries or more run on.
    ///
    /// @throws {ReloopError} `E_MODEL` if the model fails on that row;
    /// `E_INVALID_INPUT` for batch sizes that are not integers in
    /// 1..=maxBatch, or more of them than `fixedPlanLimit`.
    #[wasm_bindgen(js_name = warmUp)]
    pub fn warm_up(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "number[] | Uint32Array")] batch_sizes: JsValue,
    ) -> JsResult<()> {
        let model = self.get()?;
        if batch_sizes.is_undefined() || batch_sizes.is_null() {
            return model.warm_up().map_err(|e| to_js(&e));
        }
        let sizes = crate::reader::read_sizes(&batch_sizes, "batchSizes").map_err(|e| to_js(&e))?;
        model.warm_up_sizes(&sizes).map_err(|e| to_js(&e))
    }

    /// The spec as canonical JSON text.
    #[wasm_bindgen(js_name = specJson)]
    pub fn spec_json(&self) -> JsResult<String> {
        let bytes = self.get()?.spec().canonical_bytes();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl Model {
    /// An instance with no model, only to reach the class prototype.
    pub(crate) fn probe() -> Model {
        Model { model: None, handle: 0 }
    }

    fn get(&self) -> JsResult<&reloop_runtime::Model> {
        self.model
            .as_ref()
            .ok_or_else(|| coded(reloop_core::ErrorKind::InvalidInput.code(), "this Model is not loaded"))
    }

    /// A JS `Model` over `model`, entered in the model table.
    fn register(model: reloop_runtime::Model) -> Model {
        let handle = lifetime::register(&model);
        Model { model: Some(model), handle }
    }

    /// The model behind `value`, which JS passed as a `Model`.
    pub(crate) fn lookup(value: &JsValue) -> JsResult<reloop_runtime::Model> {
        let not_a_model = || {
            let got = js_type(value);
            to_js(&input(format!("model must be a Model from Model.bundled() or Model.fromOnnx(), got {got}")))
        };
        match lifetime::handle_of(value, HANDLE_PROPERTY) {
            // On a freed Model the getter throws its coded "was freed" error.
            Err(Some(coded)) => Err(coded),
            Err(None) | Ok(None) => Err(not_a_model()),
            Ok(Some(handle)) => lifetime::lookup(handle).ok_or_else(not_a_model),
        }
    }
}

impl Drop for Model {
    /// `free()` (or the garbage collector) drops the model's table entry;
    /// sessions keep their own reference.
    fn drop(&mut self) {
        lifetime::unregister(self.handle);
    }
}
