/**
 * Load run of the Worker in real workerd, on loopback (run on demand; not a test).
 *
 * Phases, after a warm-up that lets V8 tier up the wasm:
 *   1. solo: one session, POST /score with 100 items, back to back — the
 *      per-request cost (the ≤ 2 ms p50 goal) without queueing;
 *   2. load: S concurrent sessions × R requests each (alternating /score of
 *      100 items and /feedback on an item it was shown), every session
 *      carrying its own token, as a real client would.
 * Reports throughput, p50/p99 per route as the client saw it and as the
 * Worker's Server-Timing header says (whole milliseconds: workerd's clock is
 * coarse on purpose), errors, workerd's resident memory and the load average.
 *
 * Each of --runs runs (default 3) starts a fresh workerd; the summary gives
 * the median of each figure over the runs (the machine is shared and noisy).
 *
 *   node benches/worker/load.mjs [--runs 3] [--sessions 200] [--requests 50] [--items 100] [--solo 500] [--out DIR]
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { Agent, request } from "node:http";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startWorker } from "../../www/worker/workerd.mjs";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) =>
  (a.startsWith("--") ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
const SESSIONS = Number(args.sessions ?? 200);
const REQUESTS = Number(args.requests ?? 50);
const ITEMS = Number(args.items ?? 100);
const SOLO = Number(args.solo ?? 500);
const RUNS = Number(args.runs ?? 3);
const OUT = args.out;

const GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Western"];
const catalog = Array.from({ length: ITEMS }, (_, i) => ({
  id: `m${i}`, itemId: 1 + ((i * 53) % 1600), genres: [GENRES[i % GENRES.length]], year: 1950 + (i % 48),
}));
const OCCUPATIONS = ["engineer", "student", "writer", "educator", "artist"];
const contextOf = (s) => ({
  userId: 1 + ((s * 97) % 943), age: 18 + (s % 45), gender: s % 2 ? "M" : "F",
  occupation: OCCUPATIONS[s % OCCUPATIONS.length], zip: String(s % 10), hour: s % 24, weekday: s % 7,
});

const agent = new Agent({ keepAlive: true, maxSockets: SESSIONS + 1 });

/** One POST over keep-alive: status, the parsed body, session headers, timings. */
function post(base, path, body, headers) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = request(`${base}${path}`, {
      method: "POST", agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers },
    }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const worker = Number(/dur=([\d.]+)/.exec(res.headers["server-timing"] ?? "")?.[1] ?? NaN);
        let json;
        try { json = JSON.parse(Buffer.concat(chunks).toString("utf8")); } catch { json = undefined; }
        resolve({ status: res.statusCode, json, headers: res.headers, ms, worker });
      });
    });
    req.on("error", (error) => resolve({ status: 0, error, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    req.end(body);
  });
}

/** A client session: its token and the last impressions it was shown. */
class Session {
  constructor(base, index) {
    this.base = base;
    this.context = contextOf(index);
    this.favourite = GENRES[index % GENRES.length];
    this.scoreBody = JSON.stringify({ items: catalog, context: this.context });
    this.headers = {};
    this.shown = [];
    this.step = 0;
  }

  async send(path, body) {
    const reply = await post(this.base, path, body, this.headers);
    if (reply.status === 200) {
      this.headers = { "x-reloop-session": reply.headers["x-reloop-session"], "x-reloop-token": reply.headers["x-reloop-token"] };
    }
    return reply;
  }

  /** The session's next request: /score, or /feedback on an impression it was shown. */
  async next() {
    const step = this.step++;
    if (step % 2 === 0 || this.shown.length === 0) {
      const reply = await this.send("/score", this.scoreBody);
      // The token carries the page's last SAVED_IMPRESSIONS (48) impressions;
      // each records one outcome.
      if (reply.status === 200) {
        this.shown = reply.json.scores.map((s, i) => ({ impressionId: s.impressionId, genre: catalog[i].genres[0] })).slice(-48);
      }
      return { route: "/score", ...reply };
    }
    const [seen] = this.shown.splice((step * 7) % this.shown.length, 1);
    const body = JSON.stringify({ impressionId: seen.impressionId, clicked: seen.genre === this.favourite, context: this.context });
    return { route: "/feedback", ...(await this.send("/feedback", body)) };
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}

function summarise(results) {
  const routes = {};
  for (const r of results) {
    const s = (routes[r.route] ??= { n: 0, errors: 0, client: [], worker: [] });
    s.n += 1;
    if (r.status !== 200) s.errors += 1;
    s.client.push(r.ms);
    if (Number.isFinite(r.worker)) s.worker.push(r.worker);
  }
  for (const s of Object.values(routes)) {
    s.client.sort((a, b) => a - b);
    s.worker.sort((a, b) => a - b);
    s.clientP50 = percentile(s.client, 0.5);
    s.clientP99 = percentile(s.client, 0.99);
    s.workerP50 = percentile(s.worker, 0.5);
    s.workerP99 = percentile(s.worker, 0.99);
    s.workerMean = s.worker.reduce((a, b) => a + b, 0) / s.worker.length;
    delete s.client;
    delete s.worker;
  }
  return routes;
}

/** workerd's resident memory (kB): now and its high-water mark. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rssKb: kb("VmRSS"), peakKb: kb("VmHWM") };
}

/** One run in a fresh workerd: cold start, warm-up, solo and load phases. */
async function runOnce() {
// workerd starts the isolate (and the Worker loads the model at global scope) before it listens.
const startAt = performance.now();
const worker = await startWorker();
const startupMs = performance.now() - startAt;
try {
  // The isolate's first request: a /score of ITEMS items in a new session
  // (the model is already loaded; V8 has not yet optimised the wasm).
  const coldStart = performance.now();
  const firstSession = new Session(worker.url, 0);
  const first = await firstSession.send("/score", firstSession.scoreBody);
  const cold = { clientMs: performance.now() - coldStart, workerMs: first.worker };
  if (first.status !== 200) throw new Error(`first request: ${first.status}`);
  const health = await (await fetch(`${worker.url}/health`)).json();
  const load0 = loadavg();
  const memIdle = memoryOf(worker.pid);
  const wasmIdle = health.wasmMemoryBytes;

  // Warm-up: V8 compiles the wasm with its baseline tier first, then optimises.
  const warm = new Session(worker.url, 0);
  for (let i = 0; i < 300; i++) await warm.next();

  // 1. solo: back-to-back /score of ITEMS items, one session.
  const solo = new Session(worker.url, 1);
  const soloResults = [];
  const soloStart = performance.now();
  for (let i = 0; i < SOLO; i++) {
    const reply = await solo.send("/score", solo.scoreBody);
    soloResults.push({ route: "/score", ...reply });
  }
  const soloSeconds = (performance.now() - soloStart) / 1000;
  // solo /feedback by impression id: no model run (the token carries the
  // impression); one /score per 40 outcomes, on the page's last items.
  const feedbackResults = [];
  let page = [];
  for (let i = 0; i < SOLO; i++) {
    if (page.length === 0) {
      const reply = await solo.send("/score", solo.scoreBody);
      page = reply.json.scores.slice(-40).map((x) => x.impressionId);
    }
    const reply = await solo.send("/feedback", JSON.stringify({ impressionId: page.pop(), clicked: i % 3 === 0 }));
    feedbackResults.push({ route: "/feedback", ...reply });
  }

  // 2. load: SESSIONS sessions at once, REQUESTS each.
  const sessions = Array.from({ length: SESSIONS }, (_, i) => new Session(worker.url, 100 + i));
  const loadResults = [];
  let memPeakRss = 0;
  const sampler = setInterval(() => { memPeakRss = Math.max(memPeakRss, memoryOf(worker.pid).rssKb); }, 100);
  const loadStart = performance.now();
  await Promise.all(sessions.map(async (s) => {
    for (let i = 0; i < REQUESTS; i++) loadResults.push(await s.next());
  }));
  const loadSeconds = (performance.now() - loadStart) / 1000;
  clearInterval(sampler);
  const memAfter = memoryOf(worker.pid);
  const wasmAfter = (await (await fetch(`${worker.url}/health`)).json()).wasmMemoryBytes;
  const load1 = loadavg();
  const restored = loadResults.filter((r) => r.json?.session?.state === "restored").length;

  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavgBefore: load0.map((x) => +x.toFixed(2)), loadavgAfter: load1.map((x) => +x.toFixed(2)) },
    versions: {
      node: process.version,
      workerd: execFileSync(join(REPO, "node_modules/.bin/workerd"), ["--version"], { encoding: "utf8" }).trim(),
      package: health.package.version, model: health.model.id.slice(0, 12),
    },
    startupMs: +startupMs.toFixed(1), startup: health.startup, wasmBuild: health.package.wasmBuild,
    coldStartMs: { client: +cold.clientMs.toFixed(1), worker: cold.workerMs },
    soloFeedback: { requests: SOLO, routes: summarise(feedbackResults) },
    solo: { requests: SOLO, items: ITEMS, seconds: +soloSeconds.toFixed(2), perSecond: +(SOLO / soloSeconds).toFixed(0), routes: summarise(soloResults) },
    load: {
      sessions: SESSIONS, requestsPerSession: REQUESTS, items: ITEMS, requests: loadResults.length,
      seconds: +loadSeconds.toFixed(2), perSecond: +(loadResults.length / loadSeconds).toFixed(0),
      errors: loadResults.filter((r) => r.status !== 200).length,
      restoredShare: +(restored / loadResults.length).toFixed(3),
      routes: summarise(loadResults),
    },
    workerdMemoryMb: {
      idle: +(memIdle.rssKb / 1024).toFixed(1), peakDuringLoad: +(memPeakRss / 1024).toFixed(1),
      after: +(memAfter.rssKb / 1024).toFixed(1), highWaterMark: +(memAfter.peakKb / 1024).toFixed(1),
      wasmIdle: +(wasmIdle / 2 ** 20).toFixed(1), wasmAfter: +(wasmAfter / 2 ** 20).toFixed(1),
    },
  };
  return report;
} finally {
  await worker.stop();
}
}

const reports = [];
for (let i = 0; i < RUNS; i++) {
  const report = await runOnce();
  console.error(`run ${i + 1}/${RUNS}: ${report.load.perSecond} req/s under load, ${report.load.errors} errors`);
  reports.push(report);
}
agent.destroy();
const text = [summaryOfRuns(reports), ...reports.map((r, i) => `## Run ${i + 1}\n\n${markdown(r)}`)].join("\n");
console.log(text);
if (OUT) {
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, "load.json"), `${JSON.stringify({ median: medians(reports), runs: reports }, null, 2)}\n`);
  writeFileSync(join(OUT, "load.md"), text);
}
if (reports.some((r) => r.load.errors > 0)) process.exitCode = 1;

function median(values) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The figures the README quotes, each the median over the runs. */
function medians(rs) {
  const m = (f) => median(rs.map(f));
  const route = (phase, name, key) => m((r) => r[phase].routes[name]?.[key]);
  return {
    runs: rs.length,
    loadavgBefore1m: rs.map((r) => r.machine.loadavgBefore[0]),
    startupMs: m((r) => r.startupMs),
    wasmBuild: rs[0].wasmBuild,
    coldStartClientMs: m((r) => r.coldStartMs.client),
    coldStartWorkerMs: m((r) => r.coldStartMs.worker),
    soloFeedback: { clientP50: m((r) => r.soloFeedback.routes["/feedback"]?.clientP50), workerP50: m((r) => r.soloFeedback.routes["/feedback"]?.workerP50),
      workerMean: m((r) => r.soloFeedback.routes["/feedback"]?.workerMean) },
    solo: { perSecond: m((r) => r.solo.perSecond), clientP50: route("solo", "/score", "clientP50"), clientP99: route("solo", "/score", "clientP99"),
      workerP50: route("solo", "/score", "workerP50"), workerMean: route("solo", "/score", "workerMean") },
    load: { perSecond: m((r) => r.load.perSecond), errors: rs.reduce((a, r) => a + r.load.errors, 0),
      score: { clientP50: route("load", "/score", "clientP50"), clientP99: route("load", "/score", "clientP99"), workerP50: route("load", "/score", "workerP50"), workerP99: route("load", "/score", "workerP99") },
      feedback: { clientP50: route("load", "/feedback", "clientP50"), clientP99: route("load", "/feedback", "clientP99"), workerP50: route("load", "/feedback", "workerP50"), workerP99: route("load", "/feedback", "workerP99") } },
    memoryMb: { idle: m((r) => r.workerdMemoryMb.idle), peak: m((r) => r.workerdMemoryMb.highWaterMark), wasm: m((r) => r.workerdMemoryMb.wasmAfter) },
  };
}

function summaryOfRuns(rs) {
  const x = medians(rs);
  const f = (v) => (Number.isFinite(v) ? v.toFixed(2) : "–");
  return `# Worker load run: medians of ${x.runs} run(s), each in a fresh workerd

1-minute load average before each run: ${x.loadavgBefore1m.join(", ")} (2 cores, shared with the load generator)

| figure | median |
|---|---:|
| workerd start to listening (isolate start-up, the model loaded at global scope; ${x.wasmBuild}) | ${f(x.startupMs)} ms |
| the isolate's first request, POST /score (${rs[0].solo.items} items): client / in-Worker | ${f(x.coldStartClientMs)} / ${f(x.coldStartWorkerMs)} ms |
| solo POST /score (${rs[0].solo.items} items): client p50 / p99 | ${f(x.solo.clientP50)} / ${f(x.solo.clientP99)} ms |
| solo POST /score: in-Worker p50 / mean (Server-Timing, whole ms) | ${f(x.solo.workerP50)} / ${f(x.solo.workerMean)} ms |
| solo throughput | ${f(x.solo.perSecond)} req/s |
| solo POST /feedback by impression id (no model run): client p50; in-Worker p50 / mean | ${f(x.soloFeedback.clientP50)}; ${f(x.soloFeedback.workerP50)} / ${f(x.soloFeedback.workerMean)} ms |
| load (${rs[0].load.sessions} sessions × ${rs[0].load.requestsPerSession}) throughput | ${f(x.load.perSecond)} req/s |
| load POST /score: client p50 / p99 | ${f(x.load.score.clientP50)} / ${f(x.load.score.clientP99)} ms |
| load POST /score: in-Worker p50 / p99 | ${f(x.load.score.workerP50)} / ${f(x.load.score.workerP99)} ms |
| load POST /feedback: client p50 / p99 | ${f(x.load.feedback.clientP50)} / ${f(x.load.feedback.clientP99)} ms |
| load POST /feedback: in-Worker p50 / p99 | ${f(x.load.feedback.workerP50)} / ${f(x.load.feedback.workerP99)} ms |
| errors (all runs) | ${x.load.errors} |
| workerd RSS: after first request / high-water mark | ${f(x.memoryMb.idle)} / ${f(x.memoryMb.peak)} MB |
| package wasm memory after load | ${f(x.memoryMb.wasm)} MB |
`;
}

function markdown(r) {
  const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : "–");
  const rows = (phase) => Object.entries(phase.routes).map(([route, s]) =>
    `| ${route} | ${s.n} | ${s.errors} | ${f(s.clientP50)} | ${f(s.clientP99)} | ${f(s.workerP50)} | ${f(s.workerP99)} | ${f(s.workerMean)} |`);
  return `Worker load run, ${r.date} — ${r.machine.cpus} × ${r.machine.model}; load average ${r.machine.loadavgBefore.join(" ")} before, ${r.machine.loadavgAfter.join(" ")} after
${r.versions.workerd}, node ${r.versions.node}, package ${r.versions.package}, model ${r.versions.model}; loopback, client and workerd on the same cores

workerd start to listening (the model loads at global scope, ${r.wasmBuild} build): ${r.startupMs} ms; startup ${JSON.stringify(r.startup)}

First request of the isolate (POST /score of ${r.solo.items} items, new session): ${r.coldStartMs.client} ms at the client, ${r.coldStartMs.worker} ms in the Worker

Solo (1 session, back to back, ${r.solo.items} items per /score): ${r.solo.requests} requests in ${r.solo.seconds} s = ${r.solo.perSecond} req/s

| route | requests | errors | client p50 ms | client p99 ms | Worker p50 ms | Worker p99 ms | Worker mean ms |
|---|---:|---:|---:|---:|---:|---:|---:|
${rows(r.solo).join("\n")}

Load (${r.load.sessions} concurrent sessions × ${r.load.requestsPerSession} requests, /score of ${r.load.items} items alternating with /feedback): ${r.load.requests} requests in ${r.load.seconds} s = ${r.load.perSecond} req/s, ${r.load.errors} errors, ${(r.load.restoredShare * 100).toFixed(1)}% restored from their token

| route | requests | errors | client p50 ms | client p99 ms | Worker p50 ms | Worker p99 ms | Worker mean ms |
|---|---:|---:|---:|---:|---:|---:|---:|
${rows(r.load).join("\n")}

workerd resident memory (the whole process): ${r.workerdMemoryMb.idle} MB after the first request, ${r.workerdMemoryMb.peakDuringLoad} MB peak sampled under load, ${r.workerdMemoryMb.after} MB after (high-water mark ${r.workerdMemoryMb.highWaterMark} MB); the package's wasm memory: ${r.workerdMemoryMb.wasmIdle} MB after the first request, ${r.workerdMemoryMb.wasmAfter} MB after the load
"Worker" columns: the Server-Timing header (time inside the Worker's fetch handler; workerd's clock ticks in whole milliseconds).
`;
}
