//! The buckets a catalog keeps per entry ([`reloop_runtime::entry_buckets`]):
//! a call through the split reads an entry's buckets instead of hashing its
//! key where the key is the entry's own, and scores exactly as hashing the
//! keys the call output would, for memories of any plane set, after entries
//! are replaced, and where the context gives a key field (then hashed).

mod common;

use common::item;
use reloop_core::{Memory, Prediction};
use reloop_runtime::{Catalog, Item, Model, Session, SessionOptions};
use serde_json::json;

fn page() -> Vec<Item> {
    (1..=100)
        .map(|i: u32| {
            let genres = [["Action"], ["Comedy"], ["Drama"], ["Horror"], ["War"]][i as usize % 5];
            item(json!({ "itemId": i * 13, "genres": genres, "year": 1940 + i % 60 }))
        })
        .collect()
}

fn contexts() -> Vec<Item> {
    common::bundled_contexts()
}

fn trained(model: &Model, options: &SessionOptions, catalog: &Catalog) -> Session {
    let mut s = Session::new(model, options).unwrap();
    for e in 0..40u32 {
        s.record_catalog(catalog, e * 2 % catalog.len() as u32, &contexts()[0], e % 3 == 0).unwrap();
    }
    s
}

/// What hashing the keys the call output gives, on a copy of the memory as it was.
fn hashed(before: &Memory, session: &Session) -> Vec<Prediction> {
    let mut memory = before.clone();
    let (out, mut want) = (session.last_output(), Vec::new());
    memory.score(out.y_base(), out.hidden(), &mut want).unwrap();
    want
}

fn score_and_check(session: &mut Session, catalog: &Catalog, order: &[u32], context: &Item, what: &str) {
    let before = session.memory().clone();
    let got = session.score_catalog(catalog, order, context).unwrap().to_vec();
    assert_eq!(got, hashed(&before, session), "{what}");
}

#[test]
fn kept_buckets_score_exactly_as_hashing_the_keys() {
    let model = reloop_runtime::bundled::model().unwrap();
    let ids: Vec<String> = (0..100).map(|i| format!("e{i}")).collect();
    let mut catalog = Catalog::new(&model);
    catalog.insert(&ids, &page()).unwrap();
    let order: Vec<u32> = (0..100).rev().collect();
    let plane_sets = [
        SessionOptions::default(),
        SessionOptions { seed: Some(7), ..SessionOptions::default() },
        SessionOptions { bits: Some(8), arrays: Some(6), ..SessionOptions::default() },
    ];
    let mut sessions: Vec<Session> = plane_sets.iter().map(|o| trained(&model, o, &catalog)).collect();
    for round in 0..2 {
        for (k, session) in sessions.iter_mut().enumerate() {
            for (c, context) in contexts().iter().enumerate() {
                score_and_check(session, &catalog, &order, context, &format!("round {round}, set {k}, context {c}"));
            }
        }
        // Every entry's key is its own (genres and year carried): kept once per plane set.
        assert_eq!(catalog.kept_buckets(), 300, "round {round}");
    }
    // Replacing entries forgets what was kept, and the new items score as their keys.
    let replaced: Vec<Item> =
        (0..100).map(|i| item(json!({ "itemId": i + 1, "genres": ["Sci-Fi", "Romance"], "year": 1999 }))).collect();
    catalog.insert(&ids, &replaced).unwrap();
    assert_eq!(catalog.kept_buckets(), 0);
    for (k, session) in sessions.iter_mut().enumerate() {
        score_and_check(session, &catalog, &order, &contexts()[1], &format!("replaced, set {k}"));
    }
    assert_eq!(catalog.kept_buckets(), 300);
    catalog.clear();
    assert_eq!(catalog.kept_buckets(), 0);
}

/// The first `MAX_PLANE_SETS` plane sets are kept; a further one hashes
/// every call (and still scores exactly), keeping nothing.
#[test]
fn plane_sets_past_the_limit_are_hashed_not_kept() {
    use reloop_runtime::entry_buckets::MAX_PLANE_SETS;
    let model = reloop_runtime::bundled::model().unwrap();
    let ids: Vec<String> = (0..100).map(|i| format!("e{i}")).collect();
    let mut catalog = Catalog::new(&model);
    catalog.insert(&ids, &page()).unwrap();
    let order: Vec<u32> = (0..100).collect();
    let seeds = 1..=(MAX_PLANE_SETS as u64 + 2);
    let mut sessions: Vec<Session> = seeds
        .map(|seed| trained(&model, &SessionOptions { seed: Some(seed), ..SessionOptions::default() }, &catalog))
        .collect();
    for round in 0..2 {
        for (k, session) in sessions.iter_mut().enumerate() {
            score_and_check(session, &catalog, &order, &contexts()[0], &format!("round {round}, seed {}", k + 1));
            let sets = if round == 0 { (k + 1).min(MAX_PLANE_SETS) } else { MAX_PLANE_SETS };
            assert_eq!(catalog.kept_buckets(), 100 * sets, "round {round}, seed {}", k + 1);
        }
    }
}

/// Entries without a year take the context's, so their key depends on the
/// call: they are hashed every time, and only the others are kept.
#[test]
fn keys_with_a_context_field_are_hashed_on_every_call() {
    let model = reloop_runtime::bundled::model().unwrap();
    let items: Vec<Item> = (0..60u32)
        .map(|i| match i % 2 {
            0 => item(json!({ "itemId": i + 1, "genres": ["Drama"], "year": 1950 + i })),
            _ => item(json!({ "itemId": i + 1, "genres": ["Comedy"] })),
        })
        .collect();
    let ids: Vec<String> = (0..60).map(|i| format!("e{i}")).collect();
    let mut catalog = Catalog::new(&model);
    catalog.insert(&ids, &items).unwrap();
    let mut session = trained(&model, &SessionOptions::default(), &catalog);
    let order: Vec<u32> = (0..60).collect();
    let with_year = item(
        json!({ "userId": 3, "age": 25, "gender": "M", "occupation": "none", "zip": "1", "hour": 8, "weekday": 2, "year": 1971 }),
    );
    let mut other_year = with_year.clone();
    other_year.insert("year".into(), json!(1994));
    for (c, context) in [&contexts()[0], &with_year, &other_year, &with_year].into_iter().enumerate() {
        score_and_check(&mut session, &catalog, &order, context, &format!("context {c}"));
        assert_eq!(catalog.kept_buckets(), 30, "context {c}");
    }
    // The yearless entries' keys (and so, here, their scores) follow the context.
    let a = session.score_catalog(&catalog, &order, &with_year).unwrap().to_vec();
    let b = session.score_catalog(&catalog, &order, &other_year).unwrap().to_vec();
    assert!((1..60).step_by(2).any(|i| a[i].base != b[i].base), "yearless entries should follow the context's year");
}

/// Impressions of a catalog call record at the buckets the call read.
#[test]
fn impressions_of_a_catalog_call_record_as_their_entries() {
    let model = reloop_runtime::bundled::model().unwrap();
    let ids: Vec<String> = (0..100).map(|i| format!("e{i}")).collect();
    let mut catalog = Catalog::new(&model);
    catalog.insert(&ids, &page()).unwrap();
    let options = SessionOptions::default();
    let (mut a, mut b) = (trained(&model, &options, &catalog), trained(&model, &options, &catalog));
    let order: Vec<u32> = (0..100).collect();
    let context = &contexts()[0];
    for _ in 0..2 {
        a.score_catalog_impressions(&catalog, &order, context, &ids).unwrap();
    }
    for e in [3u32, 50, 99] {
        a.record_impression(&format!("e{e}"), true).unwrap();
        b.record_catalog(&catalog, e, context, true).unwrap();
    }
    let sa = a.score_catalog(&catalog, &order, context).unwrap().to_vec();
    assert_eq!(sa, b.score_catalog(&catalog, &order, context).unwrap());
}
