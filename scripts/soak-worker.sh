#!/usr/bin/env bash
# Soak of the Worker in real workerd on loopback, with a leak oracle
# (benches/worker/soak.mjs): SOAK_SESSIONS × SOAK_REQUESTS requests (default
# 1,000 × 100) in a SOAK_SEED-seeded order, bad tokens and malformed bodies
# among them; fails on any 5xx, any answer that differs from the replay of its
# session in Node, or wasm memory growth over the last half. Prints a
# markdown summary and writes benches/worker/results/soak-seed<SEED>.{md,json}.
#   SOAK_SEED=2 bash scripts/soak-worker.sh [--concurrency 16] [--sizes 8,30,64]
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f pkg/reloop_edge_relaxed_bg.wasm && -f pkg/node.js ]] || { echo "pkg/ is missing: build the package first (make pkg)" >&2; exit 1; }
[[ -x node_modules/.bin/workerd ]] || { echo "node_modules/.bin/workerd is missing: run npm ci" >&2; exit 1; }
# The replay must run the Worker's wasm build: relaxed SIMD (behind a flag in Node 20).
exec node --experimental-wasm-relaxed-simd --experimental-websocket --no-warnings benches/worker/soak.mjs --out benches/worker/results "$@"
