#!/usr/bin/env bash
# Re-creates vendor/tract-onnx, vendor/tract-nnef, vendor/tract-hir and vendor/tract-core:
# the published crates
# (checked against their crates.io SHA-256) with vendor/patches/*.patch
# applied. Cargo.toml's [patch.crates-io] builds against these copies.
#
#   scripts/vendor-tract.sh          rewrite vendor/<crate> from the patches
#   scripts/vendor-tract.sh --check  fail if vendor/ differs from crate + patch
#   scripts/vendor-tract.sh --diff   rewrite vendor/patches/ from vendor/<crate>
#                                    (after editing a vendored crate)
#
# Needs network (static.crates.io) unless cargo's download cache has the
# .crate files. See vendor/README.md for what the patches change and why.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=0.23.9
declare -A SHA256=(
    [tract-onnx]=43727ce75fcd18908927e6e1b47d043fe5606d8b85c8ea6aa36481406d37b24a
    [tract-nnef]=3bdfc2f17d10eaf04d27f7a2d7b45e3dc41ffd0bc6c1e48d87636d7e960d441d
    [tract-hir]=cc9b23e03b965c23ff4362b8cd062f21ccce2eeed40cb28a7f3715e8facf2984
    [tract-core]=bb76580817f14ceb9f054d3732c1d09575940e88fa5bbfc85c3eae34482bb089
)
mode=${1:-write}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

status=0
for crate in tract-onnx tract-nnef tract-hir tract-core; do
    file="$crate-$VERSION.crate"
    cached=$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$file" 2>/dev/null | head -1 || true)
    if [[ -n "$cached" ]]; then
        cp "$cached" "$work/$file"
    elif command -v curl > /dev/null; then
        curl -fsSL "https://static.crates.io/crates/$crate/$file" -o "$work/$file"
    else
        node -e 'fetch(process.argv[1]).then(async (r) => { if (!r.ok) throw new Error(`${r.status} ${r.url}`);
            require("fs").writeFileSync(process.argv[2], Buffer.from(await r.arrayBuffer())); })' \
            "https://static.crates.io/crates/$crate/$file" "$work/$file"
    fi
    echo "${SHA256[$crate]}  $work/$file" | sha256sum -c --quiet -
    tar -xzf "$work/$file" -C "$work"
    rm -f "$work/$crate-$VERSION/Cargo.lock" "$work/$crate-$VERSION/.cargo-ok"
    if [[ "$mode" == --diff ]]; then
        rm -rf "$work/a" "$work/b"
        mv "$work/$crate-$VERSION" "$work/a"
        cp -r "vendor/$crate" "$work/b"
        # Without diff's timestamps, so an unchanged patch stays unchanged.
        (cd "$work" && { diff -ruN a b || true; } | sed -E 's/^((---|\+\+\+) [^\t]*)\t.*$/\1/') > "vendor/patches/$crate.patch"
        echo "vendor/patches/$crate.patch: written"
        continue
    fi
    (cd "$work/$crate-$VERSION" && git apply -p1 "$OLDPWD/vendor/patches/$crate.patch")
    if [[ "$mode" == --check ]]; then
        if diff -r "$work/$crate-$VERSION" "vendor/$crate" > /dev/null; then
            echo "vendor/$crate: $crate $VERSION + vendor/patches/$crate.patch"
        else
            echo "vendor/$crate differs from $crate $VERSION + vendor/patches/$crate.patch" >&2
            status=1
        fi
    else
        rm -rf "vendor/$crate"
        mv "$work/$crate-$VERSION" "vendor/$crate"
        echo "vendor/$crate: written"
    fi
done
exit $status
