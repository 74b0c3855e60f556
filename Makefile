# reloop-edge: the two entry points are `make demo` (the main job) and
# `make test` (every test layer). Both work on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

.PHONY: demo test bench fuzz

# Main job: build and run the engine on a synthetic drifting stream.
demo:
	cargo run --locked --release --example drift

# Every test layer: unit, property, golden and doc tests, then lints.
test:
	cargo test --locked --all-targets
	cargo test --locked --doc
	cargo clippy --locked --all-targets -- -D warnings
	cargo fmt --check

# Criterion benchmarks of the engine (minutes; run on demand).
bench:
	cargo bench --locked --bench sketch

# Fuzz the saved-memory decoder for FUZZ_SECONDS (needs `cargo install cargo-fuzz`).
FUZZ_SECONDS ?= 300
fuzz:
	mkdir -p fuzz/corpus/decode && cp tests/golden/*.bin fuzz/corpus/decode/
	cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none decode corpus/decode -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096
