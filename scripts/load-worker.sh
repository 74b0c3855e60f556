#!/usr/bin/env bash
# On-demand load run of the Worker in real workerd on loopback (not part of
# the tests): 3 runs, each 200 concurrent sessions × 50 requests after a solo phase; prints
# a markdown summary and writes benches/worker/results/load.{md,json}.
#   bash scripts/load-worker.sh [--runs 3] [--sessions N] [--requests N] [--items N] [--solo N]
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f pkg/reloop_edge_bg.wasm && -f pkg/reloop_edge.js ]] || { echo "pkg/ is missing: build the package first (make pkg)" >&2; exit 1; }
[[ -x node_modules/.bin/workerd ]] || { echo "node_modules/.bin/workerd is missing: run npm ci" >&2; exit 1; }
exec node benches/worker/load.mjs --out benches/worker/results "$@"
