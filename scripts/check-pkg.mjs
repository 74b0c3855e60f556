// Smoke test of the built npm package (run by scripts/build-pkg.sh), each
// case in a fresh Node process (module state is per process):
//   * every file package.json lists exists;
//   * the glue with a compiled module (initSync, as a Worker does) and with
//     bytes (init, async): score, record, save, restore, a coded error;
//   * the Node entry (package "exports" → node.js) initialises itself and
//     loads the simd128 build; with --experimental-wasm-relaxed-simd the
//     relaxed build, whose scores agree with simd128's within 1e-5;
//   * the browser entry before init throws E_NOT_INITIALISED, and init with
//     bytes then works.
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { execFileSync } from "node:child_process";

const dir = path.resolve(process.argv[2] ?? "pkg");
const manifest = JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8"));
for (const f of manifest.files) {
  if (!existsSync(path.join(dir, f))) throw new Error(`package.json lists ${f}, which the build did not produce`);
}
const url = (f) => pathToFileURL(path.join(dir, f)).href;

const EXERCISE = `
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
    throw new Error(how + ": bad scores " + scores);
  }
  for (let i = 0; i < 5; i++) session.record(items[0], true, context);
  const saved = session.save();
  const restored = new api.Session(model, { halfLife: 100 }, saved);
  const a = session.score(items, context), b = restored.score(items, context);
  if (a.some((v, i) => v !== b[i])) throw new Error(how + ": restored scores differ");
  try {
    session.score([{ ...items[0], year: NaN }], context);
    throw new Error(how + ": NaN was accepted");
  } catch (e) {
    if (!(e instanceof Error) || e.code !== "E_INVALID_INPUT") throw e;
  }
  restored.free();
  console.error(how + ": ok (model " + model.id.slice(0, 12) + ", scores " + Array.from(a, (v) => v.toFixed(3)).join(" ") + ", saved " + saved.length + " B)");
  return Array.from(a);
}
`;

function run(body, flags = []) {
  const out = execFileSync(process.execPath, [...flags, "--input-type=module", "-e", EXERCISE + body], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return JSON.parse(out);
}

const glue = url("reloop_edge.js");
const wasm = path.join(dir, "reloop_edge_bg.wasm");
run(`import { readFileSync } from "node:fs"; import * as api from "${glue}";
  api.initSync({ module: new WebAssembly.Module(readFileSync(${JSON.stringify(wasm)})) });
  console.log(JSON.stringify(exercise(api, "glue: initSync({ module })")));`);
run(`import { readFileSync } from "node:fs"; import * as api from "${glue}";
  await api.default({ module_or_path: readFileSync(${JSON.stringify(wasm)}) });
  console.log(JSON.stringify(exercise(api, "glue: init({ module_or_path: bytes })")));`);

const node = url(manifest.exports["."].node);
const plain = run(`import * as api from "${node}";
  if (api.wasmBuild !== "simd128") throw new Error("Node 20 without the flag got " + api.wasmBuild);
  await api.default();
  console.log(JSON.stringify(exercise(api, "node entry (self-initialised, simd128)")));`);
const relaxed = run(`import * as api from "${node}";
  if (api.wasmBuild !== "relaxed-simd") throw new Error("Node with the flag got " + api.wasmBuild);
  console.log(JSON.stringify(exercise(api, "node entry --experimental-wasm-relaxed-simd (relaxed-simd)")));`,
  ["--experimental-wasm-relaxed-simd"]);
const gap = Math.max(...plain.map((v, i) => Math.abs(v - relaxed[i])));
if (!(gap < 1e-5)) throw new Error(`relaxed and simd128 builds disagree by ${gap}`);
console.error(`relaxed vs simd128 scores: max |difference| ${gap.toExponential(2)}`);

const browser = url(manifest.exports["."].browser);
run(`import { readFileSync } from "node:fs"; import * as api from "${browser}";
  try { api.Model.bundled(); throw new Error("Model.bundled() before init did not throw"); }
  catch (e) { if (e.code !== "E_NOT_INITIALISED" || e.name !== "ReloopError") throw e; }
  try { new api.Session({}); throw new Error("new Session before init did not throw"); }
  catch (e) { if (e.code !== "E_NOT_INITIALISED") throw e; }
  await api.default({ module_or_path: readFileSync(${JSON.stringify(wasm)}) });
  console.log(JSON.stringify(exercise(api, "browser entry: E_NOT_INITIALISED before init, then init(bytes)")));`);
