//! Session intent on MovieLens (needs `make data`; skips without it unless
//! CI is set): the shipped key and estimator react to what a session wants.
//!
//! * The demo page's scenario natively: three likes of one genre lift that
//!   genre's movies at least three times as much as the others and change
//!   the top ten with the package defaults — and did not with the previous
//!   defaults on the last hidden layer.
//! * The key tells a session's items apart: two movies of different genres
//!   rated in one session land in the same bucket far less often under the
//!   shipped key than under the last hidden layer.

mod common;

use common::dataset;
use reloop_core::{Sketch, SketchConfig};
use reloop_runtime::{Model, ModelSpec, SessionOptions};
use reloop_tools::movielens::Dataset;
use reloop_tools::replay::{feed, keys, stream, tune};

fn previous_model(data: &Dataset) -> (Model, SessionOptions) {
    let bundled = ModelSpec::from_json(reloop_runtime::bundled::spec_json()).unwrap();
    let onnx = reloop_runtime::bundled::onnx();
    let spec = keys::with_key(onnx, &bundled, keys::HIDDEN.key, data, data.split().train).unwrap();
    let model = Model::load(onnx, spec).unwrap();
    let options = SessionOptions::of(&tune::previous_defaults(model.hidden_dim(), model.p0().expect("bundled p0")));
    (model, options)
}

#[test]
fn three_likes_of_one_genre_lift_that_genre_with_the_package_defaults() {
    let Some(data) = dataset() else { return };
    let model = reloop_runtime::bundled::model().unwrap();
    let lift = feed::genre_lift(&data, &model, &SessionOptions::default(), feed::PAGE_GENRE).unwrap();
    eprintln!("shipped: {lift:?}, ratio {:.2}", lift.ratio());
    assert!(lift.liked > 0.01, "{lift:?}");
    assert!(
        lift.ratio() >= 3.0,
        "{} lift {:.4} is not 3x the others' {:.4}",
        feed::PAGE_GENRE,
        lift.liked,
        lift.others
    );
    assert!(lift.top10_changed, "{lift:?}");
    for genre in feed::MINORITY_GENRES {
        let l = feed::genre_lift(&data, &model, &SessionOptions::default(), genre).unwrap();
        eprintln!("  {genre}: liked {:+.4} others {:+.4} ratio {:.2}", l.liked, l.others, l.ratio());
        assert!(l.liked > l.others, "{genre}: {l:?}");
    }
    // The previous defaults, on the last hidden layer, lifted everything alike.
    let (previous, options) = previous_model(&data);
    let before = feed::genre_lift(&data, &previous, &options, feed::PAGE_GENRE).unwrap();
    eprintln!("previous: {before:?}, ratio {:.2}", before.ratio());
    assert!(before.ratio() < 2.0, "{before:?}");
}

/// The share of (pair, array) where two movies with no genre in common,
/// rated in the same session, fall into the same bucket.
fn same_bucket_share(data: &Dataset, model: &Model) -> f64 {
    let split = data.split();
    let range = split.stream.start..split.stream.start + 6000;
    let events = &data.events[range.clone()];
    let s = stream::build(data, model, range, &mut |_| {}).unwrap();
    let config = SketchConfig { dim: u32::try_from(s.dim).unwrap(), ..SketchConfig::default() };
    let sketch = Sketch::new(config, s.centre.clone()).unwrap();
    let buckets: Vec<Vec<usize>> =
        (0..s.len()).map(|i| sketch.bucket_indices(&s.hidden[i * s.dim..(i + 1) * s.dim]).unwrap()).collect();
    let (mut same, mut total) = (0usize, 0usize);
    for i in 0..s.len() {
        for j in (i + 1)..s.len().min(i + 200) {
            if s.session[i] != s.session[j] {
                continue;
            }
            let (a, b) = (data.genres(events[i].item), data.genres(events[j].item));
            if a.is_empty() || b.is_empty() || a.iter().any(|g| b.contains(g)) {
                continue;
            }
            same += buckets[i].iter().zip(&buckets[j]).filter(|(x, y)| x == y).count();
            total += buckets[i].len();
        }
    }
    assert!(total > 10_000, "only {total} pairs");
    same as f64 / total as f64
}

#[test]
fn the_shipped_key_tells_a_sessions_genres_apart() {
    let Some(data) = dataset() else { return };
    let shipped = same_bucket_share(&data, &reloop_runtime::bundled::model().unwrap());
    let hidden = same_bucket_share(&data, &previous_model(&data).0);
    eprintln!(
        "two movies of different genres in one session share a bucket: {:.1}% (hidden layer) vs {:.1}% (shipped key)",
        100.0 * hidden,
        100.0 * shipped
    );
    assert!(shipped * 2.0 < hidden, "shipped key {shipped:.3} vs hidden layer {hidden:.3}");
}
