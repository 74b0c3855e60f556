// The package's entry for Node: initialises itself on import, reading the
// build this Node runs (relaxed SIMD with --experimental-wasm-relaxed-simd or
// a Node that has it, else simd128) from the installed package.
import { readFileSync } from "node:fs";
import { initSync as glueInitSync } from "./reloop_edge.js";
import { relaxedSimd } from "./host.js";

export * from "./reloop_edge.js";

/** Which build this host loaded: `"relaxed-simd"` or `"simd128"`. */
export const wasmBuild = relaxedSimd() ? "relaxed-simd" : "simd128";

/** The instance's linear memory (it grows, never shrinks). */
export const wasmMemory = glueInitSync({
  module: readFileSync(new URL(wasmBuild === "relaxed-simd" ? "./reloop_edge_relaxed_bg.wasm" : "./reloop_edge_bg.wasm", import.meta.url)),
}).memory;

/** Already done on import; kept so code written for browsers runs unchanged. */
export default async function init() {}

/** Already done on import; a no-op. */
export function initSync() {}
