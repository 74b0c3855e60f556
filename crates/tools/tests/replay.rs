//! Replay smoke test on the fetched MovieLens data: a few thousand stream
//! events through the bundled model and the real loop; the error memory must
//! improve log-loss over the frozen base on the reported part.

mod common;

use reloop_tools::replay::{self, Method, Protocol, Scope};

#[test]
fn the_loop_improves_logloss_over_the_frozen_base() {
    let Some(dataset) = common::dataset() else { return };
    let model = reloop_runtime::bundled::model().expect("bundled model");
    let stream_range = dataset.split().stream;
    let range = stream_range.start..stream_range.start + 4000;
    let stream = replay::stream::build(&dataset, &model, range, &mut |_| {}).expect("stream");
    assert_eq!(stream.len(), 4000);
    assert_eq!(stream.hidden.len(), 4000 * stream.dim);
    assert!(stream.session.iter().max() >= stream.user.iter().max(), "sessions split users");

    let protocol =
        Protocol { rounds: 1, resamples: 50, scopes: vec![Scope::Session, Scope::User], ..Protocol::default() };
    let report = replay::evaluate(&[("bundled", &stream)], None, &protocol, &mut |_, _| {});
    assert_eq!(report.tune_events, 1000);
    let row = |name: &str| report.rows.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("row {name}"));
    let frozen = row("frozen");
    assert_eq!(frozen.method, Method::Frozen);
    for name in
        ["intent/session", "intent/user", "recommended/session", "residual/session", "residual/user", "bias/user"]
    {
        let r = row(name);
        assert!(
            r.metrics.logloss < frozen.metrics.logloss,
            "{name}: logloss {} not below frozen {}",
            r.metrics.logloss,
            frozen.metrics.logloss
        );
        assert!(r.logloss_ci.lo <= r.metrics.logloss && r.metrics.logloss <= r.logloss_ci.hi);
    }
    let md = report.markdown();
    assert!(md.contains("| intent/session |") && md.contains("paired"), "{md}");
}
