//! Builds the replay [`Stream`]: every event is run once through the frozen
//! model (batched, [`StreamBuilder`]), then the events are put in time order
//! and grouped into users and sessions (named by the log, or split at
//! 1-hour gaps). [`build`] does it for MovieLens; [`crate::log`] feeds it a
//! user's own log.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use crate::movielens::Dataset;
use reloop_core::{Error, Result};
use reloop_runtime::Item;
use reloop_runtime::{Model, ModelOutput, ModelSpec};

use crate::log::{self, Columns, Format};

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
            .run_unsplit(&items, &empty, &mut out)
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
    let p0 = model.p0().ok_or_else(|| Error::config("p0: the model's spec has none"))?;
    let mut builder = StreamBuilder::new(model, p0);
    for (i, e) in dataset.events[range].iter().enumerate() {
        let mut item = dataset.context(e);
        item.extend(dataset.item_fields(e.item));
        let event =
            Event { line: i, time: e.timestamp as f64, user: &e.user.to_string(), session: None, label: e.label };
        if builder.push(item, &event)? {
            progress(builder.len());
        }
    }
    let stream = builder.finish(SESSION_GAP_SECONDS as f64)?;
    progress(stream.len());
    Ok(stream)
}

/// What the replay keeps of one event besides the model's outputs.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    /// Where it came from (a line or row number), for errors.
    pub line: usize,
    /// When it happened, in seconds (any origin).
    pub time: f64,
    /// Whose it is.
    pub user: &'a str,
    /// Its session, if the log names sessions (else they are split at gaps).
    pub session: Option<&'a str>,
    /// Whether it was clicked.
    pub label: bool,
}

/// Builds a [`Stream`] event by event: items are batched through the model
/// as they come (only the outputs are kept, so a long log streams through
/// in bounded memory: 4 + 4·d bytes and a few indices per event), then
/// [`StreamBuilder::finish`] puts the events in time order (stable: ties
/// keep their order) and numbers users and sessions by first appearance.
#[derive(Debug)]
pub struct StreamBuilder<'m> {
    model: &'m Model,
    batch: usize,
    items: Vec<Item>,
    lines: Vec<usize>,
    out: ModelOutput,
    empty: Item,
    stream: Stream,
    times: Vec<f64>,
    users: Interner,
    user_of: Vec<u32>,
    sessions: Interner,
    session_of: Vec<Option<u32>>,
}

/// Dense numbers for strings, in order of first appearance.
#[derive(Debug, Default)]
struct Interner {
    ids: HashMap<String, u32>,
}

impl Interner {
    fn id(&mut self, key: &str) -> u32 {
        if let Some(&id) = self.ids.get(key) {
            return id;
        }
        let id = self.ids.len() as u32;
        self.ids.insert(key.to_owned(), id);
        id
    }
}

impl<'m> StreamBuilder<'m> {
    /// A builder over `model`; `p0` is the stream's label-rate prior (the
    /// spec's, or one computed from the log).
    pub fn new(model: &'m Model, p0: f32) -> StreamBuilder<'m> {
        let dim = model.hidden_dim();
        let batch = model.encoder().max_batch().clamp(1, 512);
        StreamBuilder {
            model,
            batch,
            items: Vec::with_capacity(batch),
            lines: Vec::with_capacity(batch),
            out: ModelOutput::default(),
            empty: Item::new(),
            stream: Stream { dim, centre: model.mu().map(<[f32]>::to_vec), p0, ..Stream::default() },
            times: Vec::new(),
            users: Interner::default(),
            user_of: Vec::new(),
            sessions: Interner::default(),
            session_of: Vec::new(),
        }
    }

    /// Events pushed so far.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// True before the first event.
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Adds an event with its model fields; returns whether a batch ran.
    ///
    /// # Errors
    /// A field the model cannot encode, or a model failure, naming the
    /// event's line; a time that is not finite.
    pub fn push(&mut self, item: Item, event: &Event<'_>) -> Result<bool> {
        if !event.time.is_finite() {
            return Err(Error::input(format!("line {}: the time is not a finite number", event.line)));
        }
        self.times.push(event.time);
        self.user_of.push(self.users.id(event.user));
        let session = event.session.map(|s| self.sessions.id(&format!("{}\u{0}{s}", event.user)));
        self.session_of.push(session);
        self.stream.label.push(event.label);
        self.items.push(item);
        self.lines.push(event.line);
        if self.items.len() < self.batch {
            return Ok(false);
        }
        self.flush()?;
        Ok(true)
    }

    fn flush(&mut self) -> Result<()> {
        if self.items.is_empty() {
            return Ok(());
        }
        // The whole model on every row (not the first-layer split a page of
        // items may take when served): its own scores, whatever page an
        // event falls in, so a log in another order gives the same metrics.
        if let Err(e) = self.model.run_unsplit(&self.items, &self.empty, &mut self.out) {
            // Name the line: the first item that fails on its own.
            for (item, line) in self.items.iter().zip(&self.lines) {
                if let Err(e) = self.model.run_unsplit(std::slice::from_ref(item), &self.empty, &mut self.out) {
                    let message = e.message().strip_prefix("item 0: ").unwrap_or(e.message()).to_owned();
                    return Err(Error::new(e.kind(), format!("line {line}: {message}")));
                }
            }
            return Err(e.with_context(format_args!("lines {}..", self.lines.first().copied().unwrap_or(0))));
        }
        self.stream.y_base.extend_from_slice(self.out.y_base());
        self.stream.hidden.extend_from_slice(self.out.hidden());
        self.items.clear();
        self.lines.clear();
        Ok(())
    }

    /// Runs the last batch and returns the stream in time order, sessions
    /// split where a user's events are more than `gap` seconds apart (when
    /// the log names no sessions).
    ///
    /// # Errors
    /// As [`StreamBuilder::push`].
    pub fn finish(mut self, gap: f64) -> Result<Stream> {
        self.flush()?;
        let n = self.times.len();
        let mut order: Vec<usize> = (0..n).collect();
        if self.times.windows(2).any(|w| w[1] < w[0]) {
            order.sort_by(|&a, &b| self.times[a].total_cmp(&self.times[b]));
        }
        let dim = self.stream.dim;
        let mut stream = Stream { dim, centre: self.stream.centre.take(), p0: self.stream.p0, ..Stream::default() };
        stream.y_base.reserve(n);
        stream.hidden.reserve(n * dim);
        let mut users: HashMap<u32, u32> = HashMap::new();
        let mut named: HashMap<u32, u32> = HashMap::new();
        let mut last: HashMap<u32, (f64, u32)> = HashMap::new();
        let mut sessions = 0u32;
        for &i in &order {
            stream.y_base.push(self.stream.y_base[i]);
            stream.hidden.extend_from_slice(&self.stream.hidden[i * dim..(i + 1) * dim]);
            stream.label.push(self.stream.label[i]);
            let raw = self.user_of[i];
            let next = users.len() as u32;
            stream.user.push(*users.entry(raw).or_insert(next));
            let t = self.times[i];
            let session = match self.session_of[i] {
                Some(s) => *named.entry(s).or_insert_with(|| {
                    sessions += 1;
                    sessions - 1
                }),
                None => match last.get(&raw) {
                    Some(&(prev, s)) if t - prev <= gap => s,
                    _ => {
                        sessions += 1;
                        sessions - 1
                    }
                },
            };
            last.insert(raw, (t, session));
            stream.session.push(session);
        }
        Ok(stream)
    }
}

/// Where a replay's events come from: a user's log ([`crate::log`]).
#[derive(Clone, Copy, Debug)]
pub struct LogSource<'a> {
    /// The log file.
    pub path: &'a Path,
    /// Its format (default: from the extension).
    pub format: Option<Format>,
    /// Its time, user, session and label columns (time, user and label required).
    pub columns: &'a Columns,
    /// Seconds without an event that end a session (when the log names none).
    pub gap: f64,
}

impl LogSource<'_> {
    fn check_columns(&self) -> Result<()> {
        for (flag, column) in
            [("--time", &self.columns.time), ("--user", &self.columns.user), ("--label", &self.columns.label)]
        {
            if column.as_deref().is_none_or(str::is_empty) {
                return Err(Error::input(format!("a replay needs the log's {flag} column")));
            }
        }
        Ok(())
    }
}

/// The label rate of the first `share` of the log's events in time order
/// (the tuning part), and how many events that is: the `p0` of a spec that
/// has none. Reads only the time and label columns.
///
/// # Errors
/// As [`crate::log::read`]; an empty log.
pub fn label_rate(source: &LogSource<'_>, spec: &ModelSpec, share: f64) -> Result<(f32, usize)> {
    source.check_columns()?;
    let mut events: Vec<(f64, bool)> = Vec::new();
    let labels_only = ModelSpec { fields: Default::default(), ..spec.clone() };
    log::read(source.path, source.format, source.columns, &labels_only, &mut |row| {
        events.push((row.time.unwrap_or(0.0), row.label.unwrap_or(false)));
        Ok(())
    })?;
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let cut = ((events.len() as f64 * share).round() as usize).clamp(1, events.len().max(1));
    let part = events.get(..cut).filter(|p| !p.is_empty()).ok_or_else(|| Error::input("the log has no events"))?;
    let clicks = part.iter().filter(|(_, y)| *y).count();
    // Clamped into (0, 1): a part without clicks (or without non-clicks) still gives a usable prior.
    let rate = ((clicks as f64 + 0.5) / (part.len() as f64 + 1.0)) as f32;
    Ok((rate, part.len()))
}

/// Runs every event of the log through `model` (batched, streaming the
/// file) into a [`Stream`] in time order; `progress` gets the events done.
///
/// # Errors
/// As [`crate::log::read`] and [`StreamBuilder::push`], naming the line.
pub fn from_log(source: &LogSource<'_>, model: &Model, p0: f32, progress: &mut dyn FnMut(usize)) -> Result<Stream> {
    source.check_columns()?;
    let mut builder = StreamBuilder::new(model, p0);
    log::read(source.path, source.format, source.columns, model.spec(), &mut |row| {
        let user = row.user.unwrap_or_default();
        let event = Event {
            line: row.line,
            time: row.time.unwrap_or(0.0),
            user: &user,
            session: row.session.as_deref(),
            label: row.label.unwrap_or(false),
        };
        if builder.push(row.fields, &event)? {
            progress(builder.len());
        }
        Ok(())
    })?;
    let stream = builder.finish(source.gap)?;
    progress(stream.len());
    Ok(stream)
}
