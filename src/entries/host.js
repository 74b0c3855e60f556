// What every entry of the package shares: which of the two wasm builds this
// host can run, and the coded errors of initialisation.
//
// The package ships two builds of the same code: `reloop_edge_relaxed_bg.wasm`
// (wasm relaxed SIMD: tract's fused multiply-add matrix kernels) and
// `reloop_edge_bg.wasm` (plain simd128). A module using relaxed-SIMD
// instructions fails to compile where they are not supported, so the choice
// is made before loading, by validating a 36-byte module with one
// relaxed-SIMD instruction (`i8x16.relaxed_swizzle`).

const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15,
  253, 128, 2, 11,
]);

/** Whether this host runs wasm relaxed SIMD (Chromium 114+, Firefox 120+, Safari 17+, workerd; Node only with a flag). */
export function relaxedSimd() {
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

/** A ReloopError with `code`. */
export function reloopError(code, message) {
  const e = new Error(message);
  e.name = "ReloopError";
  e.code = code;
  return e;
}
