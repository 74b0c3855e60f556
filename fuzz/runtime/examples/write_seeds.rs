//! Writes the runtime tests' ONNX fixtures (generated in code by
//! `crates/runtime/tests/common`) into `fuzz/seeds/onnx/`, the seed corpus
//! of the `onnx` target. The bundled model is not copied here: `fuzz/run.sh`
//! copies `models/movielens.onnx` into the working corpus.
//!
//! Run from the repository root after changing the fixtures:
//! `cargo run --manifest-path fuzz/runtime/Cargo.toml --example write_seeds`

use std::path::Path;

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds/onnx");
    std::fs::create_dir_all(&dir)?;
    for base in reloop_runtime_fuzz::bases().iter().filter(|b| b.name != "bundled") {
        let path = dir.join(format!("fixture-{}.onnx", base.name));
        std::fs::write(&path, &base.onnx)?;
        println!("{} ({} bytes)", path.display(), base.onnx.len());
    }
    Ok(())
}
