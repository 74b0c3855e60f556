//! Caller-made input tensors (`session.scoreTensors(inputs, ids)`): an
//! object with one typed array per model input, by the spec's input names
//! (`BigInt64Array` for `i64` inputs, `Float32Array` for `f32`), each
//! `rows × width` values. The runtime checks every value before use
//! ([`reloop_runtime::tensors`]).

use js_sys::{BigInt64Array, Float32Array, Reflect};
use reloop_core::Error;
use reloop_runtime::Model;
use reloop_runtime::spec::DType;
use wasm_bindgen::prelude::*;

use crate::error::{js_type, thrown};
use crate::input;
use crate::reader::copy_typed;

/// One input's data, copied out of its typed array (through a fresh JS copy
/// made from the array's internal slots, [`copy_typed`]: a Proxy or a fake
/// typed array read from wasm would throw through the module, uncaught).
pub(crate) enum TensorData {
    I64(Vec<i64>),
    F32(Vec<f32>),
}

/// Reads `inputs` for `model`: the tensors in spec order and the row count.
///
/// # Errors
/// `E_INVALID_INPUT` for a non-object, a missing input, the wrong typed
/// array, lengths that are not `rows × width` for one `rows` across inputs,
/// or whatever a getter threw.
pub(crate) fn read(model: &Model, inputs: &JsValue) -> Result<(Vec<TensorData>, usize), Error> {
    if !inputs.is_object() {
        return Err(input(format!("inputs must be an object of typed arrays by input name, got {}", js_type(inputs))));
    }
    let encoder = model.encoder();
    let mut out = Vec::with_capacity(encoder.input_count());
    let mut rows: Option<usize> = None;
    for k in 0..encoder.input_count() {
        let Some((name, dtype, width)) = encoder.input(k) else { continue };
        let value = Reflect::get(inputs, &JsValue::from_str(name))
            .map_err(|e| input(format!("inputs.{name}: reading it threw: {}", thrown(&e))))?;
        let (data, len) = match dtype {
            DType::I64 => {
                let array = copy_typed(&value, "BigInt64Array").dyn_into::<BigInt64Array>().map_err(|_| {
                    input(format!("inputs.{name} must be a BigInt64Array (an i64 input), got {}", js_type(&value)))
                })?;
                check_length(model, name, width, array.length())?;
                let data = array.to_vec();
                let len = data.len();
                (TensorData::I64(data), len)
            }
            DType::F32 => {
                let array = copy_typed(&value, "Float32Array").dyn_into::<Float32Array>().map_err(|_| {
                    input(format!("inputs.{name} must be a Float32Array (an f32 input), got {}", js_type(&value)))
                })?;
                check_length(model, name, width, array.length())?;
                let data = array.to_vec();
                let len = data.len();
                (TensorData::F32(data), len)
            }
        };
        if width == 0 || len % width != 0 {
            return Err(input(format!("inputs.{name} holds {len} values, not a multiple of its width {width}")));
        }
        let n = len / width;
        match rows {
            Some(r) if r != n => {
                return Err(input(format!("inputs.{name} holds {n} rows, the inputs before it {r}")));
            }
            _ => rows = Some(n),
        }
        out.push(data);
    }
    Ok((out, rows.unwrap_or(0)))
}

/// Refuses an array longer than `maxBatch` rows before copying it.
fn check_length(model: &Model, name: &str, width: usize, len: u32) -> Result<(), Error> {
    let max = model.spec().max_batch.saturating_mul(width);
    if len as usize > max {
        return Err(input(format!("inputs.{name} holds {len} values, more than maxBatch × width = {max}")));
    }
    Ok(())
}
