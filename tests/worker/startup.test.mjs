// The model loads at the isolate's global scope (startup may take 1 s of CPU;
// a request on the free plan has 10 ms), drawing no random numbers (Workers
// refuse crypto.getRandomValues there), so the first request of a fresh
// isolate does not load it; the request path is then warmed there too
// (warmup.js: a plan fixed to the page size, a sample page through a
// session). How long that first request takes against a warm one is
// measured by the load run (make bench-worker), not asserted here.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startWorker } from "../../www/worker/workerd.mjs";
import { CONTEXT, feed, postJson } from "./client.mjs";

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

test("a fresh isolate's model was loaded at global scope, with no random numbers drawn", async () => {
  // The first request of the isolate is a /score, not a warm-up.
  const first = await postJson(worker.url, "/score", { items: feed(100), context: CONTEXT });
  assert.equal(first.status, 200);
  const health = await (await fetch(`${worker.url}/health`)).json();
  assert.equal(health.startup.error, null);
  assert.equal(health.startup.globalScope, true, "loaded at global scope");
  assert.equal(health.startup.warmedUp, true, "the model ran once at global scope");
  assert.deepEqual(health.startup.warmUp, { batchSizes: [100], sessions: 2 }, "a page of 100 through a session, saved and restored");
  assert.equal(health.startup.randomDraws, 0, "no random numbers drawn while loading");
  assert.equal(health.startup.requestLoads, 0, "no request had to load the model");
  assert.equal(health.package.wasmBuild, "relaxed-simd", "workerd runs the relaxed-SIMD build");
});
