//! MovieLens-100K, read natively from the parquet files that
//! `scripts/fetch-movielens.sh` caches outside git (DESIGN §5): the 100,000
//! ratings as time-sorted [`Event`]s, the users' and items' features, the
//! time split, and each event's model features as JSON maps ([`Item`]) in the
//! form the bundled model's spec reads — the same JSON a JavaScript caller
//! sends.
//!
//! Feature fields (raw values; the spec buckets them):
//!
//! | field | from | JSON |
//! |-------|------|------|
//! | `itemId` | [`Dataset::item_fields`] | movie id, number |
//! | `genres` | [`Dataset::item_fields`] | list of genre names (`"Comedy"`, ...), possibly empty |
//! | `year` | [`Dataset::item_fields`] | release year, number; absent when unknown |
//! | `userId` | [`Dataset::context`] | user id, number |
//! | `age` | [`Dataset::context`] | age in years, number |
//! | `gender` | [`Dataset::context`] | `"M"` or `"F"` |
//! | `occupation` | [`Dataset::context`] | e.g. `"student"` |
//! | `zip` | [`Dataset::context`] | zip prefix: the first character of the zip code, e.g. `"9"` |
//! | `hour` | [`Dataset::context`] | hour of the event, 0–23, UTC |
//! | `weekday` | [`Dataset::context`] | day of the event, 0 = Monday … 6 = Sunday, UTC |
//!
//! The licence of MovieLens forbids redistribution: the data is fetched at
//! set-up time and never committed.
//!
//! # Examples
//! ```no_run
//! use reloop_tools::movielens::Dataset;
//! let data = Dataset::load(&Dataset::default_dir())?;
//! let split = data.split();
//! let first = &data.events[split.stream.start];
//! let item = data.item_fields(first.item);
//! let context = data.context(first);
//! # Ok::<(), reloop_core::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::Value;

use reloop_core::{Error, ErrorKind, Result};
use reloop_runtime::Item;

/// Ratings file inside the data directory.
pub const RATINGS_FILE: &str = "MovieLens100k_data.parquet.brotli";
/// Items (movies) file inside the data directory.
pub const ITEMS_FILE: &str = "MovieLens100k_items.parquet.brotli";
/// Users file inside the data directory.
pub const USERS_FILE: &str = "MovieLens100k_users.parquet.brotli";

/// The genre flag columns of the items file, in file order (the genre names).
pub const GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// One rating: who rated what, when, and whether it counts as a click.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// User id (1-based, as in the data).
    pub user: u32,
    /// Movie id (1-based, as in the data).
    pub item: u32,
    /// Seconds since the Unix epoch.
    pub timestamp: i64,
    /// Stars, 1–5.
    pub rating: u8,
    /// The label: `rating >= 4`.
    pub label: bool,
}

/// A user's features.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Age in years.
    pub age: u32,
    /// `"M"` or `"F"`.
    pub gender: String,
    /// Occupation, e.g. `"student"`.
    pub occupation: String,
    /// Zip code as given (US zip codes, a few foreign postcodes).
    pub zip: String,
}

/// A movie's features.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Movie {
    /// Title with the year, e.g. `"Toy Story (1995)"`.
    pub title: String,
    /// Release year, if the data has a release date.
    pub year: Option<i32>,
    /// Genre names (from [`GENRES`]), possibly empty.
    pub genres: Vec<String>,
}

/// Index ranges of [`Dataset::events`]: the first 60% (train + valid) and the last 40% (stream).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Events the base model is fitted on: the first 90% of the first 60%.
    pub train: Range<usize>,
    /// Events for early stopping: the last 10% of the first 60%.
    pub valid: Range<usize>,
    /// The last 40%, replayed prequentially.
    pub stream: Range<usize>,
}

/// MovieLens-100K in memory.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Ratings sorted by time; ties broken by (user, item).
    pub events: Vec<Event>,
    /// User id → features.
    pub users: BTreeMap<u32, User>,
    /// Movie id → features.
    pub items: BTreeMap<u32, Movie>,
}

fn data_err(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("movielens: {}: {why} (run scripts/fetch-movielens.sh to fetch the data)", path.display()),
    )
}

/// Reads every row of a parquet file as (column name → value) lists.
fn read_rows(path: &Path) -> Result<Vec<Vec<(String, Field)>>> {
    let file = File::open(path).map_err(|e| data_err(path, format!("cannot open: {e}")))?;
    let reader = SerializedFileReader::new(file).map_err(|e| data_err(path, format!("not a parquet file: {e}")))?;
    let rows = reader.get_row_iter(None).map_err(|e| data_err(path, format!("cannot read rows: {e}")))?;
    rows.map(|row| row.map(|r| r.into_columns()).map_err(|e| data_err(path, format!("cannot read a row: {e}"))))
        .collect()
}

/// A row's value of column `name`.
fn column<'a>(path: &Path, row: &'a [(String, Field)], name: &str) -> Result<&'a Field> {
    row.iter().find(|(n, _)| n == name).map(|(_, f)| f).ok_or_else(|| data_err(path, format!("no column `{name}`")))
}

fn int(path: &Path, row: &[(String, Field)], name: &str) -> Result<i64> {
    match column(path, row, name)? {
        Field::Long(v) => Ok(*v),
        Field::Int(v) => Ok(i64::from(*v)),
        other => Err(data_err(path, format!("column `{name}`: expected an integer, got {other}"))),
    }
}

fn string(path: &Path, row: &[(String, Field)], name: &str) -> Result<Option<String>> {
    match column(path, row, name)? {
        Field::Str(s) => Ok(Some(s.clone())),
        Field::Null => Ok(None),
        other => Err(data_err(path, format!("column `{name}`: expected a string, got {other}"))),
    }
}

fn id(path: &Path, row: &[(String, Field)], name: &str) -> Result<u32> {
    let v = int(path, row, name)?;
    u32::try_from(v).map_err(|_| data_err(path, format!("column `{name}`: id {v} out of range")))
}

/// The year of a release date like `01-Jan-1995`.
fn parse_year(date: &str) -> Option<i32> {
    let year = date.rsplit('-').next()?;
    year.trim().parse().ok()
}

impl Dataset {
    /// Loads the three parquet files from `dir`.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidInput`] naming the file if one is missing,
    /// unreadable or lacks a column, or if a rating names an unknown user
    /// or item.
    pub fn load(dir: &Path) -> Result<Dataset> {
        let path = dir.join(USERS_FILE);
        let mut users = BTreeMap::new();
        for row in read_rows(&path)? {
            let user = id(&path, &row, "user_id")?;
            let age = int(&path, &row, "age")?;
            let age = u32::try_from(age).map_err(|_| data_err(&path, format!("user {user}: age {age}")))?;
            let text = |name: &str| string(&path, &row, name).map(Option::unwrap_or_default);
            users.insert(
                user,
                User { age, gender: text("gender")?, occupation: text("occupation")?, zip: text("zip_code")? },
            );
        }

        let path = dir.join(ITEMS_FILE);
        let mut items = BTreeMap::new();
        for row in read_rows(&path)? {
            let item = id(&path, &row, "movie_id")?;
            let title = string(&path, &row, "movie_title")?.unwrap_or_default();
            let year = string(&path, &row, "release_date")?.as_deref().and_then(parse_year);
            let mut genres = Vec::new();
            for genre in GENRES {
                if int(&path, &row, genre)? != 0 {
                    genres.push(genre.to_string());
                }
            }
            items.insert(item, Movie { title, year, genres });
        }

        let path = dir.join(RATINGS_FILE);
        let rows = read_rows(&path)?;
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let user = id(&path, &row, "user_id")?;
            let item = id(&path, &row, "movie_id")?;
            let timestamp = int(&path, &row, "timestamp")?;
            let rating = int(&path, &row, "rating")?;
            let rating = u8::try_from(rating)
                .ok()
                .filter(|r| (1..=5).contains(r))
                .ok_or_else(|| data_err(&path, format!("rating {rating} of user {user} on item {item}")))?;
            if !users.contains_key(&user) {
                return Err(data_err(&path, format!("rating names unknown user {user}")));
            }
            if !items.contains_key(&item) {
                return Err(data_err(&path, format!("rating names unknown item {item}")));
            }
            events.push(Event { user, item, timestamp, rating, label: rating >= 4 });
        }
        events.sort_by_key(|e| (e.timestamp, e.user, e.item));
        Ok(Dataset { events, users, items })
    }

    /// Where `scripts/fetch-movielens.sh` puts the data:
    /// `$RELOOP_DATA_DIR`, else `$XDG_CACHE_HOME/reloop-edge/movielens-100k`,
    /// else `$HOME/.cache/reloop-edge/movielens-100k`.
    pub fn default_dir() -> PathBuf {
        let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(dir) = set("RELOOP_DATA_DIR") {
            return dir;
        }
        let cache = set("XDG_CACHE_HOME")
            .or_else(|| set("HOME").map(|home| home.join(".cache")))
            .unwrap_or_else(|| PathBuf::from(".cache"));
        cache.join("reloop-edge").join("movielens-100k")
    }

    /// The time split (DESIGN §5): the first 60% of the events train the
    /// base model (its last tenth is held out for early stopping), the last
    /// 40% are the stream.
    pub fn split(&self) -> Split {
        let n = self.events.len();
        let head = n * 6 / 10;
        let train = head - head / 10;
        Split { train: 0..train, valid: train..head, stream: head..n }
    }

    /// The item's model features: `itemId`, `genres`, `year` (absent if unknown).
    pub fn item_fields(&self, item: u32) -> Item {
        let mut fields = Item::new();
        fields.insert("itemId".into(), Value::from(item));
        let movie = self.items.get(&item);
        let genres = movie.map(|m| m.genres.iter().cloned().map(Value::from).collect()).unwrap_or_default();
        fields.insert("genres".into(), Value::Array(genres));
        if let Some(year) = movie.and_then(|m| m.year) {
            fields.insert("year".into(), Value::from(year));
        }
        fields
    }

    /// The event's context: the user's features (`userId`, `age`, `gender`,
    /// `occupation`, `zip`) and the event time (`hour`, `weekday`, UTC).
    pub fn context(&self, e: &Event) -> Item {
        let mut fields = Item::new();
        fields.insert("userId".into(), Value::from(e.user));
        if let Some(user) = self.users.get(&e.user) {
            fields.insert("age".into(), Value::from(user.age));
            fields.insert("gender".into(), Value::from(user.gender.as_str()));
            fields.insert("occupation".into(), Value::from(user.occupation.as_str()));
            let zip: String = user.zip.chars().take(1).collect();
            fields.insert("zip".into(), Value::from(zip));
        }
        let (hour, weekday) = hour_weekday(e.timestamp);
        fields.insert("hour".into(), Value::from(hour));
        fields.insert("weekday".into(), Value::from(weekday));
        fields
    }

    /// The `n` movies rated most often among the first `end` events (ties by
    /// id): the demo page's feed candidates, from the period the model was
    /// trained on.
    pub fn most_rated(&self, n: usize, end: usize) -> Vec<u32> {
        let mut ratings: BTreeMap<u32, usize> = BTreeMap::new();
        for e in self.events.get(..end).unwrap_or(&self.events) {
            *ratings.entry(e.item).or_default() += 1;
        }
        let mut popular: Vec<(u32, usize)> = ratings.into_iter().collect();
        popular.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        popular.iter().take(n).map(|&(id, _)| id).collect()
    }

    /// The movie's title, e.g. `"Toy Story (1995)"`.
    pub fn title(&self, item: u32) -> Option<&str> {
        self.items.get(&item).map(|m| m.title.as_str())
    }

    /// The movie's release year, if known.
    pub fn year(&self, item: u32) -> Option<i32> {
        self.items.get(&item).and_then(|m| m.year)
    }

    /// The movie's genre names (empty for an unknown item).
    pub fn genres(&self, item: u32) -> &[String] {
        self.items.get(&item).map_or(&[], |m| m.genres.as_slice())
    }
}

/// Hour (0–23) and weekday (0 = Monday … 6 = Sunday) of a Unix time, UTC.
pub fn hour_weekday(timestamp: i64) -> (u32, u32) {
    let hour = timestamp.rem_euclid(86_400) / 3_600;
    // 1970-01-01 was a Thursday (weekday 3).
    let weekday = (timestamp.div_euclid(86_400) + 3).rem_euclid(7);
    (hour as u32, weekday as u32)
}

/// The model fields of `export`ed logs, in column order (CSV).
pub const EXPORT_FIELDS: [&str; 10] =
    ["userId", "age", "gender", "occupation", "zip", "hour", "weekday", "itemId", "genres", "year"];

impl Dataset {
    /// Writes `range` of the events as a user's log would hold them (what
    /// `reloop replay` reads): columns `ts` (Unix seconds), `uid`, `clicked`
    /// and the model's fields ([`EXPORT_FIELDS`]); JSONL, or CSV with the
    /// genres as a JSON list.
    ///
    /// # Errors
    /// Whatever writing to `out` returns.
    pub fn export(&self, range: Range<usize>, csv: bool, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        if csv {
            writeln!(out, "ts,uid,clicked,{}", EXPORT_FIELDS.join(","))?;
        }
        for e in &self.events[range] {
            let mut row = self.context(e);
            row.extend(self.item_fields(e.item));
            if csv {
                let cell = |k: &str| match row.get(k) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(v @ Value::Array(_)) => format!("\"{}\"", v.to_string().replace('"', "\"\"")),
                    Some(v) => v.to_string(),
                };
                let cells: Vec<String> = EXPORT_FIELDS.iter().map(|k| cell(k)).collect();
                writeln!(out, "{},{},{},{}", e.timestamp, e.user, u8::from(e.label), cells.join(","))?;
            } else {
                row.insert("ts".into(), Value::from(e.timestamp));
                row.insert("uid".into(), Value::from(e.user));
                row.insert("clicked".into(), Value::from(e.label));
                serde_json::to_writer(&mut *out, &row)?;
                writeln!(out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_and_weekdays_are_utc() {
        assert_eq!(hour_weekday(0), (0, 3)); // Thursday 1970-01-01 00:00
        assert_eq!(hour_weekday(881_250_949), (15, 3)); // Thursday 1997-12-04 15:55:49
        assert_eq!(hour_weekday(-1), (23, 2));
    }

    #[test]
    fn release_years_are_parsed() {
        assert_eq!(parse_year("01-Jan-1995"), Some(1995));
        assert_eq!(parse_year(""), None);
    }

    #[test]
    fn split_is_60_40_with_a_tenth_held_out() {
        let event = Event { user: 1, item: 1, timestamp: 0, rating: 4, label: true };
        let data = Dataset { events: vec![event; 100_000], users: BTreeMap::new(), items: BTreeMap::new() };
        let split = data.split();
        assert_eq!(split.train, 0..54_000);
        assert_eq!(split.valid, 54_000..60_000);
        assert_eq!(split.stream, 60_000..100_000);
    }
}
