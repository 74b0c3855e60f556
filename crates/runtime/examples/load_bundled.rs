//! Loads the bundled model once and prints how long it took: the native
//! side of the package's cold start, for a profiler that counts
//! instructions (repeatable on a shared machine, unlike times):
//!
//! ```sh
//! cargo build --profile native -p reloop-runtime --example load_bundled
//! valgrind --tool=callgrind target/native/examples/load_bundled
//! callgrind_annotate --inclusive=yes callgrind.out.*
//! ```

fn main() {
    let started = std::time::Instant::now();
    match reloop_runtime::bundled::model() {
        Ok(model) => println!("bundled model (key width {}) loaded in {:?}", model.hidden_dim(), started.elapsed()),
        Err(e) => {
            eprintln!("load_bundled: {e}");
            std::process::exit(1);
        }
    }
}
