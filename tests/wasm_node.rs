//! The JS API (src/js.rs) in Node, through wasm-bindgen's real glue:
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
//! cargo test --target wasm32-unknown-unknown --test wasm_node` (or
//! `make test-wasm`). The same cases run in Chromium from tests/wasm_browser.rs.
#![cfg(target_arch = "wasm32")]

mod common_wasm;
