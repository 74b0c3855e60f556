//! JSON Lines: one JSON object per line; blank lines are skipped.

use std::io::{BufRead, BufReader, Read};

use reloop_core::{Error, Result};
use serde_json::{Map, Value};

use super::{Row, Schema};

pub(super) fn read(file: impl Read, schema: &Schema, each: &mut dyn FnMut(Row) -> Result<()>) -> Result<usize> {
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut text = String::new();
    let mut rows = 0;
    let mut line = 0;
    loop {
        text.clear();
        let n = reader.read_line(&mut text).map_err(|e| Error::input(format!("line {}: {e}", line + 1)))?;
        if n == 0 {
            return Ok(rows);
        }
        line += 1;
        if text.trim().is_empty() {
            continue;
        }
        let record: Map<String, Value> =
            serde_json::from_str(&text).map_err(|e| Error::input(format!("line {line}: not a JSON object: {e}")))?;
        each(schema.row(line, record)?)?;
        rows += 1;
    }
}
