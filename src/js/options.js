// Reads a session's options object once, safely: a plain copy of its own
// enumerable properties that are not `undefined` (getters run here, once),
// or the message of what reading it threw. src/options.rs then checks the
// keys and converts the values of the copy, which can no longer throw.
export function reloop_copy_options(options) {
  try {
    if (typeof options !== "object" || options === null || Array.isArray(options)) return "options must be an object";
    const copy = Object.create(null);
    for (const key of Object.keys(options)) {
      const value = options[key];
      // `undefined` counts as not given (so `halfLife: undefined` is the default, `null` is none).
      if (value === undefined) continue;
      // Every option is a scalar. An object (a Proxy, a getter-laden object)
      // is refused here: src/options.rs's reader would look inside it from
      // wasm, where what its traps throw cannot be caught.
      if ((typeof value === "object" && value !== null) || typeof value === "function" || typeof value === "symbol") {
        const got = typeof value === "object" ? (Array.isArray(value) ? "a list" : "an object") : `a ${typeof value}`;
        return `options: \`${key}\` is ${got}; option values are numbers, strings, booleans, BigInts or null`;
      }
      Object.defineProperty(copy, key, { value, enumerable: true });
    }
    return copy;
  } catch (e) {
    let message = "a non-Error value";
    try {
      if (e instanceof Error) message = String(e.message);
      else if (typeof e === "string") message = e;
    } catch {
      // keep the generic message
    }
    return `reading the options threw: ${message}`;
  }
}
