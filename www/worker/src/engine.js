/**
 * The package and the model (yours from model.js, else the bundled one),
 * loaded once per isolate, on first use.
 *
 * Why lazily: a Worker may not draw random numbers (`crypto.getRandomValues`)
 * at global scope, and the package does not promise that loading never does.
 * (This build does not; but if a dependency ever seeded a hash map there, a
 * global-scope load would throw and no request could be served. Inside a
 * request, a failure is one 500, and the next request tries again.) Every
 * later request of the isolate reuses the instance and model (≈ 0.2 s each).
 */
import wasmModule from "../../../pkg/reloop_edge_bg.wasm";
import { initSync, Model, Session } from "../../../pkg/reloop_edge.js";
import packageInfo from "../../../pkg/package.json";
import own from "./model.js";

/** @type {Engine | undefined} */
let engine;

/**
 * @typedef {object} Engine
 * @property {Model} model the served model (model.js's, else the bundled one), shared by all sessions
 * @property {object} options the sessions' options (model.js's `options`, else the package defaults)
 * @property {"bundled" | "own"} source which model it is
 * @property {typeof Session} Session the package's session class
 * @property {string} modelId hex SHA-256 identity of the model
 * @property {Uint8Array} modelTag first 8 bytes of the identity (bound into tokens)
 * @property {string[]} fields the item/context fields the model reads
 * @property {{ name: string, version: string }} package
 * @property {WebAssembly.Memory} wasmMemory the instance's linear memory (it grows, never shrinks)
 */

/** The isolate's engine, created on the first call. */
export function getEngine() {
  if (engine === undefined) {
    const exports = initSync({ module: wasmModule });
    const model = own ? Model.fromOnnx(own.onnx, own.spec) : Model.bundled();
    const modelId = model.id;
    engine = Object.freeze({
      model,
      options: Object.freeze({ ...(own?.options ?? {}) }),
      source: own ? "own" : "bundled",
      Session,
      modelId,
      modelTag: Uint8Array.fromHex(modelId.slice(0, 16)),
      fields: model.fields,
      package: { name: packageInfo.name, version: packageInfo.version },
      wasmMemory: exports.memory,
    });
  }
  return engine;
}
