#!/usr/bin/env bash
# The property test of the package's JS boundary (tests/property/boundary.test.mjs):
# fast-check throws random and hostile JS values at every export, constructor,
# method and getter of pkg/node.js and checks that only coded ReloopErrors come
# out and that a failed call changes nothing; tests/property/stack.test.mjs
# calls each operation with every amount of JS stack left, from none up.
#
#   PROPERTY_RUNS   generated call sequences (default 10000: a minute
#                   or two on 2 cores), after the fixed regression examples
#   PROPERTY_SEED   fast-check seed (default: random; printed at the start and
#                   on failure, so a failure reruns with the same values)
#   PROPERTY_SHRINK 0 stops at the first failure without shrinking it
#   PROPERTY_EXAMPLES 0 skips the fixed regression examples (generated runs only)
#   STACK_LEVELS    frames the stack test calls from (default 1000)
#   RELOOP_PKG      the package directory to test (default: pkg/)
#
# Needs pkg/ (make pkg) and the npm dev dependencies (npm ci); fails, never
# skips, without them.
set -euo pipefail
cd "$(dirname "$0")/.."

pkg=${RELOOP_PKG:-pkg}
if [[ ! -f $pkg/node.js || ! -f $pkg/reloop_edge.js ]]; then
  echo "test-property: $pkg/ has no built package (run make pkg first)" >&2
  exit 1
fi
if [[ ! -d node_modules/fast-check ]]; then
  echo "test-property: fast-check is not installed (run npm ci first)" >&2
  exit 1
fi

export PROPERTY_RUNS=${PROPERTY_RUNS:-10000}
if [[ -z ${PROPERTY_SEED:-} ]]; then
  PROPERTY_SEED=$(node -e 'console.log(require("node:crypto").randomInt(-2147483648, 2147483647))')
fi
export PROPERTY_SEED
echo "test-property: seed $PROPERTY_SEED, $PROPERTY_RUNS runs (rerun: PROPERTY_SEED=$PROPERTY_SEED PROPERTY_RUNS=$PROPERTY_RUNS bash scripts/test-property.sh)"
start=$SECONDS
status=0
node --test --test-reporter=spec tests/property/boundary.test.mjs tests/property/stack.test.mjs || status=$?
echo "test-property: $((SECONDS - start)) s, seed $PROPERTY_SEED, $PROPERTY_RUNS runs: $([[ $status == 0 ]] && echo passed || echo "FAILED (rerun: PROPERTY_SEED=$PROPERTY_SEED PROPERTY_RUNS=$PROPERTY_RUNS bash scripts/test-property.sh)")"
exit $status
