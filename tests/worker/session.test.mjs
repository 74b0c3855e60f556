// The loop over HTTP in real workerd: feedback moves the clicked genre's
// scores in that session only; the token carries the memory between requests
// (header and cookie forms).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { startWorker } from "../../www/worker/workerd.mjs";
import { CONTEXT, Client, GENRES, assertClose, feed, meanCorrection, postJson } from "./client.mjs";

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

const items = feed(40);
const horror = (scored) => scored.scores.filter((_, i) => items[i].genres[0] === "Horror");

test("feedback on one genre moves that genre's scores in this session, and no other session's", async () => {
  const a = new Client(worker.url);
  const first = await a.score(items);
  assert.equal(first.session.state, "fresh");
  assert.equal(first.session.reason, "missing");
  assert.equal(first.scores.length, items.length);
  assert.deepEqual(first.scores.map((s) => s.id), items.map((it) => it.id));
  for (const s of first.scores) assert.equal(s.score, s.base, "an empty memory corrects nothing");

  // The user clicks the first five horror films on two pages, by impression id
  // (from the token: no model run).
  let page = first;
  for (let round = 0; round < 2; round++) {
    if (round > 0) page = await a.score(items);
    for (const s of horror(page).slice(0, 5)) {
      const reply = await a.feedback({ impressionId: s.impressionId }, true);
      assert.equal(reply.session.state, "restored");
    }
  }
  // An impression records one outcome.
  const again2 = await postJson(worker.url, "/feedback", { impressionId: horror(page)[0].impressionId, clicked: true },
    { "x-reloop-session": a.sessionId, "x-reloop-token": a.token });
  assert.equal(again2.status, 400);
  assert.equal(again2.json.error.code, "E_BAD_IMPRESSION");
  const second = await a.score(items);
  assert.equal(second.session.state, "restored");
  assert.ok(second.session.events > 0, "the memory stored the clicks");
  const moved = Object.fromEntries(GENRES.map((g) => [g, meanCorrection(second, items, g)]));
  assert.ok(moved.Horror > 0.1, `horror moved up: ${JSON.stringify(moved)}`);
  for (const g of GENRES.filter((g) => g !== "Horror")) {
    assert.ok(moved.Horror > moved[g], `horror moved more than ${g}: ${JSON.stringify(moved)}`);
  }
  assertClose(second.scores.map((s) => s.base), first.scores.map((s) => s.base), "the base model is frozen");

  // A second session sees the model's own scores, however much A recorded...
  const b = new Client(worker.url);
  const other = await b.score(items);
  other.scores.forEach((s) => assert.equal(s.score, s.base));
  assertClose(other.scores.map((s) => s.score), first.scores.map((s) => s.score), "B sees the model's own scores");
  assert.notEqual(b.sessionId, a.sessionId);
  // ...and what B records does not reach A.
  for (const s of other.scores.slice(0, 8)) await b.feedback({ impressionId: s.impressionId }, false);
  const again = await a.score(items);
  assertClose(again.scores.map((s) => s.score), second.scores.map((s) => s.score), "B's outcomes reached A");
});

test("feedback by item equals feedback by impression id", async () => {
  const byId = new Client(worker.url);
  const byItem = new Client(worker.url);
  const scored = await byId.score(items);
  await byItem.score(items);
  for (const i of [0, 4, 8]) {
    const a = await byId.feedback({ impressionId: scored.scores[i].impressionId }, true);
    const b = await byItem.feedback({ item: items[i] }, true);
    assert.equal(a.recorded, b.recorded);
  }
  const [a, b] = [await byId.score(items), await byItem.score(items)];
  assert.ok(a.session.events > 0 && a.session.events === b.session.events, "both memories hold the outcomes");
  // By id the base score recorded is the page's; by item the model runs on
  // one row (another plan), so they agree within a few ulps.
  assertClose(a.scores.map((s) => s.score), b.scores.map((s) => s.score), "by id vs by item");
});

test("the session travels in cookies too (HttpOnly, Secure, SameSite=Strict)", async () => {
  const first = await postJson(worker.url, "/score", { items, context: CONTEXT });
  const cookies = first.headers.getSetCookie();
  assert.equal(cookies.length, 2);
  for (const c of cookies) {
    assert.match(c, /^reloop_(sid|mem)=[A-Za-z0-9_-]+; /);
    assert.match(c, /; HttpOnly; Secure; SameSite=Strict$/);
    assert.ok(c.length < 4096, `cookie of ${c.length} bytes`);
  }
  const jar = () => cookies.map((c) => c.split(";")[0]).join("; ");
  const fed = await postJson(worker.url, "/feedback", { item: items[0], clicked: true, context: CONTEXT }, { cookie: jar() });
  assert.equal(fed.status, 200);
  assert.equal(fed.json.session.state, "restored");
  assert.equal(fed.json.session.id, first.json.session.id);
  cookies.splice(0, 2, ...fed.headers.getSetCookie());
  const later = await postJson(worker.url, "/score", { items, context: CONTEXT }, { cookie: jar() });
  assert.equal(later.json.session.state, "restored");
  assert.equal(later.json.session.events, fed.json.session.events);
});

test("GET /health names the model and the package version", async () => {
  const reply = await fetch(`${worker.url}/health`);
  assert.equal(reply.status, 200);
  assert.equal(reply.headers.get("cache-control"), "no-store");
  const body = await reply.json();
  const pkg = JSON.parse(readFileSync(new URL("../../pkg/package.json", import.meta.url), "utf8"));
  assert.deepEqual(body.package, { name: pkg.name, version: pkg.version, wasmBuild: "relaxed-simd" });
  assert.match(body.model.id, /^[0-9a-f]{64}$/);
  assert.equal(body.model.hiddenDim, 28); // the memory key: 20 genre columns and the 8-wide year embedding
  assert.deepEqual(body.limits, { maxBodyBytes: 65536, maxItems: 200, tokenTtlSeconds: 3600, savedImpressions: 48 });
  assert.ok(body.wasmMemoryBytes >= 1 << 20 && body.wasmMemoryBytes < 128 << 20, `wasm memory ${body.wasmMemoryBytes}`);
  assert.match(reply.headers.get("server-timing"), /^worker;dur=\d/);
});
