// Before initialisation, the glue's `wasm` is this object: any use of the
// package throws a coded E_NOT_INITIALISED naming what to do, instead of
// "TypeError: Cannot read properties of undefined". (scripts/build-pkg.sh
// patches the generated glue to start from it.)
import { reloopError } from "./host.js";

const NOT_READY = new Proxy(Object.freeze({}), {
  get(_, name) {
    if (name === "then") return undefined;
    throw reloopError(
      "E_NOT_INITIALISED",
      "reloop-edge is not initialised yet: in a browser, `await init()` first (import init from \"reloop-edge\"); " +
        "Node and Cloudflare Workers initialise it on import of \"reloop-edge\"; elsewhere call " +
        "initSync({ module }) with the compiled reloop_edge_bg.wasm",
    );
  },
});

/** The glue's `wasm` before init. */
export function notReady() {
  return NOT_READY;
}

/** Whether the glue's `wasm` is still the placeholder. */
export function isNotReady(wasm) {
  return wasm === undefined || wasm === NOT_READY;
}
