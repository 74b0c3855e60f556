//! The runnable plans of a [model](crate::model): one general plan with a
//! symbolic batch size `N`, and plans fixed to the batch sizes callers keep
//! using.
//!
//! A plan fixed to `N = n` is optimised with every shape known: tract fuses
//! the bias and activation into the matrix kernel and skips evaluating shape
//! expressions per op and per call. Measured on the bundled model in Node
//! (wasm): `score` of 100 items 0.67 → 0.56 ms. Making one costs a
//! re-optimisation (≈ 12 ms in Node for the bundled model), so a batch size
//! gets its plan the second time it is run ([`FIX_AFTER`]) and runs on the
//! general plan until then; at most [`MAX_FIXED`] sizes keep one (least
//! recently used goes first), since each holds its own packed copy of the
//! matrix weights: measured natively on a model with a 4 MB weight matrix,
//! each fixed plan took 4.2 MB more. So fewer sizes get a plan the larger
//! those weights are, within [`FIXED_PLANS_BUDGET`] together, and a model
//! whose weights exceed it runs on the general plan only (embedding tables,
//! only gathered from, are shared by every plan and do not count). Builds
//! are rationed so that callers cycling through more sizes than that cannot
//! make every other call a rebuild: as many builds as sizes may keep a plan
//! are allowed at once, then one more per [`RUNS_PER_BUILD`] runs (a worst
//! case of ≈ 0.01 ms per run). If tract cannot optimise the model for
//! a size, that size stays on the general plan.
//!
//! Each plan keeps a small pool of workspaces (a tract state and the
//! input tensors), so concurrent callers do not serialise and a call
//! allocates nothing new once warm.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use reloop_core::{Error, ErrorKind, Result};
use tract_onnx::prelude::{IntoRunnable, OutletId, Symbol, TValue, TVec, ToDim, TypedModel, TypedRunnableModel};
use tract_onnx::tract_core::ops::array::Gather;
use tract_onnx::tract_core::ops::konst::Const;

use crate::encoder::{InputBuffer, Scratch};
use crate::onnx::model_err;
use crate::workspace::{InputFeed, Workspace};

/// Workspaces kept for reuse per plan; more concurrent callers create temporary ones.
const POOL_SIZE: usize = 4;
/// Runs of one batch size (on the general plan) before it gets a fixed plan.
pub const FIX_AFTER: u32 = 2;
/// Batch sizes that keep a fixed plan at once, at most.
pub const MAX_FIXED: usize = 4;
/// Bytes of weight copies the fixed plans of one model may hold together
/// (a Worker isolate has 128 MB in all).
pub const FIXED_PLANS_BUDGET: usize = 16 << 20;
/// Distinct batch sizes counted towards [`FIX_AFTER`] at once.
const MAX_COUNTED: usize = 32;
/// Runs that earn one more plan build once the first ones are spent.
pub const RUNS_PER_BUILD: u32 = 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data is a cache: a panic elsewhere cannot leave it inconsistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A runnable plan and the workspaces kept for it.
#[derive(Debug)]
pub(crate) struct Plan {
    runnable: Arc<TypedRunnableModel>,
    pool: Mutex<Vec<Workspace>>,
}

impl Plan {
    fn new(runnable: Arc<TypedRunnableModel>) -> Plan {
        Plan { runnable, pool: Mutex::new(Vec::new()) }
    }

    /// A pooled workspace, or a new one with `inputs` empty tensor slots.
    pub(crate) fn take(&self, inputs: usize) -> Result<Workspace> {
        if let Some(ws) = lock(&self.pool).pop() {
            return Ok(ws);
        }
        let state = self.runnable.spawn().map_err(|e| model_err("model state", e))?;
        Ok(Workspace::new(state, inputs))
    }

    /// Returns a workspace after a clean run.
    pub(crate) fn give_back(&self, ws: Workspace) {
        let mut pool = lock(&self.pool);
        if pool.len() < POOL_SIZE {
            pool.push(ws);
        }
    }

    /// Runs the plan on `n` rows in a pooled workspace of `slots` input
    /// tensors ([`Workspace::run`]). The workspace goes back to the pool
    /// after a clean run or an input error (raised before tract runs); after
    /// a failed tract run, which may leave partial values and bound symbols
    /// in its state, it is dropped.
    ///
    /// # Errors
    /// As [`Workspace::run`].
    pub(crate) fn run(
        &self,
        feeds: &[InputFeed],
        slots: usize,
        n: usize,
        fill: impl FnOnce(&mut [InputBuffer<'_>], &mut Scratch) -> Result<()>,
    ) -> Result<TVec<TValue>> {
        let mut ws = self.take(slots)?;
        let result = ws.run(feeds, n, fill);
        match &result {
            Err(e) if e.kind() != ErrorKind::InvalidInput => drop(ws),
            _ => self.give_back(ws),
        }
        result
    }
}

/// Batch-size bookkeeping: counts of sizes not yet fixed, and the plans
/// fixed to a batch size.
#[derive(Debug)]
struct FixedPlans {
    /// Batch size → runs on the general plan so far.
    counted: Vec<(usize, u32)>,
    /// Batch size → its plan (`None`: tract could not optimise for it),
    /// least recently used first.
    plans: Vec<(usize, Option<Arc<Plan>>)>,
    /// Fixed plans kept at once: [`MAX_FIXED`] or fewer for large weights.
    limit: usize,
    /// Plan builds allowed now (at most `limit`).
    builds: usize,
    /// Runs since `builds` last grew.
    runs: u32,
}

impl FixedPlans {
    fn new(limit: usize) -> FixedPlans {
        FixedPlans { counted: Vec::new(), plans: Vec::new(), limit, builds: limit, runs: 0 }
    }

    /// Counts a run towards the next allowed build.
    fn tick(&mut self) {
        if self.builds >= self.limit {
            return;
        }
        self.runs += 1;
        if self.runs >= RUNS_PER_BUILD {
            self.runs = 0;
            self.builds += 1;
        }
    }

    /// The entry kept for `rows` (`Some(None)`: tract could not optimise
    /// for it), made the most recently used; `None` if there is none.
    fn recall(&mut self, rows: usize) -> Option<Option<Arc<Plan>>> {
        let at = self.plans.iter().position(|(r, _)| *r == rows)?;
        let entry = self.plans.remove(at);
        let plan = entry.1.clone();
        self.plans.push(entry);
        Some(plan)
    }

    /// Keeps `made` as the entry of `rows`, the least recently used making
    /// way; its run count is no longer needed.
    fn keep(&mut self, rows: usize, made: Option<Arc<Plan>>) {
        self.counted.retain(|(r, _)| *r != rows);
        self.plans.retain(|(r, _)| *r != rows);
        if self.plans.len() >= self.limit {
            self.plans.remove(0);
        }
        self.plans.push((rows, made));
    }

    /// Counts one more run of `rows`; true when it has now been run [`FIX_AFTER`] times.
    fn count(&mut self, rows: usize) -> bool {
        let at = match self.counted.iter().position(|(r, _)| *r == rows) {
            Some(at) => at,
            None => {
                if self.counted.len() >= MAX_COUNTED {
                    self.counted.remove(0);
                }
                self.counted.push((rows, 0));
                self.counted.len() - 1
            }
        };
        let Some((_, runs)) = self.counted.get_mut(at) else { return false };
        *runs = runs.saturating_add(1);
        *runs >= FIX_AFTER
    }
}

/// The general plan and the fixed ones; see the module docs.
#[derive(Debug)]
pub(crate) struct Plans {
    /// The decluttered model with the symbolic batch, the source of fixed
    /// plans; `None` when the weights leave no budget for them (it would
    /// only hold a second copy of the weights).
    source: Option<TypedModel>,
    batch: Symbol,
    general: Arc<Plan>,
    fixed: Mutex<FixedPlans>,
}

impl Plans {
    /// Optimises `source` (decluttered, batch dimension `batch`) into the general plan.
    pub(crate) fn new(source: TypedModel, batch: Symbol) -> Result<Plans> {
        let limit = fixed_limit(weight_bytes(&source));
        // The general plan shares the source's constants until the optimiser
        // replaces the matrices by packed copies of its own.
        let (mut general, source) = if limit == 0 { (source, None) } else { (source.clone(), Some(source)) };
        general.optimize().map_err(|e| model_err("onnx: cannot optimise the graph", e))?;
        let general = general.into_runnable().map_err(|e| model_err("onnx: cannot plan the graph", e))?;
        Ok(Plans { source, batch, general: Arc::new(Plan::new(general)), fixed: Mutex::new(FixedPlans::new(limit)) })
    }

    /// The decluttered model and its batch symbol, kept where the weights
    /// leave a budget for fixed plans.
    pub(crate) fn source(&self) -> Option<(&TypedModel, &Symbol)> {
        self.source.as_ref().map(|m| (m, &self.batch))
    }

    /// How many batch sizes can keep a fixed plan at once (see [`FIXED_PLANS_BUDGET`]).
    pub(crate) fn fixed_limit(&self) -> usize {
        lock(&self.fixed).limit
    }

    /// The plan for a batch of `rows`: its fixed plan if it has one (or has
    /// now earned one), else the general plan.
    pub(crate) fn for_rows(&self, rows: usize) -> Arc<Plan> {
        {
            let mut fixed = lock(&self.fixed);
            fixed.tick();
            if let Some(plan) = fixed.recall(rows) {
                return plan.unwrap_or_else(|| self.general.clone());
            }
            if !fixed.count(rows) || fixed.builds == 0 {
                return self.general.clone();
            }
            fixed.builds -= 1;
        }
        // Optimise outside the lock: other batch sizes keep running meanwhile.
        let made = self.make(rows).ok().map(Arc::new);
        let mut fixed = lock(&self.fixed);
        if let Some((_, Some(existing))) = fixed.plans.iter().find(|(r, _)| *r == rows) {
            // Another caller fixed it first.
            let existing = existing.clone();
            fixed.counted.retain(|(r, _)| *r != rows);
            return existing;
        }
        fixed.keep(rows, made.clone());
        made.unwrap_or_else(|| self.general.clone())
    }

    /// Fixes a plan to `rows` now, at the caller's request (a Worker warming
    /// up at start-up for the page size it serves), rather than on its
    /// [`FIX_AFTER`]th run: returns it, or `None` if the model keeps no
    /// fixed plans or tract cannot optimise for that size. A build asked
    /// for draws on no rationed build (those guard against traffic cycling
    /// through sizes), but takes a place among the [`MAX_FIXED`], the least
    /// recently used going first.
    pub(crate) fn fix(&self, rows: usize) -> Option<Arc<Plan>> {
        {
            let mut fixed = lock(&self.fixed);
            if fixed.limit == 0 {
                return None;
            }
            if let Some(plan) = fixed.recall(rows) {
                return plan;
            }
        }
        let made = self.make(rows).ok().map(Arc::new);
        lock(&self.fixed).keep(rows, made.clone());
        made
    }

    /// The general plan (used at load to check that a workspace can be made).
    pub(crate) fn general(&self) -> &Arc<Plan> {
        &self.general
    }

    /// Batch sizes with a fixed plan, least recently used first.
    pub(crate) fn fixed_sizes(&self) -> Vec<usize> {
        lock(&self.fixed).plans.iter().filter(|(_, p)| p.is_some()).map(|(r, _)| *r).collect()
    }

    fn make(&self, rows: usize) -> Result<Plan> {
        let Some(source) = &self.source else {
            return Err(Error::model(format!("onnx: no fixed plans for this model (batch size {rows})")));
        };
        let mut values = HashMap::new();
        values.insert(self.batch.clone(), rows.to_dim());
        let plan = source
            .set_symbols(&values)
            .and_then(TypedModel::into_optimized)
            .and_then(TypedModel::into_runnable)
            .map_err(|e| model_err(&format!("onnx: cannot fix the batch size to {rows}"), e))?;
        Ok(Plan::new(plan))
    }
}

/// Fixed plans that fit [`FIXED_PLANS_BUDGET`] with `weights` bytes each.
fn fixed_limit(weights: usize) -> usize {
    (FIXED_PLANS_BUDGET / weights.max(1)).min(MAX_FIXED)
}

/// Bytes of the constants a plan may hold its own optimised copy of: every
/// constant except those only gathered from (embedding tables, which every
/// plan shares).
pub(crate) fn weight_bytes(model: &TypedModel) -> usize {
    model
        .nodes()
        .iter()
        .filter_map(|node| {
            let value = node.op_as::<Const>()?.val();
            let consumers = model.outlet_successors(OutletId::new(node.id, 0));
            let gathered_only = consumers.iter().all(|inlet| model.node(inlet.node).op_is::<Gather>());
            (!gathered_only).then(|| value.len().saturating_mul(value.datum_type().size_of()))
        })
        .fold(0usize, usize::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_decides_how_many_sizes_keep_a_plan() {
        assert_eq!(fixed_limit(0), MAX_FIXED);
        assert_eq!(fixed_limit(100_000), MAX_FIXED);
        assert_eq!(fixed_limit(FIXED_PLANS_BUDGET / 3), 3);
        assert_eq!(fixed_limit(FIXED_PLANS_BUDGET / 2 + 1), 1);
        assert_eq!(fixed_limit(FIXED_PLANS_BUDGET + 1), 0);
    }
}
