//! Parquet, read row by row through the `parquet` crate's record API.

use std::fs::File;
use std::path::Path;

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use reloop_core::{Error, Result};
use serde_json::{Map, Value};

use super::{Role, Row, Schema};

pub(super) fn read(file: File, path: &Path, schema: &Schema, each: &mut dyn FnMut(Row) -> Result<()>) -> Result<usize> {
    let reader =
        SerializedFileReader::new(file).map_err(|e| Error::input(format!("not a readable parquet file: {e}")))?;
    let header: Vec<String> = reader
        .metadata()
        .file_metadata()
        .schema_descr()
        .root_schema()
        .get_fields()
        .iter()
        .map(|f| f.name().to_owned())
        .collect();
    schema.require(&header, path)?;
    let rows = reader.get_row_iter(None).map_err(|e| Error::input(format!("cannot read rows: {e}")))?;
    let mut count = 0;
    for (i, row) in rows.enumerate() {
        let line = i + 1;
        let row = row.map_err(|e| Error::input(format!("row {line}: {e}")))?;
        let mut values = Map::new();
        for (column, field) in row.get_column_iter() {
            if schema.role(column) == Role::Ignored {
                continue;
            }
            let value = json(field).map_err(|why| Error::input(format!("row {line}: column `{column}`: {why}")))?;
            values.insert(column.clone(), value);
        }
        each(schema.row(line, values)?)?;
        count += 1;
    }
    Ok(count)
}

/// A parquet value as JSON; timestamps and dates as seconds.
fn json(field: &Field) -> std::result::Result<Value, String> {
    Ok(match field {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(v) => Value::from(*v),
        Field::Short(v) => Value::from(*v),
        Field::Int(v) => Value::from(*v),
        Field::Long(v) => Value::from(*v),
        Field::UByte(v) => Value::from(*v),
        Field::UShort(v) => Value::from(*v),
        Field::UInt(v) => Value::from(*v),
        Field::ULong(v) => Value::from(*v),
        Field::Float(v) => finite(f64::from(*v))?,
        Field::Double(v) => finite(*v)?,
        Field::Float16(v) => finite(f64::from(f32::from(*v)))?,
        Field::Str(s) => Value::String(s.clone()),
        Field::Date(days) => Value::from(i64::from(*days) * 86_400),
        Field::TimestampMillis(ms) => finite(*ms as f64 / 1e3)?,
        Field::TimestampMicros(us) => finite(*us as f64 / 1e6)?,
        Field::ListInternal(list) => {
            Value::Array(list.elements().iter().map(json).collect::<std::result::Result<_, _>>()?)
        }
        other => return Err(format!("values of this type ({other}) are not read")),
    })
}

fn finite(x: f64) -> std::result::Result<Value, String> {
    serde_json::Number::from_f64(x).map(Value::Number).ok_or_else(|| format!("{x} is not finite"))
}
