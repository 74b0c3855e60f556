#!/usr/bin/env bash
# Assembles the browser demo as plain static files in target/www (or $1):
# the page (www/), the npm package (pkg/, built by `make pkg`), uPlot, and the
# MovieLens movies, users and test-period stream exported by the `demo_data`
# bin from the fetched data (never committed). Serve it with
# `node www/serve.mjs` (any static server works).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-target/www}
for f in pkg/browser.js pkg/reloop_edge.js pkg/reloop_edge_bg.wasm pkg/reloop_edge_relaxed_bg.wasm; do
    [[ -f $f ]] || { echo "build-www: $f is missing; build the package first (make pkg)" >&2; exit 1; }
done
uplot=node_modules/uplot/dist
[[ -f $uplot/uPlot.esm.js ]] || { echo "build-www: $uplot is missing; run npm ci" >&2; exit 1; }

# The data: fetched once into the user cache, exported with reloop-tools' own
# loader. The export takes ~1 s even unoptimised, so the default `dev` profile
# reuses what `cargo test` built; DATA_PROFILE=native reuses exactly what
# `make replay` built.
bash scripts/fetch-movielens.sh >&2
cargo run --quiet --locked --profile "${DATA_PROFILE:-dev}" -p reloop-tools --bin demo_data -- "$out/data"

mkdir -p "$out/pkg" "$out/vendor"
cp www/*.html www/*.css www/*.js "$out/"
# The package as a browser gets it: its browser entry (browser.js, which
# loads the build this browser runs), the glue, the modules they import and
# both wasm builds. Every .js of the package, not a list of them: a list here
# fell behind the glue's imports once (stack.js) and the page never loaded.
cp -r pkg/*.js pkg/*.wasm pkg/snippets "$out/pkg/"
cp "$uplot/uPlot.esm.js" "$uplot/uPlot.min.css" "$out/vendor/"
echo "build-www: site in $out (serve with: node www/serve.mjs $out)" >&2
