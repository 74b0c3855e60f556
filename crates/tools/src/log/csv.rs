//! CSV with a header row (the `csv` crate: quoting, embedded commas and
//! newlines). Cells are typed by the field they feed (see [`super`]).

use std::io::Read;
use std::path::Path;

use reloop_core::{Error, Result};
use serde_json::{Map, Value};

use super::{CellType, Role, Row, Schema};

pub(super) fn read(
    file: impl Read,
    path: &Path,
    schema: &Schema,
    each: &mut dyn FnMut(Row) -> Result<()>,
) -> Result<usize> {
    let mut reader =
        ::csv::ReaderBuilder::new().flexible(false).from_reader(std::io::BufReader::with_capacity(1 << 16, file));
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| Error::input(format!("line 1: cannot read the header: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    schema.require(&header, path)?;
    let roles: Vec<Role> = header.iter().map(|h| schema.role(h)).collect();
    let mut record = ::csv::StringRecord::new();
    let mut rows = 0;
    loop {
        let more = reader.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::input(format!("line {line}: {e}"))
        })?;
        if !more {
            return Ok(rows);
        }
        let line = record.position().map_or(rows + 2, |p| p.line() as usize);
        let mut values = Map::new();
        for ((column, role), cell) in header.iter().zip(&roles).zip(record.iter()) {
            let value = match role {
                Role::Ignored => continue,
                _ if cell.is_empty() => Value::Null,
                Role::Field(CellType::Number) => number(cell)
                    .ok_or_else(|| Error::input(format!("line {line}: column `{column}`: `{cell}` is not a number")))?,
                Role::Field(CellType::List) if cell.trim_start().starts_with('[') => serde_json::from_str(cell)
                    .map_err(|e| Error::input(format!("line {line}: column `{column}`: not a JSON list: {e}")))?,
                _ => Value::String(cell.to_owned()),
            };
            values.insert(column.clone(), value);
        }
        each(schema.row(line, values)?)?;
        rows += 1;
    }
}

/// A number cell (`true`/`false` count as booleans, as in JSON).
fn number(cell: &str) -> Option<Value> {
    match cell.trim() {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        text => {
            let x: f64 = text.parse().ok()?;
            if let Ok(i) = text.parse::<i64>() {
                return Some(Value::from(i));
            }
            serde_json::Number::from_f64(x).map(Value::Number)
        }
    }
}
