//! The cells a batch of items crosses into wasm as (written by
//! `js/reader.js`): one tag and one number per value, and each distinct
//! string of the call once, as UTF-8. No JSON text is written or parsed.
//!
//! * `values: Float64Array` and `tags: Uint8Array`, one entry per cell: a
//!   number, a boolean, a missing value, a string or BigInt (the value is
//!   the index of its text), or a list (the value is its length, and its
//!   elements are the cells after it);
//! * `text: Uint8Array`, the call's distinct strings in order of first use,
//!   each a 4-byte little-endian byte length and its UTF-8 bytes.
//!
//! A batch is the context (`NULL`, or `TRUE` and one field cell per model
//! field), the number of items and each item's field cells, then the ids
//! (`NULL`, or `LIST` and a `STRING` per id). The cells come from the
//! package's own JavaScript, but they are read as untrusted bytes: any
//! inconsistency is an error, never a panic.
//!
//! Values are read into the reader's rows in place, so a row's strings and
//! lists reuse their allocations across calls.

use serde_json::{Number, Value};

/// Cell tags, the same numbers as `js/reader.js`.
const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const NUMBER: u8 = 3;
const STRING: u8 = 4;
const BIGINT: u8 = 5;
const LIST: u8 = 6;

/// A read batch, borrowed from the copied cells.
#[derive(Debug)]
pub(crate) struct Cells<'a> {
    values: &'a [f64],
    tags: &'a [u8],
    strings: Vec<&'a str>,
    next: usize,
}

/// Why cells could not be read (a bug in the writer, or bytes not from it).
pub(crate) type Malformed = &'static str;

impl<'a> Cells<'a> {
    /// The cells `values` and `tags` with the strings in `text`.
    ///
    /// # Errors
    /// When the arrays' lengths differ or `text` is not a list of
    /// length-prefixed UTF-8 strings.
    pub(crate) fn new(values: &'a [f64], tags: &'a [u8], text: &'a [u8]) -> Result<Cells<'a>, Malformed> {
        if values.len() != tags.len() {
            return Err("values and tags differ in length");
        }
        let mut strings = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let (len, tail) = rest.split_first_chunk::<4>().ok_or("a string's length is cut short")?;
            let len = usize::try_from(u32::from_le_bytes(*len)).map_err(|_| "a string is too long")?;
            if len > tail.len() {
                return Err("a string is cut short");
            }
            let (bytes, tail) = tail.split_at(len);
            strings.push(std::str::from_utf8(bytes).map_err(|_| "a string is not UTF-8")?);
            rest = tail;
        }
        Ok(Cells { values, tags, strings, next: 0 })
    }

    /// The next cell's tag and value.
    fn take(&mut self) -> Result<(u8, f64), Malformed> {
        let (Some(tag), Some(value)) = (self.tags.get(self.next), self.values.get(self.next)) else {
            return Err("the cells end early");
        };
        self.next += 1;
        Ok((*tag, *value))
    }

    /// The next cell as a count (a list's length, the number of items).
    fn count(&mut self, tag: u8) -> Result<usize, Malformed> {
        match self.take()? {
            (t, n) if t == tag => count_of(n),
            _ => Err("a count is missing"),
        }
    }

    /// Whether the next cell is `TRUE` (present) or `NULL` (absent).
    fn present(&mut self) -> Result<bool, Malformed> {
        match self.take()?.0 {
            TRUE => Ok(true),
            NULL => Ok(false),
            _ => Err("a presence cell is neither TRUE nor NULL"),
        }
    }

    /// The string with index `index`.
    fn string(&self, index: f64) -> Result<&'a str, Malformed> {
        let index = count_of(index)?;
        self.strings.get(index).copied().ok_or("a string index is out of range")
    }

    /// Reads a context: `None` when absent, else `fields` values into `row`.
    pub(crate) fn context(&mut self, fields: usize, row: &mut Vec<Value>) -> Result<bool, Malformed> {
        if !self.present()? {
            row.clear();
            return Ok(false);
        }
        self.row(fields, row)?;
        Ok(true)
    }

    /// The number of items that follow.
    pub(crate) fn items(&mut self) -> Result<usize, Malformed> {
        self.count(NUMBER)
    }

    /// Reads one row of `fields` values into `row`, reusing its values.
    pub(crate) fn row(&mut self, fields: usize, row: &mut Vec<Value>) -> Result<(), Malformed> {
        row.truncate(fields);
        for i in 0..fields {
            if i == row.len() {
                row.push(Value::Null);
            }
            let slot = row.get_mut(i).ok_or("a row is cut short")?;
            self.field(slot)?;
        }
        Ok(())
    }

    /// Reads the ids: `None` when absent.
    pub(crate) fn ids(&mut self) -> Result<Option<Vec<String>>, Malformed> {
        match self.take()? {
            (NULL, _) => Ok(None),
            (LIST, n) => {
                let n = count_of(n)?;
                let mut ids = Vec::with_capacity(n.min(self.tags.len()));
                for _ in 0..n {
                    match self.take()? {
                        (STRING, i) => ids.push(self.string(i)?.to_owned()),
                        _ => return Err("an id is not a string"),
                    }
                }
                Ok(Some(ids))
            }
            _ => Err("the ids are neither a list nor NULL"),
        }
    }

    /// Whether every cell has been read.
    pub(crate) fn finished(&self) -> Result<(), Malformed> {
        if self.next == self.tags.len() { Ok(()) } else { Err("cells are left over") }
    }

    /// Reads one field value (a scalar, `NULL` or a list of scalars) into `slot`.
    fn field(&mut self, slot: &mut Value) -> Result<(), Malformed> {
        let (tag, value) = self.take()?;
        if tag != LIST {
            return self.scalar(tag, value, slot);
        }
        let n = count_of(value)?;
        if n > self.tags.len() - self.next {
            return Err("a list is longer than the cells left");
        }
        if !slot.is_array() {
            *slot = Value::Array(Vec::with_capacity(n));
        }
        let Value::Array(list) = slot else { return Err("unreachable") };
        list.truncate(n);
        for i in 0..n {
            let (tag, value) = self.take()?;
            if tag == LIST || tag == NULL {
                return Err("a list holds a list or a missing value");
            }
            if i == list.len() {
                list.push(Value::Null);
            }
            let element = list.get_mut(i).ok_or("a list is cut short")?;
            self.scalar(tag, value, element)?;
        }
        Ok(())
    }

    /// Writes the scalar cell `(tag, value)` into `slot`, reusing a string's allocation.
    fn scalar(&self, tag: u8, value: f64, slot: &mut Value) -> Result<(), Malformed> {
        *slot = match tag {
            NULL => Value::Null,
            FALSE => Value::Bool(false),
            TRUE => Value::Bool(true),
            NUMBER => number(value)?,
            STRING => {
                let s = self.string(value)?;
                if let Value::String(old) = slot {
                    old.clear();
                    old.push_str(s);
                    return Ok(());
                }
                Value::String(s.to_owned())
            }
            BIGINT => Value::from(self.string(value)?.parse::<i64>().map_err(|_| "a BigInt is not a 64-bit integer")?),
            _ => return Err("an unknown cell tag"),
        };
        Ok(())
    }
}

/// A cell's value as a count.
fn count_of(value: f64) -> Result<usize, Malformed> {
    // Lengths are integers below 2^32 (JS arrays), exact in an f64.
    if value.fract() == 0.0 && (0.0..4_294_967_296.0).contains(&value) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Ok(value as usize);
    }
    Err("a count is not an integer in 0..2^32")
}

/// A JS number as the JSON value `JSON.stringify` and then `serde_json`
/// made of it before cells (so every caller's keys stay the same):
/// integral values below 1e21 are written as digits, which read as a `u64`
/// (≥ 0, −0 included) or an `i64` (< 0) where they fit; other values as
/// `f64`.
fn number(x: f64) -> Result<Value, Malformed> {
    const TWO_64: f64 = 18_446_744_073_709_551_616.0;
    const MINUS_TWO_63: f64 = -9_223_372_036_854_775_808.0;
    if x.fract() == 0.0 && x.abs() < 1e21 {
        // In range, so the casts are exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        if (0.0..TWO_64).contains(&x) {
            return Ok(Value::from(x as u64));
        }
        #[allow(clippy::cast_possible_truncation)]
        if (MINUS_TWO_63..0.0).contains(&x) {
            return Ok(Value::from(x as i64));
        }
    }
    Number::from_f64(x).map(Value::Number).ok_or("a number is not finite")
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn text(strings: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for s in strings {
            out.extend_from_slice(&u32::try_from(s.len()).unwrap().to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        out
    }

    #[test]
    fn numbers_read_as_json_text_of_them_did() {
        // JSON.stringify's text of each value, as serde_json read it.
        let cases: [(f64, &str); 10] = [
            (1997.0, "1997"),
            (-0.0, "0"),
            (-3.0, "-3"),
            (0.5, "0.5"),
            (9_007_199_254_740_994.0, "9007199254740994"),
            (18_446_744_073_709_551_616.0, "18446744073709551616"),
            (-9_223_372_036_854_775_808.0, "-9223372036854775808"),
            (-9_223_372_036_854_777_856.0, "-9223372036854777856"),
            (1e21, "1e21"),
            (5e-324, "5e-324"),
        ];
        for (x, json) in cases {
            let want: Value = serde_json::from_str(json).unwrap();
            assert_eq!(number(x).unwrap(), want, "{x}");
        }
        assert!(number(f64::NAN).is_err());
    }

    #[test]
    fn a_batch_reads_into_rows_reusing_them() {
        let t = text(&["Drama", "42"]);
        let values = [0.0, 7.0, 1.0, 1.0, 2.0, 0.0, 0.0, 1997.0, 1.0, 1.0];
        let tags = [TRUE, NUMBER, BIGINT, NUMBER, LIST, STRING, STRING, NUMBER, LIST, STRING];
        let mut cells = Cells::new(&values, &tags, &t).unwrap();
        let mut context = vec![Value::from("old")];
        assert!(cells.context(2, &mut context).unwrap());
        assert_eq!(context, vec![Value::from(7), Value::from(42)]);
        assert_eq!(cells.items().unwrap(), 1);
        let mut row = vec![Value::from("x"), Value::from("y"), Value::from("z")];
        cells.row(2, &mut row).unwrap();
        assert_eq!(row, vec![serde_json::json!(["Drama", "Drama"]), Value::from(1997)]);
        assert_eq!(cells.ids().unwrap(), Some(vec!["42".to_owned()]));
        cells.finished().unwrap();
    }

    #[test]
    fn malformed_cells_are_errors() {
        let t = text(&["a"]);
        // A string index out of range, a list longer than the cells, an unknown tag, left-over cells.
        let bad: [(&[f64], &[u8]); 4] = [
            (&[0.0, 1.0, 3.0], &[NULL, NUMBER, STRING]),
            (&[0.0, 1.0, 9.0], &[NULL, NUMBER, LIST]),
            (&[0.0, 1.0, 0.0], &[NULL, NUMBER, 77]),
            (&[0.0, 1.0, 0.0, 0.0, 0.0], &[NULL, NUMBER, STRING, NULL, NULL]),
        ];
        for (values, tags) in bad {
            let mut cells = Cells::new(values, tags, &t).unwrap();
            let read = (|| {
                let mut row = Vec::new();
                cells.context(1, &mut row)?;
                let n = cells.items()?;
                for _ in 0..n {
                    cells.row(1, &mut row)?;
                }
                cells.ids()?;
                cells.finished()
            })();
            assert!(read.is_err(), "{tags:?}");
        }
        assert!(Cells::new(&[0.0], &[], &t).is_err());
        assert!(Cells::new(&[], &[], &[5, 0, 0, 0, b'a']).is_err());
        assert!(Cells::new(&[], &[], &[1, 0, 0, 0, 0xff]).is_err());
    }
}
