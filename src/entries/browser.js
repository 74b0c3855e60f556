// The package's entry for browsers and bundlers (and the default): the API,
// plus `init()` that loads the build this browser runs — relaxed SIMD where
// supported, else plain simd128 — from next to this file. A browser cannot
// compile 5 MB of wasm synchronously on its main thread, so this entry does
// not initialise itself: `await init()` once, before the first `Model`.
import glueInit, { initSync as glueInitSync } from "./reloop_edge.js";
import { relaxedSimd, reloopError } from "./host.js";

export * from "./reloop_edge.js";

/** Which build this host loads: `"relaxed-simd"` or `"simd128"`. */
export const wasmBuild = relaxedSimd() ? "relaxed-simd" : "simd128";

/** The instance's linear memory once initialised (it grows, never shrinks). */
export let wasmMemory;

const remember = (exports) => {
  wasmMemory = exports.memory;
  return exports;
};

/**
 * Loads and instantiates the package's wasm once (later calls return the
 * same promise). Without an argument it fetches the build for this host
 * from next to this module; `{ module_or_path }` (a URL, a Response, bytes or
 * a compiled `WebAssembly.Module` of the matching build) overrides that.
 */
export default function init(options) {
  if (options !== undefined) return glueInit(options).then(remember);
  let url;
  try {
    // Two literal `new URL(...)` forms, so bundlers see and emit both files.
    url = wasmBuild === "relaxed-simd"
      ? new URL("./reloop_edge_relaxed_bg.wasm", import.meta.url)
      : new URL("./reloop_edge_bg.wasm", import.meta.url);
  } catch (e) {
    return Promise.reject(reloopError(
      "E_NOT_INITIALISED",
      `init() cannot locate the .wasm in this host (${e && e.message}): pass { module_or_path } (bytes, a URL ` +
        "or a compiled WebAssembly.Module), or import \"reloop-edge\" through its Node or Worker entry",
    ));
  }
  return glueInit({ module_or_path: url }).then(remember, (e) => {
    if (e && e.name === "ReloopError") throw e;
    throw reloopError(
      "E_NOT_INITIALISED",
      `init() could not load ${url.href}: ${e && e.message}. Serve the package's .wasm files with it ` +
        "(Vite 5/6: see the package README), or pass { module_or_path }",
    );
  });
}

/** Synchronous init with `{ module }`: a compiled `WebAssembly.Module` (or bytes) of the matching build. */
export function initSync(options) {
  return remember(glueInitSync(options));
}
