/**
 * Soak of the Worker in real workerd on loopback, with a leak oracle.
 *
 * S sessions × R requests (/score and /feedback, the sessions interleaved in
 * a seeded random order, C requests in flight), a share of them abusive:
 * tampered, expired, foreign (another session's, another key's, another
 * model's) and garbage tokens, and malformed bodies (bad JSON, wrong types,
 * huge arrays, missing and unknown fields, wrong content type or method).
 *
 * The oracle: every answer the Worker gives is predicted, bit for bit, by a
 * replay of that session's own requests through the package in this Node
 * process (the same relaxed-SIMD wasm, the same model and options), doing
 * per request what the Worker does: restore the memory the session's
 * previous answer left (the replay's own bytes, never the Worker's token),
 * run the call, save. Compared: status and error code, every score and base
 * score (Object.is on the numbers), ids, `recorded`, `events`, session state
 * and reason, and the memory bytes inside the returned token against the
 * replay's saved bytes. A request with a bad token is predicted from a fresh
 * memory and leaves the session's own state alone; a rejected request (4xx)
 * is skipped by the replay, so the answers after it must still match. Any
 * state crossing sessions (or surviving a rejected request) shows up as a
 * mismatch.
 *
 * Batch sizes: a model keeps plans fixed to the batch sizes it has run twice
 * (crates/runtime/src/plans.rs, at most 4 at once), and a fixed plan's
 * fused kernels round in the last bits differently from the general plan.
 * Which plan a call gets depends on the isolate's history of batch sizes
 * across all sessions, which the client cannot observe under concurrency.
 * So /score uses at most 3 sizes besides 1 (/feedback by item runs 1 row),
 * and both the Worker and the replay run each size twice before the soak:
 * from then on every call runs on its size's fixed plan on both sides.
 *
 * Also sampled, --samples times (40) in the run: the isolate's wasm memory (GET
 * /health `wasmMemoryBytes`) and workerd's RSS. The wasm memory must not
 * grow over the last half of the run. Wasm memory never shrinks, so its size
 * is a high-water mark: the warm-up sends bursts of the largest /score first,
 * so that a rare peak of legitimate requests late in a short run is not taken
 * for a leak (a leak grows past any peak: the Worker keeping each request's
 * memory, ~23 KB, adds 11 MB to a 1,000-request run). The isolate's JS heap
 * is sampled too, through workerd's inspector, after a garbage collection
 * and with no request in flight: what stays reachable. V8's own bookkeeping
 * (type feedback, inline caches) grows it for the first few thousand
 * requests (1.17 → 1.37 MB), then it is flat; it may grow by --js-slack bytes
 * (64 KB) over the last half. Needs WebSocket (Node 20: --experimental-websocket).
 *
 * Needs the relaxed-SIMD build in Node (the Worker's build):
 *   node --experimental-wasm-relaxed-simd benches/worker/soak.mjs
 *     [--sessions 1000] [--requests 100] [--seed 1] [--concurrency 16]
 *     [--sizes 8,30,64] [--js-slack 65536] [--samples 40] [--out DIR] [--report FILE] [--inject-swap]
 * or the env knobs SOAK_SESSIONS, SOAK_REQUESTS, SOAK_SEED, SOAK_CONCURRENCY.
 * `--inject-swap` makes each client send, once, another session's id and
 * token as its own (a simulated cross-session leak): the oracle must report
 * mismatches (the soak test checks it does). Exit status 1 on any failure.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Model, Session, wasmBuild } from "../../pkg/node.js";
import { freePort, startWorker } from "../../www/worker/workerd.mjs";
import { build as buildToken, parse as parseToken } from "../../tests/worker/forge.mjs";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

// --- seeded randomness ------------------------------------------------------

/** mulberry32: a small seeded generator, [0, 1). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = (rng, list) => list[Math.floor(rng() * list.length)];
const int = (rng, lo, hi) => lo + Math.floor(rng() * (hi - lo + 1));

// --- the workload -------------------------------------------------------------

const GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Western"];
const OCCUPATIONS = ["engineer", "student", "writer", "educator", "artist", "other"];
const CATALOG = Array.from({ length: 400 }, (_, i) => ({
  id: `m${i}`, itemId: 1 + ((i * 53) % 1682),
  genres: i % 11 === 0 ? [GENRES[i % 8], GENRES[(i + 3) % 8]] : [GENRES[i % 8]],
  year: 1930 + (i % 69),
}));

function contextOf(s) {
  return {
    userId: 1 + ((s * 97) % 943), age: 18 + (s % 50), gender: s % 2 ? "M" : "F",
    occupation: OCCUPATIONS[s % OCCUPATIONS.length], zip: String(s % 10), hour: s % 24, weekday: s % 7,
  };
}

const DEEP = JSON.parse(`${"[".repeat(2000)}${"]".repeat(2000)}`);

/** Items of a /score, each a catalog item or, rarely, an odd one (the package judges it; the replay predicts). */
function itemsFor(rng, n) {
  return Array.from({ length: n }, () => {
    const base = pick(rng, CATALOG);
    const r = rng();
    // Per item: 0.13% are ones the package refuses (400 E_INVALID_INPUT: wrong type, itemId
    // missing, nested lists, a null genre), so ~8% of /score of 64 items fail, ~1% of 8.
    if (r < 0.0003) return { ...base, year: String(base.year) }; // a wrong type
    if (r < 0.0005) return { id: base.id, genres: base.genres, year: base.year }; // itemId missing
    if (r < 0.0025) return { ...base, genres: Array.from({ length: 3000 }, (_, k) => GENRES[k % 8]) }; // a huge array
    if (r < 0.0065) return { ...base, genres: ["Unheard-of"], extra: { nested: [1, 2, 3] } }; // unknown values, extra keys
    if (r < 0.0085) return { ...base, itemId: -base.itemId, year: 1e9 }; // out of range
    if (r < 0.0089) return { ...base, genres: DEEP }; // lists in lists, 2,000 deep
    if (r < 0.0093) return JSON.parse(`{"__proto__": {"itemId": 1}, "constructor": null, "itemId": ${base.itemId}, "genres": [null], "year": ${base.year}}`);
    if (r < 0.0103) return { ...base, id: "é".repeat(4000), genres: ["x".repeat(8000)] }; // long strings
    return base;
  });
}

// Shape errors the Worker answers before anything reaches the package: body
// (text or bytes), content type, method and path, and the status and code due.
const MALFORMED = [
  { name: "bad JSON", status: 400, code: "E_BAD_JSON", make: (p) => ({ text: p.text.slice(0, Math.max(1, p.text.length >> 1)) }) },
  { name: "not UTF-8", status: 400, code: "E_BAD_JSON", make: () => ({ bytes: Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]) }) },
  { name: "text/plain", status: 415, code: "E_UNSUPPORTED_MEDIA_TYPE", make: (p) => ({ text: p.text, type: "text/plain" }) },
  { name: "array body", status: 400, code: "E_BAD_REQUEST", make: (p) => ({ text: `[${p.text}]` }) },
  { name: "null body", status: 400, code: "E_BAD_REQUEST", make: () => ({ text: "null" }) },
  { name: "unknown field", status: 400, code: "E_UNKNOWN_FIELD", make: (p) => ({ text: JSON.stringify({ ...p.body, contxt: {} }) }) },
  { name: "context an array", status: 400, code: "E_BAD_REQUEST", make: (p) => ({ text: JSON.stringify({ ...p.body, context: [1, 2] }) }) },
  { name: "items missing", status: 400, code: "E_BAD_REQUEST", path: "/score", make: (p) => ({ text: JSON.stringify({ context: p.context }) }) },
  { name: "items a string", status: 400, code: "E_BAD_REQUEST", path: "/score", make: (p) => ({ text: JSON.stringify({ items: "m1,m2", context: p.context }) }) },
  { name: "items empty", status: 400, code: "E_BAD_REQUEST", path: "/score", make: (p) => ({ text: JSON.stringify({ items: [], context: p.context }) }) },
  { name: "item a number", status: 400, code: "E_BAD_REQUEST", path: "/score", make: (p) => ({ text: JSON.stringify({ items: [CATALOG[0], 7], context: p.context }) }) },
  { name: "too many items", status: 413, code: "E_TOO_MANY_ITEMS", path: "/score", make: (p, rng) => ({ text: JSON.stringify({ items: Array.from({ length: int(rng, 201, 2000) }, () => ({})), context: p.context }) }) },
  { name: "body too large", status: 413, code: "E_BODY_TOO_LARGE", path: "/score", make: (p) => ({ text: JSON.stringify({ items: [{ ...CATALOG[1], genres: Array(20000).fill("Drama") }], context: p.context }) }) },
  { name: "clicked missing", status: 400, code: "E_BAD_REQUEST", path: "/feedback", make: (p) => ({ text: JSON.stringify({ item: CATALOG[2], context: p.context }) }) },
  { name: "clicked a string", status: 400, code: "E_BAD_REQUEST", path: "/feedback", make: (p) => ({ text: JSON.stringify({ item: CATALOG[2], clicked: "yes", context: p.context }) }) },
  { name: "item and impressionId", status: 400, code: "E_BAD_REQUEST", path: "/feedback", make: (p) => ({ text: JSON.stringify({ item: CATALOG[2], impressionId: "abc.1", clicked: true }) }) },
  { name: "neither item nor impressionId", status: 400, code: "E_BAD_REQUEST", path: "/feedback", make: () => ({ text: JSON.stringify({ clicked: true }) }) },
  { name: "item an array", status: 400, code: "E_BAD_REQUEST", path: "/feedback", make: () => ({ text: JSON.stringify({ item: [1], clicked: true }) }) },
  { name: "impressionId a number", status: 400, code: "E_BAD_IMPRESSION", path: "/feedback", make: () => ({ text: JSON.stringify({ impressionId: 12, clicked: true }) }) },
  { name: "impressionId too long", status: 400, code: "E_BAD_IMPRESSION", path: "/feedback", make: () => ({ text: JSON.stringify({ impressionId: "x".repeat(65), clicked: false }) }) },
  { name: "GET /score", status: 405, code: "E_METHOD_NOT_ALLOWED", method: "GET", path: "/score", make: () => ({}) },
  { name: "no such route", status: 404, code: "E_NOT_FOUND", path: "/scores", make: (p) => ({ text: p.text }) },
];

// Tokens that must not restore the session's memory, and the reason the Worker must give.
const BAD_TOKENS = ["tampered", "expired", "other-key", "foreign-session", "foreign-model", "garbage", "too-long", "no-session-id", "bad-session-id"];
const REASON = {
  tampered: "tampered", expired: "expired", "other-key": "tampered", "foreign-session": "foreign-session",
  "foreign-model": "foreign-model", garbage: "malformed", "too-long": "malformed", "no-session-id": "foreign-session",
  "bad-session-id": "foreign-session",
};

// --- the client ------------------------------------------------------------------

/** One user's session as the soak drives it, with the replay's own copy of its memory. */
class SoakSession {
  constructor(index, seed) {
    this.index = index;
    this.rng = prng((seed * 1_000_003 + index * 7919) >>> 0);
    this.context = contextOf(index);
    this.favourite = GENRES[index % GENRES.length];
    this.sessionId = undefined;
    this.token = undefined;
    this.saved = null; // the replay's memory bytes (null: none yet)
    this.shown = []; // { impressionId, item } of recent pages
    this.step = 0;
    this.swapAt = -1;
    this.mismatched = false;
  }
}

/** A valid operation of `s`: { path, body }. */
function operation(s, sizes) {
  const { rng } = s;
  const r = rng();
  const context = rng() < 0.01 ? undefined : s.context; // no context: the package asks for its fields
  if (s.step === 0 || r < 0.45 || (r < 0.85 && s.shown.length === 0)) {
    return { path: "/score", body: { items: itemsFor(rng, pick(rng, sizes)), context } };
  }
  if (r < 0.85) {
    const at = Math.floor(rng() * s.shown.length);
    const { impressionId, item } = s.shown[at];
    // Mostly once per impression; sometimes again (the Worker then refuses it).
    if (rng() < 0.95) s.shown.splice(at, 1);
    const clicked = item.genres?.[0] === s.favourite ? rng() < 0.7 : rng() < 0.08;
    return { path: "/feedback", body: { impressionId, clicked, ...(rng() < 0.5 ? { context } : {}) } };
  }
  const item = pick(rng, CATALOG);
  return { path: "/feedback", body: { item, clicked: item.genres[0] === s.favourite ? rng() < 0.6 : rng() < 0.1, context } };
}

/** The next request of `s`: what to send and what the oracle expects of it. */
function nextRequest(s, ctx) {
  const { rng } = s;
  const op = operation(s, ctx.sizes);
  const text = JSON.stringify(op.body);
  const plan = { kind: "normal", method: "POST", path: op.path, text, type: "application/json", sessionId: s.sessionId, token: s.token };
  if (Buffer.byteLength(text) > ctx.maxBodyBytes) {
    // Huge arrays in several items: over MAX_BODY_BYTES, refused before anything is read.
    return { ...plan, kind: "malformed", name: "huge arrays over the body limit", expect: { status: 413, code: "E_BODY_TOO_LARGE" } };
  }
  if (s.step === s.swapAt) {
    // The injected leak: another session's id and token, sent as this session's own.
    const other = ctx.sessions[(s.index + 1 + Math.floor(rng() * (ctx.sessions.length - 1))) % ctx.sessions.length];
    if (other.token !== undefined) return { ...plan, kind: "swap", sessionId: other.sessionId, token: other.token };
  }
  const r = rng();
  // The first request is a plain one; abuse needs a token to abuse.
  if (s.step === 0 || s.token === undefined) return plan;
  if (r < ctx.malformedShare) {
    const candidates = MALFORMED.filter((m) => m.path === undefined || m.path === op.path || m.method === "GET" || m.path === "/scores");
    const m = pick(rng, candidates);
    const made = m.make({ text, body: op.body, context: s.context }, rng);
    return {
      ...plan, kind: "malformed", name: m.name, method: m.method ?? "POST", path: m.path ?? op.path,
      text: made.text, bytes: made.bytes, type: made.type ?? "application/json", expect: { status: m.status, code: m.code },
    };
  }
  if (r < ctx.malformedShare + ctx.badTokenShare) {
    const variant = pick(rng, BAD_TOKENS);
    const fields = parseToken(s.token);
    let token;
    let sessionId = s.sessionId;
    switch (variant) {
      case "tampered": {
        // Any character after the version byte's (never the last: its low bits may be padding).
        const at = int(rng, 2, s.token.length - 2);
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        const swapped = alphabet[(alphabet.indexOf(s.token[at]) + 1 + int(rng, 0, 62)) % 64];
        token = s.token.slice(0, at) + swapped + s.token.slice(at + 1);
        break;
      }
      case "expired":
        token = buildToken({ ...fields, expiry: Math.floor(Date.now() / 1000) - int(rng, 1, 86400) }, ctx.secret);
        break;
      case "other-key":
        token = buildToken(fields, ctx.otherSecret);
        break;
      case "foreign-model":
        token = buildToken({ ...fields, modelTag: Buffer.from(fields.modelTag).map((b, i) => (i === 0 ? b ^ 0x5a : b)) }, ctx.secret);
        break;
      case "foreign-session": {
        const others = ctx.sessions.filter((o) => o !== s && o.token !== undefined);
        if (others.length === 0) return plan;
        token = pick(rng, others).token;
        break;
      }
      case "garbage":
        token = "not!a*token";
        break;
      case "too-long":
        token = s.token + "A".repeat(16385 - s.token.length);
        break;
      case "no-session-id":
        token = s.token;
        sessionId = undefined;
        break;
      case "bad-session-id":
        // Not a canonical id: the Worker gives the request a new one, so the token is another session's.
        token = s.token;
        sessionId = pick(rng, ["", "short", `${s.sessionId.slice(0, 21)}!`, s.sessionId.toLowerCase() === s.sessionId ? "x".repeat(22) : s.sessionId.toLowerCase()]);
        break;
    }
    const newId = variant === "no-session-id" || variant === "bad-session-id";
    return { ...plan, kind: "bad-token", name: variant, token, sessionId, expectReason: REASON[variant], newId, ownId: s.sessionId };
  }
  return plan;
}

// --- the replay -----------------------------------------------------------------------

/**
 * What the Worker does for one request that reached the package, in Node:
 * restore `saved` (or a fresh memory), run the call, save. `ids`: the
 * impression ids the Worker handed out (the replay uses the same ones).
 */
function replay(ctx, saved, path, body, ids) {
  const memory = saved === null ? new Session(ctx.model, ctx.options) : new Session(ctx.model, ctx.options, saved);
  try {
    if (memory.restoreError !== undefined) throw new Error(`replay: own saved bytes did not restore: ${memory.restoreError.message}`);
    let result;
    const context = body.context ?? null;
    try {
      if (path === "/score") result = memory.scoreDetailed(body.items, context, ids);
      else if (body.item !== undefined) result = memory.record(body.item, body.clicked, context);
      else result = memory.recordImpression(body.impressionId, body.clicked);
    } catch (error) {
      if (error?.name !== "ReloopError" || error.code !== "E_INVALID_INPUT") throw error;
      const byId = path === "/feedback" && body.item === undefined;
      return { ok: false, status: 400, code: byId ? "E_BAD_IMPRESSION" : "E_INVALID_INPUT" };
    }
    return { ok: true, result, events: memory.events, saved: memory.save() };
  } finally {
    memory.free();
  }
}

/** Differences between the Worker's answer and the replay's (empty: equal, bit for bit). */
function compare(reply, predicted, plan, body) {
  const diffs = [];
  const json = reply.json;
  if (!predicted.ok) {
    if (reply.status !== predicted.status || json?.error?.code !== predicted.code) {
      diffs.push(`expected ${predicted.status} ${predicted.code}, got ${reply.status} ${json?.error?.code ?? reply.text?.slice(0, 80)}`);
    }
    return diffs;
  }
  if (reply.status !== 200) {
    diffs.push(`expected 200, got ${reply.status} ${json?.error?.code ?? ""}`);
    return diffs;
  }
  const session = json.session ?? {};
  const expectState = plan.kind === "bad-token" || plan.token === undefined ? "fresh" : "restored";
  const expectReason = plan.kind === "bad-token" ? plan.expectReason : plan.token === undefined ? "missing" : null;
  if (session.state !== expectState || session.reason !== expectReason) {
    diffs.push(`session ${session.state}/${session.reason}, expected ${expectState}/${expectReason}`);
  }
  if (session.events !== predicted.events) diffs.push(`events ${session.events} vs ${predicted.events}`);
  const id = reply.headers["x-reloop-session"];
  if (plan.newId) {
    if (typeof id !== "string" || id.length !== 22 || id === plan.ownId) diffs.push(`session id ${id}: expected a new one`);
  } else if (plan.sessionId !== undefined && id !== plan.sessionId) {
    diffs.push("session id changed");
  }
  const token = reply.headers["x-reloop-token"];
  if (typeof token !== "string") diffs.push("no token");
  else if (Buffer.compare(parseToken(token).memory, Buffer.from(predicted.saved)) !== 0) diffs.push("token memory bytes differ from the replay's");
  if (plan.path === "/score") {
    const { scores, base } = predicted.result;
    if (!Array.isArray(json.scores) || json.scores.length !== scores.length) {
      diffs.push(`scores: ${json.scores?.length} vs ${scores.length}`);
      return diffs;
    }
    json.scores.forEach((s, i) => {
      if (!Object.is(s.score, scores[i])) diffs.push(`score[${i}] ${s.score} vs ${scores[i]}`);
      if (!Object.is(s.base, base[i])) diffs.push(`base[${i}] ${s.base} vs ${base[i]}`);
      if (s.id !== (body.items[i].id ?? i)) diffs.push(`id[${i}]`);
    });
  } else if (json.recorded !== predicted.result) {
    diffs.push(`recorded ${json.recorded} vs ${predicted.result}`);
  }
  return diffs;
}

// --- HTTP ---------------------------------------------------------------------------------

function send(ctx, plan) {
  return new Promise((resolve) => {
    const headers = {};
    if (plan.sessionId !== undefined) headers["x-reloop-session"] = plan.sessionId;
    if (plan.token !== undefined) headers["x-reloop-token"] = plan.token;
    const payload = plan.method === "GET" ? undefined : plan.bytes ?? Buffer.from(plan.text, "utf8");
    if (payload !== undefined) {
      headers["content-type"] = plan.type;
      headers["content-length"] = payload.length;
    }
    let done = false;
    const finish = (value) => { if (!done) { done = true; resolve(value); } };
    // A body the Worker refuses unread (413 on Content-Length) may break the
    // connection: such requests get a connection of their own.
    const agent = payload !== undefined && payload.length > ctx.maxBodyBytes ? false : ctx.agent;
    const req = request(`${ctx.url}${plan.path}`, { method: plan.method, agent, headers }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        finish({ status: res.statusCode, headers: res.headers, json, text });
      });
      res.on("error", (error) => finish({ status: 0, error, text: String(error) }));
    });
    req.on("error", (error) => finish({ status: 0, error, text: String(error) }));
    req.end(payload);
  });
}

/** workerd's resident memory and its high-water mark (kB). */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rssKb: kb("VmRSS"), peakKb: kb("VmHWM") };
}

/**
 * The isolate's JS heap through workerd's inspector (Chrome DevTools
 * protocol): `liveBytes()` takes a heap snapshot, which collects garbage
 * first, and returns the heap's used size after it, i.e. the bytes still
 * reachable. Wasm memory is not part of it.
 */
async function inspectIsolate(port) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error("inspector: no connection")); });
  const pending = new Map();
  let id = 0;
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    // Snapshot chunks (no id) are dropped: only the collection matters.
    if (message.id !== undefined && pending.has(message.id)) {
      pending.get(message.id)(message);
      pending.delete(message.id);
    }
  };
  const call = (method, params = {}) => new Promise((resolve, reject) => {
    const at = ++id;
    const timer = setTimeout(() => reject(new Error(`inspector: ${method} timed out`)), 30000);
    pending.set(at, (message) => {
      clearTimeout(timer);
      if (message.error) reject(new Error(`inspector: ${method}: ${message.error.message}`));
      else resolve(message.result);
    });
    ws.send(JSON.stringify({ id: at, method, params }));
  });
  return {
    async liveBytes() {
      await call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
      return (await call("Runtime.getHeapUsage")).usedSize;
    },
    close: () => ws.close(),
  };
}

// --- the run ---------------------------------------------------------------------------------

/**
 * Runs one soak; returns its report (`report.failures` lists what failed).
 * @param {{ sessions?: number, requests?: number, seed?: number, concurrency?: number, sizes?: number[],
 *   malformedShare?: number, badTokenShare?: number, injectSwap?: boolean, log?: (line: string) => void }} [options]
 */
export async function runSoak({
  sessions: S = 1000, requests: R = 100, seed = 1, concurrency = 16, sizes = [8, 30, 64],
  malformedShare = 0.04, badTokenShare = 0.04, injectSwap = false, jsSlack = 65536, samples = 40, log = () => {},
} = {}) {
  if (wasmBuild !== "relaxed-simd") {
    throw new Error(`Node loaded the ${wasmBuild} build; the Worker runs relaxed-simd: run node with --experimental-wasm-relaxed-simd`);
  }
  if (new Set([1, ...sizes]).size > 4) throw new Error("at most 3 /score batch sizes besides 1 (a model keeps 4 fixed plans)");
  if (typeof WebSocket !== "function") throw new Error("no WebSocket for workerd's inspector: on Node 20 run node with --experimental-websocket");
  const secret = randomBytes(32).toString("base64url");
  const otherSecret = randomBytes(32).toString("base64url");
  const inspectorPort = await freePort();
  const worker = await startWorker({ secret, args: [`--inspector-addr=127.0.0.1:${inspectorPort}`] });
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let isolate;
  try {
    isolate = await inspectIsolate(inspectorPort);
    const health = await (await fetch(`${worker.url}/health`)).json();
    const model = Model.bundled();
    model.warmUp();
    if (health.model.source !== "bundled" || health.model.id !== model.id) {
      throw new Error(`the Worker serves model ${health.model.id} (${health.model.source}); the replay has the bundled ${model.id}`);
    }
    if (health.package.wasmBuild !== wasmBuild) throw new Error(`the Worker runs ${health.package.wasmBuild}`);
    const ctx = {
      url: worker.url, agent, secret, otherSecret, model, sizes,
      options: { savedImpressions: health.limits.savedImpressions },
      maxBodyBytes: health.limits.maxBodyBytes, malformedShare, badTokenShare,
      sessions: Array.from({ length: S }, (_, i) => new SoakSession(i, seed)),
    };
    // Each batch size run twice on both sides: fixed plans from here on (see the header).
    const warm = { ...ctx, sessions: [] };
    for (const n of [1, ...sizes]) {
      const items = CATALOG.slice(0, n);
      for (let k = 0; k < 2; k++) {
        const reply = await send(warm, { method: "POST", path: "/score", text: JSON.stringify({ items, context: contextOf(0) }), type: "application/json" });
        if (reply.status !== 200) throw new Error(`warm-up: ${reply.status} ${reply.text}`);
        const s = new Session(model, ctx.options);
        s.scoreDetailed(items, contextOf(0));
        s.free();
      }
    }
    // The wasm memory's high-water mark: `concurrency` of the largest /score at
    // once, twice (64 items, two with 3,000 genres: ~60 KB of JSON each). A
    // leak grows past it; a peak of the workload alone should not.
    const wasmBeforeBurst = (await (await fetch(`${worker.url}/health`)).json()).wasmMemoryBytes;
    const heavyBody = (huge) => JSON.stringify({
      items: CATALOG.slice(0, Math.max(...sizes)).map((item, i) => (i < huge ? { ...item, genres: Array.from({ length: 3000 }, (_, k) => GENRES[k % 8]) } : item)),
      context: contextOf(0),
    });
    let heavy = heavyBody(2);
    for (let huge = 1; Buffer.byteLength(heavy) > ctx.maxBodyBytes; huge--) heavy = heavyBody(huge);
    for (let round = 0; round < 2; round++) {
      const replies = await Promise.all(Array.from({ length: concurrency }, () =>
        send(warm, { method: "POST", path: "/score", text: heavy, type: "application/json" })));
      const bad = replies.find((x) => x.status !== 200);
      if (bad) throw new Error(`warm-up burst: ${bad.status} ${bad.text}`);
    }
    if (injectSwap) for (const s of ctx.sessions) s.swapAt = Math.max(2, R >> 1);

    // The order requests are issued: each session R times, shuffled (seeded).
    const order = new Uint32Array(S * R);
    for (let i = 0; i < order.length; i++) order[i] = i % S;
    const shuffle = prng(seed);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(shuffle() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }

    const stats = {
      requests: 0, byKind: {}, byRoute: {}, status: {}, codes4xx: {}, fiveXx: 0, transportErrors: 0,
      unexpected: 0, mismatchedRequests: 0, replayed: 0, restored: 0, samples: [], sampleErrors: 0,
    };
    const examples = [];
    const note = (line) => { if (examples.length < 20) examples.push(line); };
    const sampleEvery = Math.max(1, Math.floor(order.length / samples));
    let nextSample = sampleEvery;
    let sampling = Promise.resolve();
    const sample = () => {
      const served = stats.requests;
      sampling = sampling.then(async () => {
        try {
          const h = await (await fetch(`${worker.url}/health`)).json();
          const jsBytes = await isolate.liveBytes();
          stats.samples.push({ served, wasmBytes: h.wasmMemoryBytes, jsBytes, rssKb: memoryOf(worker.pid).rssKb });
        } catch (error) {
          stats.sampleErrors += 1;
          note(`GET /health after ${served} requests: ${error.cause?.message ?? error.message}`);
        }
      });
      return sampling;
    };
    await sample();
    stats.samples[0].wasmBeforeBurst = wasmBeforeBurst;

    const handle = async (s) => {
      const plan = nextRequest(s, ctx);
      s.step += 1;
      const reply = await send(ctx, plan);
      stats.requests += 1;
      stats.byKind[plan.kind] = (stats.byKind[plan.kind] ?? 0) + 1;
      stats.byRoute[plan.path] = (stats.byRoute[plan.path] ?? 0) + 1;
      stats.status[reply.status] = (stats.status[reply.status] ?? 0) + 1;
      if (reply.status === 0) stats.transportErrors += 1;
      if (reply.status >= 500) {
        stats.fiveXx += 1;
        note(`5xx: session ${s.index} step ${s.step - 1} ${plan.kind} ${plan.path}: ${reply.status} ${reply.text.slice(0, 200)}`);
      }
      if (reply.status >= 400 && reply.status < 500) {
        const code = reply.json?.error?.code ?? "(no code)";
        stats.codes4xx[code] = (stats.codes4xx[code] ?? 0) + 1;
        if (reply.headers["x-reloop-token"] !== undefined) note(`a ${reply.status} carried a token`);
      }

      if (plan.kind === "malformed") {
        if (reply.status !== plan.expect.status || reply.json?.error?.code !== plan.expect.code) {
          stats.unexpected += 1;
          note(`malformed "${plan.name}": expected ${plan.expect.status} ${plan.expect.code}, got ${reply.status} ${reply.text.slice(0, 120)}`);
        }
        return; // rejected: the replay skips it
      }
      const body = JSON.parse(plan.text);
      const ids = plan.path === "/score"
        ? (reply.status === 200 && Array.isArray(reply.json?.scores) ? reply.json.scores.map((x) => x.impressionId) : body.items.map((_, i) => `x.${i}`))
        : undefined;
      // A bad token restores nothing: predicted from a fresh memory. Otherwise
      // from the session's own memory, as the replay left it.
      const fresh = plan.kind === "bad-token" || plan.token === undefined;
      const predicted = replay(ctx, fresh ? null : s.saved, plan.path, body, ids);
      stats.replayed += 1;
      const diffs = compare(reply, predicted, plan, body);
      if (reply.json?.session?.state === "restored") stats.restored += 1;
      if (diffs.length > 0) {
        stats.mismatchedRequests += 1;
        s.mismatched = true;
        note(`mismatch: session ${s.index} step ${s.step - 1} ${plan.kind}${plan.name ? ` (${plan.name})` : ""} ${plan.path}: ${diffs.slice(0, 4).join("; ")}`);
      }
      // Only the session's own accepted requests move its state (the token it carries, the replay's bytes).
      if (plan.kind !== "bad-token" && reply.status === 200 && predicted.ok) {
        s.saved = predicted.saved;
        s.sessionId = reply.headers["x-reloop-session"];
        s.token = reply.headers["x-reloop-token"];
        if (plan.path === "/score") {
          reply.json.scores.forEach((x, i) => s.shown.push({ impressionId: x.impressionId, item: body.items[i] }));
          // The token keeps the latest 48 (SAVED_IMPRESSIONS): a few older ones stay to be refused.
          if (s.shown.length > 56) s.shown.splice(0, s.shown.length - 56);
        }
      } else if (plan.kind !== "bad-token" && reply.status === 200 && s.token === undefined) {
        // The session's first answer mismatched the replay: carry on with what it got.
        s.sessionId = reply.headers["x-reloop-session"];
        s.token = reply.headers["x-reloop-token"];
      }
    };

    // Issue in `order`, at most `concurrency` in flight, each session's requests one after another.
    log(`soak: ${S} sessions × ${R} requests, seed ${seed}, ${concurrency} in flight, /score sizes ${sizes.join(",")}, ${worker.url}`);
    const chains = new Map();
    const inFlight = new Set();
    const started = performance.now();
    const loadBefore = loadavg();
    let lastLog = started;
    let issued = 0;
    for (const index of order) {
      while (inFlight.size >= concurrency) await Promise.race(inFlight);
      if (issued >= nextSample) {
        // Sampled when nothing is in flight: the JS heap then holds no request's objects.
        nextSample += sampleEvery;
        await Promise.all(inFlight);
        await sample();
      }
      issued += 1;
      const s = ctx.sessions[index];
      const next = (chains.get(index) ?? Promise.resolve()).then(() => handle(s));
      chains.set(index, next);
      const tracked = next.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (performance.now() - lastLog > 30000) {
        lastLog = performance.now();
        log(`  ${stats.requests} requests, ${stats.fiveXx} 5xx, ${stats.mismatchedRequests} mismatches, ${((stats.requests * 1000) / (lastLog - started)).toFixed(0)} req/s`);
      }
    }
    await Promise.all(inFlight);
    const seconds = (performance.now() - started) / 1000;
    await sample();
    await sampling;
    let memory = { rssKb: NaN, peakKb: NaN };
    try {
      memory = memoryOf(worker.pid);
    } catch (error) {
      note(`workerd is gone: ${error.message}`);
    }

    // Flat after warm-up: nothing grew over the last half of the run.
    if (stats.samples.length === 0) stats.samples.push({ served: 0, wasmBytes: NaN, rssKb: NaN });
    const half = stats.samples.findLast((x) => x.served <= order.length / 2) ?? stats.samples[0];
    const lastHalf = stats.samples.filter((x) => x.served >= half.served);
    const wasmGrowthLastHalf = Math.max(...lastHalf.map((x) => x.wasmBytes)) - half.wasmBytes;
    const rssGrowthLastHalfKb = Math.max(...lastHalf.map((x) => x.rssKb)) - half.rssKb;
    const jsGrowthLastHalf = Math.max(...lastHalf.map((x) => x.jsBytes)) - half.jsBytes;

    const failures = [];
    if (stats.fiveXx > 0) failures.push(`${stats.fiveXx} 5xx`);
    if (stats.transportErrors > 0) failures.push(`${stats.transportErrors} transport errors`);
    if (stats.sampleErrors > 0) failures.push(`${stats.sampleErrors} memory samples failed`);
    if (stats.unexpected > 0) failures.push(`${stats.unexpected} malformed requests answered other than documented`);
    if (stats.mismatchedRequests > 0) failures.push(`${stats.mismatchedRequests} answers differ from the replay`);
    if (examples.some((e) => e.includes("carried a token"))) failures.push("an error response carried a token");
    if (!(wasmGrowthLastHalf <= 0)) failures.push(`wasm memory grew by ${wasmGrowthLastHalf} bytes over the last half`);
    if (!(jsGrowthLastHalf <= jsSlack)) failures.push(`the isolate's live JS heap grew by ${jsGrowthLastHalf} bytes over the last half (more than ${jsSlack})`);

    return {
      date: new Date().toISOString(),
      versions: {
        node: process.version, wasmBuild,
        workerd: execFileSync(join(REPO, "node_modules/.bin/workerd"), ["--version"], { encoding: "utf8" }).trim(),
        package: health.package.version, model: health.model.id.slice(0, 12),
        relaxedWasmSha256: createHash("sha256").update(readFileSync(join(REPO, "pkg/reloop_edge_relaxed_bg.wasm"))).digest("hex").slice(0, 16),
      },
      machine: { cpus: cpus().length, loadavgBefore: loadBefore.map((x) => +x.toFixed(2)), loadavgAfter: loadavg().map((x) => +x.toFixed(2)) },
      config: { sessions: S, requestsPerSession: R, seed, concurrency, sizes, malformedShare, badTokenShare, injectSwap },
      requests: stats.requests, seconds: +seconds.toFixed(2), perSecond: +(stats.requests / seconds).toFixed(0),
      byKind: stats.byKind, byRoute: stats.byRoute, status: stats.status, codes4xx: stats.codes4xx,
      fiveXx: stats.fiveXx, transportErrors: stats.transportErrors, unexpected: stats.unexpected,
      replayed: stats.replayed, restored: stats.restored,
      mismatchedRequests: stats.mismatchedRequests, mismatchedSessions: ctx.sessions.filter((s) => s.mismatched).length,
      memory: {
        samples: stats.samples, wasmGrowthLastHalf, jsGrowthLastHalf, rssGrowthLastHalfKb,
        workerdRssMb: +(memory.rssKb / 1024).toFixed(1), workerdPeakRssMb: +(memory.peakKb / 1024).toFixed(1),
      },
      examples, failures,
    };
  } finally {
    isolate?.close();
    agent.destroy();
    await worker.stop();
  }
}

/** The report as markdown. */
export function markdown(r) {
  const mb = (b) => (b / 2 ** 20).toFixed(2);
  const pts = r.memory.samples;
  const show = pts.filter((_, i) => i % Math.max(1, Math.floor(pts.length / 10)) === 0 || i === pts.length - 1);
  return [
    `# Worker soak, seed ${r.config.seed}: ${r.failures.length === 0 ? "passed" : `FAILED (${r.failures.join("; ")})`}`,
    "",
    `${r.date}; node ${r.versions.node} (${r.versions.wasmBuild}), ${r.versions.workerd}, package ${r.versions.package} (relaxed wasm sha256 ${r.versions.relaxedWasmSha256}), model ${r.versions.model}; ` +
      `${r.machine.cpus} cores shared with the client, load average ${r.machine.loadavgBefore.join(" ")} before, ${r.machine.loadavgAfter.join(" ")} after`,
    "",
    `${r.config.sessions} sessions × ${r.config.requestsPerSession} requests, ${r.config.concurrency} in flight, /score batch sizes ${r.config.sizes.join(", ")} (and 1 by /feedback item)`,
    "",
    "| figure | value |",
    "|---|---:|",
    `| requests | ${r.requests} (${Object.entries(r.byRoute).map(([k, v]) => `${k} ${v}`).join(", ")}) |`,
    `| kinds | ${Object.entries(r.byKind).map(([k, v]) => `${k} ${v}`).join(", ")} |`,
    `| duration; throughput | ${r.seconds} s; ${r.perSecond} req/s |`,
    `| 5xx; transport errors | ${r.fiveXx}; ${r.transportErrors} |`,
    `| 4xx by code | ${Object.entries(r.codes4xx).sort().map(([k, v]) => `${k} ${v}`).join(", ")} |`,
    `| malformed answered other than documented | ${r.unexpected} |`,
    `| answers checked against the replay; restored from their token | ${r.replayed}; ${r.restored} |`,
    `| oracle mismatches: requests; sessions | ${r.mismatchedRequests}; ${r.mismatchedSessions} |`,
    `| wasm memory growth over the last half | ${r.memory.wasmGrowthLastHalf} bytes |`,
    `| the isolate's live JS heap (after GC): growth over the last half | ${r.memory.jsGrowthLastHalf} bytes |`,
    `| workerd RSS at the end; high-water mark; growth over the last half | ${r.memory.workerdRssMb} MB; ${r.memory.workerdPeakRssMb} MB; ${(r.memory.rssGrowthLastHalfKb / 1024).toFixed(1)} MB |`,
    "",
    `Memory vs requests served (the wasm memory was ${mb(pts[0].wasmBeforeBurst ?? pts[0].wasmBytes)} MB before the warm-up burst):`,
    "",
    "| served | wasm memory MB | live JS heap MB | workerd RSS MB |",
    "|---:|---:|---:|---:|",
    ...show.map((x) => `| ${x.served} | ${mb(x.wasmBytes)} | ${mb(x.jsBytes)} | ${(x.rssKb / 1024).toFixed(1)} |`),
    ...(r.examples.length ? ["", "First problems:", "", ...r.examples.map((e) => `- ${e}`)] : []),
    "",
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argv = process.argv.slice(2);
  const arg = (name) => { const at = argv.indexOf(`--${name}`); return at >= 0 ? argv[at + 1] : undefined; };
  const num = (name, env, fallback) => {
    const value = Number(arg(name) ?? (process.env[env] || fallback));
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} / ${env}: not a whole number`);
    return value;
  };
  const report = await runSoak({
    sessions: num("sessions", "SOAK_SESSIONS", 1000),
    requests: num("requests", "SOAK_REQUESTS", 100),
    seed: num("seed", "SOAK_SEED", 1),
    concurrency: num("concurrency", "SOAK_CONCURRENCY", 16),
    sizes: (arg("sizes") ?? "8,30,64").split(",").map(Number),
    injectSwap: argv.includes("--inject-swap"),
    jsSlack: num("js-slack", "SOAK_JS_SLACK", 65536),
    samples: Math.max(1, num("samples", "SOAK_SAMPLES", 40)),
    log: (line) => console.error(line),
  });
  const text = markdown(report);
  console.log(text);
  const out = arg("out");
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, `soak-seed${report.config.seed}.json`), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(out, `soak-seed${report.config.seed}.md`), text);
  }
  if (arg("report")) writeFileSync(arg("report"), JSON.stringify(report));
  if (report.failures.length > 0) process.exitCode = 1;
}
