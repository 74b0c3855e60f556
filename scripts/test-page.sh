#!/usr/bin/env bash
# The demo page's end-to-end tests: builds the static site (scripts/build-www.sh,
# which needs pkg/ from `make pkg`) and runs tests/page/ with node:test, which
# serve it on a free 127.0.0.1 port and drive headless Chromium through
# playwright-core. Screenshots go to target/test-output/page/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build-www.sh
node --test --test-concurrency=1 tests/page/
