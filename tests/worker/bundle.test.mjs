// What `wrangler deploy` would upload runs in workerd: the dry-run bundle
// (esbuild output + the wasm under wrangler.toml's module rules) serves the
// same loop as the sources.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { startWorker } from "../../www/worker/workerd.mjs";
import { Client, feed, meanCorrection } from "./client.mjs";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
let dir;
let worker;
let dryRun;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "reloop-bundle-"));
  dryRun = execFileSync("bash", [join(REPO, "scripts/dry-run-worker.sh"), dir], { encoding: "utf8" });
  worker = await startWorker({ bundle: dir });
});
after(async () => {
  await worker?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the dry run reports an upload within the Workers free plan (3 MB gzip)", (t) => {
  const m = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(dryRun);
  assert.ok(m, dryRun);
  t.diagnostic(`upload ${m[1]} KiB, gzip ${m[2]} KiB`);
  assert.ok(Number(m[2]) < 3 * 1024, `gzip ${m[2]} KiB`);
});

test("the bundle serves health, score and feedback", async () => {
  const health = await (await fetch(`${worker.url}/health`)).json();
  const pkg = JSON.parse(readFileSync(join(REPO, "pkg/package.json"), "utf8"));
  assert.equal(health.package.version, pkg.version);
  assert.match(health.model.id, /^[0-9a-f]{64}$/);

  const items = feed(8);
  const client = new Client(worker.url);
  const first = await client.score(items);
  for (const i of [0, 4]) await client.feedback({ impressionId: first.scores[i].impressionId }, true);
  const second = await client.score(items);
  assert.equal(second.session.state, "restored");
  assert.ok(meanCorrection(second, items, "Horror") > 0, "clicked horror films moved up");
});
