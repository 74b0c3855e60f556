// `import wasm from "reloop-edge/reloop_edge_bg.wasm"` (or the relaxed
// build): what a Cloudflare Worker (wrangler's CompiledWasm rule) and bundlers
// with wasm-module support give, to pass to `initSync({ module: wasm })`.
// The package's entries do this themselves; it is for those who want control.
declare const module: WebAssembly.Module;
export default module;
