//! The JS API (src/js.rs) in headless Chromium, through wasm-bindgen's real
//! glue: `CHROMEDRIVER=/usr/bin/chromedriver
//! CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
//! cargo test --target wasm32-unknown-unknown --test wasm_browser` (or
//! `make test-wasm`). The same cases run in Node from tests/wasm_node.rs.
#![cfg(target_arch = "wasm32")]

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common_wasm;
