//! The JS class `Catalog`: items registered once per model (per page or
//! isolate), their own fields encoded once, shared by every session, which
//! then score them by entry (`session.scoreCatalog(catalog, entries,
//! context)`) with only the context read and encoded per call. Wraps
//! [`reloop_runtime::Catalog`].

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Uint32Array;
use reloop_core::Error;
use wasm_bindgen::prelude::*;

use crate::error::{JsResult, coded, js_type, to_js};
use crate::input;
use crate::lifetime::{self, CATALOG_HANDLE_PROPERTY, SharedCatalog};
use crate::model::Model;
use crate::reader::{ItemReader, read_entries};

/// Most items one `add` call reads (a catalog holds more over several calls).
const MAX_ADD: u32 = 1 << 20;

/// Items registered once for a model (JS class `Catalog`).
#[wasm_bindgen]
pub struct Catalog {
    /// `None` only for the throw-away probe of [`crate::start`].
    catalog: Option<SharedCatalog>,
    reader: ItemReader,
    /// Its entry in the catalog table (0: none).
    handle: u32,
}

#[wasm_bindgen]
impl Catalog {
    /// An empty catalog for `model`; with `items` and `ids`, filled as by
    /// `add(items, ids)`.
    ///
    /// @throws {ReloopError} `E_INVALID_INPUT` when `model` is not a live `Model`, or
    /// as `add`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "Model<I, any>")] model: &JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "I[]")] items: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "string[]")] ids: JsValue,
    ) -> JsResult<Catalog> {
        crate::start();
        let model = Model::lookup(model)?;
        let shared = Rc::new(RefCell::new(reloop_runtime::Catalog::new(&model)));
        let handle = lifetime::register_catalog(&shared);
        let mut catalog = Catalog { catalog: Some(shared), reader: ItemReader::with_limit(&model, MAX_ADD), handle };
        if !(items.is_undefined() && ids.is_undefined()) {
            catalog.add(items, ids)?;
        }
        Ok(catalog)
    }

    /// Adds `items` under `ids` (one string per item), replacing the entries
    /// whose id is already there (their index stays). Fields an item lacks
    /// come from the context each time it is scored. All or nothing.
    ///
    /// @throws {ReloopError} `E_INVALID_INPUT` naming the item and field (as `score`),
    /// for ids that are missing, empty, repeated or not strings, or a catalog above
    /// 64 MiB of encoded rows; the catalog is unchanged then.
    pub fn add(
        &mut self,
        #[wasm_bindgen(unchecked_param_type = "I[]")] items: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string[]")] ids: JsValue,
    ) -> JsResult<()> {
        let shared = self.get()?.clone();
        if ids.is_undefined() || ids.is_null() {
            return Err(to_js(&input("ids must be an array of strings, one per item")));
        }
        self.reader.batch(&items, &JsValue::NULL, &ids).map_err(|e| to_js(&e))?;
        let ids = self.reader.ids.as_deref().unwrap_or_default();
        let mut catalog = shared.try_borrow_mut().map_err(|_| busy())?;
        catalog.insert(ids, &self.reader.items).map_err(|e| to_js(&e))
    }

    /// Removes every entry; the model stays loaded.
    pub fn clear(&mut self) -> JsResult<()> {
        self.get()?.try_borrow_mut().map_err(|_| busy())?.clear();
        Ok(())
    }

    /// Number of entries.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> JsResult<u32> {
        let catalog = self.get()?.try_borrow().map_err(|_| busy())?;
        Ok(u32::try_from(catalog.len()).unwrap_or(u32::MAX))
    }

    /// The index of the entry `id`, or -1.
    #[wasm_bindgen(js_name = indexOf)]
    pub fn index_of(&self, #[wasm_bindgen(unchecked_param_type = "string")] id: JsValue) -> JsResult<f64> {
        let catalog = self.get()?.try_borrow().map_err(|_| busy())?;
        let id = id.as_string().ok_or_else(|| to_js(&input(format!("id must be a string, got {}", js_type(&id)))))?;
        Ok(catalog.index_of(&id).map_or(-1.0, f64::from))
    }

    /// The indices of `ids` (strings) as a `Uint32Array`, for
    /// `scoreCatalog` calls that reuse them.
    ///
    /// @throws {ReloopError} `E_INVALID_INPUT` naming the first id not in the catalog.
    #[wasm_bindgen(js_name = indicesOf, unchecked_return_type = "Uint32Array")]
    pub fn indices_of(&self, #[wasm_bindgen(unchecked_param_type = "string[]")] ids: JsValue) -> JsResult<JsValue> {
        let catalog = self.get()?.try_borrow().map_err(|_| busy())?;
        let entries = read_entries(&ids, &catalog).map_err(|e| to_js(&e))?;
        Ok(Uint32Array::from(&entries[..]).into())
    }

    /// The identity (hex) of the model the catalog encodes for.
    #[wasm_bindgen(getter, js_name = modelId)]
    pub fn model_id(&self) -> JsResult<String> {
        let catalog = self.get()?.try_borrow().map_err(|_| busy())?;
        Ok(catalog.model().id().to_hex())
    }

    /// The handle sessions find this catalog by (internal; not typed).
    #[wasm_bindgen(getter = __reloopCatalog, skip_typescript)]
    pub fn handle(&self) -> u32 {
        self.handle
    }
}

impl Catalog {
    /// An instance with no catalog, only to reach the class prototype.
    pub(crate) fn probe() -> Catalog {
        Catalog { catalog: None, reader: ItemReader::default(), handle: 0 }
    }

    fn get(&self) -> JsResult<&SharedCatalog> {
        self.catalog
            .as_ref()
            .ok_or_else(|| coded(reloop_core::ErrorKind::InvalidInput.code(), "this Catalog is not set up"))
    }

    /// The catalog behind `value`, which JS passed as a `Catalog`.
    pub(crate) fn lookup(value: &JsValue) -> JsResult<SharedCatalog> {
        let not_a_catalog =
            || to_js(&input(format!("catalog must be a Catalog (new Catalog(model, ...)), got {}", js_type(value))));
        match lifetime::handle_of(value, CATALOG_HANDLE_PROPERTY) {
            Err(Some(coded)) => Err(coded),
            Err(None) | Ok(None) => Err(not_a_catalog()),
            Ok(Some(handle)) => lifetime::lookup_catalog(handle).ok_or_else(not_a_catalog),
        }
    }
}

/// A catalog in use by a call that reached it again (a getter calling back).
pub(crate) fn busy() -> JsValue {
    to_js(&Error::input("the catalog is in use by a call that has not returned (a getter called back into it)"))
}

impl Drop for Catalog {
    /// `free()` (or the garbage collector) drops the table entry; a call in
    /// progress keeps its own reference.
    fn drop(&mut self) {
        lifetime::unregister_catalog(self.handle);
    }
}
