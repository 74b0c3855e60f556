//! The per-call state of a model run: a tract state of one plan, the input
//! tensors the encoder writes into, and the encoder's scratch. Each plan
//! keeps a few of them for reuse ([`crate::plans`]), so a warm call
//! allocates nothing new.

use tract_onnx::prelude::{Tensor, TypedSimpleState};

use crate::encoder::Scratch;

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
}
