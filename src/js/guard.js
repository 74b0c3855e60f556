// Makes free() final on a wasm-bindgen class: after it, every method call
// and every pass of the object to Rust throws a coded ReloopError instead of
// wasm-bindgen's uncoded "null pointer passed to rust" (src/lifetime.rs).
const FREED = new WeakSet();

function freedError(name) {
  const e = new Error(`${name} was freed with free(); it cannot be used any more`);
  e.name = "ReloopError";
  e.code = "E_INVALID_INPUT";
  return e;
}

/** Guards the prototype of `instance`'s class (once), naming it `name` in errors. */
export function reloop_guard_free(instance, name) {
  const proto = Object.getPrototypeOf(instance);
  if (!proto || Object.prototype.hasOwnProperty.call(proto, "__reloopGuarded")) return;
  const free = proto.free;
  const guarded = function () {
    if (FREED.has(this)) return;
    free.call(this);
    FREED.add(this);
    // wasm-bindgen's glue reads `__wbg_ptr` on every method call and when the
    // object is passed to Rust: after free() that read throws a coded error.
    Object.defineProperty(this, "__wbg_ptr", {
      configurable: true,
      get() { throw freedError(name); },
      set(_) {},
    });
  };
  Object.defineProperty(proto, "free", { value: guarded, writable: true, configurable: true });
  if (typeof Symbol.dispose === "symbol") {
    Object.defineProperty(proto, Symbol.dispose, { value: guarded, writable: true, configurable: true });
  }
  Object.defineProperty(proto, "__reloopGuarded", { value: true });
}
