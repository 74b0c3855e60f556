//! Hashes the bundled model at build time, so loading it does not.
//!
//! A model's identity is SHA-256 over its ONNX bytes and its spec's
//! canonical JSON, each prefixed by its length
//! (`reloop_core::ModelId::digest`). Computing it was a fifth of
//! `bundled::model()` natively, and more in wasm, where a run-once function
//! stays in the baseline compiler's code. The bundled spec file is its
//! canonical form and a newline (as `make model` writes it), so its bytes
//! without the newline are what the identity hashes; `bundled::tests` check
//! both that and the identity against the run-time digest.

use std::path::Path;
use std::{env, fs};

use sha2::{Digest, Sha256};

fn main() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let mut hasher = Sha256::new();
    for file in ["movielens.onnx", "movielens.spec.json"] {
        let path = models.join(file);
        println!("cargo::rerun-if-changed={}", path.display());
        let mut bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if file.ends_with(".json") && bytes.last() == Some(&b'\n') {
            bytes.pop();
        }
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let id: [u8; 32] = hasher.finalize().into();
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("bundled_id.rs");
    fs::write(
        out,
        format!("/// SHA-256 identity of the bundled model (build.rs).\nconst BUNDLED_ID: [u8; 32] = {id:?};\n"),
    )
    .expect("write bundled_id.rs");
}
