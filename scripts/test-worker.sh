#!/usr/bin/env bash
# The Worker's tests in the real workerd runtime (npm `workerd`): each test
# file starts workerd on 127.0.0.1 (a free port), drives it over HTTP with
# Node's test runner and stops it, pass or fail. Needs pkg/ (make pkg) and
# the npm dev tools (npm ci); fails, never skips, without them.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f pkg/reloop_edge_bg.wasm && -f pkg/reloop_edge.js ]] || { echo "pkg/ is missing: build the package first (make pkg)" >&2; exit 1; }
[[ -x node_modules/.bin/workerd && -x node_modules/.bin/wrangler ]] || { echo "node_modules/.bin/{workerd,wrangler} missing: run npm ci" >&2; exit 1; }
# The own-model test generates its model with the `reloop` tool (a debug
# build: incremental after the native tests).
cargo build --locked -q -p reloop-tools --bin reloop
export RELOOP_BIN="$PWD/${CARGO_TARGET_DIR:-target}/debug/reloop"
echo "workerd $(node_modules/.bin/workerd --version | awk '{print $2}'), node $(node --version)" >&2
# One file at a time: each runs its own workerd, and the machine has 2 cores.
exec node --test --test-concurrency=1 --test-reporter=spec tests/worker/
