//! Items scored through the first-layer split ([`reloop_runtime::column_shares`]):
//! pages of at least `SPLIT_MIN_ROWS` items score within 1e-5 of the whole
//! model (`Model::run_unsplit`), with the bundled model's keys (inside the
//! first layer, one column each) bit for bit; the split is made by the
//! second page; a page that brings more new float rows than the store can
//! keep takes the whole model, bit for bit; errors are the whole model's.

mod common;

use common::{Head, assert_close, item, mlp_spec};
use reloop_runtime::column_shares::FLOAT_ROWS;
use reloop_runtime::model::SPLIT_MIN_ROWS;
use reloop_runtime::plans::FIX_AFTER;
use reloop_runtime::{Item, Model, ModelOutput};
use serde_json::json;

const TOLERANCE: f32 = 1e-5;

/// Scores `items` by `run` and by `run_unsplit`: within tolerance, and
/// with `exact_key` the keys bit for bit. Returns whether every score was
/// bit for bit the whole model's.
fn compare(model: &Model, items: &[Item], context: &Item, exact_key: bool, what: &str) -> bool {
    let (mut got, mut want) = (ModelOutput::default(), ModelOutput::default());
    // The size's plan settles first (a size run again gets a fixed plan,
    // equal to the general one only up to the last bits).
    for _ in 0..FIX_AFTER {
        model.run_unsplit(items, context, &mut want).unwrap();
    }
    model.run(items, context, &mut got).unwrap();
    model.run_unsplit(items, context, &mut want).unwrap();
    assert_eq!(got.rows(), items.len(), "{what}: rows");
    assert_close(&got, &want, TOLERANCE, what);
    if exact_key {
        assert!(got.hidden() == want.hidden(), "{what}: keys differ");
    }
    assert!(want.y_base().iter().any(|p| (p - want.y_base()[0]).abs() > 1e-4), "{what}: scores all alike");
    got.y_base() == want.y_base()
}

/// The bundled contexts, and one of unknown values (the out-of-vocabulary
/// rows of the tables).
fn contexts() -> Vec<Item> {
    let mut contexts = common::bundled_contexts();
    contexts.push(item(
        json!({ "userId": "nobody", "age": 3, "gender": "?", "occupation": "?", "zip": "?", "hour": 23, "weekday": 6 }),
    ));
    contexts
}

/// The bundled model's 18 genres, then one it does not know.
fn genres() -> Vec<String> {
    let mut genres = common::bundled_genres();
    assert_eq!(genres.len(), 18);
    genres.push("no-such-genre".into());
    genres
}

/// A page of `n` items, item `i` with genres from `genres(i)`.
fn page(n: usize, genres: impl Fn(usize) -> Vec<String>) -> Vec<Item> {
    (0..n)
        .map(|i| {
            let mut it = item(json!({ "itemId": 1 + (i * 37) % 1700, "genres": genres(i) }));
            // Some items without a year (the spec's default), some carrying a context field.
            if i % 5 != 0 {
                it.insert("year".into(), json!(1930 + (i * 7) % 75));
            }
            if i % 11 == 0 {
                it.insert("hour".into(), json!(i % 24));
            }
            it
        })
        .collect()
}

#[test]
fn the_second_page_makes_the_split_and_pages_score_within_tolerance() {
    let model = reloop_runtime::bundled::model().unwrap();
    let g = genres();
    let items = page(100, |i| vec![g[i % 19].clone(), g[(i / 19) % 19].clone()]);
    let context = &contexts()[0];
    // Pages below the threshold never make it.
    for _ in 0..3 {
        assert!(compare(&model, &items[..SPLIT_MIN_ROWS - 1], context, true, "short page"));
    }
    assert!(!model.splits_items());
    // The first page takes the whole model, the second makes the split.
    assert!(compare(&model, &items, context, true, "first page"));
    assert!(!model.splits_items());
    compare(&model, &items, context, true, "second page");
    assert!(model.splits_items());
    for (c, context) in contexts().iter().enumerate() {
        for n in [SPLIT_MIN_ROWS, 64, 100] {
            compare(&model, &items[..n], context, true, &format!("context {c}, {n} items"));
        }
    }
    // Again on the split's plans fixed to 100 rows.
    model.warm_up_sizes(&[100]).unwrap();
    compare(&model, &items, context, true, "warmed up");
}

#[test]
fn warming_up_a_page_size_makes_the_split_for_items() {
    let model = reloop_runtime::bundled::model().unwrap();
    model.warm_up_sizes(&[SPLIT_MIN_ROWS - 1]).unwrap();
    assert!(!model.splits_items(), "a size below the threshold does not make it");
    model.warm_up_sizes(&[100]).unwrap();
    assert!(model.splits_items());
    let g = genres();
    let items = page(100, |i| vec![g[(i * 3) % 19].clone()]);
    compare(&model, &items, &contexts()[1], true, "first page after the warm-up");
}

/// Genre sets of five: more distinct rows of the genres input than the
/// store keeps. Pages fill it; once it is full, a page of sets it has not
/// met takes the whole model (bit for bit), and a page of sets it keeps
/// takes the split.
#[test]
fn a_full_float_store_sends_pages_of_new_rows_to_the_whole_model() {
    let model = reloop_runtime::bundled::model().unwrap();
    model.warm_up_sizes(&[100]).unwrap();
    // Every set of five of the 18 genres, in order (8,568 of them).
    let g = genres();
    let sets: Vec<Vec<String>> = (0u32..1 << 18)
        .filter(|m| m.count_ones() == 5)
        .map(|m| (0..18).filter(|k| m & (1 << k) != 0).map(|k| g[k].clone()).collect())
        .collect();
    assert!(sets.len() > FLOAT_ROWS + 200);
    let context = &contexts()[2];
    let mut start = 0;
    while start + 100 <= FLOAT_ROWS {
        let items = page(100, |i| sets[start + i].clone());
        compare(&model, &items, context, true, &format!("sets from {start}"));
        start += 100;
    }
    // The store has room for fewer than 100 more: a page of new sets is
    // kept in part, then one of sets never met goes to the whole model.
    let items = page(100, |i| sets[start + i].clone());
    compare(&model, &items, context, true, "the page that fills the store");
    start += 100;
    let new = page(100, |i| sets[start + i].clone());
    assert!(compare(&model, &new, context, true, "new sets, store full"), "not the whole model");
    // Mostly known sets: the split, the few new ones computed for this call only.
    let mixed = page(100, |i| sets[if i < 10 { start + 100 + i } else { i }].clone());
    compare(&model, &mixed, context, true, "known sets, store full");
    assert!(model.splits_items());
}

#[test]
fn a_model_with_a_numeric_column_splits_items_for_every_head() {
    for head in [Head::Sigmoid, Head::Logit, Head::Softmax2] {
        let model = Model::from_json(&common::encode_model(common::mlp_graph(head)), &mlp_spec(head)).unwrap();
        let items: Vec<Item> = (0..64)
            .map(|i| {
                let mut it = item(json!({ "item": format!("i{i}") }));
                if i % 3 != 0 {
                    it.insert("age".into(), json!(18 + i % 7));
                }
                if i % 4 == 0 {
                    it.insert("user".into(), json!(["u1", "u2", "u3", "u9"][i % 4]));
                }
                it
            })
            .collect();
        let context = item(json!({ "user": "u2", "age": 44 }));
        for pass in 0..3 {
            compare(&model, &items, &context, false, &format!("{head:?}, pass {pass}"));
        }
        assert!(model.splits_items(), "{head:?}");
    }
}

#[test]
fn errors_through_the_split_are_the_whole_models() {
    let model = reloop_runtime::bundled::model().unwrap();
    model.warm_up_sizes(&[100]).unwrap();
    assert!(model.splits_items());
    let context = &contexts()[0];
    let g = genres();
    let mut items = page(100, |i| vec![g[i % 19].clone()]);
    items[57].insert("year".into(), json!("not a year"));
    let mut out = ModelOutput::default();
    model.run(&items[..50], context, &mut out).unwrap();
    let got = model.run(&items, context, &mut out).unwrap_err();
    assert_eq!(out.rows(), 0, "the output is left empty");
    let want = model.run_unsplit(&items, context, &mut out).unwrap_err();
    assert_eq!(got.to_string(), want.to_string());
    assert_eq!(got.kind(), want.kind());
    // Too many items: the same error too.
    let many: Vec<Item> = (0..=model.spec().max_batch).map(|i| items[i % 50].clone()).collect();
    let got = model.run(&many, context, &mut out).unwrap_err();
    let want = model.run_unsplit(&many, context, &mut out).unwrap_err();
    assert_eq!(got.to_string(), want.to_string());
}

/// Two models meet the same genre sets in different calls and orders (so
/// each computes their shares in other head runs); the page scored last
/// gets the same scores and keys on both, bit for bit.
#[test]
fn scores_do_not_depend_on_which_call_met_a_value_first() {
    let (a, b) = (reloop_runtime::bundled::model().unwrap(), reloop_runtime::bundled::model().unwrap());
    for model in [&a, &b] {
        model.warm_up_sizes(&[100]).unwrap();
    }
    let g = genres();
    let genres = |i: usize| vec![g[i % 18].clone(), g[(i * 7 + 3) % 18].clone(), g[(i * 5 + 1) % 18].clone()];
    let items = page(100, genres);
    let context = &contexts()[0];
    // `b` meets the sets first in pages of 48, reversed and shifted.
    let mut earlier: Vec<Item> = page(100, |i| genres(99 - i));
    earlier.rotate_left(17);
    let mut out = ModelOutput::default();
    for start in [0, 52] {
        b.run(&earlier[start..start + 48], context, &mut out).unwrap();
    }
    let (mut got_a, mut got_b) = (ModelOutput::default(), ModelOutput::default());
    a.run(&items, context, &mut got_a).unwrap();
    b.run(&items, context, &mut got_b).unwrap();
    assert!(a.splits_items() && b.splits_items());
    assert_eq!(got_a.y_base(), got_b.y_base());
    assert_eq!(got_a.hidden(), got_b.hidden());
}
