/**
 * Runs this Worker in the real workerd runtime (npm `workerd`), on loopback.
 *
 * Why not `wrangler dev`: workerd alone starts in well under a second, has no
 * watcher, telemetry or network features to switch off, and hands us its pid
 * (the load run reads its memory). The config is generated from the sources
 * and from wrangler.toml (compatibility date, flags, [vars]), so what runs
 * here is what `wrangler deploy` would upload, module for module.
 *
 *   node www/worker/workerd.mjs [--port 8787] [--model DIR]   # serve until Ctrl-C (TOKEN_SECRET from the env, else a random one)
 *
 * `--model DIR` (`startWorker({ model: DIR })`) serves your own model from DIR
 * (model.onnx, spec.json, optionally options.json) instead of the bundled one:
 * src/model.js is replaced by one importing those files, exactly the edit
 * the Worker README describes for `wrangler deploy`.
 *
 * As a module: `const worker = await startWorker({ secret }); ... await worker.stop();`
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const WORKER_DIR = dirname(fileURLToPath(import.meta.url));
const REPO = join(WORKER_DIR, "..", "..");
const PKG = join(REPO, "pkg");
const WORKERD = join(REPO, "node_modules", ".bin", "workerd");

/** Compatibility date, flags and [vars] of wrangler.toml (the subset this Worker uses). */
export function wranglerSettings(path = join(WORKER_DIR, "wrangler.toml")) {
  const text = readFileSync(path, "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(text)?.[1];
  const flagsText = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(text)?.[1];
  if (!date || flagsText === undefined) throw new Error(`${path}: compatibility_date or compatibility_flags not found`);
  const flags = [...flagsText.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  const vars = {};
  const section = /^\[vars\]\s*$([\s\S]*?)(?=^\[|(?![\s\S]))/m.exec(text)?.[1] ?? "";
  for (const m of section.matchAll(/^([A-Z0-9_]+)\s*=\s*"([^"]*)"/gm)) vars[m[1]] = m[2];
  return { date, flags, vars };
}

/** The modules of a wrangler bundle (`wrangler deploy --dry-run --outdir DIR`): index.js first, then the wasm. */
function bundleModules(dir) {
  const files = readdirSync(dir);
  if (!files.includes("index.js")) throw new Error(`${dir}: no index.js (not a wrangler --outdir bundle)`);
  const list = [{ path: join(dir, "index.js"), kind: "esModule", name: "index.js" }];
  for (const file of files) {
    if (file.endsWith(".wasm")) list.push({ path: join(dir, file), kind: "wasm", name: file });
  }
  return list;
}

/**
 * Serves the model in `dir`: a src/model.js importing its files, written
 * into `tmp`, replaces the shipped one; the files become modules beside it.
 */
function ownModelModules(modules, dir, tmp) {
  const onnx = join(dir, "model.onnx");
  const spec = join(dir, "spec.json");
  const options = join(dir, "options.json");
  for (const file of [onnx, spec]) if (!existsSync(file)) throw new Error(`${file} is missing (--model DIR needs model.onnx and spec.json)`);
  const withOptions = existsSync(options);
  const lines = [
    'import onnx from "../model/model.onnx";',
    'import spec from "../model/spec.json";',
    ...(withOptions ? ['import options from "../model/options.json";'] : []),
    `export default { onnx, spec${withOptions ? ", options" : ""} };`,
  ];
  const generated = join(tmp, "model.js");
  writeFileSync(generated, lines.join("\n") + "\n");
  const name = (file) => `www/worker/model/${file}`;
  return [
    ...modules.map((m) => (m.name === "www/worker/src/model.js" ? { ...m, path: generated } : m)),
    { path: onnx, kind: "data", name: name("model.onnx") },
    { path: spec, kind: "json", name: name("spec.json") },
    ...(withOptions ? [{ path: options, kind: "json", name: name("options.json") }] : []),
  ];
}

/**
 * The modules of the Worker: its sources, the package's JS (its `workerd`
 * entry and what that imports; not the Node and browser entries), the
 * relaxed-SIMD wasm it imports, and package.json.
 */
function sourceModules() {
  for (const file of ["reloop_edge.js", "workerd.js", "reloop_edge_relaxed_bg.wasm", "package.json"]) {
    if (!existsSync(join(PKG, file))) {
      throw new Error(`pkg/${file} is missing: build the package first (make pkg)`);
    }
  }
  // The first module is the entry point (wrangler.toml's `main`).
  const list = [{ path: join(WORKER_DIR, "src", "index.js"), kind: "esModule" }];
  for (const file of readdirSync(join(WORKER_DIR, "src"))) {
    if (file.endsWith(".js") && file !== "index.js") list.push({ path: join(WORKER_DIR, "src", file), kind: "esModule" });
  }
  for (const file of readdirSync(PKG, { recursive: true })) {
    if (file.endsWith(".js") && file !== "node.js" && file !== "browser.js") {
      list.push({ path: join(PKG, file), kind: "esModule" });
    }
  }
  list.push({ path: join(PKG, "reloop_edge_relaxed_bg.wasm"), kind: "wasm" });
  list.push({ path: join(PKG, "package.json"), kind: "json" });
  // Module names are repository paths, so the sources' relative imports resolve as in the bundle.
  return list.map((m) => ({ ...m, name: relative(REPO, m.path) }));
}

function capnpConfig(dir, { date, flags, bindings, port, modules }) {
  const str = (s) => JSON.stringify(String(s)); // Cap'n Proto text strings use the same escapes.
  const mods = modules.map((m) =>
    `    (name = ${str(m.name)}, ${m.kind} = embed ${str(relative(dir, m.path))}),`);
  const binds = Object.entries(bindings).map(([k, v]) => `    (name = ${str(k)}, text = ${str(v)}),`);
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = ${str(`127.0.0.1:${port}`)}, http = (), service = "main") ],
);
const worker :Workerd.Worker = (
  modules = [
${mods.join("\n")}
  ],
  compatibilityDate = ${str(date)},
  compatibilityFlags = [${flags.map(str).join(", ")}],
  bindings = [
${binds.join("\n")}
  ],
);
`;
}

/** A free loopback port (for a Worker's inspector, or wrangler's server). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().once("error", reject).listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts workerd serving the Worker on 127.0.0.1 (port 0 = a free one).
 * `bundle`: serve a wrangler `--outdir` bundle instead of the sources;
 * `model`: a directory with your own model.onnx, spec.json (and options.json);
 * `args`: more arguments for `workerd serve` (e.g. `--inspector-addr=127.0.0.1:PORT`).
 * @param {{ secret?: string, vars?: Record<string, string>, port?: number, bundle?: string, model?: string, timeoutMs?: number, args?: string[] }} [options]
 * @returns {Promise<{ url: string, port: number, pid: number, stderr: () => string, stop: () => Promise<void> }>}
 */
export async function startWorker({ secret, vars = {}, port = 0, bundle, model, timeoutMs = 30000, args = [] } = {}) {
  const settings = wranglerSettings();
  const dir = mkdtempSync(join(tmpdir(), "reloop-workerd-"));
  let modules = bundle === undefined ? sourceModules() : bundleModules(bundle);
  if (model !== undefined) modules = ownModelModules(modules, model, dir);
  const bindings = { ...settings.vars, ...vars, TOKEN_SECRET: secret ?? randomBytes(32).toString("base64url") };
  const configPath = join(dir, "worker.capnp");
  writeFileSync(configPath, capnpConfig(dir, { ...settings, bindings, port, modules }));

  // fd 3 is workerd's control channel: it reports the port it bound.
  const child = spawn(WORKERD, ["serve", configPath, "--control-fd=3", ...args], {
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stdout.on("data", (d) => { stderr += d; });
  child.stderr.on("data", (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  // workerd (and its config) must not outlive us, even when the test runner is interrupted.
  const killOnExit = () => { child.kill("SIGKILL"); cleanup(); };
  const killOnSignal = (signal) => { killOnExit(); process.exit(signal === "SIGINT" ? 130 : 143); };
  process.once("exit", killOnExit);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.once(signal, killOnSignal);

  const stop = async () => {
    process.removeListener("exit", killOnExit);
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.removeListener(signal, killOnSignal);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    cleanup();
  };

  try {
    const bound = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`workerd did not listen within ${timeoutMs} ms`)), timeoutMs);
      exited.then(({ code, signal }) => reject(new Error(`workerd exited (${code ?? signal}) before listening`)));
      createInterface({ input: child.stdio[3] }).on("line", (line) => {
        let message;
        try { message = JSON.parse(line); } catch { return; }
        if (message.event === "listen" && message.socket === "http") {
          clearTimeout(timer);
          resolve(message.port);
        }
      });
    });
    return { url: `http://127.0.0.1:${bound}`, port: bound, pid: child.pid, stderr: () => stderr, stop };
  } catch (error) {
    await stop();
    throw new Error(`${error.message}\n--- workerd output ---\n${stderr}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf("--port");
  const port = at > 0 ? Number(process.argv[at + 1]) : 8787;
  const modelAt = process.argv.indexOf("--model");
  const model = modelAt > 0 ? process.argv[modelAt + 1] : undefined;
  const worker = await startWorker({ port, secret: process.env.TOKEN_SECRET, model });
  const health = await (await fetch(`${worker.url}/health`)).json();
  console.log(`reloop-edge Worker in workerd at ${worker.url} (pid ${worker.pid}), model ${health.model?.id?.slice(0, 12)}; Ctrl-C stops it`);
  // startWorker's own signal handlers stop workerd on Ctrl-C.
}
