#!/usr/bin/env bash
# Runs fuzz targets one after another, each for FUZZ_SECONDS (default 300)
# in one niced libFuzzer process, and prints per target the executions,
# executions per second and libFuzzer's final coverage (cov: edges, ft:
# features). Stops at the first crash; its input is in
# <crate>/artifacts/<target>/ (replay: cargo fuzz run --fuzz-dir <crate>
# <target> <file>).
#
#   decode          fuzz/          saved-memory decoder (reloop-core only)
#   spec            fuzz/runtime/  model-spec JSON, loaded with the seed models
#   encoder         fuzz/runtime/  field values against the bundled spec
#   onnx_decode     fuzz/runtime/  ONNX bytes through the protobuf decoder only
#   onnx            fuzz/runtime/  ONNX bytes, load + run
#   onnx_structure  fuzz/runtime/  decoded ONNX with edited fields, load + run
#
# Usage: bash fuzz/run.sh [target...]   (default: all six)
# FUZZ_FORK=N runs N libFuzzer workers in fork mode, which keeps going past
# a crash (each saved in artifacts/) and fails at the end if there was one:
# for the ONNX targets, whose inputs each load a model through tract.
# Seeds: fuzz/seeds/<target>/ plus files already in the repository (the
# golden saved memories, the bundled model and its spec), copied into the
# working corpus fuzz/corpus/<target>/ (not in git).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-300}
fork=${FUZZ_FORK:-0}
fork_args=()
if [[ $fork -gt 0 ]]; then fork_args=(-fork="$fork" -ignore_crashes=1); fi
cargo_fuzz_version=0.13.1
if ! cargo fuzz --version 2>/dev/null | grep -qF "$cargo_fuzz_version"; then
    cargo install cargo-fuzz --locked --version "$cargo_fuzz_version"
fi
# cargo-fuzz needs nightly flags (-Z sanitizer options, sancov passes); the
# stable toolchain accepts them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1

crate_of() { [[ $1 == decode ]] && echo fuzz || echo fuzz/runtime; }
max_len_of() {
    case $1 in
        decode) echo 4096 ;;
        spec) echo 32768 ;;              # the bundled spec is 24 KB
        encoder | onnx_structure) echo 1024 ;; # bytes that drive a generator
        onnx | onnx_decode) echo 131072 ;; # the bundled model is 97 KB
    esac
}
seed() {
    local target=$1 corpus=fuzz/corpus/$1
    mkdir -p "$corpus"
    local seeds=fuzz/seeds/${target/onnx_decode/onnx}
    if [[ -d $seeds ]]; then cp "$seeds"/* "$corpus"/; fi
    case $target in
        decode) cp crates/core/tests/golden/*.bin "$corpus"/ ;;
        spec) cp models/movielens.spec.json "$corpus"/bundled.spec.json ;;
        onnx | onnx_decode) cp models/movielens.onnx "$corpus"/bundled.onnx ;;
    esac
}

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(decode spec encoder onnx_decode onnx onnx_structure)
summary=()
for target in "${targets[@]}"; do
    crate=$(crate_of "$target")
    seed "$target"
    log=fuzz/corpus/$target.log
    echo "fuzz: $target for ${seconds}s (log: $log)" >&2
    status=0
    nice -n 19 cargo fuzz run --fuzz-dir "$crate" --sanitizer none "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -max_len="$(max_len_of "$target")" -print_final_stats=1 -timeout=20 \
        "${fork_args[@]}" >"$log" 2>&1 || status=$?
    last=$(grep -E '^#[0-9]+' "$log" | tail -1)
    if [[ $fork -gt 0 ]]; then
        # The fork driver's lines: "#execs: cov: .. ft: .. exec/s: .. oom/timeout/crash: a/b/c".
        execs=$(grep -oE '^#[0-9]+' <<<"$last" | tr -d '#')
        rate=$(grep -oE 'exec/s: [0-9]+' <<<"$last" | awk '{print $2}')
        crashes=$(grep -oE 'oom/timeout/crash: [0-9]+/[0-9]+/[0-9]+' <<<"$last" | awk -F/ '{print $NF}')
        if [[ ${crashes:-0} != 0 && $status == 0 ]]; then status=1; fi
    else
        execs=$(grep -oE 'stat::number_of_executed_units:[[:space:]]*[0-9]+' "$log" | awk '{print $2}' | tail -1)
        rate=$(grep -oE 'stat::average_exec_per_sec:[[:space:]]*[0-9]+' "$log" | awk '{print $2}' | tail -1)
    fi
    cov=$(grep -o 'cov: [0-9]*' <<<"$last" | awk '{print $2}')
    ft=$(grep -o 'ft: [0-9]*' <<<"$last" | awk '{print $2}')
    line="$target: ${execs:-?} executions, ${rate:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, ${seconds}s"
    echo "fuzz: $line" >&2
    summary+=("$line")
    if [[ $status != 0 ]]; then
        tail -40 "$log" >&2
        echo "fuzz: $target FAILED (exit $status); crash input in $crate/artifacts/$target/" >&2
        exit "$status"
    fi
done
echo "fuzz: all ${#summary[@]} targets ran ${seconds}s each without a crash:"
printf "  %s\n" "${summary[@]}"
