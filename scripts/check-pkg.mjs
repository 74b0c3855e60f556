// Smoke test of the built npm package (run by scripts/build-pkg.sh): loads
// pkg/ the two ways a non-browser host does — a Worker-style synchronous
// init with a compiled WebAssembly.Module, and the async init with bytes —
// then scores, records, saves, restores and checks a coded error.
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const dir = path.resolve(process.argv[2] ?? "pkg");
const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
for (const f of manifest.files) {
  if (!existsSync(path.join(dir, f))) throw new Error(`package.json lists ${f}, which the build did not produce`);
}
const entry = pathToFileURL(path.join(dir, manifest.exports["."].default)).href;
const bytes = readFileSync(path.join(dir, "reloop_edge_bg.wasm"));

const context = { userId: 1, age: 24, gender: "M", occupation: "technician", zip: "8", hour: 20, weekday: 5 };
const items = [
  { itemId: 50, genres: ["Action", "Adventure", "Sci-Fi"], year: 1977 },
  { itemId: 1, genres: ["Animation", "Children's", "Comedy"], year: 1995 },
  { itemId: 99999, genres: ["Drama"] },
];

function exercise(api, how) {
  const model = api.Model.bundled();
  const session = new api.Session(model, { halfLife: 100 });
  const scores = session.score(items, context);
  if (!(scores instanceof Float32Array) || scores.length !== 3 || !scores.every((p) => p > 0 && p < 1)) {
    throw new Error(`${how}: bad scores ${scores}`);
  }
  for (let i = 0; i < 5; i++) session.record(items[0], true, context);
  const saved = session.save();
  const restored = new api.Session(model, { halfLife: 100 }, saved);
  const a = session.score(items, context), b = restored.score(items, context);
  if (a.some((v, i) => v !== b[i])) throw new Error(`${how}: restored scores differ`);
  try {
    session.score([{ ...items[0], year: NaN }], context);
    throw new Error(`${how}: NaN was accepted`);
  } catch (e) {
    if (!(e instanceof Error) || e.code !== "E_INVALID_INPUT") throw e;
  }
  restored.free();
  console.log(`${how}: ok (model ${model.id.slice(0, 12)}, scores ${Array.from(a, (v) => v.toFixed(3)).join(" ")}, saved ${saved.length} B)`);
}

// A Worker (or any host with a compiled module): synchronous.
const worker = await import(`${entry}?worker`);
worker.initSync({ module: new WebAssembly.Module(bytes) });
exercise(worker, "initSync({ module })");

// Node or a browser with the bytes at hand: asynchronous.
const node = await import(`${entry}?node`);
await node.default({ module_or_path: bytes });
exercise(node, "init({ module_or_path: bytes })");
