//! The demo page's scenario, natively: a new user opens the feed of the 60
//! movies rated most before the stream (the page's feed, Thursday 20:00
//! UTC as its test pins the clock), likes the first three movies of one
//! genre in the order shown, and the feed is scored again. How much more that
//! genre's movies rise than the others' is what a per-session memory is for
//! (reacting to what the user wants now), and what a session-wide offset
//! alone cannot do: the shipped defaults are tuned under it
//! (`replay --tune-defaults`), and the page's Playwright test checks the
//! same in Chromium.

use reloop_core::Result;
use reloop_runtime::{Item, Model, Session, SessionOptions};
use serde_json::json;

use crate::movielens::Dataset;

/// Movies in the page's feed.
pub const FEED_SIZE: usize = 60;

/// The genres with only three or four movies in the feed: lifting one of
/// them is not lifting the whole feed.
pub const MINORITY_GENRES: [&str; 4] = ["Horror", "Children's", "Crime", "Mystery"];

/// The genre the page's test likes.
pub const PAGE_GENRE: &str = "Horror";

/// What three likes of one genre did to the feed.
#[derive(Clone, Debug, PartialEq)]
pub struct GenreLift {
    /// Mean rise (compensated − before, in probability) of the genre's movies.
    pub liked: f64,
    /// Mean rise of the feed's other movies.
    pub others: f64,
    /// Whether the top ten (by compensated score) changed.
    pub top10_changed: bool,
}

impl GenreLift {
    /// `liked / others` (infinite when the others did not rise).
    pub fn ratio(&self) -> f64 {
        if self.others > 0.0 { self.liked / self.others } else { f64::INFINITY }
    }
}

/// The page's default new user (unknown id and zip), Thursday 20:00 UTC.
pub fn new_user() -> Item {
    let context = json!({
        "userId": 0, "age": 30, "gender": "F", "occupation": "engineer", "zip": "", "hour": 20, "weekday": 3
    });
    context.as_object().cloned().unwrap_or_default()
}

/// The scenario for `genre` under `options` (see the module docs).
///
/// # Errors
/// Bad options, or a model that cannot score the feed.
pub fn genre_lift(dataset: &Dataset, model: &Model, options: &SessionOptions, genre: &str) -> Result<GenreLift> {
    let feed = dataset.most_rated(FEED_SIZE, dataset.split().stream.start);
    let movies: Vec<Item> = feed.iter().map(|&id| dataset.item_fields(id)).collect();
    let context = new_user();
    let mut session = Session::new(model, options)?;
    let scores =
        |s: &mut Session| -> Result<Vec<f32>> { Ok(s.score(&movies, &context)?.iter().map(|p| p.score).collect()) };
    // The page shows the feed by score, ties by id.
    let shown = |scores: &[f32]| {
        let mut order: Vec<usize> = (0..feed.len()).collect();
        order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(feed[a].cmp(&feed[b])));
        order
    };
    let before = scores(&mut session)?;
    let in_genre = |i: usize| dataset.genres(feed[i]).iter().any(|g| g == genre);
    for &i in shown(&before).iter().filter(|&&i| in_genre(i)).take(3) {
        session.record(&movies[i], &context, true)?;
    }
    let after = scores(&mut session)?;
    let mean_rise = |pick: &dyn Fn(usize) -> bool| {
        let rises: Vec<f64> = (0..feed.len()).filter(|&i| pick(i)).map(|i| f64::from(after[i] - before[i])).collect();
        rises.iter().sum::<f64>() / rises.len().max(1) as f64
    };
    Ok(GenreLift {
        liked: mean_rise(&in_genre),
        others: mean_rise(&|i| !in_genre(i)),
        top10_changed: shown(&before)[..10] != shown(&after)[..10],
    })
}
