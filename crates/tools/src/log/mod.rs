//! A user's own event log, read as a stream of [`Row`]s: JSON Lines, CSV or
//! Parquet, one impression per row, with columns for the time, the user,
//! optionally the session, the label, and the model's fields (every other
//! column the spec names; the rest are ignored).
//!
//! Rows are read one at a time (never the whole file), so a log of millions
//! of events streams through in bounded memory. A bad row is an
//! [`ErrorKind::InvalidInput`] error naming the line (JSONL, CSV: the line
//! in the file, the header being line 1) or row (Parquet: 1-based) and the
//! column.
//!
//! Values: JSONL cells are JSON values as they are. CSV cells are text,
//! typed by the field they feed: a numeric or bucketized field's cell is a
//! number, a multi-categorical field's cell is a JSON array (`["a","b"]`)
//! or a single value, a categorical field's cell is its text (so a zip code
//! `01234` keeps its zero); an empty cell is missing. Parquet cells convert
//! by their type (integers, floats, strings, booleans, lists, timestamps).
//! The time is a number of seconds (any origin; Unix time usually) or an
//! RFC 3339 date-time (`2026-12-01T18:30:00Z`), or a Parquet timestamp or
//! date; the label is a boolean, `0`/`1` or `"true"`/`"false"`.

mod csv;
mod jsonl;
mod parquet;

use std::path::Path;

use reloop_core::{Error, ErrorKind, Result};
use reloop_runtime::{Item, ModelSpec};
use serde_json::{Map, Value};

/// A log's file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated, with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl Format {
    /// The format a file's extension says (`.jsonl`/`.ndjson`/`.json`,
    /// `.csv`, `.parquet`/`.pq`, also before a compression suffix such as
    /// `.parquet.brotli`).
    pub fn of(path: &Path) -> Option<Format> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let parts: Vec<&str> = name.split('.').skip(1).collect();
        parts.iter().rev().find_map(|ext| match *ext {
            "jsonl" | "ndjson" | "json" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        })
    }
}

/// Which columns hold the event's time, user, session and label.
#[derive(Clone, Debug)]
pub struct Columns {
    /// Time column (seconds or RFC 3339; `None`: the row order is the time order).
    pub time: Option<String>,
    /// User column (required for a replay).
    pub user: Option<String>,
    /// Session column (optional: sessions are otherwise split at gaps).
    pub session: Option<String>,
    /// Label column (clicked or not).
    pub label: Option<String>,
}

/// One event of the log.
#[derive(Clone, Debug)]
pub struct Row {
    /// Its line (JSONL, CSV) or row number (Parquet), 1-based.
    pub line: usize,
    /// The time in seconds, if there is a time column.
    pub time: Option<f64>,
    /// The user's id (its text form), if there is a user column.
    pub user: Option<String>,
    /// The session's id, if there is a session column.
    pub session: Option<String>,
    /// The label, if there is a label column.
    pub label: Option<bool>,
    /// The model's fields found in the row.
    pub fields: Item,
}

/// How each column of a record is used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Time,
    User,
    Session,
    Label,
    /// A model field, with how CSV text is typed for it.
    Field(CellType),
    Ignored,
}

/// How a CSV cell is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CellType {
    /// Kept as text.
    Text,
    /// A number (or a boolean).
    Number,
    /// A JSON array, or one value.
    List,
}

/// What a reader needs to turn a record into a [`Row`].
#[derive(Clone, Debug)]
pub(crate) struct Schema {
    columns: Columns,
    fields: Vec<(String, CellType)>,
}

impl Schema {
    fn new(columns: &Columns, spec: &ModelSpec) -> Schema {
        use reloop_runtime::spec::FieldSpec;
        let fields = spec
            .fields
            .iter()
            .map(|(name, f)| {
                let t = match f {
                    FieldSpec::Numeric(_) | FieldSpec::Bucketized(_) => CellType::Number,
                    FieldSpec::MultiCategorical(_) => CellType::List,
                    FieldSpec::Categorical(_) => CellType::Text,
                };
                (name.clone(), t)
            })
            .collect();
        Schema { columns: columns.clone(), fields }
    }

    fn role(&self, column: &str) -> Role {
        let is = |c: &Option<String>| c.as_deref() == Some(column);
        if is(&self.columns.time) {
            Role::Time
        } else if is(&self.columns.user) {
            Role::User
        } else if is(&self.columns.session) {
            Role::Session
        } else if is(&self.columns.label) {
            Role::Label
        } else {
            self.fields.iter().find(|(n, _)| n == column).map_or(Role::Ignored, |(_, t)| Role::Field(*t))
        }
    }

    /// The columns a reader must find in the file's header (Parquet, CSV).
    fn require(&self, header: &[String], path: &Path) -> Result<()> {
        for (what, column) in [
            ("--time", &self.columns.time),
            ("--user", &self.columns.user),
            ("--session", &self.columns.session),
            ("--label", &self.columns.label),
        ] {
            if let Some(c) = column {
                if !header.iter().any(|h| h == c) {
                    return Err(Error::input(format!(
                        "{}: no column `{c}` (named by {what}); the columns are {}",
                        path.display(),
                        header.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }

    /// A row from one record's (column, value) pairs, the typed values.
    fn row(&self, line: usize, record: Map<String, Value>) -> Result<Row> {
        let mut row = Row { line, time: None, user: None, session: None, label: None, fields: Item::new() };
        for (column, value) in record {
            let at = |why: String| Error::input(format!("line {line}: column `{column}`: {why}"));
            match self.role(&column) {
                Role::Time => row.time = Some(time(&value).map_err(at)?),
                Role::User => row.user = Some(id(&value).map_err(at)?),
                Role::Session => row.session = Some(id(&value).map_err(at)?),
                Role::Label => row.label = Some(label(&value).map_err(at)?),
                Role::Field(_) => {
                    if !value.is_null() {
                        row.fields.insert(column, value);
                    }
                }
                Role::Ignored => {}
            }
        }
        // One column may name both the user and the session (a user's events all one session).
        if self.columns.session.is_some() && self.columns.session == self.columns.user {
            row.session.clone_from(&row.user);
        }
        for (what, column, missing) in [
            ("time", &self.columns.time, row.time.is_none()),
            ("user", &self.columns.user, row.user.is_none()),
            ("label", &self.columns.label, row.label.is_none()),
        ] {
            if let (Some(c), true) = (column, missing) {
                return Err(Error::input(format!("line {line}: the {what} column `{c}` is missing or null")));
            }
        }
        Ok(row)
    }
}

/// Reads the log at `path` row by row, calling `each` with every row in
/// file order; returns the number of rows.
///
/// # Errors
/// An unreadable file, a missing column, a bad value (naming line and
/// column), or whatever `each` returns.
pub fn read(
    path: &Path,
    format: Option<Format>,
    columns: &Columns,
    spec: &ModelSpec,
    each: &mut dyn FnMut(Row) -> Result<()>,
) -> Result<usize> {
    let format = format.or_else(|| Format::of(path)).ok_or_else(|| {
        Error::input(format!(
            "{}: cannot tell the format from the name; give --format jsonl|csv|parquet",
            path.display()
        ))
    })?;
    let schema = Schema::new(columns, spec);
    let opened = |e: std::io::Error| Error::input(format!("{}: {e}", path.display()));
    match format {
        Format::Jsonl => jsonl::read(std::fs::File::open(path).map_err(opened)?, &schema, each),
        Format::Csv => csv::read(std::fs::File::open(path).map_err(opened)?, path, &schema, each),
        Format::Parquet => parquet::read(std::fs::File::open(path).map_err(opened)?, path, &schema, each),
    }
    .map_err(|e| if e.kind() == ErrorKind::InvalidInput { e.with_context(path.display()) } else { e })
}

/// Seconds from a number or an RFC 3339 date-time.
fn time(value: &Value) -> std::result::Result<f64, String> {
    match value {
        Value::Number(n) => n.as_f64().filter(|t| t.is_finite()).ok_or_else(|| format!("{n} is not a finite time")),
        Value::String(s) => match s.trim().parse::<f64>() {
            Ok(t) if t.is_finite() => Ok(t),
            _ => chrono::DateTime::parse_from_rfc3339(s.trim())
                .map(|d| d.timestamp_micros() as f64 / 1e6)
                .map_err(|_| format!("`{s}` is neither a number of seconds nor an RFC 3339 date-time")),
        },
        other => Err(format!("a time must be a number of seconds or an RFC 3339 text, got {}", kind(other))),
    }
}

/// The text form of an id (a string, or a number or boolean written out).
fn id(value: &Value) -> std::result::Result<String, String> {
    let mut out = String::new();
    if reloop_runtime::item::category_key(value, &mut out) {
        Ok(out)
    } else {
        Err(format!("an id must be a string or a number, got {}", kind(value)))
    }
}

fn label(value: &Value) -> std::result::Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
        Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
        Value::String(s) => match s.trim() {
            "1" | "1.0" | "true" | "True" | "TRUE" => Ok(true),
            "0" | "0.0" | "false" | "False" | "FALSE" => Ok(false),
            other => Err(format!("a label must be 0/1 or true/false, got `{other}`")),
        },
        other => Err(format!("a label must be 0/1 or true/false, got {}", kind(other))),
    }
}

fn kind(value: &Value) -> &'static str {
    reloop_runtime::item::type_name(value)
}
