// reloop-edge vs onnxruntime-web, in one Node process, on the same ONNX
// (the bundled MovieLens model) and the same batch of 100 items:
//   * reloop-edge `session.score(items, context)`: JS objects in, encoding,
//     the tract plan, the memory read and the correction, Float32Array out;
//   * onnxruntime-web (wasm backend, 1 thread) `session.run(feeds)` on tensors
//     encoded once beforehand (so ORT does strictly less work per call);
//   * p50 / p99 per call and the ratio (the compared calls interleaved in
//     rounds); record() throughput; cold start
//     (import → first score) in fresh processes; package sizes.
// Run with `make bench-wasm` (builds pkg/ first) or `node benches/node/bench.mjs`.
// RELOOP_PKG_B=<dir of another build> adds that package to the interleaved
// rounds (an A/B of two builds in one process) and prints their ratio.
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { execFileSync } from "node:child_process";
import { gzipSync, brotliCompressSync, constants as zc } from "node:zlib";
import { PHASES, coldStart } from "../common/cold.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const pkgDir = path.resolve(process.env.RELOOP_PKG ?? path.join(root, "pkg"));
const pkgDirB = process.env.RELOOP_PKG_B ? path.resolve(process.env.RELOOP_PKG_B) : undefined;
const ortDist = path.join(root, "node_modules/onnxruntime-web/dist");
const onnxBytes = readFileSync(path.join(root, "models/movielens.onnx"));
const spec = JSON.parse(readFileSync(path.join(root, "models/movielens.spec.json"), "utf8"));

const N = 100;
const ITERS = Number(process.env.BENCH_ITERS ?? 2000);
const WARMUP = 200;
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 5);

// ---------------------------------------------------------------- inputs
const GENRES = Object.keys(spec.fields.genres.vocabulary).filter((g) => g !== "unknown");
function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
}
function catalogue(n, seed) {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const k = 1 + Math.floor(r() * 3);
    const genres = Array.from({ length: k }, () => GENRES[Math.floor(r() * GENRES.length)]);
    return { itemId: 1 + Math.floor(r() * 1682), genres, year: 1960 + Math.floor(r() * 39) };
  });
}
const context = { userId: 196, age: 49, gender: "M", occupation: "writer", zip: "5", hour: 21, weekday: 3 };
const items = catalogue(N, 1);

// The spec's encoding, in JS, for ORT's pre-encoded tensors (checked below
// against reloop-edge's base scores).
function key(v) { return typeof v === "number" && Number.isInteger(v) ? String(v) : String(v); }
function index(field, value) {
  const f = spec.fields[field];
  switch (f.kind) {
    case "categorical": return f.vocabulary[key(value)] ?? f.oovIndex ?? 0;
    case "bucketized": return (f.offset ?? 0) + f.boundaries.filter((b) => b <= value).length;
    default: throw new Error(`no JS encoder for ${f.kind}`);
  }
}
function encode(batch) {
  const [ids, genres] = spec.inputs;
  const gf = spec.fields.genres;
  const width = Math.max(...Object.values(gf.vocabulary), gf.oovIndex ?? 0) + 1;
  const idData = new BigInt64Array(batch.length * ids.columns.length);
  const gData = new Float32Array(batch.length * width);
  batch.forEach((item, i) => {
    const row = { ...context, ...item };
    ids.columns.forEach((c, j) => {
      const v = row[c] ?? spec.fields[c].default;
      idData[i * ids.columns.length + j] = BigInt(index(c, v));
    });
    const gs = row.genres ?? [];
    for (const g of gs) gData[i * width + (gf.vocabulary[g] ?? gf.oovIndex ?? 0)] += 1 / gs.length;
  });
  return { ids: { data: idData, dims: [batch.length, ids.columns.length] }, genres: { data: gData, dims: [batch.length, width] } };
}

// ---------------------------------------------------------------- helpers
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const ms = (x) => x.toFixed(3);
async function timeInterleaved(fns) {
  const names = Object.keys(fns);
  const times = Object.fromEntries(names.map((n) => [n, new Float64Array(ITERS)]));
  // Each round runs every variant once, in a fresh random order: a fixed
  // rotation would always put the same variant right after the one that
  // leaves the most garbage (and so the GC pauses) behind.
  const shuffle = rng(7);
  const order = [...names];
  for (let i = -WARMUP; i < ITERS; i++) {
    for (let k = order.length - 1; k > 0; k--) {
      const j = Math.floor(shuffle() * (k + 1));
      [order[k], order[j]] = [order[j], order[k]];
    }
    for (const name of order) {
      const t0 = performance.now();
      const r = fns[name]();
      if (r && typeof r.then === "function") await r;
      if (i >= 0) times[name][i] = performance.now() - t0;
    }
  }
  return Object.fromEntries(names.map((n) => {
    const t = times[n];
    return [n, { p50: pct(t, 0.5), p99: pct(t, 0.99), mean: t.reduce((a, b) => a + b, 0) / t.length }];
  }));
}
function timeCallsSync(fn) {
  for (let i = 0; i < WARMUP; i++) fn();
  const t = new Float64Array(ITERS);
  for (let i = 0; i < ITERS; i++) {
    const t0 = performance.now();
    fn();
    t[i] = performance.now() - t0;
  }
  return { p50: pct(t, 0.5), p99: pct(t, 0.99), mean: t.reduce((a, b) => a + b, 0) / t.length };
}
function sizes(files) {
  let raw = 0, gz = 0, br = 0;
  for (const f of files) {
    const b = readFileSync(f);
    raw += b.length;
    gz += gzipSync(b, { level: 9 }).length;
    br += brotliCompressSync(b, { params: { [zc.BROTLI_PARAM_QUALITY]: 11 } }).length;
  }
  return { raw, gz, br };
}
const mb = (n) => (n / 1e6).toFixed(2) + " MB";

// ---------------------------------------------------------------- loaders
// `wasm` picks the build; `tag` gives a second, independent instance of the
// glue (a module is instantiated once per URL).
async function loadReloop(dir = pkgDir, wasm = "reloop_edge_bg.wasm", tag = "") {
  const api = await import(pathToFileURL(path.join(dir, "reloop_edge.js")).href + tag);
  api.initSync({ module: new WebAssembly.Module(readFileSync(path.join(dir, wasm))) });
  const model = api.Model.bundled();
  return { api, model };
}
// Whether this Node runs wasm relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd),
// by the package's own probe.
const relaxedHost = (await import(pathToFileURL(path.join(pkgDir, "host.js")).href)).relaxedSimd();
const relaxedWasm = path.join(pkgDir, "reloop_edge_relaxed_bg.wasm");
async function loadOrt() {
  const ort = await import("onnxruntime-web");
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.wasm.wasmPaths = pathToFileURL(ortDist + "/").href;
  const session = await ort.InferenceSession.create(onnxBytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  return { ort, session };
}

// Cold start: a fresh process, import → first result, with its phases
// (printed as JSON: milliseconds since the start of each phase's end).
if (process.argv[2] === "--cold") {
  if (process.argv[3] === "reloop") {
    const phases = await coldStart({
      glueUrl: pathToFileURL(path.join(pkgDir, "reloop_edge.js")).href,
      readBytes: () => readFileSync(path.join(pkgDir, process.argv[4] ?? "reloop_edge_bg.wasm")),
      compile: (bytes) => new WebAssembly.Module(bytes),
    });
    process.stdout.write(JSON.stringify(phases));
    process.exit(0);
  } else {
    const t = [performance.now()];
    const mark = () => t.push(performance.now());
    const { ort, session } = await loadOrt();
    mark();
    const e = encode(items);
    await session.run({
      ids: new ort.Tensor("int64", e.ids.data, e.ids.dims),
      genres: new ort.Tensor("float32", e.genres.data, e.genres.dims),
    });
    mark();
    process.stdout.write(JSON.stringify(t.slice(1).map((x, i) => x - t[i])));
    process.exit(0);
  }
}

// ---------------------------------------------------------------- main
const { api, model } = await loadReloop();
const { ort, session: ortSession } = await loadOrt();
console.log(`node ${process.version}, onnxruntime-web ${ort.env.versions?.web ?? "?"} (wasm, numThreads 1), ` +
  `reloop-edge ${JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8")).version}; batch ${N}, ${ITERS} calls after ${WARMUP} warm-up`);
console.log(`ORT inputs ${ortSession.inputNames.join(", ")}; outputs ${ortSession.outputNames.join(", ")}`);

const enc = encode(items);
const feeds = {
  ids: new ort.Tensor("int64", enc.ids.data, enc.ids.dims),
  genres: new ort.Tensor("float32", enc.genres.data, enc.genres.dims),
};
const session = new api.Session(model);
// The catalog path: the same 100 items registered once, scored by index
// (a Uint32Array) and by id (strings), with only the context read per call.
const catalogIds = items.map((_, i) => "item" + i);
const catalog = new api.Catalog(model, items, catalogIds);
const entries = Uint32Array.from(items.keys());

// Same model, same batch: the base probabilities must agree.
const detail = session.scoreDetailed(items, context);
const ortOut = await ortSession.run(feeds);
const ortProb = ortOut[spec.outputs.probability].data;
let maxDiff = 0;
for (let i = 0; i < N; i++) maxDiff = Math.max(maxDiff, Math.abs(ortProb[i] - detail.base[i]));
console.log(`max |p_ort − p_base| over the batch: ${maxDiff.toExponential(2)}`);
if (!(maxDiff < 1e-4)) throw new Error("ORT and reloop-edge disagree: the benchmark would compare different work");
// A page of 100 takes the first-layer split (scores within 1e-5 of score).
if (!session.scoreCatalog(catalog, entries, context).every((v, i) => Math.abs(v - detail.scores[i]) <= 1e-5)) {
  throw new Error("scoreCatalog and score disagree");
}

// A memory with some evidence, so score() really reads and corrects.
catalogue(200, 9).forEach((it, i) => session.record(it, i % 3 === 0, context));

// The other build of an A/B, fed the same evidence.
let sessionB, catalogB;
if (pkgDirB) {
  const b = await loadReloop(pkgDirB);
  sessionB = new b.api.Session(b.model);
  catalogB = new b.api.Catalog(b.model, items, catalogIds);
  catalogue(200, 9).forEach((it, i) => sessionB.record(it, i % 3 === 0, context));
  const same = session.score(items, context).every((v, i) => v === sessionB.score(items, context)[i]);
  console.log(`A/B: ${pkgDir} vs ${pkgDirB}; same scores: ${same}`);
}

// The relaxed-SIMD build of the same package, fed the same evidence (only
// where this Node runs it: node --experimental-wasm-relaxed-simd).
let relaxed;
if (relaxedHost) {
  const r = await loadReloop(pkgDir, "reloop_edge_relaxed_bg.wasm", "?relaxed");
  relaxed = { session: new r.api.Session(r.model), catalog: new r.api.Catalog(r.model, items, catalogIds) };
  catalogue(200, 9).forEach((it, i) => relaxed.session.record(it, i % 3 === 0, context));
  const a = session.score(items, context), b = relaxed.session.score(items, context);
  console.log(`relaxed SIMD build: max |score − simd128 score| ${Math.max(...a.map((v, i) => Math.abs(v - b[i]))).toExponential(2)}`);
} else {
  console.log("relaxed SIMD build: not measured (run node --experimental-wasm-relaxed-simd for it)");
}

// The compared calls run interleaved (one of each per round, the order
// rotating), so a slow phase of the machine hits all of them alike.
const { reloop, reloopB, byIndexB, byIdB, ortRun, ortProbOnly, ortEncoded, detailed, detailedHidden, byIndex, byId, relaxedScore, relaxedById } = await timeInterleaved({
  reloop: () => session.score(items, context),
  byIndex: () => session.scoreCatalog(catalog, entries, context),
  byId: () => session.scoreCatalog(catalog, catalogIds, context),
  // The key vectors on request: what copying n × d floats out costs.
  detailed: () => session.scoreDetailed(items, context),
  detailedHidden: () => session.scoreDetailed(items, context, null, { hidden: true }),
  ...(sessionB ? {
    reloopB: () => sessionB.score(items, context),
    byIndexB: () => sessionB.scoreCatalog(catalogB, entries, context),
    byIdB: () => sessionB.scoreCatalog(catalogB, catalogIds, context),
  } : {}),
  ...(relaxed ? {
    relaxedScore: () => relaxed.session.score(items, context),
    relaxedById: () => relaxed.session.scoreCatalog(relaxed.catalog, catalogIds, context),
  } : {}),
  ortRun: () => ortSession.run(feeds),
  ortProbOnly: () => ortSession.run(feeds, [spec.outputs.probability]),
  // What a caller of ORT really pays per request: encoding the same JS
  // objects (with the JS encoder above) and then the run.
  ortEncoded: () => {
    const e = encode(items);
    return ortSession.run({
      ids: new ort.Tensor("int64", e.ids.data, e.ids.dims),
      genres: new ort.Tensor("float32", e.genres.data, e.genres.dims),
    });
  },
});
const one = items.slice(0, 1);
// Per-call fixed costs (the JS checks, the glue) dominate small calls: an
// A/B compares them interleaved too.
const { reloopOne, reloopOneB } = await timeInterleaved({
  reloopOne: () => session.score(one, context),
  ...(sessionB ? { reloopOneB: () => sessionB.score(one, context) } : {}),
});

// record(): the model runs on the item again; recordImpression(): no model run.
const recItems = catalogue(ITERS, 3);
let k = 0;
const rec = timeCallsSync(() => { session.record(recItems[k++ % recItems.length], (k & 3) === 0, context); });
const ids = items.map((_, i) => "i" + i);
const impBatches = 50;
// The time of N recordImpression calls on a batch just scored.
function impressions(s) {
  s.score(items, context, ids);
  const t0 = performance.now();
  for (let i = 0; i < N; i++) s.recordImpression(ids[i], (i & 3) === 0);
  return performance.now() - t0;
}
let impTime = 0;
let impTimeB = 0;
for (let b = 0; b < impBatches; b++) {
  // A and B alternate which goes first.
  if (sessionB && b % 2 === 1) impTimeB += impressions(sessionB);
  impTime += impressions(session);
  if (sessionB && b % 2 === 0) impTimeB += impressions(sessionB);
}

// Cold start in fresh processes: the median of each phase and of the total.
function cold(...args) {
  const runs = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    runs.push(JSON.parse(execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--cold", ...args], { encoding: "utf8" })));
  }
  const total = pct(runs.map((r) => r.reduce((a, b) => a + b, 0)), 0.5);
  const phases = runs[0].map((_, i) => pct(runs.map((r) => r[i]), 0.5));
  return { total, phases };
}
const coldReloop = cold("reloop");
const coldRelaxed = relaxedHost ? cold("reloop", "reloop_edge_relaxed_bg.wasm") : undefined;
const coldOrt = cold("ort");

// What one host downloads: the JS and one of the two wasm builds.
const pkgFiles = [];
const walk = (d) => readdirSync(d).forEach((f) => { const p = path.join(d, f); statSync(p).isDirectory() ? walk(p) : /\.(js|mjs)$/.test(f) && pkgFiles.push(p); });
walk(pkgDir);
const reloopSize = sizes([...pkgFiles, path.join(pkgDir, "reloop_edge_bg.wasm")]);
const relaxedSize = sizes([...pkgFiles, relaxedWasm]);
const ortSize = sizes(["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"].map((f) => path.join(ortDist, f)));

console.log("");
console.log("| measure (Node, batch of 100) | reloop-edge | onnxruntime-web | ratio |");
console.log("|---|---:|---:|---:|");
console.log(`| score / run, p50 | ${ms(reloop.p50)} ms | ${ms(ortRun.p50)} ms | ${(reloop.p50 / ortRun.p50).toFixed(2)} |`);
if (reloopB) {
  console.log(`| B (${path.basename(path.dirname(pkgDirB))}/${path.basename(pkgDirB)}) score / run, p50 | ${ms(reloopB.p50)} ms | ${ms(ortRun.p50)} ms | ${(reloopB.p50 / ortRun.p50).toFixed(2)} |`);
  console.log(`| A / B score, p50 (p99) | ${(reloop.p50 / reloopB.p50).toFixed(3)} (${(reloop.p99 / reloopB.p99).toFixed(3)}) | | |`);
  console.log(`| B scoreCatalog by index / run, p50 | ${ms(byIndexB.p50)} ms | ${ms(ortRun.p50)} ms | ${(byIndexB.p50 / ortRun.p50).toFixed(2)} |`);
  console.log(`| A / B scoreCatalog by index, p50 (p99) | ${(byIndex.p50 / byIndexB.p50).toFixed(3)} (${(byIndex.p99 / byIndexB.p99).toFixed(3)}) | | |`);
  console.log(`| B scoreCatalog by id / run, p50 | ${ms(byIdB.p50)} ms | ${ms(ortRun.p50)} ms | ${(byIdB.p50 / ortRun.p50).toFixed(2)} |`);
  console.log(`| A / B scoreCatalog by id, p50 (p99) | ${(byId.p50 / byIdB.p50).toFixed(3)} (${(byId.p99 / byIdB.p99).toFixed(3)}) | | |`);
}
console.log(`| scoreCatalog by index (Uint32Array) / run, p50 | ${ms(byIndex.p50)} ms | ${ms(ortRun.p50)} ms | ${(byIndex.p50 / ortRun.p50).toFixed(2)} |`);
console.log(`| scoreCatalog by index / run, p99 | ${ms(byIndex.p99)} ms | ${ms(ortRun.p99)} ms | ${(byIndex.p99 / ortRun.p99).toFixed(2)} |`);
console.log(`| scoreCatalog by id (strings) / run, p50 | ${ms(byId.p50)} ms | ${ms(ortRun.p50)} ms | ${(byId.p50 / ortRun.p50).toFixed(2)} |`);
if (relaxed) {
  console.log(`| relaxed SIMD build: score / run, p50 | ${ms(relaxedScore.p50)} ms | ${ms(ortRun.p50)} ms | ${(relaxedScore.p50 / ortRun.p50).toFixed(2)} |`);
  console.log(`| relaxed SIMD build: scoreCatalog by id / run, p50 | ${ms(relaxedById.p50)} ms | ${ms(ortRun.p50)} ms | ${(relaxedById.p50 / ortRun.p50).toFixed(2)} |`);
  console.log(`| relaxed / simd128: score p50, by id p50 | ${(relaxedScore.p50 / reloop.p50).toFixed(3)}, ${(relaxedById.p50 / byId.p50).toFixed(3)} | | |`);
}
console.log(`| score / run, p99 | ${ms(reloop.p99)} ms | ${ms(ortRun.p99)} ms | ${(reloop.p99 / ortRun.p99).toFixed(2)} |`);
console.log(`| score / run, mean | ${ms(reloop.mean)} ms | ${ms(ortRun.mean)} ms | ${(reloop.mean / ortRun.mean).toFixed(2)} |`);
console.log(`| ORT fetching only the probability, p50 | | ${ms(ortProbOnly.p50)} ms | ${(reloop.p50 / ortProbOnly.p50).toFixed(2)} |`);
console.log(`| ORT with JS encoding of the same objects, p50 | | ${ms(ortEncoded.p50)} ms | ${(reloop.p50 / ortEncoded.p50).toFixed(2)} |`);
console.log(`| score of 1 item, p50 | ${ms(reloopOne.p50)} ms | | |`);
if (reloopOneB) console.log(`| A / B score of 1 item, p50: ${ms(reloopOne.p50)} / ${ms(reloopOneB.p50)} ms | ${(reloopOne.p50 / reloopOneB.p50).toFixed(3)} | | |`);
console.log(`| scoreDetailed, p50: without / with { hidden: true } | ${ms(detailed.p50)} / ${ms(detailedHidden.p50)} ms | | ${(detailedHidden.p50 / detailed.p50).toFixed(3)} |`);
console.log(`| record(item) (model run + write), p50 | ${ms(rec.p50)} ms = ${Math.round(1000 / rec.mean)}/s | | |`);
console.log(`| recordImpression(id) | ${(impTime * 1000 / (impBatches * N)).toFixed(2)} µs = ${Math.round(impBatches * N / impTime * 1000)}/s | | |`);
if (sessionB) console.log(`| A / B recordImpression: ${(impTime * 1000 / (impBatches * N)).toFixed(2)} / ${(impTimeB * 1000 / (impBatches * N)).toFixed(2)} µs | ${(impTime / impTimeB).toFixed(3)} | | |`);
console.log(`| cold start, import → first result (median of ${COLD_RUNS}) | ${ms(coldReloop.total)} ms | ${ms(coldOrt.total)} ms | ${(coldReloop.total / coldOrt.total).toFixed(2)} |`);
console.log(`| cold start phases (${PHASES.join(", ")}) | ${coldReloop.phases.map(ms).join(" + ")} ms | | |`);
if (coldRelaxed) {
  console.log(`| cold start, relaxed SIMD build | ${ms(coldRelaxed.total)} ms (${coldRelaxed.phases.map(ms).join(" + ")}) | ${ms(coldOrt.total)} ms | ${(coldRelaxed.total / coldOrt.total).toFixed(2)} |`);
}
console.log(`| package raw (js + wasm) | ${mb(reloopSize.raw)} | ${mb(ortSize.raw)} | ${(reloopSize.raw / ortSize.raw).toFixed(2)} |`);
console.log(`| package gzip -9 (js + simd128 wasm) | ${mb(reloopSize.gz)} | ${mb(ortSize.gz)} | ${(reloopSize.gz / ortSize.gz).toFixed(2)} |`);
console.log(`| package gzip -9 (js + relaxed wasm) | ${mb(relaxedSize.gz)} | ${mb(ortSize.gz)} | ${(relaxedSize.gz / ortSize.gz).toFixed(2)} |`);
console.log(`| package brotli | ${mb(reloopSize.br)} | ${mb(ortSize.br)} | ${(reloopSize.br / ortSize.br).toFixed(2)} |`);
console.log("");
console.log("reloop-edge includes the bundled model and the JS-object encoding; ORT gets pre-encoded tensors and ships no model.");
