// The session token in real workerd: its layout (checked with node:crypto,
// an implementation independent of the Worker's WebCrypto), and every way a
// token can be wrong — each starts a fresh memory, says why, and never fails
// the request.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { startWorker } from "../../www/worker/workerd.mjs";
import { CONTEXT, Client, feed, postJson } from "./client.mjs";
import { build, mac, parse } from "./forge.mjs";

const SECRET = randomBytes(32).toString("base64url");
let worker;
let modelId;
before(async () => {
  // Tokens without impressions here (the memory's own size is under test);
  // the last test turns them on.
  worker = await startWorker({ secret: SECRET, vars: { SAVED_IMPRESSIONS: "0" } });
  modelId = (await (await fetch(`${worker.url}/health`)).json()).model.id;
});
after(async () => { await worker?.stop(); });

const items = feed(12);

/** A session with two recorded clicks: its client and token fields. */
async function trained() {
  const client = new Client(worker.url);
  await client.score(items);
  await client.feedback({ item: items[0] }, true);
  await client.feedback({ item: items[4] }, true);
  return { client, fields: parse(client.token) };
}

/** Scores with `sessionId` and `token`; returns the body's session part. */
async function present(sessionId, token) {
  const headers = {};
  if (sessionId !== undefined) headers["x-reloop-session"] = sessionId;
  if (token !== undefined) headers["x-reloop-token"] = token;
  const reply = await postJson(worker.url, "/score", { items, context: CONTEXT }, headers);
  assert.equal(reply.status, 200, reply.text);
  return reply.json.session;
}

test("the token is version 1, bound to the session and model, and HMAC-SHA256 signed", async () => {
  const { client, fields } = await trained();
  assert.equal(fields.version, 1);
  assert.deepEqual(fields.sessionId, Buffer.from(client.sessionId, "base64url"));
  assert.equal(fields.modelTag.toString("hex"), modelId.slice(0, 16));
  assert.deepEqual(fields.mac, mac(fields.body, SECRET));
  const ttl = fields.expiry - Date.now() / 1000;
  assert.ok(ttl > 3500 && ttl <= 3600, `expiry ${ttl} s ahead`);
  assert.equal(fields.memory.subarray(0, 4).toString("latin1"), "RLEM", "the package's saved memory");
  assert.equal((await present(client.sessionId, client.token)).state, "restored");
});

test("a missing or malformed token starts a fresh memory", async () => {
  const { client } = await trained();
  assert.equal((await present(client.sessionId, undefined)).reason, "missing");
  for (const bad of ["!!!", "AAAA", "x".repeat(5000), client.token.slice(0, 40)]) {
    const session = await present(client.sessionId, bad);
    assert.equal(session.state, "fresh");
    assert.equal(session.reason, "malformed");
    assert.equal(session.events, 0);
  }
});

test("a tampered token, or one signed with another secret, is rejected", async () => {
  const { client, fields } = await trained();
  const bytes = Buffer.from(client.token, "base64url");
  for (const at of [0 + 1, 10, 29 + 8, bytes.length - 40, bytes.length - 1]) {
    const altered = Buffer.from(bytes);
    altered[at] ^= 0x01;
    const session = await present(client.sessionId, altered.toString("base64url"));
    assert.equal(session.state, "fresh", `byte ${at}`);
    assert.equal(session.reason, "tampered", `byte ${at}`);
  }
  const otherSecret = build(fields, randomBytes(32).toString("base64url"));
  assert.equal((await present(client.sessionId, otherSecret)).reason, "tampered");
});

test("an authentic token of another session, another model or past its expiry is rejected", async () => {
  const a = await trained();
  const b = await trained();
  // B's session id with A's token: foreign-session, and B gets a fresh memory, not A's.
  const swapped = await present(b.client.sessionId, a.client.token);
  assert.deepEqual([swapped.state, swapped.reason, swapped.events], ["fresh", "foreign-session", 0]);
  assert.equal(swapped.id, b.client.sessionId);
  // A token without its session id: a new session, so foreign-session too.
  const orphan = await present(undefined, a.client.token);
  assert.equal(orphan.reason, "foreign-session");
  assert.notEqual(orphan.id, a.client.sessionId);

  const otherModel = build({ ...a.fields, modelTag: randomBytes(8) }, SECRET);
  assert.equal((await present(a.client.sessionId, otherModel)).reason, "foreign-model");

  const expired = build({ ...a.fields, expiry: Math.floor(Date.now() / 1000) - 1 }, SECRET);
  assert.equal((await present(a.client.sessionId, expired)).reason, "expired");

  // The forged-but-valid control: same fields, fresh expiry, is accepted.
  const renewed = build({ ...a.fields, expiry: Math.floor(Date.now() / 1000) + 60 }, SECRET);
  const ok = await present(a.client.sessionId, renewed);
  assert.deepEqual([ok.state, ok.reason], ["restored", null]);
  assert.ok(ok.events > 0);
});

test("an authentic token of another version, or whose memory the package refuses, starts afresh", async () => {
  const { client, fields } = await trained();
  const v2 = build({ ...fields, version: 2 }, SECRET);
  assert.equal((await present(client.sessionId, v2)).reason, "malformed");
  for (const memory of [randomBytes(64), Buffer.concat([fields.memory.subarray(0, 40), Buffer.alloc(8)]), Buffer.alloc(0)]) {
    const session = await present(client.sessionId, build({ ...fields, memory }, SECRET));
    assert.deepEqual([session.state, session.reason, session.events], ["fresh", "corrupt-memory", 0]);
  }
});

test("a rejected token's session goes on with the new token it is given", async () => {
  const { client } = await trained();
  client.token = "AAAA";
  const reply = await client.score(items);
  assert.equal(reply.session.reason, "malformed");
  await client.feedback({ item: items[1] }, true);
  const next = await client.score(items);
  assert.equal(next.session.state, "restored");
});

test("the token stays well under the 4 KB cookie limit, empty and full", async (t) => {
  const client = new Client(worker.url);
  await client.score(items);
  const empty = client.token.length;
  // Outcomes of many users and films fill the buckets of the default L=5,
  // K=4 memory until it stops growing. Its saved form is at most dense:
  // 140 + 4·32·12 + 2 + 4 = 1,682 bytes (with the genres-and-year key not
  // every bucket is reachable, so it stays sparse, and smaller).
  const DENSE = 1682;
  let grew = 0;
  const genres = ["Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama", "Fantasy",
    "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western"];
  let memory = 0;
  let outcomes = 0;
  while (memory < DENSE && outcomes < 4000 && outcomes - grew < 1000) {
    const i = outcomes++;
    const context = {
      ...CONTEXT, userId: 1 + ((i * 131) % 943), age: 15 + ((i * 7) % 50), gender: i % 2 ? "M" : "F", zip: String(i % 10), hour: i % 24, weekday: i % 7,
    };
    const mix = [genres[i % 18], genres[(i * 5 + 3) % 18], genres[(i * 11 + 7) % 18]].slice(0, 1 + (i % 3));
    const item = { itemId: 1 + ((i * 37) % 1600), genres: mix, year: 1930 + ((i * 13) % 68) };
    await client.feedback({ item }, (i * 7) % 3 === 0, context);
    const now = parse(client.token).memory.length;
    if (now > memory) grew = outcomes;
    memory = now;
  }
  const full = client.token.length;
  t.diagnostic(`token: ${empty} chars with an empty memory; ${full} chars with a full one (${memory} bytes of memory, after ${outcomes} outcomes)`);
  assert.ok(memory > 146 && memory <= DENSE, `memory of ${memory} bytes`);
  assert.ok(outcomes - grew >= 1000 || memory === DENSE, "the memory did not stop growing");
  assert.equal(empty, Math.ceil(((29 + 146 + 32) * 4) / 3));
  assert.equal(full, Math.ceil(((29 + memory + 32) * 4) / 3));
  // Even a dense memory (the largest) keeps the token well under the 4 KB cookie limit.
  assert.ok(Math.ceil(((29 + DENSE + 32) * 4) / 3) < 3900);
});

test("saved impressions ride in the token; one too long for a cookie goes in the header only", async (t) => {
  const w = await startWorker({ secret: SECRET, vars: { SAVED_IMPRESSIONS: "150" } });
  try {
    const small = await postJson(w.url, "/score", { items: feed(10), context: CONTEXT });
    const big = await postJson(w.url, "/score", { items: feed(200), context: CONTEXT });
    const [s, b] = [small.json.session, big.json.session];
    t.diagnostic(`token with 10 impressions: ${s.tokenChars} chars (${s.carrier}); with 150 of 200: ${b.tokenChars} (${b.carrier})`);
    assert.equal(s.carrier, "header+cookie");
    assert.ok(small.headers.getSetCookie().some((c) => c.startsWith("reloop_mem=") && !c.startsWith("reloop_mem=;")));
    assert.ok(b.tokenChars > 3900, "150 impressions make a token longer than a cookie may be");
    assert.equal(b.carrier, "header");
    // The old token cookie is cleared rather than left stale.
    assert.ok(big.headers.getSetCookie().some((c) => c.startsWith("reloop_mem=; Path=/; Max-Age=0")));
    // The header carries it: the last page's impressions record by id.
    const last = big.json.scores.at(-1).impressionId;
    const fed = await postJson(w.url, "/feedback", { impressionId: last, clicked: true },
      { "x-reloop-session": b.id, "x-reloop-token": big.headers.get("x-reloop-token") });
    assert.equal(fed.status, 200);
    assert.equal(fed.json.session.state, "restored");
    // Only the latest SAVED_IMPRESSIONS (150) travel: the first of 200 does not.
    const first = big.json.scores[0].impressionId;
    const lost = await postJson(w.url, "/feedback", { impressionId: first, clicked: true },
      { "x-reloop-session": b.id, "x-reloop-token": big.headers.get("x-reloop-token") });
    assert.equal(lost.json.error?.code, "E_BAD_IMPRESSION");
  } finally {
    await w.stop();
  }
});

test("with the default SAVED_IMPRESSIONS (48) the largest token of the default memory fits a cookie", async (t) => {
  const w = await startWorker({ secret: SECRET });
  try {
    const big = await postJson(w.url, "/score", { items: feed(200), context: CONTEXT });
    const session = big.json.session;
    assert.equal(session.carrier, "header+cookie");
    // What 48 impressions add, measured; the bound assumes a dense memory
    // (the largest) and the longest id of ours (10 characters: page prefix, ".", index ≤ 999).
    const empty = Math.ceil(((29 + 146 + 32) * 4) / 3);
    const ids = big.json.scores.slice(-48).map((s) => s.impressionId);
    const perImpression = 1 + 4 + 2 * 4; // id length, base score, K = 4 bucket indices
    const added = ids.reduce((n, id) => n + perImpression + id.length, 0);
    assert.equal(session.tokenChars, Math.ceil(((29 + 146 + added + 32) * 4) / 3), "the token holds exactly the last 48 impressions");
    const worst = Math.ceil(((29 + 1682 + 48 * (perImpression + 10) + 32) * 4) / 3);
    t.diagnostic(`token: ${empty} chars empty, ${session.tokenChars} with 48 impressions; worst case ${worst}`);
    assert.ok(worst <= 3900, `worst-case token ${worst} chars`);
  } finally {
    await w.stop();
  }
});
