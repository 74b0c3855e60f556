#!/usr/bin/env bash
# Builds the npm package into pkg/ from the crate and pkg.json:
#   1. `cargo rustc --crate-type cdylib` for wasm32 with simd128 and a std
#      rebuilt with panic = immediate-abort (plain `cargo
#      build` skips LTO when the crate is also an rlib), release profile:
#      opt-level z (our crate and tract-linalg at 3), LTO, 1 CGU;
#   2. the wasm-bindgen CLI (exactly the version in Cargo.lock), `--target web`:
#      one ES module whose `initSync({ module })` / `init({ module_or_path })`
#      work in a Worker, a browser and Node;
#   3. wasm-opt -Oz from npm `binaryen` when node_modules has it (WASM_OPT=0 skips);
#   4. pkg/package.json = pkg.json with the version from Cargo.toml, the npm
#      README (src/entries/README.md), the spec reference (crates/runtime/SPEC.md);
#   5. sizes (raw / gzip -9 / brotli) printed and each wasm's gzip budget checked;
#   6. a smoke test of the built package in Node (scripts/check-pkg.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${PKG_OUT:-pkg}
# Size budget, gzip -9 of each wasm file: 2.2 MB (<= 0.6x onnxruntime-web's
# 3.66 MB). Workers no longer cap the compressed upload (64 MiB uncompressed),
# so the budget is about browser downloads and compile time: a host loads one
# of the two files, never both. Going over it fails the build.
LIMIT_WASM_GZIP=${LIMIT_WASM_GZIP:-2200000}
target_dir=${CARGO_TARGET_DIR:-target}
wasm="$target_dir/wasm32-unknown-unknown/release/reloop_edge.wasm"

want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [[ "$have" != "$want" ]]; then
    echo "wasm-bindgen CLI is ${have:-missing}, Cargo.lock has $want: run scripts/install-wasm-tools.sh" >&2
    exit 1
fi

# Two builds of the same code (src/entries/host.js picks one per host):
#   reloop_edge_bg.wasm          simd128: every current browser, Worker and Node;
#   reloop_edge_relaxed_bg.wasm  simd128 + relaxed SIMD: tract's fused
#                                multiply-add kernels (Chromium 114+, Firefox
#                                120+, Safari 17+, workerd; Node behind a flag).
# Relaxed builds in its own target dir, so both stay incremental.
simd="-C target-feature=+simd128"
relaxed="-C target-feature=+simd128,+relaxed-simd"
# std rebuilt with panic = immediate-abort (the stable toolchain's own std
# sources, the rust-src component, through RUSTC_BOOTSTRAP: -Zbuild-std is not
# stabilised yet). A panic already aborted the instance (panic = "abort") and,
# with no console hook, its message went nowhere; this drops the formatting
# behind every panic and bounds check: 2.12 -> 2.00 MB gzip. PKG_STD=prebuilt
# builds with the prebuilt std and no unstable flag.
std_args=()
std_flags=""
if [[ "${PKG_STD:-rebuilt}" == rebuilt ]]; then
    export RUSTC_BOOTSTRAP=1
    std_args=(-Zbuild-std=std,panic_abort)
    std_flags=" -Zunstable-options -Cpanic=immediate-abort"
fi
# PKG_BUILDS=simd128 builds the plain build only (quicker local iterations;
# the package then lacks the relaxed file and the checks fail).
builds=${PKG_BUILDS:-simd128 relaxed}

build() { # name, rustflags, target dir
    echo "== cargo rustc $1 (release, wasm32, cdylib, LTO, std: ${PKG_STD:-rebuilt})"
    CARGO_TARGET_DIR="$3" CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="$2$std_flags" \
        cargo rustc --locked --release -p reloop-edge --lib --target wasm32-unknown-unknown --crate-type cdylib "${std_args[@]}"
}

rm -rf "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for b in $builds; do
    case "$b" in
        simd128) build simd128 "$simd" "$target_dir" ;;
        relaxed) build relaxed "$relaxed" "$target_dir/relaxed" ;;
        *) echo "unknown build $b" >&2; exit 1 ;;
    esac
done

echo "== wasm-bindgen $want --target web"
wasm-bindgen --target web --out-dir "$OUT" --out-name reloop_edge "$wasm"
if [[ "$builds" == *relaxed* ]]; then
    wasm-bindgen --target web --out-dir "$tmp/relaxed" --out-name reloop_edge "$target_dir/relaxed/wasm32-unknown-unknown/release/reloop_edge.wasm"
    # One JS glue serves both: the builds must export and import the same.
    cmp "$OUT/reloop_edge.js" "$tmp/relaxed/reloop_edge.js" ||
        { echo "the two builds' JS glue differs: they cannot share one package" >&2; exit 1; }
    mv "$tmp/relaxed/reloop_edge_bg.wasm" "$OUT/reloop_edge_relaxed_bg.wasm"
fi

# Before init, the glue's `wasm` is a placeholder whose every use throws a
# coded E_NOT_INITIALISED (src/entries/ready.js), not a TypeError; every
# call into the instance checks the JS stack first (src/entries/stack.js);
# and the glue reports each instance it makes to the class guard
# (src/js/guard.js), which then refuses receivers whose pointer is not a
# live instance's.
node - "$OUT/reloop_edge.js" <<'JS'
const fs = require("fs");
const file = process.argv[2];
let s = fs.readFileSync(file, "utf8");
const swap = (from, to, count) => {
  const n = s.split(from).length - 1;
  if (n !== count) throw new Error(`glue patch: expected ${count} of ${JSON.stringify(from)}, found ${n}`);
  s = s.split(from).join(to);
};
swap("let wasmModule, wasmInstance, wasm;", "let wasmModule, wasmInstance, wasm = __reloopNotReady();", 1);
swap("if (wasm !== undefined) return wasm;", "if (!__reloopIsNotReady(wasm)) return wasm;", 2);
// Every call into the instance first checks that enough JS stack is left
// (src/entries/stack.js): overflowing part-way through Rust code poisons it.
swap("wasm = instance.exports;", "wasm = __reloopProbed(instance.exports);", 1);
// Every place the glue gives an instance its pointer is followed by its
// registration for finalization: `__wrap` (obj) and constructors (this).
const made = (s.match(/\b(obj|this)\.__wbg_ptr = (?!0;)[^;]+;/g) || []).length;
let born = 0;
s = s.replace(/(\w+Finalization\.register\((obj|this), \2\.__wbg_ptr, \2\);)/g, (all, _, who) => {
  born++;
  return `${all} __reloopBorn(${who});`;
});
if (born === 0 || born !== made) throw new Error(`glue patch: ${made} instances made, ${born} births reported`);
const guard = s.match(/^import \{[^}]*\breloop_guard_free\b[^}]*\} from '([^']+\/src\/js\/guard\.js)';$/m);
if (!guard) throw new Error("glue patch: no import of src/js/guard.js");
s = 'import { notReady as __reloopNotReady, isNotReady as __reloopIsNotReady } from "./ready.js";\n' +
  'import { probed as __reloopProbed } from "./stack.js";\n' +
  `import { reloop_born as __reloopBorn, reloop_track_births as __reloopTrackBirths } from '${guard[1]}';\n` +
  "__reloopTrackBirths();\n" + s;
fs.writeFileSync(file, s);
JS
# The classes carry their model's item and context types (src/types.d.ts):
# the Rust attributes name `I` and `C` in parameters, and wasm-bindgen cannot
# declare a generic class, so the type parameters are added here.
node - "$OUT/reloop_edge.d.ts" <<'JS'
const fs = require("fs");
const file = process.argv[2];
let s = fs.readFileSync(file, "utf8");
const swap = (from, to) => {
  const n = s.split(from).length - 1;
  if (n !== 1) throw new Error(`d.ts patch: expected 1 of ${JSON.stringify(from)}, found ${n}`);
  s = s.replace(from, to);
};
const both = "<I extends object = Item, C extends object = Item>";
swap("export class Model {", `export class Model${both} {`);
swap("export class Session {", `export class Session${both} {`);
swap("export class Catalog {", "export class Catalog<I extends object = Item> {");
swap("static fromOnnx(", `static fromOnnx${both}(`);
fs.writeFileSync(file, s);
JS
cp src/entries/*.js src/entries/*.d.ts "$OUT/"

wasm_opt=node_modules/.bin/wasm-opt
if [[ "${WASM_OPT:-1}" != 0 && -x "$wasm_opt" ]]; then
    echo "== wasm-opt -Oz ($("$wasm_opt" --version))"
    # tract emits simd128 (and relaxed SIMD in the relaxed build); these are the features the modules use.
    features=(--enable-simd --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
        --enable-reference-types --enable-multivalue --enable-mutable-globals)
    for f in "$OUT"/reloop_edge_bg.wasm "$OUT"/reloop_edge_relaxed_bg.wasm; do
        [[ -f "$f" ]] || continue
        extra=()
        [[ "$f" == *relaxed* ]] && extra=(--enable-relaxed-simd)
        "$wasm_opt" -Oz "${features[@]}" "${extra[@]}" "$f" -o "$f.opt"
        mv "$f.opt" "$f"
    done
else
    echo "== wasm-opt skipped (npm ci installs binaryen; WASM_OPT=0 turns it off)"
fi

version=$(cargo metadata --locked --no-deps --format-version 1 |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const p=JSON.parse(s).packages.find(p=>p.name==="reloop-edge");console.log(p.version)})')
node -e '
const fs = require("fs");
const manifest = JSON.parse(fs.readFileSync("pkg.json", "utf8"));
manifest.version = process.argv[1];
fs.writeFileSync("'"$OUT"'/package.json", JSON.stringify(manifest, null, 2) + "\n");
' "$version"
# The package's README is written for npm users (src/entries/README.md; the
# consumer tests run its snippets); the spec reference it points to (also the
# runtime crate's docs) and the licence texts of "MIT OR Apache-2.0".
cp src/entries/README.md "$OUT/README.md"
cp crates/runtime/SPEC.md "$OUT/SPEC.md"
cp LICENSE-MIT LICENSE-APACHE "$OUT/"
rm -f "$OUT/.gitignore"

echo "== sizes"
node - "$OUT" "$LIMIT_WASM_GZIP" <<'JS'
const fs = require("fs"), path = require("path"), zlib = require("zlib");
const [dir, limit] = [process.argv[2], Number(process.argv[3])];
const files = [];
const walk = (d) => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => {
  const p = path.join(d, e.name);
  if (e.isDirectory()) walk(p); else files.push(p);
});
walk(dir);
let total = { raw: 0, gzip: 0, brotli: 0 };
const rows = files.sort().map((f) => {
  const b = fs.readFileSync(f);
  const r = {
    file: path.relative(dir, f),
    raw: b.length,
    gzip: zlib.gzipSync(b, { level: 9 }).length,
    brotli: zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
  for (const k of ["raw", "gzip", "brotli"]) total[k] += r[k];
  return r;
});
const mb = (n) => (n / 1e6).toFixed(3) + " MB";
for (const r of [...rows, { file: "total", ...total }])
  console.log(`${r.file.padEnd(28)} raw ${mb(r.raw).padStart(10)}  gzip ${mb(r.gzip).padStart(10)}  brotli ${mb(r.brotli).padStart(10)}`);
const over = rows.filter((r) => r.file.endsWith(".wasm") && r.gzip > limit);
for (const r of over) console.error(`${r.file} is ${mb(r.gzip)} gzip, over the ${mb(limit)} budget per wasm`);
if (over.length) process.exit(1);
console.log(`each wasm within the ${mb(limit)} gzip budget; a host downloads one of them`);
JS

echo "== smoke test of $OUT/ in Node"
node scripts/check-pkg.mjs "$OUT"
