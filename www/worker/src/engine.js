/**
 * The package and the model (yours from model.js, else the bundled one),
 * loaded once per isolate, at global scope: startup may take 1 s of CPU on
 * Workers, while a request on the free plan has 10 ms, so no request pays
 * for the load.
 *
 * The package's `workerd` entry (pkg/workerd.js) instantiates the relaxed-SIMD
 * build from the compiled module wrangler imports. Workers refuse
 * `crypto.getRandomValues` at global scope; loading draws no random numbers,
 * and `startup.randomDraws` (GET /health) counts any that it would (a test
 * checks 0). Should the global-scope load fail anyway, the error is kept and
 * the first request loads the model instead (and reports a failure as a 500).
 */
import { Model, Session, wasmBuild, wasmMemory } from "../../../pkg/workerd.js";
import packageInfo from "../../../pkg/package.json";
import own from "./model.js";
import { DEFAULTS } from "./config.js";
import { sessionOptions } from "./session.js";
import { BUNDLED_SAMPLE, warmUp } from "./warmup.js";

/**
 * @typedef {object} Engine
 * @property {Model} model the served model (model.js's, else the bundled one), shared by all sessions
 * @property {object} options the sessions' options (model.js's `options`, else the package defaults)
 * @property {"bundled" | "own"} source which model it is
 * @property {typeof Session} Session the package's session class
 * @property {string} modelId hex SHA-256 identity of the model
 * @property {Uint8Array} modelTag first 8 bytes of the identity (bound into tokens)
 * @property {string[]} fields the item/context fields the model reads
 * @property {{ name: string, version: string, wasmBuild: string }} package
 * @property {WebAssembly.Memory} wasmMemory the instance's linear memory (it grows, never shrinks)
 */

/** How the isolate started: where the model was loaded, in how long, and random numbers drawn meanwhile. */
export const startup = {
  globalScope: false, warmedUp: false, warmUp: null, loadMs: 0, randomDraws: 0, requestLoads: 0, error: null,
};

/** @type {Engine | undefined} */
let engine = loadAtGlobalScope();

/** The isolate's engine (loaded at global scope; on first use if that failed). */
export function getEngine() {
  if (engine === undefined) {
    startup.requestLoads += 1;
    engine = load();
  }
  return engine;
}

function loadAtGlobalScope() {
  const random = crypto.getRandomValues;
  // Count draws while loading (workerd would throw on the first one here anyway).
  try {
    crypto.getRandomValues = function (array) {
      startup.randomDraws += 1;
      return random.call(crypto, array);
    };
  } catch {
    startup.randomDraws = -1; // not countable here
  }
  // Workers' clock does not advance while code runs: loadMs is 0 in workerd
  // (the load run times startup from outside); in Node it is real.
  const t0 = performance.now();
  try {
    const loaded = load();
    startup.globalScope = true;
    // The request path run now (warmup.js), so the first requests do not
    // pay for the first run's one-time costs (V8's baseline code, tract's
    // set-up, the plan fixed to the page size).
    try {
      const sample = own ? own.warmUp ?? null : BUNDLED_SAMPLE;
      // env is not known at global scope: the sessions' options with the default limits.
      startup.warmUp = warmUp(loaded, sample, sessionOptions(loaded, DEFAULTS));
      startup.warmedUp = true;
    } catch (error) {
      startup.error = `warm-up: ${error?.code ?? error?.name ?? "Error"}: ${error?.message ?? error}`;
    }
    return loaded;
  } catch (error) {
    startup.error = `${error?.code ?? error?.name ?? "Error"}: ${error?.message ?? error}`;
    return undefined;
  } finally {
    startup.loadMs = performance.now() - t0;
    try {
      crypto.getRandomValues = random;
    } catch {
      // left as it was
    }
  }
}

function load() {
  const model = own ? Model.fromOnnx(own.onnx, own.spec) : Model.bundled();
  const modelId = model.id;
  return Object.freeze({
    model,
    options: Object.freeze({ ...(own?.options ?? {}) }),
    source: own ? "own" : "bundled",
    Session,
    modelId,
    modelTag: Uint8Array.fromHex(modelId.slice(0, 16)),
    fields: model.fields,
    package: { name: packageInfo.name, version: packageInfo.version, wasmBuild },
    wasmMemory,
  });
}
