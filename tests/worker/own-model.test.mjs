// The Worker serving your own model (www/worker/src/model.js swapped for one
// importing model.onnx, spec.json and options.json, as the Worker README
// says), in real workerd: a model the tests generate with `reloop example`
// (other fields than MovieLens, the key an intermediate node's columns),
// checked and replayed with `reloop`, then scored and corrected over HTTP.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { startWorker } from "../../www/worker/workerd.mjs";
import { postJson, request } from "./client.mjs";

const RELOOP = process.env.RELOOP_BIN;
let dir;
let worker;
let checked;

before(async () => {
  assert.ok(RELOOP, "RELOOP_BIN (the reloop binary) is not set: run scripts/test-worker.sh");
  dir = mkdtempSync(join(tmpdir(), "reloop-own-model-"));
  const run = (...args) => execFileSync(RELOOP, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  run("example", dir, "--events", "3000", "--quiet");
  const spec = JSON.parse(readFileSync(join(dir, "spec.json"), "utf8"));
  assert.deepEqual(spec.outputs.hidden, [{ node: "emb_flat", columns: [8, 16] }], "the key is an intermediate node's columns");
  checked = JSON.parse(run("check", join(dir, "model.onnx"), join(dir, "spec.json"), "--json"));
  run("replay", join(dir, "model.onnx"), join(dir, "spec.json"), join(dir, "events.jsonl"),
    "--rounds", "0", "--bootstrap", "10", "--out", join(dir, "replay"), "--quiet");
  writeFileSync(join(dir, "options.json"), readFileSync(join(dir, "replay", "options.json")));
  worker = await startWorker({ model: dir });
});
after(async () => {
  await worker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ad = (group, k) => `ad${group + 8 * k}`; // ads of one group share their embedding's neighbourhood
const items = Array.from({ length: 32 }, (_, i) => ({
  id: `i${i}`, site: `s${i % 5}`, ad: ad(i % 4, Math.floor(i / 4)), hour: 9 + (i % 3), device: "ios", price: 5 + i,
}));

test("health names the generated model, its fields and key width", async () => {
  const health = (await request(worker.url, "/health", { method: "GET" })).json;
  assert.equal(health.model.source, "own");
  assert.equal(health.model.id, checked.model_id);
  assert.deepEqual(health.model.fields, ["ad", "device", "hour", "price", "site"]);
  assert.equal(health.model.hiddenDim, 8);
});

test("clicks on one ad group lift that group in this session, with the replay's tuned options", async () => {
  const first = await postJson(worker.url, "/score", { items });
  assert.equal(first.status, 200, first.text);
  const headers = () => ({ "x-reloop-session": session, "x-reloop-token": token });
  let session = first.headers.get("x-reloop-session");
  let token = first.headers.get("x-reloop-token");
  const scores = first.json.scores;
  assert.equal(scores.length, items.length);
  for (const s of scores) assert.equal(s.score, s.base, "a fresh memory corrects nothing");
  // Clicks on the group-0 ads shown, misses on two other groups.
  for (const [i, s] of scores.entries()) {
    if (i % 4 === 3) continue;
    const reply = await postJson(worker.url, "/feedback", { impressionId: s.impressionId, clicked: i % 4 === 0 }, headers());
    assert.equal(reply.status, 200, reply.text);
    session = reply.headers.get("x-reloop-session");
    token = reply.headers.get("x-reloop-token");
  }
  const second = await postJson(worker.url, "/score", { items }, headers());
  assert.equal(second.status, 200, second.text);
  assert.equal(second.json.session.state, "restored");
  const lift = (group) => {
    const moved = second.json.scores.filter((_, i) => i % 4 === group).map((s) => s.score - s.base);
    return moved.reduce((a, b) => a + b, 0) / moved.length;
  };
  assert.ok(lift(0) > 0.05, `the clicked group rose: ${lift(0)}`);
  assert.ok(lift(0) > lift(1) && lift(0) > lift(3), `more than the others: ${[0, 1, 2, 3].map(lift)}`);
});

test("items of the bundled model's fields are refused with the missing field named", async () => {
  const reply = await postJson(worker.url, "/score", { items: [{ itemId: 50, genres: ["Drama"] }] });
  assert.equal(reply.status, 400, reply.text);
  assert.equal(reply.json.error.code, "E_INVALID_INPUT");
  assert.match(reply.json.error.message, /field `(site|ad)` is missing/);
});
