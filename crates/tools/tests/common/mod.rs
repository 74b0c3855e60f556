//! What the MovieLens tests share: the data, or a skip.

use reloop_tools::movielens::Dataset;

/// MovieLens-100K from `RELOOP_DATA_DIR` or the cache of
/// `scripts/fetch-movielens.sh`; `None` (the test skips, saying why) when it
/// is not there — except in CI (env `CI` set), where missing data fails.
pub fn dataset() -> Option<Dataset> {
    let dir = std::env::var_os("RELOOP_DATA_DIR").map_or_else(Dataset::default_dir, Into::into);
    match Dataset::load(&dir) {
        Ok(d) => Some(d),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping: MovieLens not fetched ({e}); run scripts/fetch-movielens.sh");
            None
        }
        Err(e) => panic!("CI must fetch MovieLens first: {e}"),
    }
}
