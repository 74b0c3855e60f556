// The package as users meet it: `npm pack` of pkg/, installed from the
// tarball into a throwaway project next to the tools in this folder's
// package-lock.json (Vite 5 and 8, TypeScript 5.9 and 7, wrangler), then each
// host runs the code the package README shows. The README's snippets are the
// project's files: each fenced block preceded by `<!-- file: path -->` is
// written to that path, so a snippet that stops working fails here.
//   node     node/main.mjs: first score, record, save, restore;
//   types    tsc --strict, with and without skipLibCheck, TypeScript 5.9 and 7,
//            default libs (target es2022) and esnext/nodenext: the README's
//            types/own-model.ts plus checks that wrong field types fail;
//   worker   wrangler dev (workerd) on 127.0.0.1: /score, /feedback, /score;
//   vite     Vite 5 (with the README's config) and Vite 8 (none): the build
//            served by `vite preview`, and the dev server, in headless Chromium.
// Loopback only; every step is bounded in time. Prints each host's time to
// first score and writes them to target/test-output/consumer/first-score.json.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { launchBrowser } from "../page/harness.mjs";
import { freePort } from "../../www/worker/workerd.mjs";

const root = resolve(import.meta.dirname, "../..");
const pkgDir = resolve(root, process.env.PKG_DIR ?? "pkg");
const output = join(root, "target/test-output/consumer");
const firstScore = {};
let project;

const run = (cmd, args, options = {}) =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000, ...options });

/** The README's `<!-- file: path -->` blocks: path → contents. */
export function readmeFiles(text) {
  const files = {};
  const block = /<!-- file: (\S+) -->\n```[a-z]*\n([\s\S]*?)\n```\n/g;
  for (const [, path, body] of text.matchAll(block)) {
    assert.ok(!(path in files), `the README has two blocks for ${path}`);
    files[path] = body + "\n";
  }
  return files;
}

/** Spawns a server; resolves once `ready` matches its output, with stop(). */
function serve(cmd, args, cwd, ready, env = {}, limitMs = 120_000) {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let log = "";
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {}
    }
  };
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      stop();
      fail(new Error(`${cmd} ${args.join(" ")}: not ready in ${limitMs} ms:\n${log}`));
    }, limitMs);
    const onData = (d) => {
      log += d;
      if (ready.test(log.replace(/\x1b\[[0-9;]*m/g, ""))) {
        clearTimeout(timer);
        ok({ stop, log: () => log });
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`${cmd} ${args.join(" ")} exited with ${code}:\n${log}`));
    });
  });
}

before(() => {
  for (const f of ["package.json", "reloop_edge_bg.wasm", "reloop_edge_relaxed_bg.wasm", "README.md"]) {
    assert.ok(existsSync(join(pkgDir, f)), `${pkgDir}/${f} is missing: run make pkg`);
  }
  mkdirSync(output, { recursive: true });
  project = mkdtempSync(join(tmpdir(), "reloop-consumer-"));
  const tarball = run("npm", ["pack", pkgDir, "--pack-destination", project, "--silent"]).trim().split("\n").pop();
  for (const f of ["package.json", "package-lock.json"]) cpSync(join(import.meta.dirname, f), join(project, f));
  const npm = ["--no-audit", "--no-fund", "--loglevel=error"];
  run("npm", ["ci", ...npm], { cwd: project });
  run("npm", ["install", "--no-save", ...npm, join(project, tarball)], { cwd: project });
  const installed = JSON.parse(readFileSync(join(project, "node_modules/reloop-edge/package.json"), "utf8"));
  assert.equal(installed.name, "reloop-edge");
  // The README that ships is the one whose snippets run.
  const files = readmeFiles(readFileSync(join(project, "node_modules/reloop-edge/README.md"), "utf8"));
  for (const want of ["node/main.mjs", "node/catalog.mjs", "worker/wrangler.toml", "worker/src/index.js", "web/index.html", "web/main.js",
    "web/vite.config.js", "types/own-model.ts"]) {
    assert.ok(want in files, `the package README has no <!-- file: ${want} --> block`);
  }
  for (const [path, body] of Object.entries(files)) {
    mkdirSync(dirname(join(project, path)), { recursive: true });
    writeFileSync(join(project, path), body);
  }
  console.error(`consumer project ${project}: ${tarball} with ${Object.keys(files).length} README files`);
});

after(() => {
  writeFileSync(join(output, "first-score.json"), JSON.stringify(firstScore, null, 2) + "\n");
  console.error("time to first score (ms):", JSON.stringify(firstScore));
  if (project && !process.env.KEEP_CONSUMER) rmSync(project, { recursive: true, force: true });
});

test("node: the README's script scores, learns, saves and restores", () => {
  const t0 = performance.now();
  const out = run(process.execPath, ["node/main.mjs"], { cwd: project });
  firstScore.node = Math.round(performance.now() - t0);
  const { before, after, restored } = JSON.parse(out);
  assert.equal(before.length, 3);
  for (const p of [...before, ...after]) assert.ok(p > 0 && p < 1, `score ${p}`);
  assert.ok(after[2] > before[2], `a click raises the clicked item: ${before[2]} → ${after[2]}`);
  assert.ok(after[0] < before[0], `a skip lowers the skipped item: ${before[0]} → ${after[0]}`);
  assert.deepEqual(restored, after, "a restored session scores bit for bit like the one that saved");
});

test("node: the README's catalog scores by id and index, and learns from an impression", () => {
  const { byId, byIndex, after } = JSON.parse(run(process.execPath, ["node/catalog.mjs"], { cwd: project }));
  assert.equal(byId.length, 2);
  assert.deepEqual(byIndex, byId, "by index and by id score the same entries");
  assert.ok(after[1] > byId[1], `the clicked impression raises its item: ${byId[1]} → ${after[1]}`);
});

const CHECKS = `
import init, { Model, Session, Catalog, initSync, wasmBuild, wasmMemory, type MovieLensItem, type MovieLensContext,
  type ReloopError, type SessionOptions } from "reloop-edge";
import wasm from "reloop-edge/reloop_edge_bg.wasm";
import relaxed from "reloop-edge/reloop_edge_relaxed_bg.wasm";

const modules: WebAssembly.Module[] = [wasm, relaxed];
export const ready: Promise<unknown> = init();
export const sync = () => initSync({ module: modules[0] });
export const build: "relaxed-simd" | "simd128" = wasmBuild;
export const memory: WebAssembly.Memory | undefined = wasmMemory;

const model = Model.bundled();
const session = new Session(model, { halfLife: 20, estimator: "intent" } satisfies SessionOptions);
const context: MovieLensContext = { userId: 1, age: 30, gender: "F", occupation: "writer", zip: "1", hour: 9, weekday: 1 };
const items: MovieLensItem[] = [{ itemId: 50, genres: ["Action"], year: 1977 }];
export const scores: Float32Array = session.score(items, context);
export const recorded: boolean = session.record(items[0], true, context);
export const saved: Uint8Array = session.save();
const catalog = new Catalog(model, items, ["m50"]);
export const byId: Float32Array = session.scoreCatalog(catalog, ["m50"], context);
export const code = (e: unknown) => (e as ReloopError).code === "E_NOT_INITIALISED";

// @ts-expect-error the bundled model's itemId is a number
session.score([{ itemId: "50" }], context);
// @ts-expect-error gender is "M" or "F"
session.score(items, { ...context, gender: "X" });
// @ts-expect-error genres is a list of strings
session.record({ itemId: 1, genres: "Action" }, true, context);
// @ts-expect-error clicked is a boolean
session.record(items[0], 1, context);
// @ts-expect-error an unknown option
new Session(model, { halfLive: 20 });
// @ts-expect-error a catalog holds the model's items
new Catalog(model, [{ itemId: "x" }], ["x"]);

interface Article { articleId: string; section: string }
const own = Model.fromOnnx<Article, { country: string }>(new Uint8Array(), "{}");
// @ts-expect-error an own model's item type is checked too
new Session(own).score([{ articleId: 7, section: "news" }], { country: "FR" });
// Without type arguments, any fields.
new Session(Model.fromOnnx(new Uint8Array(), "{}")).score([{ anything: 1, goes: ["a"] }]);
`;

test("types: tsc --strict passes on the README's code and catches wrong field types", () => {
  writeFileSync(join(project, "types/checks.ts"), CHECKS);
  writeFileSync(join(project, "types/esnext.ts"),
    'import { Model, Session } from "reloop-edge";\n' +
    "{ using session = new Session(Model.bundled()); session.save(); }\n");
  const configs = {
    // What `tsc --init`-style projects get: default libs for the target (DOM included).
    es2022: { target: "es2022", module: "esnext", moduleResolution: "bundler", files: ["own-model.ts", "checks.ts"] },
    esnext: { target: "esnext", lib: ["esnext", "dom"], module: "nodenext", moduleResolution: "nodenext",
      files: ["own-model.ts", "checks.ts", "esnext.ts"] },
  };
  const seen = [];
  for (const [tsc, bin] of [["5.9", "node_modules/typescript/bin/tsc"], ["7", "node_modules/typescript7/bin/tsc"]]) {
    for (const [name, { files, ...options }] of Object.entries(configs)) {
      for (const skipLibCheck of [false, true]) {
        const file = `types/tsconfig.${name}.${skipLibCheck}.json`;
        writeFileSync(join(project, file), JSON.stringify({
          compilerOptions: { strict: true, noEmit: true, skipLibCheck, ...options }, files,
        }));
        try {
          run(process.execPath, [bin, "-p", file], { cwd: project });
        } catch (e) {
          assert.fail(`TypeScript ${tsc}, ${name}, skipLibCheck ${skipLibCheck}:\n${e.stdout}${e.stderr}`);
        }
        seen.push(`${tsc}/${name}/${skipLibCheck}`);
      }
    }
  }
  assert.equal(seen.length, 8);
  // The checks can fail: an item with a wrong type and no @ts-expect-error is an error.
  writeFileSync(join(project, "types/wrong.ts"),
    'import { Model, Session } from "reloop-edge";\nnew Session(Model.bundled()).score([{ itemId: "50" }]);\n');
  writeFileSync(join(project, "types/tsconfig.wrong.json"),
    JSON.stringify({ compilerOptions: { strict: true, noEmit: true, ...configs.es2022, files: undefined }, files: ["wrong.ts"] }));
  assert.throws(() => run(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "types/tsconfig.wrong.json"], { cwd: project }),
    (e) => /TS2322/.test(e.stdout));
});

test("worker: the README's Worker runs in wrangler dev (workerd) and learns", async () => {
  const port = await freePort();
  const t0 = performance.now();
  const server = await serve(process.execPath, [join(project, "node_modules/wrangler/bin/wrangler.js"), "dev",
    "--local", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(await freePort())],
  join(project, "worker"), /Ready on http:\/\/127\.0\.0\.1/, {
    WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", CI: "true",
    XDG_CONFIG_HOME: join(project, ".config"), WRANGLER_LOG_PATH: join(project, "wrangler-logs"),
  });
  try {
    const base = `http://127.0.0.1:${port}`;
    const post = async (path, body, user = "u1") => {
      const r = await fetch(base + path, { method: "POST", headers: { "x-session-id": user, "content-type": "application/json" },
        body: typeof body === "string" ? body : JSON.stringify(body) });
      return { status: r.status, body: await r.json() };
    };
    const context = { userId: 42, age: 31, gender: "F", occupation: "engineer", zip: "94110", hour: 20, weekday: 4 };
    const items = [{ itemId: 50, genres: ["Action"], year: 1977 }, { itemId: 1, genres: ["Comedy"], year: 1995 }];
    const t1 = performance.now();
    const first = await post("/score", { items, context });
    firstScore.worker = Math.round(performance.now() - t0);
    firstScore.workerFirstRequest = Math.round(performance.now() - t1);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.scores.length, 2);
    for (let i = 0; i < 3; i++) {
      const fb = await post("/feedback", { item: items[1], clicked: true, context });
      assert.equal(fb.status, 200, JSON.stringify(fb.body));
    }
    const again = await post("/score", { items, context });
    assert.ok(again.body.scores[1] > first.body.scores[1], `three clicks raise item 1: ${first.body.scores} → ${again.body.scores}`);
    // Another user's session is untouched by u1's clicks.
    const other = await post("/score", { items, context }, "u2");
    assert.deepEqual(other.body.scores, first.body.scores);
    const bad = await post("/score", { items: [{ itemId: "fifty", year: NaN }], context: { ...context, age: "old" } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, "E_INVALID_INPUT");
  } finally {
    server.stop();
  }
});

for (const vite of [
  { name: "vite5", bin: "node_modules/vite5/bin/vite.js", config: true },
  { name: "vite8", bin: "node_modules/vite/bin/vite.js", config: false },
]) {
  test(`${vite.name}: the README's page, built and in the dev server, scores in Chromium`, async () => {
    const dir = join(project, `web-${vite.name}`);
    cpSync(join(project, "web"), dir, { recursive: true });
    // Vite 5 and 6 need the README's config; Vite 8 must work without one.
    if (!vite.config) rmSync(join(dir, "vite.config.js"));
    const bin = join(project, vite.bin);
    run(process.execPath, [bin, "build", "--logLevel", "warn"], { cwd: dir });
    const emitted = readdirSync(join(dir, "dist/assets")).filter((f) => f.endsWith(".wasm"));
    assert.equal(emitted.length, 2, `the build emits both .wasm files: ${emitted}`);
    const { context, close } = await launchBrowser();
    try {
      for (const mode of ["preview", "dev"]) {
        const port = await freePort();
        const args = mode === "dev" ? [bin, "--host", "127.0.0.1", "--port", String(port), "--strictPort"]
          : [bin, "preview", "--host", "127.0.0.1", "--port", String(port), "--strictPort"];
        const server = await serve(process.execPath, args, dir, new RegExp(`127\\.0\\.0\\.1:${port}`));
        const page = await context.newPage();
        // Chromium asks for /favicon.ico, which the README's page does not have.
        const errors = [];
        page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
        page.on("console", (m) => m.type() === "error" && !/Failed to load resource/.test(m.text()) && errors.push(`console: ${m.text()}`));
        const wasm = [];
        page.on("response", (r) => {
          if (r.url().includes(".wasm")) wasm.push(`${r.status()} ${r.headers()["content-type"]}`);
          if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) errors.push(`${r.status()} ${r.url()}`);
        });
        try {
          const t0 = performance.now();
          await page.goto(`http://127.0.0.1:${port}/`);
          await page.waitForFunction(() => document.querySelectorAll("#ranking li").length === 2, null, { timeout: 60_000 })
            .catch((e) => assert.fail(`${vite.name} ${mode}: no ranking (${e.message}); errors: ${errors.join("; ")}; wasm: ${wasm}`));
          firstScore[`${vite.name}-${mode}`] = Math.round(performance.now() - t0);
          const scores = await page.$$eval("#ranking li", (lis) => lis.map((li) => Number(li.dataset.score)));
          for (const p of scores) assert.ok(p > 0 && p < 1, `score ${p}`);
          assert.deepEqual(errors, []);
          assert.ok(wasm.some((w) => w.startsWith("200 application/wasm")), `one .wasm served as application/wasm: ${wasm}`);
        } finally {
          await page.close();
          server.stop();
        }
      }
    } finally {
      await close();
    }
  });
}
