#!/usr/bin/env bash
# Installs what the wasm package build and the wasm tests need on a fresh
# machine; every step is skipped when already done, so CI can run it each time.
#   - the wasm32-unknown-unknown Rust target and rust-src (scripts/build-pkg.sh
#     rebuilds std with panic = immediate-abort);
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock (the
#     CLI must match the crate; `--locked` fails on a webpki-roots pin, so not used);
#   - Debian's chromium + chromium-driver for the headless browser tests;
#   - the npm dev tools (binaryen's wasm-opt, onnxruntime-web for the benchmark)
#     from package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== rust target wasm32-unknown-unknown, rust-src (the package rebuilds std)"
rustup target add wasm32-unknown-unknown >/dev/null
rustup component add rust-src >/dev/null

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if [[ -z "$want" ]]; then
    echo "no wasm-bindgen in Cargo.lock" >&2
    exit 1
fi
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
have_runner=$(command -v wasm-bindgen-test-runner || true)
if [[ "$have" == "$want" && -n "$have_runner" ]]; then
    echo "== wasm-bindgen-cli $want already installed"
else
    echo "== cargo install wasm-bindgen-cli $want (was: ${have:-none})"
    cargo install wasm-bindgen-cli --version "$want" --force
fi

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    echo "== chromium + chromedriver already installed"
else
    echo "== apt-get install chromium chromium-driver"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

if [[ -f package-lock.json ]]; then
    if [[ -d node_modules && node_modules/.package-lock.json -nt package-lock.json ]]; then
        echo "== node_modules up to date"
    else
        echo "== npm ci"
        npm ci --no-audit --no-fund
    fi
fi
