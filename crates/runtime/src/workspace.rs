//! The per-call state of a model run: a tract state of one plan, the input
//! tensors the encoder writes into, and the encoder's scratch. Each plan
//! keeps a few of them for reuse ([`crate::plans`]), so a warm call
//! allocates nothing new.

use reloop_core::{Error, Result};
use tract_onnx::prelude::{DatumType, IntoTensor, TValue, TVec, Tensor, TypedSimpleState, tvec};

use crate::encoder::{InputBuffer, Scratch};
use crate::onnx::model_err;
use crate::spec::DType;

/// How a run feeds one input of its plan.
#[derive(Debug)]
pub(crate) struct InputFeed {
    /// Position among the workspace's tensors (the spec's inputs, for a
    /// plan fed by the encoder).
    pub(crate) spec_index: usize,
    pub(crate) dtype: DType,
    pub(crate) width: usize,
    /// Fed as `[N]` (ONNX input of rank 1) rather than `[N, width]`.
    pub(crate) rank1: bool,
}

/// A tract state and the reusable input tensors of one run.
#[derive(Debug)]
pub(crate) struct Workspace {
    pub(crate) state: TypedSimpleState,
    /// Input tensors in spec order, recycled across calls.
    pub(crate) tensors: Vec<Option<Tensor>>,
    pub(crate) scratch: Scratch,
}

impl Workspace {
    /// A workspace over `state` with `inputs` empty tensor slots.
    pub(crate) fn new(state: TypedSimpleState, inputs: usize) -> Workspace {
        Workspace { state, tensors: (0..inputs).map(|_| None).collect(), scratch: Scratch::default() }
    }

    /// Runs the plan on `n` rows: shapes the input tensors for `feeds`
    /// (reusing them when they fit), lets `fill` write them, and returns
    /// the plan's outputs.
    ///
    /// # Errors
    /// What `fill` returns; [`reloop_core::ErrorKind::Model`] if tract fails.
    pub(crate) fn run(
        &mut self,
        feeds: &[InputFeed],
        n: usize,
        fill: impl FnOnce(&mut [InputBuffer<'_>], &mut Scratch) -> Result<()>,
    ) -> Result<TVec<TValue>> {
        for input in feeds {
            let shape: &[usize] = if input.rank1 { &[n] } else { &[n, input.width] };
            let tensor = self.tensors.get_mut(input.spec_index).ok_or_else(|| Error::input("input tensor"))?;
            let fits = tensor.as_ref().is_some_and(|t| t.shape() == shape);
            if !fits {
                *tensor = Some(Tensor::zero_dt(input.dtype.datum(), shape).map_err(|e| model_err("input tensor", e))?);
            }
        }
        {
            let mut buffers = Vec::with_capacity(self.tensors.len());
            for (k, t) in self.tensors.iter_mut().enumerate() {
                let t = t.as_mut().ok_or_else(|| Error::model(format!("input {k} has no tensor")))?;
                let buffer = match t.datum_type() {
                    DatumType::I64 => {
                        t.to_plain_array_view_mut::<i64>().ok().and_then(|v| v.into_slice()).map(InputBuffer::I64)
                    }
                    _ => t.to_plain_array_view_mut::<f32>().ok().and_then(|v| v.into_slice()).map(InputBuffer::F32),
                };
                buffers.push(buffer.ok_or_else(|| Error::model(format!("input {k} is not a plain tensor")))?);
            }
            fill(&mut buffers, &mut self.scratch)?;
        }
        let mut values: Vec<Option<TValue>> = self.tensors.iter_mut().map(|t| t.take().map(TValue::from)).collect();
        let mut feed = tvec![];
        for input in feeds {
            let v = values.get(input.spec_index).and_then(Option::as_ref);
            feed.push(v.cloned().ok_or_else(|| Error::model("input value missing"))?);
        }
        let result = self.state.run(feed).map_err(|e| model_err("model run", e));
        // Take the input tensors back (no copy once tract has let go of them).
        for (tensor, v) in self.tensors.iter_mut().zip(values.iter_mut()) {
            *tensor = v.take().map(IntoTensor::into_tensor);
        }
        result
    }
}
