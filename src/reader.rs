//! How the package reads items from JavaScript — one definition for every
//! call that reads them (`score`, `scoreDetailed`, `record`):
//!
//! * **Which properties**: the fields the model reads (`model.fields`), each
//!   read by name as `item[name]` reads it — own or inherited, enumerable or
//!   not, getters run once per field and call; `toJSON` is not applied, and
//!   other properties are never looked at. So a class instance with getters
//!   on its prototype, a non-enumerable property, a `Date` or a `Proxy`
//!   carrying the fields is read like the plain object with those values.
//! * **What a field may hold** (the [value grammar](reloop_runtime::item)):
//!   `undefined`/`null` (missing: the context, then the spec's default),
//!   a string, a finite number (NaN and ±Infinity are errors), a boolean, a
//!   BigInt within the 64-bit signed range (an integer), or an array of
//!   those (no nesting). Anything else is an `E_INVALID_INPUT` error naming
//!   the item and the field.
//! * Items must be objects (not arrays, functions or primitives); whatever a
//!   getter or a Proxy throws becomes an `E_INVALID_INPUT` error.
//!
//! The reading itself is `js/reader.js`: it checks each value and writes the
//! batch as [cells](crate::cells) in the model's field order (a tag and a
//! number per value, each distinct string once), so the batch crosses into
//! wasm as three typed arrays and is read here into [`FieldValues`] rows,
//! reusing their allocations.

use std::fmt;

use js_sys::{Array, Float64Array, Uint8Array, Uint32Array};
use reloop_core::Error;
use reloop_runtime::{Catalog, FieldValues, Model};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use wasm_bindgen::prelude::*;

use crate::cells::{self, Cells};
use crate::error::thrown;
use crate::input;

#[wasm_bindgen(module = "/src/js/reader.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn reloop_read_batch(
        items: &JsValue,
        context: &JsValue,
        ids: &JsValue,
        fields: &JsValue,
        max_batch: u32,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    fn reloop_read_entries(entries: &JsValue, revision: f64) -> Result<JsValue, JsValue>;
    fn reloop_remember_entries(revision: f64, indices: &Uint32Array);
    #[wasm_bindgen(catch)]
    fn reloop_read_item(item: &JsValue, context: &JsValue, fields: &JsValue) -> Result<JsValue, JsValue>;
    fn reloop_copy_typed(value: &JsValue, kind: &str) -> JsValue;
    #[wasm_bindgen(catch)]
    fn reloop_read_sizes(value: &JsValue, name: &str, most: u32) -> Result<JsValue, JsValue>;
    fn reloop_message_of(e: &JsValue) -> String;
}

/// A fresh copy of `value` if it is a real typed array of `kind`
/// (`"Uint8Array"` also takes an `ArrayBuffer`), made from its internal
/// slots without running the caller's code; `null` otherwise. The copy can
/// be read from wasm safely (nothing of it throws).
pub(crate) fn copy_typed(value: &JsValue, kind: &str) -> JsValue {
    reloop_copy_typed(value, kind)
}

/// The message of something JS threw, read in JS: an `Error` whose
/// `message` getter throws, or a Proxy, cannot throw through the module.
pub(crate) fn message_of(e: &JsValue) -> String {
    reloop_message_of(e)
}

/// Reads items for one model, reusing its buffers across calls.
#[derive(Debug, Default)]
pub(crate) struct ItemReader {
    /// The model's field names as a JS array, in its field order.
    fields: JsValue,
    field_count: usize,
    max_batch: u32,
    /// The last call's context, items and ids.
    pub(crate) context: FieldValues,
    pub(crate) items: Vec<FieldValues>,
    pub(crate) ids: Option<Vec<String>>,
}

impl ItemReader {
    /// A reader of `model`'s fields.
    pub(crate) fn new(model: &Model) -> ItemReader {
        let fields: Array = model.field_names().map(JsValue::from_str).collect();
        let max_batch = u32::try_from(model.spec().max_batch).unwrap_or(u32::MAX);
        let field_count = fields.length() as usize;
        ItemReader { fields: fields.into(), field_count, max_batch, ..ItemReader::default() }
    }

    /// A reader of `model`'s fields taking batches of up to `limit` items
    /// (a catalog's `add`).
    pub(crate) fn with_limit(model: &Model, limit: u32) -> ItemReader {
        ItemReader { max_batch: limit, ..ItemReader::new(model) }
    }

    /// Reads a batch for `score`: `items`, the optional `context` and `ids`.
    ///
    /// # Errors
    /// `E_INVALID_INPUT` naming the argument, item and field at fault.
    pub(crate) fn batch(&mut self, items: &JsValue, context: &JsValue, ids: &JsValue) -> Result<(), Error> {
        let read = reloop_read_batch(items, context, ids, &self.fields, self.max_batch);
        self.parse(read)
    }

    /// Reads only the optional `context` and `ids` (catalog calls: the
    /// items are the catalog's).
    ///
    /// # Errors
    /// As [`ItemReader::batch`].
    pub(crate) fn context(&mut self, context: &JsValue, ids: &JsValue) -> Result<(), Error> {
        self.batch(&Array::new().into(), context, ids)
    }

    /// Reads one `item` (and the optional `context`) for `record`.
    ///
    /// # Errors
    /// As [`ItemReader::batch`].
    pub(crate) fn item(&mut self, item: &JsValue, context: &JsValue) -> Result<(), Error> {
        let read = reloop_read_item(item, context, &self.fields);
        self.parse(read)
    }

    fn parse(&mut self, read: Result<JsValue, JsValue>) -> Result<(), Error> {
        let read = read.map_err(|e| input(format!("reading the arguments threw: {}", thrown(&e))))?;
        let parts = match read.dyn_into::<Array>() {
            Ok(parts) => parts,
            Err(message) => return Err(input(message.as_string().unwrap_or_else(|| "unreadable arguments".into()))),
        };
        // Copied at once, before any other JavaScript runs (js/reader.js reuses the arrays).
        let (Some(values), Some(tags), Some(text)) = (
            parts.get(0).dyn_ref::<Float64Array>().map(Float64Array::to_vec),
            parts.get(1).dyn_ref::<Uint8Array>().map(Uint8Array::to_vec),
            parts.get(2).dyn_ref::<Uint8Array>().map(Uint8Array::to_vec),
        ) else {
            return Err(input("reading the arguments: unreadable cells"));
        };
        self.read_cells(&values, &tags, &text).map_err(|e| input(format!("reading the arguments: {e}")))
    }

    /// The batch in `values`, `tags` and `text` into the reader's buffers.
    fn read_cells(&mut self, values: &[f64], tags: &[u8], text: &[u8]) -> Result<(), cells::Malformed> {
        let mut cells = Cells::new(values, tags, text)?;
        cells.context(self.field_count, &mut self.context.0)?;
        let n = cells.items()?;
        if n > self.max_batch as usize {
            return Err("more items than the batch limit");
        }
        self.items.truncate(n);
        self.items.resize_with(n, FieldValues::default);
        for row in &mut self.items {
            cells.row(self.field_count, &mut row.0)?;
        }
        self.ids = cells.ids()?;
        cells.finished()
    }
}

/// Catalog entries (`scoreCatalog`, `indicesOf`): a `Uint32Array` or an
/// array of indices, or an array of ids looked up in `catalog` — by JS
/// itself where it has looked up every one of them before in this
/// [revision](Catalog::revision) of the catalog (`js/reader.js` keeps what
/// this function passes back to it).
///
/// # Errors
/// `E_INVALID_INPUT` for anything else, or naming the first id not in the catalog.
pub(crate) fn read_entries(value: &JsValue, catalog: &Catalog) -> Result<Vec<u32>, Error> {
    // Exact in an f64 for the first 2^53 revisions of the process.
    #[allow(clippy::cast_precision_loss)]
    let revision = catalog.revision() as f64;
    let read = reloop_read_entries(value, revision)
        .map_err(|e| input(format!("reading the entries threw: {}", thrown(&e))))?;
    if let Some(indices) = read.dyn_ref::<Uint32Array>() {
        return Ok(indices.to_vec());
    }
    let Some(bytes) = read.dyn_ref::<Uint8Array>() else {
        return Err(input(read.as_string().unwrap_or_else(|| "unreadable entries".into())));
    };
    let bytes = bytes.to_vec();
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let mut missing = None;
    IdsSeed { catalog, out: &mut out, missing: &mut missing }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| input(format!("reading the entries: {e}")))?;
    match missing {
        Some(e) => Err(e),
        None => {
            reloop_remember_entries(revision, &Uint32Array::from(&out[..]));
            Ok(out)
        }
    }
}

/// A JSON list of ids looked up in `catalog` as they are parsed (no string
/// is allocated for an id without escapes); the first unknown id's error
/// goes to `missing`.
struct IdsSeed<'a> {
    catalog: &'a Catalog,
    out: &'a mut Vec<u32>,
    missing: &'a mut Option<Error>,
}

impl<'de> DeserializeSeed<'de> for IdsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for IdsSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of ids")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(id) = seq.next_element::<IdStr<'de>>()? {
            if self.missing.is_some() {
                continue;
            }
            match self.catalog.index_of(&id.0) {
                Some(index) => self.out.push(index),
                None => *self.missing = Some(self.catalog.not_found(self.out.len(), &id.0)),
            }
        }
        Ok(())
    }
}

/// An id, borrowed from the JSON text where it has no escapes.
struct IdStr<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for IdStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IdStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id (a string)")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<IdStr<'de>, E> {
                Ok(IdStr(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IdStr<'de>, E> {
                Ok(IdStr(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A short list of sizes (`warmUp`'s batch sizes): a `Uint32Array` or an
/// array of at most 64 integers ≥ 0, read in JS (`reloop_read_sizes`).
///
/// # Errors
/// `E_INVALID_INPUT` naming `name` for anything else.
pub(crate) fn read_sizes(value: &JsValue, name: &str) -> Result<Vec<usize>, Error> {
    let read =
        reloop_read_sizes(value, name, 64).map_err(|e| input(format!("reading {name} threw: {}", thrown(&e))))?;
    match read.dyn_ref::<Uint32Array>() {
        Some(sizes) => Ok(sizes.to_vec().into_iter().map(|n| n as usize).collect()),
        None => Err(input(read.as_string().unwrap_or_else(|| format!("{name}: unreadable")))),
    }
}
