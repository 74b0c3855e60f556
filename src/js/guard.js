// Guards every method and getter of a wasm-bindgen class (src/lifetime.rs),
// so that only coded ReloopErrors come out of them, never wasm-bindgen's
// uncoded glue errors or a trap:
//
// * the receiver must be a live instance of the class: a detached method
//   (`const f = s.score; f()`), a plain object or an instance of another of
//   the package's classes (`Session.prototype.save.call(model)`, which the
//   glue would hand to Rust as a pointer to the wrong type) is refused;
// * free() is final: afterwards every call, and every pass of the object to
//   Rust, throws a coded error (not "null pointer passed to rust");
// * re-entrancy: a call on an object that is inside one of its own calls (a
//   getter or Proxy of an argument calling back) is refused with a coded
//   error, where wasm-bindgen would throw "recursive use of an object
//   detected"; free() there takes effect when the outer call returns (where
//   wasm-bindgen would throw and leave the object half-freed).
//
// Not covered: an object forged with the glue's internal pointer field
// (`Object.defineProperty(Object.create(Session.prototype), "__wbg_ptr", ...)`).
const FREED = new WeakSet();
/** The errors made here, which Rust may pass on as they are (reloop_is_guard_error). */
const OURS = new WeakSet();
const FREED_ERRORS = new WeakSet();

function coded(message) {
  const e = new Error(message);
  e.name = "ReloopError";
  e.code = "E_INVALID_INPUT";
  OURS.add(e);
  return e;
}

function freedError(name) {
  const e = coded(`${name} was freed with free(); it cannot be used any more`);
  FREED_ERRORS.add(e);
  return e;
}

function what(v) {
  if (v === null) return "null";
  if (typeof v !== "object" && typeof v !== "function") return typeof v === "undefined" ? "undefined" : `a ${typeof v}`;
  return "an object";
}

/** Whether `e` is an error made by this module (a freed or busy object, a wrong receiver). */
export function reloop_is_guard_error(e) {
  return (typeof e === "object" && e !== null) ? OURS.has(e) : false;
}

/** Guards the prototype of `instance`'s class (once), naming it `name` in errors. */
export function reloop_guard_free(instance, name) {
  const proto = Object.getPrototypeOf(instance);
  if (!proto || Object.prototype.hasOwnProperty.call(proto, "__reloopGuarded")) return;
  // The pointers of the instances inside a call, and those freed during it.
  const busy = new Set();
  const pendingFree = new Map();
  const rawFree = proto.free;

  // The receiver's pointer, after checking it is a live, idle instance.
  function receiver(self, member, idle = true) {
    let ptr;
    try {
      if (self === null || (typeof self !== "object" && typeof self !== "function")) ptr = undefined;
      else if (FREED.has(self)) throw freedError(name);
      else if (!Object.prototype.isPrototypeOf.call(proto, self)) ptr = undefined;
      else {
        const own = Object.getOwnPropertyDescriptor(self, "__wbg_ptr");
        // A freed instance seen through a Proxy has the throwing getter.
        if (own && typeof own.get === "function") own.get.call(self);
        ptr = own ? own.value : undefined;
      }
    } catch (e) {
      if (OURS.has(e)) throw e;
      ptr = undefined;
    }
    if (typeof ptr !== "number" || ptr === 0) {
      throw coded(`${name}.${member} was called on ${what(self)} that is not a live ${name} (a method called detached from its object?)`);
    }
    if (idle && busy.has(ptr)) {
      throw coded(`${name}.${member}: this ${name} is in use by a call that has not returned (a getter or Proxy of an argument called back into it)`);
    }
    return ptr;
  }

  function freeNow(self) {
    rawFree.call(self);
    FREED.add(self);
    // wasm-bindgen's glue reads `__wbg_ptr` on every method call and when the
    // object is passed to Rust: after free() that read throws a coded error.
    Object.defineProperty(self, "__wbg_ptr", {
      configurable: true,
      get() { throw freedError(name); },
      set(_) {},
    });
  }

  function guard(fn, member) {
    const guarded = {
      [member](...args) {
        const ptr = receiver(this, member);
        busy.add(ptr);
        try {
          return fn.apply(this, args);
        } finally {
          busy.delete(ptr);
          const self = pendingFree.get(ptr);
          if (self !== undefined) {
            pendingFree.delete(ptr);
            // The object looks freed since free(); its Rust value is dropped now.
            Object.defineProperty(self, "__wbg_ptr", { value: ptr, writable: true, configurable: true });
            freeNow(self);
          }
        }
      },
    }[member];
    return guarded;
  }

  for (const key of Reflect.ownKeys(proto)) {
    if (key === "constructor" || key === "free" || key === "__destroy_into_raw" || key === Symbol.dispose) continue;
    const d = Object.getOwnPropertyDescriptor(proto, key);
    const member = typeof key === "symbol" ? key.toString() : key;
    if (typeof d.value === "function") {
      Object.defineProperty(proto, key, { ...d, value: guard(d.value, member) });
    } else if (typeof d.get === "function") {
      Object.defineProperty(proto, key, { ...d, get: guard(d.get, member) });
    }
  }

  const free = function () {
    if (FREED.has(this)) return;
    let ptr;
    try {
      ptr = receiver(this, "free", false);
    } catch (e) {
      if (FREED_ERRORS.has(e)) return; // free() is idempotent
      throw e;
    }
    if (busy.has(ptr)) {
      // Inside one of its own calls: looks freed from now on, dropped when the call returns.
      pendingFree.set(ptr, this);
      FREED.add(this);
      Object.defineProperty(this, "__wbg_ptr", { configurable: true, get() { throw freedError(name); }, set(_) {} });
      return;
    }
    freeNow(this);
  };
  Object.defineProperty(proto, "free", { value: free, writable: true, configurable: true });
  if (typeof Symbol.dispose === "symbol") {
    Object.defineProperty(proto, Symbol.dispose, { value: free, writable: true, configurable: true });
  }
  Object.defineProperty(proto, "__reloopGuarded", { value: true });
}
