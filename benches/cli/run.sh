#!/usr/bin/env bash
# Throughput of `reloop replay` (the replay of a user's log), in events per
# second of the log, on two logs:
#   * MovieLens-100K's stream exported as JSONL (`reloop movielens --export`),
#     through the bundled model;
#   * a synthetic log of EVENTS events (default 1,000,000) from `reloop
#     example`, through the example model.
# For each: one configuration (`--options`: the model pass, the frozen model
# and one memory per session, no tuning) and the full tuned table (every
# family tuned, 3 rounds, 200 resamples), RUNS times each, interleaved; wall
# time and peak RSS from /usr/bin/time. Results: benches/cli/results/.
#   bash benches/cli/run.sh            # EVENTS=1000000 RUNS=2
set -euo pipefail
cd "$(dirname "$0")/../.."
EVENTS=${EVENTS:-1000000}
RUNS=${RUNS:-2}
FULL_MAX=${FULL_MAX:-1000000}   # skip the full table on logs longer than this
out=benches/cli/results
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --locked --profile native -p reloop-tools --bin reloop
reloop=target/native/reloop

echo "== logs" >&2
/usr/bin/time -f "%e s, %M KB" "$reloop" example "$work/ex" --events "$EVENTS" --quiet 2>"$work/example.time"
echo "example log of $EVENTS events: $(tail -1 "$work/example.time")" >&2
node -e '
const fs = require("fs");
fs.writeFileSync(process.argv[1], JSON.stringify({ estimator: "intent" }));
' "$work/options.json"
"$reloop" movielens --export "$work/movielens.jsonl" --quiet
mkdir -p "$work/ml"
cp models/movielens.onnx "$work/ml/model.onnx"
cp models/movielens.spec.json "$work/ml/spec.json"
ml_events=$(wc -l <"$work/movielens.jsonl")

run() { # name log model spec extra...
    local name=$1 log=$2 model=$3 spec=$4; shift 4
    local t events
    events=$(wc -l <"$log")
    t=$( { /usr/bin/time -f "%e %M" "$reloop" replay "$model" "$spec" "$log" --out "$work/out" --quiet "$@" >/dev/null; } 2>&1 | tail -1)
    echo "$name $events $t"
}

results="$out/throughput.txt"
: >"$results"
ml=(--time ts --user uid --label clicked)
for r in $(seq 1 "$RUNS"); do
    run "movielens-one" "$work/movielens.jsonl" "$work/ml/model.onnx" "$work/ml/spec.json" "${ml[@]}" --options "$work/options.json" | tee -a "$results"
    run "movielens-full" "$work/movielens.jsonl" "$work/ml/model.onnx" "$work/ml/spec.json" "${ml[@]}" | tee -a "$results"
    run "synthetic-one" "$work/ex/events.jsonl" "$work/ex/model.onnx" "$work/ex/spec.json" --options "$work/options.json" | tee -a "$results"
    if (( EVENTS <= FULL_MAX )); then
        run "synthetic-full" "$work/ex/events.jsonl" "$work/ex/model.onnx" "$work/ex/spec.json" | tee -a "$results"
    fi
done
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
const by = {};
const count = {};
for (const l of lines) { const [name, n, s, kb] = l.split(" "); count[name] = Number(n); (by[name] ??= []).push([Number(s), Number(kb)]); }
for (const [name, runs] of Object.entries(by)) {
  const events = count[name];
  const secs = runs.map((r) => r[0]).sort((a, b) => a - b);
  const med = secs[Math.floor((secs.length - 1) / 2)];
  const rss = Math.max(...runs.map((r) => r[1])) / 1024;
  console.log(`${name}: ${events} events, wall ${secs.join(" / ")} s (median ${med}), ${Math.round(events / med)} events/s, peak RSS ${rss.toFixed(0)} MB`);
}
' "$results" | tee "$out/throughput.md"
