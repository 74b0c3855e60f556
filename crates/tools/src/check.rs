//! `reloop check`: a model and its spec through every check the runtime
//! does at load (inputs, element types and widths, outputs, the key, `mu`,
//! and every index a field can write against the table it feeds), and,
//! given rows, the scores and key vectors they get, their label rate (the
//! spec's `p0`) and their mean key (its `mu`).

use std::fmt::Write as _;
use std::path::Path;

use reloop_core::Result;
use reloop_runtime::indices::IndexUse;
use reloop_runtime::{Item, Model, ModelOutput, ModelSpec};
use serde::Serialize;

use crate::log::{self, Columns, Format};

/// One row's result.
#[derive(Clone, Debug, Serialize)]
pub struct Scored {
    /// Its line in the rows file.
    pub line: usize,
    /// The model's click probability.
    pub y_base: f32,
    /// The key vector the memory would hash (before centring by `mu`).
    pub hidden: Vec<f32>,
}

/// What `check` found.
#[derive(Clone, Debug, Serialize)]
pub struct Checked {
    /// The model identity.
    pub model_id: String,
    /// The key's description and width.
    pub key: String,
    /// Values in the key.
    pub hidden_dim: usize,
    /// Whether the spec has `mu` and `p0`.
    pub has_mu: bool,
    /// The spec's `p0`.
    pub p0: Option<f32>,
    /// Each field's indices against the tables they reach.
    pub index_uses: Vec<Use>,
    /// The rows' results (at most `show` of them are kept).
    pub rows: Vec<Scored>,
    /// How many rows were scored.
    pub row_count: usize,
    /// The label rate of the rows (`p0` for the spec), if they have labels.
    pub label_rate: Option<f64>,
    /// The mean key over the rows (`mu` for the spec).
    pub mean_key: Option<Vec<f32>>,
}

/// An index use, for the report.
#[derive(Clone, Debug, Serialize)]
pub struct Use {
    /// The field.
    pub field: String,
    /// Smallest and largest index (after the graph's offsets); `None` unbounded.
    pub range: Option<(i64, i64)>,
    /// The indexing node and table.
    pub node: String,
    /// The table.
    pub table: String,
    /// Its rows.
    pub rows: usize,
    /// Whether every index fits.
    pub fits: bool,
    /// Whether the range is exact.
    pub exact: bool,
}

impl From<&IndexUse> for Use {
    fn from(u: &IndexUse) -> Use {
        Use {
            field: u.field.clone(),
            range: u.range,
            node: u.node.clone(),
            table: u.table.clone(),
            // A use of no fixed size is refused at load, so it never gets here.
            rows: u.rows.unwrap_or(0),
            fits: u.fits(),
            exact: u.exact,
        }
    }
}

/// Rows to score: a file and its label column.
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a> {
    /// The file (JSONL, CSV or Parquet).
    pub path: &'a Path,
    /// Its format (default: from the extension).
    pub format: Option<Format>,
    /// The label column, if the rows have labels.
    pub label: Option<&'a str>,
    /// How many rows' scores and keys to keep in the result.
    pub show: usize,
}

/// Loads the model (every load-time check) and scores the rows.
///
/// # Errors
/// The first failed check ([`reloop_core::ErrorKind::Model`] or
/// `InvalidConfig`, naming the key or field), or a bad row naming its line.
pub fn check(onnx: &[u8], spec: ModelSpec, rows: Option<Rows<'_>>) -> Result<Checked> {
    let model = Model::load(onnx, spec)?;
    let mut checked = Checked {
        model_id: model.id().to_hex(),
        key: model.spec().outputs.hidden.to_string(),
        hidden_dim: model.hidden_dim(),
        has_mu: model.mu().is_some(),
        p0: model.p0(),
        index_uses: model.index_uses().iter().map(Use::from).collect(),
        rows: Vec::new(),
        row_count: 0,
        label_rate: None,
        mean_key: None,
    };
    let Some(rows) = rows else { return Ok(checked) };
    let columns = Columns { time: None, user: None, session: None, label: rows.label.map(str::to_owned) };
    let mut out = ModelOutput::default();
    let empty = Item::new();
    let mut sum = vec![0f64; model.hidden_dim()];
    let (mut labels, mut clicks) = (0usize, 0usize);
    log::read(rows.path, rows.format, &columns, model.spec(), &mut |row| {
        model.run(std::slice::from_ref(&row.fields), &empty, &mut out).map_err(|e| {
            let message = e.message().strip_prefix("item 0: ").unwrap_or(e.message()).to_owned();
            reloop_core::Error::new(e.kind(), format!("line {}: {message}", row.line))
        })?;
        let hidden = out.hidden_row(0).unwrap_or_default();
        for (s, v) in sum.iter_mut().zip(hidden) {
            *s += f64::from(*v);
        }
        if let Some(y) = row.label {
            labels += 1;
            clicks += usize::from(y);
        }
        if checked.rows.len() < rows.show {
            let y_base = out.y_base().first().copied().unwrap_or(f32::NAN);
            checked.rows.push(Scored { line: row.line, y_base, hidden: hidden.to_vec() });
        }
        checked.row_count += 1;
        Ok(())
    })?;
    if checked.row_count > 0 {
        let n = checked.row_count as f64;
        checked.mean_key = Some(sum.iter().map(|s| (s / n) as f32).collect());
    }
    if labels > 0 {
        checked.label_rate = Some(clicks as f64 / labels as f64);
    }
    Ok(checked)
}

impl Checked {
    /// The report in plain text.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "ok: the model loads with this spec (every load-time check passed)");
        let _ = writeln!(s, "model id {}", self.model_id);
        let _ = writeln!(
            s,
            "key {} ({} values), mu {}",
            self.key,
            self.hidden_dim,
            if self.has_mu { "given" } else { "none" }
        );
        match self.p0 {
            Some(p0) => {
                let _ = writeln!(s, "p0 {p0}");
            }
            None => {
                let _ = writeln!(s, "p0 missing: sessions need it (see below, or options.p0)");
            }
        }
        let _ = writeln!(s, "\nindices (field → table):");
        if self.index_uses.is_empty() {
            let _ = writeln!(s, "  (no field reaches a Gather, GatherElements or OneHot)");
        }
        for u in &self.index_uses {
            let range = u.range.map_or_else(|| "unbounded".to_string(), |(lo, hi)| format!("{lo}..={hi}"));
            let _ = writeln!(
                s,
                "  {:<16} {:>14}  → `{}` ({} rows){}{}",
                u.field,
                range,
                u.table,
                u.rows,
                if u.fits { "" } else { "  DOES NOT FIT" },
                if u.exact { "" } else { "  (approximate)" }
            );
        }
        if self.row_count > 0 {
            let _ = writeln!(s, "\n{} rows scored; the first {}:", self.row_count, self.rows.len());
            for r in &self.rows {
                let head: Vec<String> = r.hidden.iter().take(8).map(|v| format!("{v:.4}")).collect();
                let more = if r.hidden.len() > 8 { ", …" } else { "" };
                let _ = writeln!(s, "  line {:>6}: y_base {:.5}  h [{}{more}]", r.line, r.y_base, head.join(", "));
            }
            if let Some(rate) = self.label_rate {
                let _ = writeln!(s, "\nlabel rate of the rows: {rate:.6} → \"p0\": {rate:.6}");
            }
            if let Some(mu) = &self.mean_key {
                let values: Vec<String> = mu.iter().map(|v| format!("{v:.6}")).collect();
                let _ = writeln!(s, "mean key of the rows → \"mu\": [{}]", values.join(", "));
            }
        }
        s
    }
}
