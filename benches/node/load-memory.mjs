// Wasm linear memory of loading a model through the package, against the
// bytes of the model's weights (its initializer tensors). Linear memory only
// grows, so its size after `Model.fromOnnx` is the load's peak; then
// `score` runs batches of 1 to 4 items twice each (each such batch size gets
// a fixed plan, with its own copy of the matrix weights, while
// plans::FIXED_PLANS_BUDGET allows) to show the steady state with those.
// Each model is loaded in a fresh Node process.
//
//   node benches/node/load-memory.mjs [MODEL.onnx ...]
//
// Without arguments: the bundled model and the ≈ 20 MB models that
//   RELOOP_LOAD_MODELS=target/load-models cargo test -p reloop-runtime --test load_memory
// writes (each MODEL.onnx is read with MODEL.spec.json beside it).
// RELOOP_PKG=<dir> measures another build of the package.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { execFileSync } from "node:child_process";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const pkgDir = path.resolve(process.env.RELOOP_PKG ?? path.join(root, "pkg"));
const MB = 1e6;

/** Bytes of the initializer tensors: a minimal protobuf walk (ModelProto.graph = 7, GraphProto.initializer = 5). */
function weightBytes(bytes) {
  const varint = (buf, at) => {
    let value = 0, shift = 0, b;
    do {
      b = buf[at++];
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return [value, at];
  };
  // Calls visit(field, start, end) for each length-delimited field of buf[from, to).
  const fields = (buf, from, to, visit) => {
    let at = from;
    while (at < to) {
      let key;
      [key, at] = varint(buf, at);
      const wire = key & 7;
      if (wire === 0) [, at] = varint(buf, at);
      else if (wire === 1) at += 8;
      else if (wire === 5) at += 4;
      else if (wire === 2) {
        let len;
        [len, at] = varint(buf, at);
        visit(key >>> 3, at, at + len);
        at += len;
      } else throw new Error(`unexpected protobuf wire type ${wire}`);
    }
  };
  let total = 0;
  fields(bytes, 0, bytes.length, (f, s, e) => {
    if (f !== 7) return;
    fields(bytes, s, e, (g, ts, te) => {
      if (g !== 5) return;
      // TensorProto: float_data 4, int32_data 5, int64_data 7, raw_data 9, double_data 10, uint64_data 11 (packed).
      // int32/int64/uint64 are varints: count their values, not their bytes.
      fields(bytes, ts, te, (t, ds, de) => {
        if (t === 4 || t === 9 || t === 10) total += de - ds;
        else if (t === 5 || t === 7 || t === 11) {
          let n = 0;
          for (let at = ds; at < de; n++) [, at] = varint(bytes, at);
          total += n * (t === 5 ? 4 : 8);
        }
      });
    });
  });
  return total;
}

async function child(onnxPath) {
  const { Model, Session, wasmMemory } = await import(pathToFileURL(path.join(pkgDir, "node.js")).href);
  const bytes = readFileSync(onnxPath);
  const spec = readFileSync(onnxPath.replace(/\.onnx$/, ".spec.json"), "utf8");
  const start = wasmMemory.buffer.byteLength;
  const model = Model.fromOnnx(bytes, spec);
  const loaded = wasmMemory.buffer.byteLength;
  const bundled = path.basename(onnxPath) === "movielens.onnx";
  const item = bundled ? { itemId: 50, genres: ["Action"], year: 1977 } : { user: "u1", item: "a", age: 25 };
  const context = bundled ? { userId: 1, age: 24, gender: "M", occupation: "technician", zip: "8", hour: 20, weekday: 5 } : {};
  const session = new Session(model);
  for (let n = 1; n <= 4; n++) {
    for (let k = 0; k < 2; k++) session.score(Array(n).fill(item), context);
  }
  const scored = wasmMemory.buffer.byteLength;
  process.stdout.write(JSON.stringify({ start, loaded, scored, bytes: bytes.length }));
}

function main() {
  let models = process.argv.slice(2);
  if (models.length === 0) {
    const dir = path.resolve(process.env.RELOOP_LOAD_MODELS ?? path.join(root, "target/load-models"));
    models = [path.join(root, "models/movielens.onnx")];
    for (const name of ["matrix-20mb", "embedding-20mb"]) {
      const file = path.join(dir, `${name}.onnx`);
      if (existsSync(file)) models.push(file);
      else console.log(`(no ${file}: see the header of this script to write it)`);
    }
  }
  console.log(`package ${pkgDir}`);
  console.log("model                  weights   wasm before  after load (x weights)  after scoring (x weights)");
  for (const file of models) {
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), "--child", file], {
      env: process.env,
      encoding: "utf8",
    });
    const r = JSON.parse(out);
    const weights = weightBytes(readFileSync(file));
    const grown = (to) => `${((to - r.start) / MB).toFixed(2)} MB (${((to - r.start) / weights).toFixed(2)}x)`;
    console.log(
      `${path.basename(file).padEnd(22)} ${(weights / MB).toFixed(2).padStart(6)} MB  ${(r.start / MB).toFixed(2).padStart(6)} MB` +
        `  ${(r.loaded / MB).toFixed(2)} MB: +${grown(r.loaded)}  ${(r.scored / MB).toFixed(2)} MB: +${grown(r.scored)}`,
    );
  }
}

if (process.argv[2] === "--child") await child(process.argv[3]);
else main();
