//! Shapes that hold for one batch size only, refused when a model is loaded.
//!
//! The batch `N` is symbolic while a model is typed, and tract types an
//! operator that pairs an axis of size `N` with one of a fixed size `d`
//! (say `[N, d] × [N, d]`, a MatMul of a tensor by itself, contracting `d`
//! with `N`) by *assuming* they agree: the dimension becomes
//! `broadcast(N, d)` and typing succeeds. Such a model runs at `N = d`
//! only. At any other batch, tract's optimised matrix product trusts the
//! typed shapes: a debug assertion in tract-core, unchecked reads of the
//! packed operands in a release build. Since every score call has its own
//! batch size, the model is refused at load
//! ([`ErrorKind::Model`](reloop_core::ErrorKind::Model), naming the node).
//!
//! Two places carry the assumption: a tensor whose shape holds a
//! `broadcast` of two different sizes, and an `EinSum` (ONNX `MatMul`,
//! `Gemm`, `Einsum` once typed) whose inputs give one axis two different
//! sizes; a contracted axis leaves no trace in the output shape, so the
//! second is checked on the inputs.

use reloop_core::{Error, Result};
use tract_onnx::prelude::{TDim, TypedModel};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_hir::internal::DimLike;

/// Refuses a typed model with a shape that holds for some batch sizes only.
pub fn check(model: &TypedModel) -> Result<()> {
    for node in model.nodes() {
        for (slot, output) in node.outputs.iter().enumerate() {
            if let Some(dim) = output.fact.shape.iter().find(|d| assumes(d)) {
                return Err(Error::model(format!(
                    "onnx: output {slot} of node `{}` ({}) has an axis of size {dim}: it pairs axes of different \
                     sizes and would only run for some batch sizes",
                    node.name,
                    node.op.name()
                )));
            }
        }
        let Some(einsum) = node.op_as::<EinSum>() else { continue };
        for axis in einsum.axes.iter_all_axes() {
            let mut sizes: Vec<TDim> = Vec::new();
            for (slot, positions) in axis.inputs.iter().enumerate() {
                let Some(outlet) = node.inputs.get(slot) else { continue };
                let Ok(fact) = model.outlet_fact(*outlet) else { continue };
                sizes.extend(positions.iter().filter_map(|&p| fact.shape.get(p).cloned()));
            }
            let joined = sizes.iter().cloned().try_fold(TDim::from(1), |a, b| a.broadcast(b));
            if joined.as_ref().map_or(true, assumes) {
                let sizes: Vec<String> = sizes.iter().map(|d| d.to_string()).collect();
                return Err(Error::model(format!(
                    "onnx: node `{}` ({}) pairs sizes {} along its axis `{}`; they must agree whatever the batch \
                     size (a product of a batch-sized axis with a fixed one runs at one batch size only)",
                    node.name,
                    node.op.name(),
                    sizes.join(" and "),
                    axis.repr
                )));
            }
        }
    }
    Ok(())
}

/// Whether a dimension is an unresolved broadcast of two different sizes.
fn assumes(dim: &TDim) -> bool {
    match dim {
        TDim::Val(_) | TDim::Sym(_) => false,
        TDim::Broadcast(terms) => {
            // tract does not always fold `broadcast(N, N)` or a 1 away.
            let mut sizes = terms.iter().filter(|t| !t.is_one());
            let first = sizes.next();
            terms.iter().any(assumes) || sizes.any(|t| Some(t) != first)
        }
        TDim::Add(terms) | TDim::Mul(terms) | TDim::Min(terms) | TDim::Max(terms) => terms.iter().any(assumes),
        TDim::MulInt(_, a) | TDim::Div(a, _) => assumes(a),
        TDim::Ge(a, b) | TDim::Eq(a, b) => assumes(a) || assumes(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::prelude::{SymbolScope, ToDim};

    #[test]
    fn a_broadcast_of_the_batch_and_a_size_is_an_assumption() {
        let n = SymbolScope::default().sym("N").to_dim();
        assert!(!assumes(&n));
        assert!(!assumes(&TDim::from(64)));
        assert!(!assumes(&n.clone().broadcast(TDim::from(1)).unwrap()));
        let nn = n.clone().broadcast(n.clone()).unwrap();
        assert!(!assumes(&nn), "{nn:?}");
        assert!(assumes(&n.clone().broadcast(TDim::from(64)).unwrap()));
        assert!(assumes(&(n.clone().broadcast(TDim::from(64)).unwrap() * 2)));
        assert!(!assumes(&(n * 2)));
    }
}
