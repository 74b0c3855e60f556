// Property test of the package's JS boundary (issue 15, item 2), in Node with
// fast-check: random and hostile JS values through every exported function,
// constructor, method and getter of pkg/node.js. Run by
// scripts/test-property.sh (PROPERTY_RUNS, PROPERTY_SEED; RELOOP_PKG points
// at another build of the package).
//
// Properties, checked after every call of every generated sequence:
//  (a) nothing but a ReloopError (an Error named "ReloopError" with a known
//      `code`) is thrown — never a WebAssembly.RuntimeError (a trap), a
//      TypeError from the glue or wasm-bindgen's uncoded errors ("recursive
//      use of an object detected", "null pointer passed to rust") — and the
//      session, catalog and model are still usable afterwards;
//  (b) after a failed call the session scores a fixed probe batch to the
//      same Float32 bits as before it;
//  (c) after a failed call the session saves the same bytes as before it,
//      and no call changes the caller's typed arrays or buffers.
// Also: calls on the wrong receiver (detached methods, other classes, objects
// forged with the glue's pointer field) and on
// freed objects must throw coded errors; free() is idempotent; getters and
// Proxies of arguments call back into the objects during calls (re-entrancy).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  pkg, ONNX, SPEC_TEXT, SPEC, GENRES, CONTEXT, item, PROBE, isReloopError, bits,
} from "./fixtures.mjs";

const { Model, Session, Catalog } = pkg;

const RUNS = envInt("PROPERTY_RUNS", 10000);
const SEED = process.env.PROPERTY_SEED ? envInt("PROPERTY_SEED", 0) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
const REPRO = `PROPERTY_SEED=${SEED} PROPERTY_RUNS=${RUNS}`;
console.log(`# property test: seed ${SEED}, ${RUNS} runs (reproduce: ${REPRO} bash scripts/test-property.sh)`);

function envInt(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${v}`);
  return n;
}

// ---------------------------------------------------------------------------
// Fixtures: the bundled model's files, valid items and a context.

const OCCUPATIONS = Object.keys(SPEC.fields.occupation.vocabulary);
const TYPED = {
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
};

// ---------------------------------------------------------------------------
// The surface: every export, static, method and getter, and how the test
// calls it. The coverage test below fails when the package grows a member
// this table does not list, so new API cannot escape the property silently.

// Members of wasm-bindgen's glue that are not API (pointer plumbing), and
// the guard's marker. Listed so that anything else new is noticed.
const INTERNAL = new Set(["__wrap", "__destroy_into_raw", "__reloopGuarded"]);

// Per class: instance members → argument slots ("good" values each slot may
// take, see goodArb); statics likewise; the constructor's slots.
const SURFACE = {
  Model: {
    ctor: null, // private: `new Model()` must throw a coded error or be refused by JS
    statics: { bundled: [], fromOnnx: ["onnx", "spec"] },
    methods: { specJson: [], warmUp: ["batchSizes"] },
    getters: ["fields", "fixedPlanLimit", "hiddenDim", "id", "maxBatch", "mu", "p0", "__reloopHandle"],
  },
  Session: {
    ctor: ["model", "options", "saved"],
    statics: {},
    methods: {
      score: ["items", "context", "ids"],
      scoreDetailed: ["items", "context", "ids", "detail"],
      record: ["item", "clicked", "context"],
      scoreCatalog: ["catalog", "entries", "context", "ids"],
      recordCatalog: ["catalog", "entry", "clicked", "context"],
      scoreTensors: ["tensors", "ids"],
      recordImpression: ["impressionId", "clicked"],
      save: [],
      reset: [],
    },
    getters: ["events", "impressions", "memoryBytes", "modelId", "options", "restoreError"],
  },
  Catalog: {
    ctor: ["model", "items", "catalogIds"],
    statics: {},
    methods: { add: ["items", "catalogIds"], clear: [], indexOf: ["catalogId"], indicesOf: ["catalogIds"] },
    getters: ["modelId", "size", "__reloopCatalog"],
  },
};
const FUNCTIONS = { default: [], initSync: ["any"] };
const VALUES = { wasmBuild: (v) => v === "simd128" || v === "relaxed-simd", wasmMemory: (v) => v instanceof WebAssembly.Memory };
const CLASSES = { Model, Session, Catalog };

// Every call the generator can make: "Session#score", "Session.new", ...
const MEMBERS = [];
for (const [cls, s] of Object.entries(SURFACE)) {
  if (s.ctor) MEMBERS.push({ id: `${cls}.new`, cls, kind: "ctor", slots: s.ctor });
  for (const [name, slots] of Object.entries(s.statics)) MEMBERS.push({ id: `${cls}.${name}`, cls, kind: "static", name, slots });
  for (const [name, slots] of Object.entries(s.methods)) MEMBERS.push({ id: `${cls}#${name}`, cls, kind: "method", name, slots });
  for (const name of s.getters) MEMBERS.push({ id: `${cls}#${name}`, cls, kind: "getter", name, slots: [] });
  MEMBERS.push({ id: `${cls}#free`, cls, kind: "free", slots: [] });
  MEMBERS.push({ id: `${cls}#dispose`, cls, kind: "dispose", slots: [] });
}
for (const [name, slots] of Object.entries(FUNCTIONS)) MEMBERS.push({ id: `pkg.${name}`, kind: "function", name, slots });

// ---------------------------------------------------------------------------
// Recipes: fast-check generates plain data describing a value; `build` turns
// it into the (possibly hostile) JS value at run time, when the objects a
// re-entrant getter calls back into exist. Plain data also prints and
// shrinks well.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();
function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
// The saved format ends with a CRC-32 (little-endian) of what precedes it:
// resealing lets mutated bytes past the checksum, into the field checks.
function reseal(bytes) {
  if (bytes.length < 4) return bytes;
  const n = bytes.length - 4;
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).setUint32(n, crc32(bytes.subarray(0, n)), true);
  return bytes;
}

const THROWS = ["error", "error", "string", "symbol", "undefined", "proxy", "badMessage"];
const TRAPS = ["get", "ownKeys", "has", "getOwnPropertyDescriptor", "getPrototypeOf", "set", "defineProperty", "apply"];

const primArb = fc.oneof(
  fc.constantFrom(null, undefined),
  fc.constantFrom(undefined, null, true, false, NaN, Infinity, -Infinity, -0, 0, 1, -1, 2 ** 53, -(2 ** 63), 2 ** 64, "", "0", "F", "writer"),
  fc.integer(),
  fc.double(),
  fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
);

const leafArb = fc.oneof(
  { weight: 6, arbitrary: primArb.map((v) => ({ t: "prim", v })) },
  { weight: 1, arbitrary: fc.string({ maxLength: 5 }).map((d) => ({ t: "sym", d })) },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: false }).map((d) => ({ t: "date", ms: d.getTime() })) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom(...Object.keys(TYPED), "ArrayBuffer", "SharedArrayBuffer", "DataView"),
      bytes: fc.uint8Array({ maxLength: 64 }),
    }).map((r) => ({ t: "typed", ...r })),
  },
  { weight: 1, arbitrary: fc.constantFrom(...Object.keys(TYPED), "ArrayBuffer").map((kind) => ({ t: "fakeTyped", kind })) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constantFrom(...Object.keys(TYPED)), len: fc.nat(16), mode: fc.constantFrom("proxy", "throw", "big", "small") })
      .map((r) => ({ t: "oddTyped", ...r })),
  },
  { weight: 1, arbitrary: fc.record({ n: fc.integer({ min: 1, max: 1 << 22 }), ch: fc.constantFrom("x", "é", "😀", "\u0000", '"') }).map((r) => ({ t: "huge", ...r })) },
  { weight: 1, arbitrary: fc.record({ depth: fc.integer({ min: 1, max: 20000 }), kind: fc.constantFrom("arr", "obj") }).map((r) => ({ t: "deep", ...r })) },
  { weight: 1, arbitrary: fc.constantFrom({ t: "fn" }, { t: "revoked" }, { t: "throwingToString" }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom("model", "session", "catalog", "victimModel", "victimSession", "victimCatalog", "freedModel", "freedSession", "freedCatalog")
      .map((which) => ({ t: "ref", which })),
  },
);

// What a re-entrant getter does when first read: a call on one of the
// run's objects, or free() of a victim.
const OPS = {
  Session: ["score", "save", "record", "reset", "events", "scoreCatalog", "free"],
  Catalog: ["add", "size", "indexOf", "clear", "free"],
  Model: ["fields", "specJson", "free"],
};
const actionArb = fc.constantFrom("session", "catalog", "model", "victimSession", "victimCatalog", "victimModel").chain((target) => {
  const cls = /model/i.test(target) ? "Model" : /catalog/i.test(target) ? "Catalog" : "Session";
  return fc.record({ target: fc.constant(target), op: fc.constantFrom(...OPS[cls]) });
});

const { value: valueArb } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 8, arbitrary: leafArb },
    { weight: 2, arbitrary: fc.array(tie("value"), { maxLength: 4 }).map((items) => ({ t: "arr", items })) },
    {
      weight: 2,
      arbitrary: fc.array(fc.tuple(fc.constantFrom(...Object.keys(CONTEXT), "itemId", "genres", "year", "hidden", "lambda", "ids", "genres", "x"), tie("value")), { maxLength: 4 })
        .map((entries) => ({ t: "obj", entries })),
    },
    { weight: 1, arbitrary: tie("hostile") },
  ),
  hostile: fc.oneof(
    fc.record({ base: tie("value"), traps: fc.subarray(TRAPS, { minLength: 1 }), throws: fc.constantFrom(...THROWS) }).map((r) => ({ t: "proxy", ...r })),
    fc.record({
      base: tie("good"),
      key: fc.constantFrom(...Object.keys(CONTEXT), "itemId", "genres", "year", "length", "0", "hidden"),
      throws: fc.constantFrom(...THROWS),
    }).map((r) => ({ t: "throwGetter", ...r })),
    fc.record({ base: tie("good") }).map((r) => ({ t: "classInstance", ...r })),
    fc.record({ base: tie("good"), action: actionArb }).map((r) => ({ t: "reenter", ...r })),
  ),
  good: fc.oneof(
    fc.constantFrom("item", "context", "items", "ids").map((what) => ({ t: "good", what, n: 3 })),
  ),
}));

// A valid value for an argument slot, often with one part replaced by a
// random value, so that calls get past the first checks into deeper code.
// A typed array of `kind` that is not what it seems: a Proxy of one, an
// object with its prototype, one whose `length` throws or lies.
function oddTypedArb(kind) {
  return fc.oneof(
    fc.record({ kind: fc.constant(kind), len: fc.nat(24), mode: fc.constantFrom("proxy", "throw", "big", "small") }).map((r) => ({ t: "oddTyped", ...r })),
    fc.constant({ t: "fakeTyped", kind }),
  );
}

function goodArb(slot) {
  const mut = fc.option(valueArb, { freq: 2 });
  switch (slot) {
    case "items":
      return fc.record({
        n: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constantFrom(999, 1000, 1001, 5000)),
        at: fc.nat(),
        field: fc.constantFrom("itemId", "genres", "year", "title", ...Object.keys(CONTEXT)),
        mut,
      }).map((r) => ({ t: "good", what: "items", ...r }));
    case "item":
    case "context":
      return fc.record({ field: fc.constantFrom(...Object.keys(CONTEXT), "itemId", "genres", "year"), mut })
        .map((r) => ({ t: "good", what: slot, ...r }));
    case "ids":
    case "catalogIds":
      return fc.record({ n: fc.integer({ min: 0, max: 12 }), at: fc.nat(), mut }).map((r) => ({ t: "good", what: "ids", ...r }));
    case "impressionId":
    case "catalogId":
      return fc.constantFrom("i0", "i1", "c0", "c1", "nope", "").map((v) => ({ t: "prim", v }));
    case "clicked":
      return fc.boolean().map((v) => ({ t: "prim", v }));
    case "entries":
      return fc.oneof(
        oddTypedArb("Uint32Array"),
        fc.array(fc.nat(12), { maxLength: 6 }).map((v) => ({ t: "entries", v, as: "numbers" })),
        fc.array(fc.nat(12), { maxLength: 6 }).map((v) => ({ t: "entries", v, as: "u32" })),
        fc.array(fc.nat(12), { maxLength: 6 }).map((v) => ({ t: "entries", v, as: "ids" })),
      );
    case "batchSizes":
      return fc.oneof(
        fc.constant({ t: "prim", v: undefined }),
        oddTypedArb("Uint32Array"),
        fc.array(fc.oneof(fc.nat(12), fc.constantFrom(0, 1000, 1001)), { maxLength: 5 }).map((v) => ({ t: "entries", v, as: "numbers" })),
        fc.array(fc.nat(12), { maxLength: 5 }).map((v) => ({ t: "entries", v, as: "u32" })),
      );
    case "entry":
      return fc.oneof(fc.nat(12).map((v) => ({ t: "prim", v })), fc.nat(12).map((v) => ({ t: "prim", v: `c${v}` })));
    case "model":
      return fc.constantFrom("model", "victimModel", "freedModel").map((which) => ({ t: "ref", which }));
    case "catalog":
      return fc.constantFrom("catalog", "catalog", "victimCatalog", "freedCatalog").map((which) => ({ t: "ref", which }));
    case "options":
      return fc.oneof(
        fc.constant({ t: "prim", v: undefined }),
        fc.record({
          key: fc.constantFrom("estimator", "lambda", "tau", "n0", "alpha", "pool", "p0", "gamma", "bits", "arrays", "seed",
            "errorFilter", "halfLife", "impressions", "savedImpressions", "onModelMismatch", "bogus"),
          value: fc.oneof(primArb.map((v) => ({ t: "prim", v })), valueArb,
            fc.constantFrom("intent", "residual", "paper", "reset", "error").map((v) => ({ t: "prim", v }))),
        }).map((r) => ({ t: "options", ...r })),
      );
    case "detail":
      return fc.oneof(fc.constant({ t: "prim", v: undefined }), fc.boolean().map((v) => ({ t: "detail", v })));
    case "saved":
      return fc.oneof(
        fc.constant({ t: "prim", v: undefined }),
        oddTypedArb("Uint8Array"),
        fc.constant({ t: "fakeTyped", kind: "ArrayBuffer" }),
        fc.record({
          mode: fc.constantFrom("genuine", "random", "mutated", "truncated", "extended"),
          edits: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }),
          random: fc.uint8Array({ maxLength: 200 }),
          cut: fc.nat(),
          sealed: fc.boolean(),
          asBuffer: fc.boolean(),
        }).map((r) => ({ t: "saved", ...r })),
      );
    case "onnx":
      return fc.oneof({ weight: 1, arbitrary: oddTypedArb("Uint8Array") }, { weight: 4, arbitrary: fc.record({
        mode: fc.constantFrom("genuine", "random", "mutated", "mutated", "truncated"),
        edits: fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 8 }),
        random: fc.uint8Array({ maxLength: 300 }),
        cut: fc.nat(),
        asBuffer: fc.boolean(),
      }).map((r) => ({ t: "onnx", ...r })) });
    case "spec":
      return fc.record({
        asText: fc.boolean(),
        path: fc.option(fc.constantFrom("version", "maxBatch", "p0", "mu", "inputs", "fields", "outputs", "fields.age", "fields.genres.pooling",
          "fields.itemId.vocabulary", "outputs.hidden", "outputs.kind", "inputs.0.columns", "inputs.1.dtype", "mu.3"), { freq: 2 }),
        mut: valueArb,
      }).map((r) => ({ t: "spec", ...r }));
    case "tensors":
      return fc.record({
        rows: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constant(1001)),
        drop: fc.option(fc.constantFrom("ids", "genres")),
        mut: fc.oneof(mut, oddTypedArb("Float32Array"), oddTypedArb("BigInt64Array")),
      }).map((r) => ({ t: "tensors", ...r }));
    default:
      return valueArb;
  }
}

// The plainest wrong arguments, often: missing, null, a primitive, an empty object or list.
const simpleArb = fc.constantFrom(undefined, null, 0, -0, NaN, "", false, true, 1n).map((v) => ({ t: "prim", v }))
  .chain((r) => fc.constantFrom(r, r, { t: "obj", entries: [] }, { t: "arr", items: [] }));

// A call: which member, on which receiver, with which arguments.
const RECEIVERS = ["self", "self", "self", "self", "self", "victim", "victim", "proxyOfSelf", "undefined", "plain", "otherClass", "protoCreate", "forgedSelf", "copyOfSelf", "forgedOther", "forgedJunk", "freed"];
const stepArb = fc.constantFrom(...MEMBERS).chain((m) =>
  fc.record({
    member: fc.constant(m.id),
    recv: fc.constantFrom(...RECEIVERS),
    args: fc.tuple(...m.slots.map((slot) => fc.oneof(
      { weight: 6, arbitrary: goodArb(slot) },
      { weight: 2, arbitrary: valueArb },
      { weight: 1, arbitrary: simpleArb },
    ))),
    extra: fc.option(fc.array(valueArb, { maxLength: 2 }), { freq: 6 }),
  }),
);

// ---------------------------------------------------------------------------
// The run's objects, and turning recipes into values.

// Widths of the scoreTensors inputs, from the spec (ids: one column per
// field; genres: the multi-hot/mean width, read from the session's error).
let GENRES_WIDTH = null;

function makeWorld() {
  const model = Model.bundled();
  const session = new Session(model, { savedImpressions: 8 });
  for (let i = 0; i < 6; i++) session.record(item(i * 11), i % 2 === 0, CONTEXT);
  session.score([item(1), item(2)], CONTEXT, ["i0", "i1"]);
  const catalog = new Catalog(model, Array.from({ length: 12 }, (_, i) => item(i)), Array.from({ length: 12 }, (_, i) => `c${i}`));
  const world = {
    model, session, catalog,
    victimModel: Model.bundled(),
    victimSession: new Session(model),
    victimCatalog: new Catalog(model, [item(0)], ["c0"]),
    freedModel: Model.bundled(),
    freedSession: new Session(model),
    freedCatalog: new Catalog(model),
    nested: [], // what re-entrant calls threw or returned
    made: [], // objects made by calls, freed at the end of the run
  };
  world.freedModel.free();
  world.freedSession.free();
  world.freedCatalog.free();
  return world;
}

function disposeWorld(w) {
  for (const o of [w.session, w.catalog, w.model, w.victimModel, w.victimSession, w.victimCatalog, ...w.made]) {
    try {
      o.free();
    } catch (e) {
      assertCoded(e, "free() at the end of a run");
    }
  }
}

// What hostile code throws: an Error, or values that are awkward to report
// (a string, a Symbol, undefined, a Proxy, an Error whose `message` getter throws).
function thrown(what, kind = "error") {
  switch (kind) {
    case "string": return `hostile ${what}`;
    case "symbol": return Symbol(what);
    case "undefined": return undefined;
    case "proxy": return new Proxy(new Error(what), { get() { throw new Error("hostile thrown proxy"); }, getPrototypeOf() { throw new Error("hostile"); } });
    case "badMessage": return Object.create(Error.prototype, { message: { get() { throw new Error("hostile message getter"); } } });
    default: return new Error(`hostile ${what}`);
  }
}
function thrower(what, kind) {
  return () => {
    throw thrown(what, kind);
  };
}

function typed(kind, bytes) {
  switch (kind) {
    case "ArrayBuffer": return bytes.slice().buffer;
    case "SharedArrayBuffer": {
      const b = new SharedArrayBuffer(bytes.length);
      new Uint8Array(b).set(bytes);
      return b;
    }
    case "DataView": return new DataView(bytes.slice().buffer);
    default: {
      const C = TYPED[kind];
      const n = Math.floor(bytes.length / C.BYTES_PER_ELEMENT);
      return new C(bytes.slice(0, n * C.BYTES_PER_ELEMENT).buffer);
    }
  }
}

function reenterAction(w, action) {
  return () => {
    const o = w[action.target];
    try {
      let r;
      switch (action.op) {
        case "free": if (action.target.startsWith("victim")) o.free(); return;
        case "score": r = o.score([item(1)], CONTEXT); break;
        case "scoreCatalog": r = o.scoreCatalog(w.catalog, [0, 1], CONTEXT); break;
        case "save": r = o.save(); break;
        case "record": r = o.record(item(2), true, CONTEXT); break;
        case "reset": r = o.reset(); break;
        case "events": r = o.events; break;
        case "add": r = o.add([item(3)], ["c3"]); break;
        case "size": r = o.size; break;
        case "indexOf": r = o.indexOf("c1"); break;
        case "clear": r = o.clear(); break;
        case "fields": r = o.fields; break;
        case "specJson": r = o.specJson(); break;
      }
      w.nested.push({ action, obj: o, ok: true, r });
    } catch (e) {
      w.nested.push({ action, obj: o, ok: false, e });
    }
  };
}

function build(w, r) {
  switch (r.t) {
    case "prim": return r.v;
    case "sym": return Symbol(r.d);
    case "date": return new Date(r.ms);
    case "typed": return typed(r.kind, r.bytes);
    case "fakeTyped": return Object.setPrototypeOf({ length: 4, byteLength: 4 }, (TYPED[r.kind] ?? ArrayBuffer).prototype);
    case "oddTyped": {
      const a = new TYPED[r.kind](r.len);
      switch (r.mode) {
        case "proxy": return new Proxy(a, {});
        case "throw": return Object.defineProperty(a, "length", { get: thrower("length") });
        case "big": return Object.defineProperty(a, "length", { value: r.len + 1000 });
        default: return Object.defineProperty(a, "length", { value: Math.max(0, r.len - 3) });
      }
    }
    case "huge": return r.ch.repeat(Math.ceil(r.n / r.ch.length));
    case "deep": {
      let v = r.kind === "arr" ? [] : {};
      for (let i = 0; i < r.depth; i++) v = r.kind === "arr" ? [v] : { a: v, itemId: 1 };
      return v;
    }
    case "fn": return function hostileFunction() { return 1; };
    case "revoked": {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    }
    case "throwingToString": return { toString: thrower("toString"), valueOf: thrower("valueOf"), [Symbol.toPrimitive]: thrower("toPrimitive") };
    case "ref": return w[r.which];
    case "arr": return r.items.map((x) => build(w, x));
    case "obj": {
      const o = {};
      for (const [k, v] of r.entries) o[k] = build(w, v);
      return o;
    }
    case "proxy": {
      let base = build(w, r.base);
      if (base === null || (typeof base !== "object" && typeof base !== "function")) base = {};
      const handler = {};
      for (const trap of r.traps) handler[trap] = thrower(trap, r.throws);
      return new Proxy(base, handler);
    }
    case "throwGetter": {
      const base = build(w, r.base);
      if (base === null || typeof base !== "object") return base;
      try {
        Object.defineProperty(base, r.key, { get: thrower(`getter ${r.key}`, r.throws), enumerable: true, configurable: true });
      } catch {
        // a frozen or non-configurable key: keep the base
      }
      return base;
    }
    case "classInstance": {
      const base = build(w, r.base);
      if (base === null || typeof base !== "object" || Array.isArray(base)) return base;
      class Hostile {}
      for (const [k, v] of Object.entries(base)) Object.defineProperty(Hostile.prototype, k, { get: () => v, enumerable: false });
      Object.defineProperty(Hostile.prototype, "unrelated", { get: thrower("unrelated getter") });
      return new Hostile();
    }
    case "reenter": {
      let base = build(w, r.base);
      if (base === null || typeof base !== "object") base = {};
      const act = reenterAction(w, r.action);
      let fired = false;
      return new Proxy(base, {
        get(t, k, recv) {
          if (!fired) {
            fired = true;
            act();
          }
          return Reflect.get(t, k, recv);
        },
      });
    }
    case "good": return goodValue(w, r);
    case "entries": {
      if (r.as === "u32") return Uint32Array.from(r.v);
      if (r.as === "ids") return r.v.map((i) => `c${i}`);
      return r.v;
    }
    case "options": {
      const v = build(w, r.value);
      return { [r.key]: v };
    }
    case "detail": return { hidden: r.v };
    case "saved": return savedBytes(w, r);
    case "onnx": return onnxBytes(r);
    case "spec": return specValue(w, r);
    case "tensors": return tensors(w, r);
    default: throw new Error(`unknown recipe ${r.t}`);
  }
}

function withMut(w, base, key, mut) {
  if (mut !== null && mut !== undefined) base[key] = build(w, mut);
  return base;
}

function goodValue(w, r) {
  switch (r.what) {
    case "item": return withMut(w, item(5), r.field ?? "year", r.mut);
    case "context": return withMut(w, { ...CONTEXT }, r.field ?? "age", r.mut);
    case "items": {
      const n = r.n;
      // Large batches share one item object (memory stays small).
      const shared = item(9);
      const items = n > 20 ? new Array(n).fill(shared) : Array.from({ length: n }, (_, i) => item(i));
      if (r.mut && n > 0) {
        const at = r.at % n;
        items[at] = withMut(w, { ...items[at] }, r.field, r.mut);
      }
      return items;
    }
    case "ids": {
      const ids = Array.from({ length: r.n ?? 3 }, (_, i) => `c${i}`);
      if (r.mut && ids.length > 0) ids[(r.at ?? 0) % ids.length] = build(w, r.mut);
      return ids;
    }
    default: throw new Error(`unknown good ${r.what}`);
  }
}

function edited(bytes, edits) {
  for (const [at, v] of edits) if (bytes.length > 0) bytes[at % bytes.length] = v;
  return bytes;
}

function savedBytes(w, r) {
  const genuine = w.savedGenuine;
  let b;
  switch (r.mode) {
    case "genuine": b = genuine.slice(); break;
    case "random": b = r.random.slice(); break;
    case "mutated": b = edited(genuine.slice(), r.edits); break;
    case "truncated": b = genuine.slice(0, r.cut % (genuine.length + 1)); break;
    default: {
      b = new Uint8Array(genuine.length + r.random.length);
      b.set(genuine);
      b.set(r.random, genuine.length);
    }
  }
  if (r.sealed) reseal(b);
  return r.asBuffer ? b.buffer : b;
}

function onnxBytes(r) {
  let b;
  switch (r.mode) {
    case "genuine": b = ONNX.slice(); break;
    case "random": b = r.random.slice(); break;
    case "mutated": b = edited(ONNX.slice(), r.edits); break;
    default: b = ONNX.slice(0, r.cut % (ONNX.length + 1));
  }
  return r.asBuffer ? b.buffer : b;
}

function specValue(w, r) {
  const spec = JSON.parse(SPEC_TEXT);
  if (r.path !== null) {
    const keys = r.path.split(".");
    let o = spec;
    for (const k of keys.slice(0, -1)) o = o?.[k];
    if (o && typeof o === "object") {
      const v = build(w, r.mut);
      o[keys.at(-1)] = v;
    }
  }
  if (!r.asText) return spec;
  try {
    return JSON.stringify(spec);
  } catch {
    return spec; // BigInts, cycles: pass the object
  }
}

function tensors(w, r) {
  const idsWidth = SPEC.inputs[0].columns.length;
  const gw = GENRES_WIDTH ?? 19;
  const row = [
    BigInt(SPEC.fields.userId.vocabulary["1"]), BigInt(SPEC.fields.itemId.vocabulary["1"]), BigInt(SPEC.fields.age.offset),
    BigInt(SPEC.fields.gender.vocabulary.F), BigInt(SPEC.fields.occupation.vocabulary[OCCUPATIONS[0]]), BigInt(SPEC.fields.zip.vocabulary["0"]),
    BigInt(SPEC.fields.year.offset), BigInt(SPEC.fields.hour.offset), BigInt(SPEC.fields.weekday.offset),
  ];
  const ids = new BigInt64Array(idsWidth * r.rows);
  for (let i = 0; i < r.rows; i++) ids.set(row.slice(0, idsWidth), i * idsWidth);
  const genres = new Float32Array(gw * r.rows);
  const out = { ids, genres };
  if (r.drop) delete out[r.drop];
  if (r.mut) out[r.drop ?? "genres"] = build(w, r.mut);
  return out;
}

// ---------------------------------------------------------------------------
// Checks.

function describe(e) {
  if (e instanceof Error) return `${e.constructor?.name} ${e.name} code=${String(e.code)}: ${e.message}\n${e.stack}`;
  try {
    return `non-Error ${typeof e}: ${String(e)}`;
  } catch {
    return `non-Error ${typeof e}`;
  }
}

function assertCoded(e, where) {
  if (!isReloopError(e)) assert.fail(`(a) ${where} threw something other than a coded ReloopError: ${describe(e)}`);
}

// A catalog entry may lack fields and take them from the context each time it
// is scored (Catalog#add accepts `{}` and any other object), so the catalog is
// scored with a context that also carries every item field.
const CATALOG_CONTEXT = Object.freeze({ ...item(1), ...CONTEXT });

function snapshot(w) {
  return {
    probe: bits(w.session.score(PROBE, CONTEXT)),
    saved: Array.from(w.session.save()),
    events: w.session.events,
    impressions: w.session.impressions,
    catalog: bits(w.session.scoreCatalog(w.catalog, Uint32Array.from({ length: w.catalog.size }, (_, i) => i), CATALOG_CONTEXT)),
  };
}

// Typed arrays and buffers among the arguments (and one level inside), with a copy of their bytes.
function buffersOf(args) {
  const found = [];
  const seen = new Set();
  const visit = (v, depth) => {
    if (v === null || typeof v !== "object" || seen.has(v) || util.types.isProxy(v)) return;
    seen.add(v);
    if (ArrayBuffer.isView(v) || util.types.isAnyArrayBuffer(v)) {
      try {
        const view = ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength) : new Uint8Array(v);
        found.push({ v, view, copy: view.slice() });
      } catch {
        // a fake: no bytes
      }
      return;
    }
    if (depth > 0) {
      let keys = [];
      try {
        keys = Object.keys(v).slice(0, 50);
      } catch {
        return;
      }
      for (const k of keys) {
        const d = Object.getOwnPropertyDescriptor(v, k);
        if (d && "value" in d) visit(d.value, depth - 1);
      }
    }
  };
  for (const a of args) visit(a, 2);
  return found;
}

const util = await import("node:util");

function forged(cls, ptr) {
  return Object.defineProperty(Object.create(CLASSES[cls].prototype), "__wbg_ptr", { value: ptr, writable: true, configurable: true });
}

function receiver(w, m, recv) {
  const self = m.cls === "Model" ? w.model : m.cls === "Session" ? w.session : w.catalog;
  switch (recv) {
    case "self": return { obj: self, target: self, wrong: false, main: true };
    case "proxyOfSelf": return { obj: new Proxy(self, {}), target: self, wrong: false, main: true };
    // The run's victim may be freed by now (by free() or a re-entrant getter): coded errors then.
    case "victim": return { obj: w[`victim${m.cls}`], target: w[`victim${m.cls}`], wrong: false, main: false };
    case "undefined": return { obj: undefined, wrong: true };
    case "plain": return { obj: { __wbg_ptr: undefined }, wrong: true };
    case "otherClass": return { obj: m.cls === "Session" ? w.catalog : w.session, wrong: true };
    case "protoCreate": return { obj: Object.create(CLASSES[m.cls].prototype), wrong: true };
    // Objects forged with the glue's internal pointer field: the pointer of
    // this run's own object (a second handle on its state, which outlives
    // it), of another class's (type confusion in Rust) or a made-up one (any
    // memory); and a copy of the object, as state libraries clone.
    case "forgedSelf": return { obj: forged(m.cls, self.__wbg_ptr), wrong: true };
    case "copyOfSelf": return { obj: Object.assign(Object.create(CLASSES[m.cls].prototype), self), wrong: true };
    case "forgedOther": return { obj: forged(m.cls, (m.cls === "Session" ? w.catalog : w.session).__wbg_ptr), wrong: true };
    case "forgedJunk": return { obj: forged(m.cls, 8), wrong: true };
    default: return { obj: m.cls === "Model" ? w.freedModel : m.cls === "Session" ? w.freedSession : w.freedCatalog, wrong: true, freed: true };
  }
}

// Runs one call; returns { threw, error, result }.
function invoke(w, m, step, args) {
  const all = step.extra ? [...args, ...step.extra.map((x) => build(w, x))] : args;
  const C = CLASSES[m.cls];
  switch (m.kind) {
    case "function": {
      const r = pkg[m.name](...all);
      if (r && typeof r.then === "function") r.then(null, () => {});
      return { recvInfo: { wrong: false }, result: r };
    }
    case "ctor": return { recvInfo: { wrong: false }, result: new C(...all) };
    case "static": return { recvInfo: { wrong: false }, result: C[m.name](...all) };
    default: break;
  }
  const info = receiver(w, m, step.recv);
  // Free and dispose only ever reach the run's victims (the main objects must stay).
  if (m.kind === "free" || m.kind === "dispose") {
    const victim = info.wrong ? info.obj : w[`victim${m.cls}`];
    const f = m.kind === "free" ? C.prototype.free : C.prototype[Symbol.dispose];
    return { recvInfo: { ...info, main: false, isFree: true }, result: f.apply(victim, all) };
  }
  if (m.kind === "getter") {
    const get = Object.getOwnPropertyDescriptor(C.prototype, m.name).get;
    return { recvInfo: info, result: get.call(info.obj) };
  }
  return { recvInfo: info, result: C.prototype[m.name].apply(info.obj, all) };
}

function runSteps(steps) {
  const w = makeWorld();
  w.savedGenuine = w.session.save();
  try {
    let before = snapshot(w);
    for (const step of steps) {
      const m = MEMBERS.find((x) => x.id === step.member);
      w.nested.length = 0;
      const args = step.args.map((r) => build(w, r));
      // A re-entrant getter may fire while the test itself builds the value
      // (JSON.stringify of a spec): what it did is the baseline, not the call's.
      if (w.nested.length > 0) before = snapshot(w);
      const buffers = buffersOf(args);
      w.nested.length = 0;
      let threw = false;
      let error;
      let out;
      try {
        out = invoke(w, m, step, args);
      } catch (e) {
        threw = true;
        error = e;
      }
      const where = `${m.id} on ${step.recv}`;
      if (threw) assertCoded(error, where);
      const bound = m.kind !== "function" && m.kind !== "ctor" && m.kind !== "static";
      const info = out?.recvInfo ?? (bound ? receiver(w, m, step.recv) : { wrong: false });
      if (!out && (m.kind === "free" || m.kind === "dispose")) info.isFree = true;
      for (const n of w.nested) {
        const what = `a re-entrant ${n.action.target}.${n.action.op} during ${where}`;
        if (!n.ok) assertCoded(n.e, what);
        // A call back into the object whose call is running is refused (free() is deferred).
        if (n.obj === info.target && n.action.op !== "free" && !info.isFree) {
          if (n.ok) assert.fail(`${what} ran inside the object's own call instead of being refused`);
          assert.equal(n.e.code, "E_INVALID_INPUT", `${what}: ${describe(n.e)}`);
        }
      }
      // A re-entrant call that succeeded on another object may change the session legitimately.
      const nestedChanged = w.nested.some((n) => n.ok);
      if (!threw && out.result && typeof out.result === "object" && typeof out.result.free === "function" && out.result !== w.model) w.made.push(out.result);
      // Wrong receivers and freed objects must be refused (free() of a freed object is a no-op).
      if (bound) {
        if (info.wrong && !(info.freed && (m.kind === "free" || m.kind === "dispose")) && !threw) {
          assert.fail(`${where}: a call on a ${step.recv} receiver returned instead of throwing`);
        }
        if (info.wrong && threw) assert.equal(error.code, "E_INVALID_INPUT", `${where}: ${describe(error)}`);
      }
      // (c) the caller's buffers are untouched.
      for (const b of buffers) {
        let same = false;
        try {
          same = b.view.length === b.copy.length && b.view.every((x, i) => x === b.copy[i]);
        } catch {
          same = b.view.length === 0; // detached
        }
        if (!same) assert.fail(`(c) ${where} changed a caller's ${Object.prototype.toString.call(b.v)}`);
      }
      // (a) still usable; (b), (c) unchanged by a failed call.
      let after;
      try {
        after = snapshot(w);
        void w.model.fields;
        void w.catalog.size;
      } catch (e) {
        assert.fail(`(a) after ${where} (${threw ? describe(error) : "returned"}) the objects are not usable: ${describe(e)}`);
      }
      if (threw && !nestedChanged) {
        assert.deepEqual(after.probe, before.probe, `(b) ${where} failed (${error.message}) and the session's scores changed`);
        assert.deepEqual(after.saved, before.saved, `(c) ${where} failed (${error.message}) and the saved memory changed`);
        assert.deepEqual(after.catalog, before.catalog, `${where} failed (${error.message}) and the catalog's scores changed`);
      }
      before = after;
    }
  } catch (e) {
    try {
      disposeWorld(w);
    } catch {
      // the first failure is the one to report
    }
    throw e;
  }
  disposeWorld(w);
}

// ---------------------------------------------------------------------------
// Fixed examples: the bugs this test found (src/js/guard.js, reader.js,
// options.js, src/lib.rs, tensors.rs), kept as regressions whatever the seed.

const self = (member, args, recv = "self") => ({ member, recv, args, extra: null });
const reenter = (target, op, base = { t: "good", what: "item", field: "year", mut: null }) => ({ t: "reenter", base, action: { target, op } });
const allTraps = (base) => ({ t: "proxy", base, traps: TRAPS });
const EXAMPLES = [
  // Re-entrancy: a getter calling back into the session / catalog during a call.
  [self("Session#score", [{ t: "arr", items: [reenter("session", "score")] }, { t: "good", what: "context", mut: null }, { t: "prim", v: undefined }])],
  [self("Session#record", [reenter("session", "save"), { t: "prim", v: true }, { t: "good", what: "context", mut: null }])],
  [self("Catalog#add", [{ t: "arr", items: [reenter("catalog", "size")] }, { t: "good", what: "ids", n: 1, at: 0, mut: null }])],
  // Entries with no fields of their own (a typed array, a nested object, an object whose
  // toString throws) are accepted and take every field from the context when scored.
  [self("Catalog#add", [{ t: "arr", items: [{ t: "oddTyped", kind: "Int8Array", len: 0, mode: "proxy" }, { t: "deep", depth: 1, kind: "obj" }, { t: "throwingToString" }] }, { t: "good", what: "ids", n: 3, at: 0, mut: null }])],
  [self("Session#scoreTensors", [reenter("session", "events", { t: "prim", v: null }), { t: "prim", v: undefined }])],
  // free() of the object inside its own call.
  [self("Session#score", [{ t: "arr", items: [reenter("victimSession", "free")] }, { t: "good", what: "context", mut: null }], "victim"),
    self("Session#save", [], "victim"), self("Session#free", [], "victim")],
  [self("Catalog#add", [{ t: "arr", items: [reenter("victimCatalog", "free")] }, { t: "good", what: "ids", n: 1, at: 0, mut: null }], "victim"),
    self("Catalog#size", [], "victim")],
  // Wrong receivers: another class's instance (type confusion in Rust), detached, plain, freed.
  [self("Session#save", [], "otherClass"), self("Catalog#indexOf", [{ t: "prim", v: "c1" }], "otherClass")],
  [self("Session#events", [], "otherClass"), self("Model#fields", [], "otherClass")],
  [self("Session#score", [{ t: "good", what: "items", n: 2, mut: null }, { t: "good", what: "context", mut: null }], "undefined")],
  [self("Session#save", [], "protoCreate"), self("Session#save", [], "plain"), self("Session#save", [], "freed")],
  // Forged objects: the glue would hand their pointer to Rust as it is.
  [self("Session#record", [{ t: "good", what: "item", mut: null }, { t: "prim", v: true }, { t: "good", what: "context", mut: null }], "forgedSelf"),
    self("Session#save", [], "forgedOther"), self("Model#fields", [], "forgedJunk")],
  [self("Catalog#size", [], "forgedOther"), self("Session#events", [], "forgedJunk"), self("Model#fields", [], "forgedSelf")],
  [self("Session#reset", [], "copyOfSelf"), self("Session#free", [], "copyOfSelf"), self("Catalog#clear", [], "copyOfSelf")],
  // Fake, proxied and lying typed arrays read from wasm.
  [self("Session#scoreTensors", [{ t: "tensors", rows: 1, drop: null, mut: { t: "fakeTyped", kind: "Float32Array" } }])],
  [self("Session#scoreTensors", [{ t: "tensors", rows: 1, drop: null, mut: { t: "oddTyped", kind: "Float32Array", len: 19, mode: "proxy" } }])],
  [self("Model.fromOnnx", [{ t: "oddTyped", kind: "Uint8Array", len: 8, mode: "throw" }, { t: "prim", v: SPEC_TEXT }])],
  [self("Session.new", [{ t: "ref", which: "model" }, { t: "prim", v: undefined }, { t: "oddTyped", kind: "Uint8Array", len: 8, mode: "proxy" }])],
  [self("Session#scoreCatalog", [{ t: "ref", which: "catalog" }, { t: "fakeTyped", kind: "Uint32Array" }, { t: "good", what: "context", mut: null }])],
  [self("Catalog#indicesOf", [{ t: "oddTyped", kind: "Uint32Array", len: 2, mode: "proxy" }])],
  // Option values that are objects: read from wasm, their traps threw through it.
  [self("Session.new", [{ t: "ref", which: "model" }, { t: "options", key: "estimator", value: allTraps({ t: "obj", entries: [] }) }, { t: "prim", v: undefined }])],
  [self("Session#scoreDetailed", [{ t: "good", what: "items", n: 1, mut: null }, { t: "good", what: "context", mut: null }, { t: "prim", v: null },
    { t: "obj", entries: [["hidden", allTraps({ t: "obj", entries: [] })]] }])],
  // An Error-like throw whose `message` getter throws, from a tensors getter.
  [self("Session#scoreTensors", [{ t: "throwGetter", base: { t: "good", what: "context", mut: null }, key: "ids", throws: "badMessage" }])],
  [self("Session#scoreTensors", [{ t: "proxy", base: { t: "obj", entries: [] }, traps: ["get"], throws: "proxy" }])],
];

// ---------------------------------------------------------------------------

test("every export, static, method and getter is covered by the property", () => {
  const covered = new Set(MEMBERS.map((m) => m.id));
  const found = [];
  for (const key of Object.keys(pkg)) {
    if (key in VALUES) {
      assert.ok(VALUES[key](pkg[key]), `export ${key} has an unexpected value`);
      continue;
    }
    if (key in CLASSES) {
      const C = pkg[key];
      for (const k of Object.getOwnPropertyNames(C)) {
        if (["length", "name", "prototype"].includes(k) || INTERNAL.has(k)) continue;
        found.push(`${key}.${k}`);
      }
      for (const k of Reflect.ownKeys(C.prototype)) {
        if (k === "constructor") found.push(`${key}.new`);
        else if (k === Symbol.dispose) found.push(`${key}#dispose`);
        else if (typeof k === "string" && !INTERNAL.has(k)) found.push(`${key}#${k}`);
        else if (typeof k !== "string") found.push(`${key}#${String(k)}`);
      }
      continue;
    }
    found.push(typeof pkg[key] === "function" ? `pkg.${key}` : `value ${key}`);
  }
  // Model's constructor is private (not callable from JS to make a model): no `Model.new` call.
  const uncovered = found.filter((id) => !covered.has(id) && id !== "Model.new");
  assert.deepEqual(uncovered, [], `members of the package the property test does not call: ${uncovered.join(", ")} — add them to SURFACE`);
  const stale = [...covered].filter((id) => !found.includes(id));
  assert.deepEqual(stale, [], `SURFACE lists members the package no longer has: ${stale.join(", ")}`);
});

test("private Model constructor is refused with a coded error or by JS", () => {
  try {
    new Model();
  } catch (e) {
    if (e instanceof TypeError && /private|constructor/.test(e.message)) return;
    assertCoded(e, "new Model()");
  }
});

test(`random and hostile values through every call keep the boundary's guarantees (seed ${SEED}, ${RUNS} runs)`, { timeout: 30 * 60 * 1000 }, () => {
  // The genres input's width, as the session reports it.
  try {
    const s = new Session(Model.bundled());
    s.scoreTensors({ ids: new BigInt64Array(9), genres: new Float32Array(1) });
  } catch (e) {
    const m = /width (\d+)/.exec(e.message);
    if (m) GENRES_WIDTH = Number(m[1]);
  }
  const examples = process.env.PROPERTY_EXAMPLES === "0" ? [] : EXAMPLES;
  const started = performance.now();
  try {
    fc.assert(fc.property(fc.array(stepArb, { minLength: 1, maxLength: 4 }), runSteps), {
      numRuns: RUNS,
      seed: SEED,
      examples: examples.map((steps) => [steps]),
      endOnFailure: process.env.PROPERTY_SHRINK === "0",
      includeErrorInReport: true,
    });
  } catch (e) {
    console.log(`# property test FAILED: reproduce with ${REPRO} bash scripts/test-property.sh`);
    throw e;
  } finally {
    console.log(`# property test: ${RUNS} runs (+${examples.length} fixed examples), seed ${SEED}, ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
});
