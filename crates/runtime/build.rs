//! Hashes the bundled model at build time, so loading it does not.
//!
//! A model's identity is `reloop_core::ModelId::digest` of its ONNX bytes
//! and its spec's canonical JSON, called here on the files. Computing it was a fifth of
//! `bundled::model()` natively, and more in wasm, where a run-once function
//! stays in the baseline compiler's code. The bundled spec file is its
//! canonical form and a newline (as `make model` writes it), so its bytes
//! without the newline are what the identity hashes; `bundled::tests` check
//! both that and the identity against the run-time digest.

use std::path::Path;
use std::{env, fs};

use reloop_core::ModelId;

fn main() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let read = |file: &str| {
        let path = models.join(file);
        println!("cargo::rerun-if-changed={}", path.display());
        fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let onnx = read("movielens.onnx");
    let spec = read("movielens.spec.json");
    let spec = spec.strip_suffix(b"\n").unwrap_or(&spec);
    let id = ModelId::digest(&[&onnx, spec]);
    let id = id.as_bytes();
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("bundled_id.rs");
    fs::write(
        out,
        format!("/// SHA-256 identity of the bundled model (build.rs).\nconst BUNDLED_ID: [u8; 32] = {id:?};\n"),
    )
    .expect("write bundled_id.rs");
}
