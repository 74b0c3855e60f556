//! Items: what the encoder reads a model's fields from, and the value
//! grammar every caller shares.
//!
//! An item (or the shared context, e.g. the user's features) is a set of
//! named field values. Rust callers pass [`Item`] maps (`serde_json`
//! objects); the JavaScript binding passes [`FieldValues`], the values of
//! the model's fields in its field order ([`crate::Model::field_names`]),
//! read from each JS object once. Both implement [`Fields`].
//!
//! # Value grammar
//! What a field may hold, whichever way the item arrives:
//!
//! | value | read as |
//! |-------|---------|
//! | missing, `null` | missing: the context fills it, then the spec's `default`, else an error naming the field |
//! | string | itself |
//! | number | finite numbers only; integral values are integers (`1997` and `1997.0` are one category) |
//! | boolean | itself (a numeric field reads it as 0 or 1) |
//! | list | a list of strings, numbers or booleans (multi-valued fields; a single value counts as a one-element list) |
//! | anything else | an error naming the field and what it holds |
//!
//! The JavaScript binding adds how JS values map onto this (BigInt, NaN,
//! `undefined`, property reads) in its own docs.

use serde_json::Value;

/// One item (or the shared context): field name → value.
pub type Item = serde_json::Map<String, Value>;

/// Where the encoder reads an item's (or the context's) fields from.
pub trait Fields {
    /// The value of the model's field number `index` (its position in
    /// [`crate::Model::field_names`]), named `name`. `None` or
    /// `Some(Value::Null)`: the field is missing.
    fn field(&self, index: usize, name: &str) -> Option<&Value>;
}

impl Fields for Item {
    fn field(&self, _index: usize, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// An item as the values of the model's fields, in the model's field order
/// ([`crate::Model::field_names`]; `Value::Null` where missing): one slot per
/// field, no names to look up. What the JavaScript binding reads objects into.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldValues(pub Vec<Value>);

impl Fields for FieldValues {
    fn field(&self, index: usize, _name: &str) -> Option<&Value> {
        self.0.get(index)
    }
}

/// The value `fields` holds for a field, `None` when it is missing or `null`.
pub(crate) fn present<'a, F: Fields + ?Sized>(fields: &'a F, index: usize, name: &str) -> Option<&'a Value> {
    fields.field(index, name).filter(|v| !v.is_null())
}

/// A category value's lookup string, written to `out`.
///
/// Strings as they are; booleans `true`/`false`; integral numbers (up to
/// 2^53 in magnitude) in plain decimal (`1997`, `-3`, also for `1997.0`);
/// other numbers in Rust's shortest round-trip decimal. Returns `false` for
/// other JSON types.
pub fn category_key(value: &Value, out: &mut String) -> bool {
    use std::fmt::Write as _;
    out.clear();
    match value {
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            // Integers are most keys (ids): itoa, not core::fmt, on the hot path.
            let mut digits = itoa::Buffer::new();
            if let Some(i) = n.as_i64() {
                out.push_str(digits.format(i));
            } else if let Some(u) = n.as_u64() {
                out.push_str(digits.format(u));
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                    out.push_str(digits.format(f as i64));
                } else {
                    // Writing into a String cannot fail.
                    let _ = write!(out, "{f}");
                }
            }
        }
        _ => return false,
    }
    true
}

/// A numeric value: numbers as they are, booleans as 0 or 1.
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// A string, number or boolean: what a category (or a list element) may be.
pub fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// What kind of value `value` is, for messages ("a string", "a list", ...).
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn category_keys_are_canonical() {
        let mut s = String::new();
        let cases = [
            (json!(1997), "1997"),
            (json!(1997.0), "1997"),
            (json!(-3), "-3"),
            (json!(0.5), "0.5"),
            (json!(true), "true"),
            (json!("x y"), "x y"),
        ];
        for (v, want) in cases {
            assert!(category_key(&v, &mut s));
            assert_eq!(s, want);
        }
        assert!(!category_key(&json!([1]), &mut s));
    }

    #[test]
    fn maps_and_positional_values_read_the_same_field() {
        let map: Item = json!({ "b": 2, "a": "x" }).as_object().cloned().unwrap();
        let values = FieldValues(vec![json!("x"), json!(2)]);
        for (index, name) in ["a", "b"].iter().enumerate() {
            assert_eq!(map.field(index, name), values.field(index, name));
        }
        assert_eq!(present(&FieldValues(vec![Value::Null]), 0, "a"), None);
    }
}
