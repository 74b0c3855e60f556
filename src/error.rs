//! Errors at the JS boundary: every failure is a real `Error` object with
//! `name = "ReloopError"` and a stable `code` ([`reloop_core::ErrorKind::code`]),
//! never a bare string, a wasm trap or an uncoded glue error.

use js_sys::Reflect;
use reloop_core::Error;
use wasm_bindgen::JsValue;

/// What every exported method returns: the value, or the thrown `ReloopError`.
pub(crate) type JsResult<T> = std::result::Result<T, JsValue>;

/// A JS `Error` with `name = "ReloopError"` and `code`.
pub(crate) fn coded(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("ReloopError");
    let _ = Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}

/// The `ReloopError` of a core error.
pub(crate) fn to_js(e: &Error) -> JsValue {
    coded(e.code(), e.message())
}

/// The message of something JS threw.
pub(crate) fn thrown(e: &JsValue) -> String {
    // Read in JS (src/js/reader.js): `error.message` may be a getter that throws.
    crate::reader::message_of(e)
}

/// What kind of JS value `v` is, for error messages.
pub(crate) fn js_type(v: &JsValue) -> &'static str {
    if v.is_null() {
        "null"
    } else if v.is_undefined() {
        "undefined"
    } else if v.as_bool().is_some() {
        "a boolean"
    } else if v.as_f64().is_some() || v.is_bigint() {
        "a number"
    } else if v.is_string() {
        "a string"
    } else if v.is_function() {
        "a function"
    } else if v.is_symbol() {
        "a symbol"
    } else if v.is_object() {
        "an object"
    } else {
        "an unsupported value"
    }
}
