// The package's entries (browser.js, node.js, workerd.js) export the API of
// reloop_edge.js, `init`/`initSync`, and which wasm build they loaded.
export * from "./reloop_edge.js";
export { default } from "./reloop_edge.js";
/** Which build this host loads: relaxed SIMD where the host runs it, else plain simd128. */
export declare const wasmBuild: "relaxed-simd" | "simd128";
/** The wasm instance's linear memory (undefined in a browser until `init()` resolves). */
export declare const wasmMemory: WebAssembly.Memory | undefined;
