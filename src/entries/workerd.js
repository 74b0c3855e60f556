// The package's entry for Cloudflare Workers (the `workerd` export
// condition wrangler resolves): initialises itself at import with the
// relaxed-SIMD build, which workerd runs, imported as a compiled
// WebAssembly.Module (Workers may not compile wasm from bytes). Nothing here
// draws random numbers, so this runs at global scope.
import wasm from "./reloop_edge_relaxed_bg.wasm";
import { initSync as glueInitSync } from "./reloop_edge.js";

export * from "./reloop_edge.js";

/** Which build this host loaded. */
export const wasmBuild = "relaxed-simd";

/** The instance's linear memory (it grows, never shrinks): what the package holds of the isolate's 128 MB. */
export const wasmMemory = glueInitSync({ module: wasm }).memory;

/** Already done on import; kept so code written for browsers runs unchanged. */
export default async function init() {}

/** Already done on import; a no-op. */
export function initSync() {}
