// The package's two wasm builds, relaxed SIMD and plain simd128, in headless
// Chromium (Debian's, through playwright-core): the host whose V8 decides
// which build the browser entry and the Worker load. Run on demand (not a
// test): `node benches/browser/builds.mjs` after `make pkg`.
//
//   * per call: both builds in one page (two instances of the glue), the
//     same session evidence, score(100 items) and scoreCatalog(100 ids)
//     interleaved in rounds, p50 per build and their ratio;
//   * cold start: a fresh page per run, import → compile → instantiate →
//     Model.bundled() → new Session → first score, medians per phase.
//
// Env: CHROMIUM (default /usr/bin/chromium), BENCH_ITERS (2000), BENCH_COLD_RUNS (5).
import { createServer } from "node:http";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import sirv from "sirv";
import { chromium } from "playwright-core";
import { PHASES } from "../common/cold.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ITERS = Number(process.env.BENCH_ITERS ?? 2000);
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 5);
const BUILDS = { simd128: "reloop_edge_bg.wasm", relaxed: "reloop_edge_relaxed_bg.wasm" };
for (const f of ["reloop_edge.js", ...Object.values(BUILDS)]) {
  if (!existsSync(path.join(root, "pkg", f))) throw new Error(`pkg/${f} is missing: make pkg`);
}
const spec = JSON.parse(readFileSync(path.join(root, "models/movielens.spec.json"), "utf8"));
const GENRES = Object.keys(spec.fields.genres.vocabulary).filter((g) => g !== "unknown");

// The page's code: plain functions serialised into page.evaluate.
async function perCall({ builds, genres, iters }) {
  const rng = (seed) => { let s = seed >>> 0; return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; }; };
  const catalogue = (n, seed) => {
    const r = rng(seed);
    return Array.from({ length: n }, () => {
      const k = 1 + Math.floor(r() * 3);
      return { itemId: 1 + Math.floor(r() * 1682), genres: Array.from({ length: k }, () => genres[Math.floor(r() * genres.length)]), year: 1960 + Math.floor(r() * 39) };
    });
  };
  const context = { userId: 196, age: 49, gender: "M", occupation: "writer", zip: "5", hour: 21, weekday: 3 };
  const items = catalogue(100, 1);
  const ids = items.map((_, i) => "item" + i);
  const runs = {};
  const scores = {};
  for (const [name, wasm] of Object.entries(builds)) {
    const api = await import(`/pkg/reloop_edge.js?${name}`);
    await api.default({ module_or_path: `/pkg/${wasm}` });
    const model = api.Model.bundled();
    const session = new api.Session(model);
    const catalog = new api.Catalog(model, items, ids);
    catalogue(200, 9).forEach((it, i) => session.record(it, i % 3 === 0, context));
    scores[name] = Array.from(session.score(items, context));
    runs[`${name} score`] = () => session.score(items, context);
    runs[`${name} byId`] = () => session.scoreCatalog(catalog, ids, context);
  }
  const names = Object.keys(runs);
  const times = Object.fromEntries(names.map((n) => [n, []]));
  const shuffle = rng(7);
  const order = [...names];
  for (let i = -200; i < iters; i++) {
    // A fresh random order each round (no variant always follows the same one).
    for (let k = order.length - 1; k > 0; k--) {
      const j = Math.floor(shuffle() * (k + 1));
      [order[k], order[j]] = [order[j], order[k]];
    }
    for (const name of order) {
      const t0 = performance.now();
      runs[name]();
      if (i >= 0) times[name].push(performance.now() - t0);
    }
  }
  const p50 = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const [a, b] = Object.values(scores);
  return {
    p50: Object.fromEntries(names.map((n) => [n, p50(times[n])])),
    maxDiff: Math.max(...a.map((v, i) => Math.abs(v - b[i]))),
    relaxedSupported: (await import("/pkg/host.js")).relaxedSimd(),
  };
}

async function cold({ wasm }) {
  const { coldStart } = await import("/benches/common/cold.mjs");
  return coldStart({
    glueUrl: "/pkg/reloop_edge.js",
    readBytes: async () => (await fetch(`/pkg/${wasm}`)).arrayBuffer(),
    compile: (bytes) => WebAssembly.compile(bytes),
  });
}

const files = sirv(root, { dev: true });
const server = createServer((req, res) => {
  // Cross-origin isolated: performance.now() then ticks in 5 µs, not 100 µs.
  res.setHeader("cross-origin-opener-policy", "same-origin");
  res.setHeader("cross-origin-embedder-policy", "require-corp");
  if (req.url === "/") {
    res.setHeader("content-type", "text/html");
    res.end("<!doctype html><title>builds</title>");
    return;
  }
  files(req, res, () => { res.statusCode = 404; res.end(); });
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const url = `http://127.0.0.1:${server.address().port}/`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const version = browser.version();
  const page = await browser.newPage();
  await page.goto(url);
  const r = await page.evaluate(perCall, { builds: BUILDS, genres: GENRES, iters: ITERS });
  await page.close();
  const coldOf = async (wasm) => {
    const runs = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const context = await browser.newContext();
      const p = await context.newPage();
      await p.goto(url);
      runs.push(await p.evaluate(cold, { wasm }));
      await context.close();
    }
    const med = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    return { total: med(runs.map((x) => x.reduce((a, b) => a + b, 0))), phases: runs[0].map((_, i) => med(runs.map((x) => x[i]))) };
  };
  const ms = (x) => x.toFixed(3);
  console.log(`Chromium ${version}; relaxed SIMD supported: ${r.relaxedSupported}; max |relaxed − simd128 score| ${r.maxDiff.toExponential(2)}; ${ITERS} rounds`);
  console.log("| measure (batch of 100) | simd128 | relaxed SIMD | relaxed / simd128 |");
  console.log("|---|---:|---:|---:|");
  for (const m of ["score", "byId"]) {
    const [a, b] = [r.p50[`simd128 ${m}`], r.p50[`relaxed ${m}`]];
    console.log(`| ${m === "score" ? "score(items), p50" : "scoreCatalog(ids), p50"} | ${ms(a)} ms | ${ms(b)} ms | ${(b / a).toFixed(3)} |`);
  }
  const [cs, cr] = [await coldOf(BUILDS.simd128), await coldOf(BUILDS.relaxed)];
  console.log(`| cold start, median of ${COLD_RUNS} fresh pages | ${ms(cs.total)} ms | ${ms(cr.total)} ms | ${(cr.total / cs.total).toFixed(3)} |`);
  console.log(`| phases (${PHASES.join(", ")}) | ${cs.phases.map(ms).join(" + ")} | ${cr.phases.map(ms).join(" + ")} | |`);
} finally {
  await browser.close();
  server.close();
}
