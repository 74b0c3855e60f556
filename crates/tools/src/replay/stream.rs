//! Builds the replay [`Stream`] from MovieLens and a model: every event of
//! the test period is run once through the frozen model (batched), and
//! events are grouped into users and 1-hour-gap sessions.

use std::collections::HashMap;
use std::ops::Range;

use crate::movielens::Dataset;
use reloop_core::Result;
use reloop_runtime::Item;
use reloop_runtime::{Model, ModelOutput};

use super::Stream;

/// A user's session ends after this many seconds without an event.
pub const SESSION_GAP_SECONDS: i64 = 3600;

/// The mean key vector of `model` over `range` of the dataset's events
/// (e.g. the training part: the centring vector `μ` of a new key).
///
/// # Errors
/// Any model or encoding error, naming the event.
pub fn mean_key(dataset: &Dataset, model: &Model, range: Range<usize>) -> Result<Vec<f32>> {
    let events = &dataset.events[range];
    let mut sum = vec![0f64; model.hidden_dim()];
    let empty = Item::new();
    let mut out = ModelOutput::default();
    let batch = model.encoder().max_batch().clamp(1, 512);
    for (done, chunk) in events.chunks(batch).enumerate() {
        let items: Vec<Item> = chunk
            .iter()
            .map(|e| {
                let mut item = dataset.context(e);
                item.extend(dataset.item_fields(e.item));
                item
            })
            .collect();
        model
            .run(&items, &empty, &mut out)
            .map_err(|err| err.with_context(format_args!("events from {}", done * batch)))?;
        for row in out.hidden().chunks_exact(sum.len().max(1)) {
            for (s, v) in sum.iter_mut().zip(row) {
                *s += f64::from(*v);
            }
        }
    }
    let n = events.len().max(1) as f64;
    Ok(sum.iter().map(|s| (s / n) as f32).collect())
}

/// Runs `range` of the dataset's events through `model`; `progress` is
/// called with the number of events done after each batch.
///
/// # Errors
/// Any model or encoding error, naming the event.
pub fn build(dataset: &Dataset, model: &Model, range: Range<usize>, progress: &mut dyn FnMut(usize)) -> Result<Stream> {
    let events = &dataset.events[range];
    let dim = model.hidden_dim();
    let mut stream = Stream { dim, centre: model.mu().map(<[f32]>::to_vec), p0: model.p0(), ..Stream::default() };
    let batch = model.encoder().max_batch().clamp(1, 512);
    let empty = Item::new();
    let mut items: Vec<Item> = Vec::with_capacity(batch);
    let mut out = ModelOutput::default();
    for (done, chunk) in events.chunks(batch).enumerate() {
        items.clear();
        for e in chunk {
            let mut item = dataset.context(e);
            item.extend(dataset.item_fields(e.item));
            items.push(item);
        }
        model
            .run(&items, &empty, &mut out)
            .map_err(|err| err.with_context(format_args!("stream events from {}", done * batch)))?;
        stream.y_base.extend_from_slice(out.y_base());
        stream.hidden.extend_from_slice(out.hidden());
        progress(done * batch + chunk.len());
    }
    let mut users: HashMap<u32, u32> = HashMap::new();
    let mut last: HashMap<u32, (i64, u32)> = HashMap::new();
    let mut sessions = 0u32;
    for e in events {
        let next = users.len() as u32;
        stream.user.push(*users.entry(e.user).or_insert(next));
        let session = match last.get(&e.user) {
            Some(&(t, s)) if e.timestamp - t <= SESSION_GAP_SECONDS => s,
            _ => {
                sessions += 1;
                sessions - 1
            }
        };
        last.insert(e.user, (e.timestamp, session));
        stream.session.push(session);
        stream.label.push(e.label);
    }
    Ok(stream)
}
