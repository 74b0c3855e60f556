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
// * forged objects: the glue hands Rust whatever number its receiver's
//   `__wbg_ptr` holds. An object made with that field by hand
//   (`Object.defineProperty(Object.create(Session.prototype), "__wbg_ptr",
//   ...)`), a copy of an instance (`Object.assign(Object.create(proto), s)`,
//   as state libraries clone), or an instance whose field was overwritten
//   would reach Rust as a pointer to another type, to any memory, or to an
//   object freed since (a use after free, then a double free), or to
//   another session that reused the address. The package's glue reports
//   every instance it makes (`reloop_born`, patched in by
//   scripts/build-pkg.sh), which gets a hidden birth mark: a receiver must
//   carry the mark and the pointer of a live instance of the class, and the
//   call runs on that instance, so the glue reads a checked pointer even
//   through a Proxy whose traps lie. A Proxy of an instance works as the
//   instance does (Vue and MobX wrap objects in Proxies). The glue of the
//   wasm-bindgen tests is not patched: there `reloop_track_births` is never
//   called and only the prototype is checked.
const FREED = new WeakSet();
/** Each live instance the glue made, by its pointer: the WeakRef that is also its birth mark. */
const LIVE = new Map();
const BIRTH = Symbol("reloop-edge birth");
let birthsTracked = false;
let sweepAt = 1024;
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

/** The mark of the package's "too little JS stack" error (src/entries/stack.js). */
const STACK_MARK = Symbol.for("reloop-edge.stack");

/**
 * Whether `e` says the JS stack ran out: the engine's RangeError, or the
 * package's stack check refusing a call. Never throws.
 */
export function reloop_is_stack_error(e) {
  try {
    return e instanceof RangeError || (typeof e === "object" && e !== null && e[STACK_MARK] === true);
  } catch {
    return false;
  }
}

/** Whether `e` is an error made by this module (a freed or busy object, a wrong receiver). */
export function reloop_is_guard_error(e) {
  return (typeof e === "object" && e !== null) ? OURS.has(e) : false;
}

/** Called once by the package's glue as it loads, where WeakRef exists: receivers are checked against births. */
export function reloop_track_births() {
  birthsTracked = typeof WeakRef === "function";
}

/** Called by the package's glue for each instance it makes, once its pointer is set. */
export function reloop_born(instance) {
  if (!birthsTracked) return;
  const mark = new WeakRef(instance);
  Object.defineProperty(instance, BIRTH, { value: mark });
  LIVE.set(instance.__wbg_ptr, mark);
  if (LIVE.size > sweepAt) {
    // Pointers of collected instances that no later instance reused.
    for (const [ptr, ref] of LIVE) if (ref.deref() === undefined) LIVE.delete(ptr);
    sweepAt = Math.max(1024, 2 * LIVE.size);
  }
}

/** Guards the prototype of `instance`'s class (once), naming it `name` in errors. */
export function reloop_guard_free(instance, name) {
  const proto = Object.getPrototypeOf(instance);
  if (!proto || Object.prototype.hasOwnProperty.call(proto, "__reloopGuarded")) return;
  // The pointers of the instances inside a call, and those freed during it.
  const busy = new Set();
  const pendingFree = new Map();
  const rawFree = proto.free;

  // The receiver's pointer and the instance the call runs on, after
  // checking that it is a live, idle instance of the class.
  function receiver(self, member, idle = true) {
    let ptr, target;
    try {
      if (self === null || (typeof self !== "object" && typeof self !== "function")) ptr = undefined;
      else if (FREED.has(self)) throw freedError(name);
      else if (!Object.prototype.isPrototypeOf.call(proto, self)) ptr = undefined;
      else {
        const own = Object.getOwnPropertyDescriptor(self, "__wbg_ptr");
        // A freed instance seen through a Proxy has the throwing getter.
        if (own && typeof own.get === "function") own.get.call(self);
        ptr = own ? own.value : undefined;
        target = birthsTracked ? born(self, ptr) : self;
      }
    } catch (e) {
      if (OURS.has(e)) throw e;
      // Out of stack part-way through the checks: say so, not "not a live".
      if (e instanceof RangeError) throw coded(`${name}.${member}: too little JS stack left to check the receiver (called from deep recursion?); nothing was changed`);
      ptr = undefined;
    }
    if (typeof ptr !== "number" || ptr === 0 || target === undefined) {
      throw coded(`${name}.${member} was called on ${what(self)} that is not a live ${name} (a method called detached from its object, or an object made or copied by hand?)`);
    }
    if (idle && busy.has(ptr)) {
      throw coded(`${name}.${member}: this ${name} is in use by a call that has not returned (a getter or Proxy of an argument called back into it)`);
    }
    return { ptr, target };
  }

  // The live instance of this class the glue made with `ptr`, if `self`
  // (it, or a Proxy of it) carries its birth mark.
  function born(self, ptr) {
    const mark = LIVE.get(ptr);
    if (mark === undefined || Object.getOwnPropertyDescriptor(self, BIRTH)?.value !== mark) return undefined;
    const instance = mark.deref();
    if (instance === undefined || FREED.has(instance) || Object.getPrototypeOf(instance) !== proto) return undefined;
    const own = Object.getOwnPropertyDescriptor(instance, "__wbg_ptr");
    return own && own.value === ptr ? instance : undefined;
  }

  // Frees `target` (the instance) and marks `self` (what free() was called on) freed too.
  function freeNow(target, ptr, self) {
    rawFree.call(target);
    LIVE.delete(ptr);
    markFreed(target, self);
  }

  function markFreed(target, self) {
    for (const o of self === target ? [target] : [target, self]) {
      FREED.add(o);
      // wasm-bindgen's glue reads `__wbg_ptr` on every method call and when
      // the object is passed to Rust: after free() that read throws a coded error.
      try {
        Object.defineProperty(o, "__wbg_ptr", { configurable: true, get() { throw freedError(name); }, set(_) {} });
      } catch {
        // A Proxy refusing the definition: FREED already refuses it.
      }
    }
  }

  function guard(fn, member) {
    const guarded = {
      [member](...args) {
        const { ptr, target } = receiver(this, member);
        busy.add(ptr);
        try {
          // On the checked instance: the glue reads its pointer there.
          return fn.apply(target, args);
        } finally {
          busy.delete(ptr);
          const pending = pendingFree.get(ptr);
          if (pending !== undefined) {
            pendingFree.delete(ptr);
            // The instance looks freed since free(); its Rust value is dropped now.
            Object.defineProperty(pending.target, "__wbg_ptr", { value: ptr, writable: true, configurable: true });
            freeNow(pending.target, ptr, pending.self);
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
    let ptr, target;
    try {
      ({ ptr, target } = receiver(this, "free", false));
    } catch (e) {
      if (FREED_ERRORS.has(e)) return; // free() is idempotent
      throw e;
    }
    if (busy.has(ptr)) {
      // Inside one of its own calls: looks freed from now on, dropped when the call returns.
      pendingFree.set(ptr, { target, self: this });
      markFreed(target, this);
      return;
    }
    freeNow(target, ptr, this);
  };
  Object.defineProperty(proto, "free", { value: free, writable: true, configurable: true });
  if (typeof Symbol.dispose === "symbol") {
    Object.defineProperty(proto, Symbol.dispose, { value: free, writable: true, configurable: true });
  }
  Object.defineProperty(proto, "__reloopGuarded", { value: true });
}
