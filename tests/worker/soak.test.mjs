// A short soak of the Worker in real workerd (benches/worker/soak.mjs; the
// full one runs with `make bench-worker`): 50 sessions × 20 requests,
// interleaved, with bad tokens and malformed bodies; no 5xx, every answer
// equal bit for bit to the replay of its session's own requests in Node, and
// no growth of the wasm memory (nor, beyond a slack, of the isolate's live JS
// heap) over the last half. Then the oracle itself: a client
// that sends another session's token as its own must be caught.
//
// The soak runs in a child Node with --experimental-wasm-relaxed-simd, so
// the replay runs the Worker's wasm build whatever flags this runner has.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const SOAK = fileURLToPath(new URL("../../benches/worker/soak.mjs", import.meta.url));

/** Runs the soak with `args`; its exit code, output and JSON report. */
function soak(args) {
  const dir = mkdtempSync(join(tmpdir(), "reloop-soak-"));
  const reportPath = join(dir, "report.json");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--experimental-wasm-relaxed-simd", "--experimental-websocket", "--no-warnings", SOAK, ...args, "--report", reportPath],
      { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => { output += d; });
    child.stderr.on("data", (d) => { output += d; });
    child.on("error", reject);
    child.on("exit", (code) => {
      try {
        const report = JSON.parse(readFileSync(reportPath, "utf8"));
        resolve({ code, output, report });
      } catch (error) {
        reject(new Error(`the soak wrote no report (exit ${code}): ${error.message}\n${output}`));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

test("50 sessions × 20 requests: no 5xx, every answer equals its session's replay, wasm memory flat", async () => {
  // 1,000 requests is within V8's warm-up of the isolate's JS heap (~180 bytes
  // a request at first): 256 KB of slack still fails a Worker that keeps
  // anything per request (a token is ~2.5 KB).
  const { code, output, report } = await soak(["--sessions", "50", "--requests", "20", "--seed", "7", "--concurrency", "8", "--js-slack", "262144", "--samples", "20"]);
  assert.deepEqual(report.failures, [], output);
  assert.equal(code, 0, output);
  assert.equal(report.requests, 1000);
  assert.equal(report.fiveXx, 0);
  assert.equal(report.transportErrors, 0);
  assert.equal(report.unexpected, 0, output);
  assert.equal(report.mismatchedRequests, 0, output);
  // The abuse happened, and every refusal was coded.
  assert.ok(report.byKind.malformed >= 10 && report.byKind["bad-token"] >= 10, JSON.stringify(report.byKind));
  assert.ok(!("(no code)" in report.codes4xx), JSON.stringify(report.codes4xx));
  assert.ok(report.codes4xx.E_BAD_REQUEST > 0 && report.codes4xx.E_BAD_IMPRESSION > 0, JSON.stringify(report.codes4xx));
  // Most answers came from a memory restored from the session's token, and all were checked.
  assert.ok(report.restored > report.requests / 2, `${report.restored} restored`);
  assert.equal(report.replayed, report.requests - report.byKind.malformed);
  assert.equal(report.memory.wasmGrowthLastHalf, 0);
  assert.ok(report.memory.jsGrowthLastHalf <= 262144, `${report.memory.jsGrowthLastHalf} bytes`);
  assert.ok(report.memory.samples.length >= 20);
});

test("the oracle catches another session's state in an answer", async () => {
  // Each client, halfway through, sends another session's id and token as its own.
  const { code, report } = await soak(["--sessions", "20", "--requests", "8", "--seed", "3", "--concurrency", "4", "--samples", "2", "--inject-swap"]);
  assert.equal(code, 1);
  assert.ok(report.mismatchedSessions >= 15, `${report.mismatchedSessions} of 20 sessions caught`);
  assert.ok(report.failures.some((f) => f.includes("differ from the replay")), JSON.stringify(report.failures));
  assert.equal(report.fiveXx, 0);
});
