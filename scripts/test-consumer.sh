#!/usr/bin/env bash
# The package as users meet it (tests/consumer/consumer.test.mjs): npm pack of
# pkg/, installed from the tarball into a throwaway project with the tools
# pinned in tests/consumer/package-lock.json (npm registry), then the package
# README's snippets run in Node, tsc (5.9, 7), wrangler dev and Vite 5/8 in
# headless Chromium. Needs pkg/ (make pkg), the root npm tools (npm ci:
# playwright-core) and /usr/bin/chromium; fails, never skips, without them.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f pkg/package.json && -f pkg/reloop_edge_bg.wasm ]] || { echo "pkg/ is missing: build the package first (make pkg)" >&2; exit 1; }
[[ -d node_modules/playwright-core ]] || { echo "node_modules/playwright-core missing: run npm ci" >&2; exit 1; }
echo "node $(node --version), npm $(npm --version)" >&2
exec node --test --test-concurrency=1 --test-timeout=600000 --test-reporter=spec tests/consumer/
