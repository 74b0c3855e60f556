//! Session options across the boundary: the JS options object read into
//! [`SessionOptions`] (the one options type, in `reloop-runtime`, from which
//! the TypeScript declaration is derived too), and a session's resolved
//! options written back as a plain object.
//!
//! Options are read as own enumerable properties (`Object.keys`): each key
//! must be one of the type's fields (the list comes from its derived
//! `Deserialize`, so it is never spelled twice), and the values are read
//! with serde-wasm-bindgen (numbers, BigInt seeds, `null`, strings).
//! `undefined` counts as not given.

use js_sys::Object;
use reloop_core::Error;
use reloop_runtime::SessionOptions;
use reloop_runtime::options::keyed;
use serde::Serialize;
use serde_aux::serde_introspection::serde_introspect;
use wasm_bindgen::prelude::*;

use crate::error::thrown;

#[wasm_bindgen(module = "/src/js/options.js")]
extern "C" {
    fn reloop_copy_options(options: &JsValue) -> JsValue;
}

/// Largest integer a JS number holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The options object of `new Session(model, options)`.
///
/// # Errors
/// `E_INVALID_CONFIG` for a non-object, an unknown key (naming it and the
/// known ones), a wrong type, or whatever a getter threw.
pub(crate) fn read(value: &JsValue) -> Result<SessionOptions, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(SessionOptions::default());
    }
    let copy = reloop_copy_options(value);
    if let Some(message) = copy.as_string() {
        return Err(Error::config(message));
    }
    check_keys::<SessionOptions>("options", &copy)?;
    serde_path_to_error::deserialize(serde_wasm_bindgen::Deserializer::from(copy))
        .map_err(|e| Error::config(keyed("options", &e)))
}

/// What `scoreDetailed` returns besides the scores.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DetailOptions {
    /// The key vectors, `rows × hiddenDim`.
    #[serde(default)]
    pub hidden: bool,
}

/// The detail options of `scoreDetailed(items, context, ids, detail)`.
///
/// # Errors
/// `E_INVALID_CONFIG` for a non-object, another key, a non-boolean or
/// whatever a getter threw.
pub(crate) fn read_detail(value: &JsValue) -> Result<DetailOptions, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(DetailOptions::default());
    }
    let copy = reloop_copy_options(value);
    if let Some(message) = copy.as_string() {
        return Err(Error::config(message.replacen("options", "detail options", 1)));
    }
    check_keys::<DetailOptions>("detail options", &copy)?;
    serde_path_to_error::deserialize(serde_wasm_bindgen::Deserializer::from(copy))
        .map_err(|e| Error::config(keyed("detail options", &e)))
}

/// Refuses a key of the copied object `T` has no field for (serde-wasm-bindgen
/// reads only the fields it knows, so `deny_unknown_fields` does not see them).
fn check_keys<T: serde::de::DeserializeOwned>(what: &str, copy: &JsValue) -> Result<(), Error> {
    let known = serde_introspect::<T>();
    for key in Object::keys(copy.unchecked_ref::<Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if !known.contains(&key.as_str()) {
            return Err(Error::config(format!("{what}: unknown key `{key}`, expected one of {}", known.join(", "))));
        }
    }
    Ok(())
}

/// A session's resolved options as a plain JS object: the seed a number
/// when it is exact as one, else a BigInt; a half-life of `null` for none.
pub(crate) fn write(options: &SessionOptions) -> Result<JsValue, Error> {
    let big = options.seed.is_some_and(|s| s > MAX_SAFE_INTEGER);
    let serializer = serde_wasm_bindgen::Serializer::new()
        .serialize_missing_as_null(true)
        .serialize_large_number_types_as_bigints(big);
    options.serialize(&serializer).map_err(|e| Error::config(format!("options: {}", thrown(&JsValue::from(e)))))
}
