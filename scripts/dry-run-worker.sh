#!/usr/bin/env bash
# The Worker bundle `wrangler deploy` would upload, without uploading it:
# `wrangler deploy --dry-run` (offline: no account, no telemetry) prints the
# upload size that counts against Workers' limits (gzip: 3 MB free, 10 MB paid).
#   bash scripts/dry-run-worker.sh [OUTDIR]   # bundle into OUTDIR (default www/worker/dist)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -f pkg/reloop_edge_bg.wasm && -f pkg/reloop_edge.js ]] || { echo "pkg/ is missing: build the package first (make pkg)" >&2; exit 1; }
[[ -x node_modules/.bin/wrangler ]] || { echo "node_modules/.bin/wrangler is missing: run npm ci" >&2; exit 1; }
out=$(realpath -m "${1:-www/worker/dist}")
echo "wrangler $(node -p "require(\"./node_modules/wrangler/package.json\").version") deploy --dry-run"
rm -rf "$out"
cd www/worker
# WRANGLER_HIDE_BANNER also skips the banner's npm update check: nothing leaves the machine.
WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true NO_COLOR=1 \
  ../../node_modules/.bin/wrangler deploy --dry-run --outdir "$out"
echo "bundle in $out:"
for f in "$out"/index.js "$out"/*.wasm; do
  printf '  %-60s %9d B raw, %9d B gzip -9\n' "$(basename "$f")" "$(stat -c %s "$f")" "$(gzip -9 -c "$f" | wc -c)"
done
