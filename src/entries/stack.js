// The JS stack a call into wasm must find free before it starts.
//
// V8 checks the native stack at the entry of every JS and wasm function. A
// call made from deep recursion, with little stack left, then throws
// RangeError *inside* the module, part-way through Rust code: no destructor
// runs, so the object's borrow stays taken (every later call: "recursive use
// of an object") or the allocator is left half-updated (a trap for every
// session of the instance). Measured (Node 20, bundled model): the deepest
// call, Model.fromOnnx, needs about 10 KB of stack, a score about 6.5 KB.
//
// So each export of the instance is wrapped (scripts/build-pkg.sh patches the
// glue's `wasm = instance.exports`): before it runs, a recursion of `wide`
// frames checks that about 64 KB (six times the most measured) are free, and
// a call that would not find them throws a coded error and changes nothing.
// The allocator's exports (`__wbindgen_*`, `__externref_*`), which need
// little, are checked for 4 KB and only when called from outside the module:
// inside a call, the outer check covered them.
import { reloopError } from "./host.js";

/**
 * Frames of `wide` each export must be able to push first: 32 arguments
 * make a frame of about 330 bytes in V8 once optimised (more before), so
 * 200 frames are about 64 KB, and 12 about 4 KB. Engine-independent enough:
 * a count of frames, not bytes, and the frames are never smaller than the
 * calls they stand for.
 */
export const STACK_FRAMES = 200;
const SMALL_FRAMES = 12;
/** Marks this module's errors (src/js/guard.js `reloop_is_stack_error` reads it). */
const STACK_MARK = Symbol.for("reloop-edge.stack");
/** Calls into the module that have not returned. */
let inside = 0;

// Each frame holds 32 arguments, so the check costs a few µs.
function wide(n, a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C, D, E, F, G) {
  return n <= 0 ? 0 : wide(n - 1, a, b, c, d, e, f, g, h, i, j, k, l, m, o, p, q, r, s, t, u, v, w, x, y, z, A, B, C, D, E, F, G) + 1;
}

function check(frames, name) {
  try {
    wide(frames);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const error = reloopError(
      "E_INVALID_INPUT",
      `reloop-edge: too little JS stack left to call ${name} safely (called from deep recursion?); nothing was changed`,
    );
    // So that Rust, reading the hidden handle of a Model or Catalog argument
    // through this check, reports the stack and not "not a Model".
    Object.defineProperty(error, STACK_MARK, { value: true });
    throw error;
  }
}

/** The instance's exports, each function wrapped by the stack check. */
export function probed(exports) {
  const out = {};
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value !== "function") {
      out[name] = value;
      continue;
    }
    const small = name.startsWith("__wbindgen_") || name.startsWith("__externref_");
    out[name] = function (...args) {
      if (!small) check(STACK_FRAMES, name);
      else if (inside === 0) check(SMALL_FRAMES, name);
      inside++;
      try {
        return value(...args);
      } finally {
        inside--;
      }
    };
  }
  return out;
}
