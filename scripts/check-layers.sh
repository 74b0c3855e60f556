#!/usr/bin/env bash
# The crates are the layers, and this checks what cargo actually links:
#   reloop-core    nothing heavier than its PRNG, CRC and SHA crates
#                  (no tract, no wasm-bindgen, no js-sys, no serde_json);
#   reloop-runtime no wasm-bindgen or js-sys (they come only with its `ts`
#                  feature, which the wasm binding turns on);
#   fuzz/          the saved-memory decoder's fuzz crate: no tract (it
#                  tests reloop-core and links nothing heavier);
#   fuzz/runtime/  the fuzz crate of the runtime's parsers (spec, encoder,
#                  ONNX): tract through reloop-runtime, no wasm-bindgen or
#                  js-sys, and reloop-runtime without its `ts` feature.
# Normal dependencies on every target (`-e normal --target all`); dev
# dependencies of the tests do not count.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
forbid() {
    local what=$1 tree=$2
    shift 2
    for dep in "$@"; do
        if grep -q "^$dep v" <<<"$tree"; then
            echo "layers: $what depends on $dep" >&2
            status=1
        fi
    done
}

core=$(cargo tree --locked -q -p reloop-core -e normal --target all --prefix none)
forbid reloop-core "$core" tract-onnx tract-core tract-linalg wasm-bindgen js-sys serde_json serde
runtime=$(cargo tree --locked -q -p reloop-runtime -e normal --target all --prefix none)
forbid reloop-runtime "$runtime" wasm-bindgen js-sys serde-wasm-bindgen
fuzz=$(cd fuzz && cargo tree --locked -q -e normal --target all --prefix none)
forbid fuzz "$fuzz" tract-onnx tract-core tract-linalg wasm-bindgen js-sys reloop-runtime
fuzz_runtime=$(cd fuzz/runtime && cargo tree --locked -q -e normal --target all --prefix none)
forbid fuzz/runtime "$fuzz_runtime" wasm-bindgen js-sys serde-wasm-bindgen tsify
[[ $status == 0 ]] && echo "layers: reloop-core links $(awk '{print $1}' <<<"$core" | sort -u | wc -l) crates, no tract/wasm-bindgen/js-sys/serde_json; reloop-runtime without wasm-bindgen; fuzz (decode) without tract; fuzz/runtime without wasm-bindgen"
exit "$status"
