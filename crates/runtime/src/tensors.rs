//! Input tensors from callers with their own encoders
//! ([`crate::Model::run_tensors`], [`crate::Session::score_tensors`]).
//!
//! The caller passes the model's inputs as flat arrays (one per spec input,
//! spec order, `rows × width` values of the input's element type). Before
//! anything runs, every value is checked against what the spec's field for
//! its column could have written — an index within the field's range
//! (which loading checked against the tables it reaches), 0..=1 in a
//! one-hot, multi-hot or mean block, any finite number for a numeric field —
//! so a hand-made tensor cannot index past an embedding table (which would
//! abort the wasm instance) any more than an encoded item can.

use reloop_core::{Error, Result};

use crate::encoder::{Encoder, InputBuffer};
use crate::spec::{DType, ModelSpec};

/// One input tensor's data, `rows × width` values, row-major.
#[derive(Clone, Copy, Debug)]
pub enum InputTensor<'a> {
    /// Data of an `i64` input.
    I64(&'a [i64]),
    /// Data of an `f32` input.
    F32(&'a [f32]),
}

impl InputTensor<'_> {
    fn len(&self) -> usize {
        match self {
            InputTensor::I64(v) => v.len(),
            InputTensor::F32(v) => v.len(),
        }
    }
}

/// What one column may hold: the values its field writes (`None`: any
/// finite number).
#[derive(Clone, Debug)]
pub(crate) struct ColumnBound {
    field: String,
    range: Option<(i64, i64)>,
}

impl ColumnBound {
    /// The lowest value the column's field can write (0 for unbounded columns).
    pub(crate) fn lowest(&self) -> i64 {
        self.range.map_or(0, |(lo, _)| lo)
    }

    /// The lowest and highest value the column's field can write, if bounded.
    pub(crate) fn range(&self) -> Option<(i64, i64)> {
        self.range
    }
}

/// Each input's column bounds, from the spec (inputs and columns in order).
pub(crate) fn bounds(spec: &ModelSpec) -> Vec<Vec<ColumnBound>> {
    spec.inputs
        .iter()
        .map(|input| {
            input
                .columns
                .iter()
                .flat_map(|name| {
                    let field = spec.fields.get(name);
                    let width = field.map_or(0, |f| f.width());
                    let range = field.and_then(|f| f.value_range());
                    std::iter::repeat_n(ColumnBound { field: name.clone(), range }, width)
                })
                .collect()
        })
        .collect()
}

/// Checks `inputs` (count, types, lengths, every value) for `rows` rows.
pub(crate) fn check(
    encoder: &Encoder,
    columns: &[Vec<ColumnBound>],
    inputs: &[InputTensor<'_>],
    rows: usize,
) -> Result<()> {
    if inputs.len() != encoder.input_count() {
        return Err(Error::input(format!(
            "{} input tensors given, the model has {}",
            inputs.len(),
            encoder.input_count()
        )));
    }
    encoder.check_batch(rows)?;
    for (k, (tensor, bounds)) in inputs.iter().zip(columns).enumerate() {
        let Some((name, dtype, width)) = encoder.input(k) else { continue };
        let type_ok = matches!((dtype, tensor), (DType::I64, InputTensor::I64(_)) | (DType::F32, InputTensor::F32(_)));
        if !type_ok {
            return Err(Error::input(format!("input `{name}` holds {} values", dtype.name())));
        }
        if tensor.len() != rows.saturating_mul(width) {
            return Err(Error::input(format!(
                "input `{name}` must hold {rows} × {width} values, got {}",
                tensor.len()
            )));
        }
        let out_of_range = |row: usize, col: usize, value: String, bound: &ColumnBound| {
            let allowed = match bound.range {
                Some((lo, hi)) => format!("{lo}..={hi}"),
                None => "a finite number".into(),
            };
            Error::input(format!(
                "input `{name}` row {row} column {col} (field `{}`) is {value}; it must be {allowed}",
                bound.field
            ))
        };
        if width == 0 {
            continue;
        }
        match tensor {
            InputTensor::I64(values) => {
                for (at, &v) in values.iter().enumerate() {
                    let (row, col) = (at / width, at % width);
                    let Some(bound) = bounds.get(col) else { continue };
                    if let Some((lo, hi)) = bound.range {
                        if v < lo || v > hi {
                            return Err(out_of_range(row, col, v.to_string(), bound));
                        }
                    }
                }
            }
            InputTensor::F32(values) => {
                for (at, &v) in values.iter().enumerate() {
                    let (row, col) = (at / width, at % width);
                    let Some(bound) = bounds.get(col) else { continue };
                    let fits = v.is_finite()
                        && bound.range.is_none_or(|(lo, hi)| f64::from(v) >= lo as f64 && f64::from(v) <= hi as f64);
                    if !fits {
                        return Err(out_of_range(row, col, v.to_string(), bound));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Copies checked `inputs` into the plan's buffers.
pub(crate) fn copy_into(inputs: &[InputTensor<'_>], buffers: &mut [InputBuffer<'_>]) -> Result<()> {
    for (tensor, buffer) in inputs.iter().zip(buffers.iter_mut()) {
        match (tensor, buffer) {
            (InputTensor::I64(from), InputBuffer::I64(to)) if from.len() == to.len() => to.copy_from_slice(from),
            (InputTensor::F32(from), InputBuffer::F32(to)) if from.len() == to.len() => to.copy_from_slice(from),
            _ => return Err(Error::input("input tensors do not fit the model's inputs")),
        }
    }
    Ok(())
}
