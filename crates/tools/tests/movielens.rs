//! MovieLens-100K loading and the bundled model on it (feature `data`).
//!
//! Needs the data of `scripts/fetch-movielens.sh`. Without `RELOOP_DATA_DIR`
//! and without the default cache directory the tests skip with a message —
//! except in CI (env `CI` set), where missing data fails them.

use reloop_runtime::{Item, ModelOutput};
use reloop_tools::movielens::Dataset;

fn dataset() -> Option<Dataset> {
    let dir = Dataset::default_dir();
    let explicit = std::env::var_os("RELOOP_DATA_DIR").is_some_and(|v| !v.is_empty());
    if !explicit && !dir.exists() {
        let why = format!("MovieLens-100K not found in {} (run scripts/fetch-movielens.sh)", dir.display());
        if std::env::var_os("CI").is_some() {
            panic!("CI is set and {why}");
        }
        eprintln!("skipping: {why}");
        return None;
    }
    Some(Dataset::load(&dir).unwrap_or_else(|e| panic!("{e}")))
}

/// AUC with ties counted one half.
fn auc(scores: &[f32], labels: &[bool]) -> f64 {
    let mut pairs: Vec<(f32, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut rank_sum, mut positives, mut i) = (0.0, 0.0, 0);
    while i < pairs.len() {
        let j = i + pairs[i..].iter().take_while(|p| p.0 == pairs[i].0).count();
        let mid = (i + 1 + j) as f64 / 2.0;
        for p in &pairs[i..j] {
            if p.1 {
                rank_sum += mid;
                positives += 1.0;
            }
        }
        i = j;
    }
    let negatives = pairs.len() as f64 - positives;
    (rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives)
}

#[test]
fn dataset_has_the_documented_shape() {
    let Some(data) = dataset() else { return };
    assert_eq!(data.events.len(), 100_000);
    assert_eq!(data.users.len(), 943);
    assert_eq!(data.items.len(), 1682);
    let users: std::collections::BTreeSet<u32> = data.events.iter().map(|e| e.user).collect();
    let items: std::collections::BTreeSet<u32> = data.events.iter().map(|e| e.item).collect();
    assert_eq!((users.len(), items.len()), (943, 1682));
    assert!(
        data.events
            .windows(2)
            .all(|w| (w[0].timestamp, w[0].user, w[0].item) <= (w[1].timestamp, w[1].user, w[1].item)),
        "events are not sorted by (time, user, item)"
    );
    assert!(data.events.iter().all(|e| (1..=5).contains(&e.rating) && e.label == (e.rating >= 4)));
    let positives = data.events.iter().filter(|e| e.label).count();
    assert_eq!(positives, 55_375);
    // 1997-09-20 .. 1998-04-23
    assert_eq!(data.events.first().map(|e| e.timestamp), Some(874_724_710));
    assert_eq!(data.events.last().map(|e| e.timestamp), Some(893_286_638));

    let split = data.split();
    assert_eq!((split.train.start, split.train.end), (0, 54_000));
    assert_eq!((split.valid.start, split.valid.end), (54_000, 60_000));
    assert_eq!((split.stream.start, split.stream.end), (60_000, 100_000));

    assert_eq!(data.title(1), Some("Toy Story (1995)"));
    assert_eq!(data.year(1), Some(1995));
    assert_eq!(data.genres(1), ["Animation", "Children's", "Comedy"]);
    assert_eq!(data.title(0), None);
    assert!(data.genres(0).is_empty());
}

#[test]
fn features_are_raw_json_values() {
    let Some(data) = dataset() else { return };
    let fields = data.item_fields(1);
    assert_eq!(
        serde_json::Value::Object(fields),
        serde_json::json!({
            "itemId": 1, "genres": ["Animation", "Children's", "Comedy"], "year": 1995
        })
    );
    let e = data.events.iter().find(|e| e.user == 1).copied().unwrap();
    let context = data.context(&e);
    let (hour, weekday) = reloop_tools::movielens::hour_weekday(e.timestamp);
    assert_eq!(
        serde_json::Value::Object(context),
        serde_json::json!({
            "userId": 1, "age": 24, "gender": "M", "occupation": "technician", "zip": "8",
            "hour": hour, "weekday": weekday
        })
    );
    // Some movie has no release date: no `year` (the spec's default applies).
    let undated = data.items.iter().find(|(_, m)| m.year.is_none()).map(|(id, _)| *id).unwrap();
    assert!(!data.item_fields(undated).contains_key("year"));
}

#[test]
fn bundled_model_ranks_the_stream() {
    let Some(data) = dataset() else { return };
    let model = reloop_runtime::bundled::model().unwrap();
    let split = data.split();
    let events = &data.events[split.stream.start..split.stream.start + 2_000];
    let mut scores = Vec::with_capacity(events.len());
    let mut out = ModelOutput::default();
    for chunk in events.chunks(500) {
        let items: Vec<Item> = chunk
            .iter()
            .map(|e| {
                let mut item = data.item_fields(e.item);
                item.extend(data.context(e));
                item
            })
            .collect();
        model.run(&items, &Item::new(), &mut out).unwrap();
        scores.extend_from_slice(out.y_base());
    }
    let labels: Vec<bool> = events.iter().map(|e| e.label).collect();
    let auc = auc(&scores, &labels);
    assert!(auc > 0.6, "stream AUC of the first 2,000 stream events: {auc:.4}");
}

#[test]
fn bundled_model_scores_item_fields_with_context() {
    let Some(data) = dataset() else { return };
    let model = reloop_runtime::bundled::model().unwrap();
    let e = data.events[data.split().stream.start];
    // One user's context, several items: the feed case.
    let items: Vec<Item> = [e.item, 1, 50, 181, 1682].iter().map(|&i| data.item_fields(i)).collect();
    let mut out = ModelOutput::default();
    model.run(&items, &data.context(&e), &mut out).unwrap();
    assert_eq!(out.rows(), 5);
    assert!(out.y_base().iter().all(|p| *p > 0.0 && *p < 1.0));
    assert!(out.hidden().iter().all(|v| v.is_finite()));
    // The same as merging the context into each item.
    let merged: Vec<Item> = items
        .iter()
        .map(|i| {
            let mut m = data.context(&e);
            m.extend(i.clone());
            m
        })
        .collect();
    let mut again = ModelOutput::default();
    model.run(&merged, &Item::new(), &mut again).unwrap();
    // The second run of a batch size runs on a plan fixed to it: the same
    // numbers up to the order tract sums in.
    assert_eq!(out.hidden(), again.hidden());
    for (a, b) in out.y_base().iter().zip(again.y_base()) {
        assert!((a - b).abs() < 1e-6, "{:?} vs {:?}", out.y_base(), again.y_base());
    }
}
