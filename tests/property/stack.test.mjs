// Calls made with little JS stack left (issue 15: nothing but a coded error,
// and a failed call changes nothing). V8 checks the stack at the entry of
// every JS and wasm function, so a call from deep recursion can overflow
// part-way through Rust code, where no destructor runs: the object's borrow
// stays taken ("recursive use of an object" on every later call) or the
// allocator is left half-updated (a trap for every session). The package
// checks the stack before each call into the instance (src/entries/stack.js).
//
// Here every operation is called at each of the deepest STACK_LEVELS frames
// of a recursion that ran until the engine refused it, so the calls meet
// every amount of free stack from none to more than the check asks for.
// Each call must succeed or throw: a ReloopError with a known code, or the
// engine's own RangeError when not even the package's JS could be entered.
// Afterwards the objects used must be exactly as a successful call (or no
// call) leaves them, and still usable. Run by scripts/test-property.sh
// (RELOOP_PKG points at another build of the package).
import { test } from "node:test";
import assert from "node:assert/strict";
import { pkg, ONNX, SPEC_TEXT, CONTEXT, item, PROBE, isReloopError, bits } from "./fixtures.mjs";

const { Model, Session, Catalog } = pkg;
const ITEMS = Array.from({ length: 20 }, (_, i) => item(i));

// Frames of `down` (below) to call from, counted up from the deepest one.
// A frame of `down` is about 100–200 bytes, the package's check asks for
// about 64 KB and the deepest call needs about 10 KB: 1,000 frames cover
// from no stack to well past the check.
const LEVELS = Number(process.env.STACK_LEVELS ?? 1000);

const model = Model.bundled();
const catalog = new Catalog(model, ITEMS, ITEMS.map((_, i) => `c${i}`));
const probe = (s) => bits(s.score(PROBE, CONTEXT));
const state = (s) => ({ probe: probe(s), saved: Array.from(s.save()), events: s.events });

/**
 * Runs `call(level)` at each of the deepest `levels` frames of a recursion
 * that went as deep as the engine allows; returns what each returned or
 * threw, shallowest last. The recursion catches the engine's RangeError at
 * the bottom and makes the calls while unwinding.
 */
function atEveryDepth(levels, call) {
  const out = [];
  const tryCall = (level) => {
    try {
      return { ok: true, value: call(level) };
    } catch (error) {
      return { ok: false, error };
    }
  };
  function down() {
    try {
      down();
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
    }
    if (out.length < levels) {
      const level = out.length;
      try {
        out.push(tryCall(level));
      } catch (e) {
        // Not even tryCall could be entered: nothing was called.
        if (!(e instanceof RangeError)) throw e;
        out.length = level;
        out.push({ ok: false, error: e, entered: false });
      }
    }
  }
  down();
  return out;
}

/** Asserts a failure is coded, or the engine refusing to enter JS at all. */
function checkFailure(op, level, error) {
  if (error instanceof RangeError && /call stack/i.test(error.message)) return "overflow";
  assert.ok(
    isReloopError(error),
    `${op} at ${level} frames above the deepest threw an uncoded ${error?.name}: ${error?.message}`,
  );
  assert.match(error.message, /stack/, `${op} at ${level}: ${error.message}`);
  return "coded";
}

/**
 * One operation on a fresh object per level: `make()` builds it at the top,
 * `op(obj)` is the call made deep, and the object afterwards must look as
 * `op` leaves it when it succeeds at the top (`after`), or as `make()` left
 * it when the call failed (`before`).
 */
function sweep(name, { make, op, look, levels = LEVELS, stride = 1 }) {
  const objs = [];
  for (let i = 0; i < levels; i += stride) objs.push(make());
  const reference = make();
  const before = look(reference);
  op(reference);
  const after = look(reference);
  const results = atEveryDepth(levels, (level) => (level % stride === 0 ? op(objs[level / stride]) : undefined));
  const tally = { ok: 0, coded: 0, overflow: 0 };
  results.forEach((r, level) => {
    if (level % stride !== 0) return;
    const obj = objs[level / stride];
    let now;
    try {
      now = look(obj);
    } catch (e) {
      assert.fail(`${name} at ${level} frames above the deepest left the object unusable: ${e?.name}: ${e?.message}`);
    }
    if (r.ok) {
      tally.ok++;
      assert.deepEqual(now, after, `${name} succeeded at ${level} but left another state than at the top`);
    } else {
      tally[checkFailure(name, level, r.error)]++;
      assert.deepEqual(now, before, `${name} failed at ${level} and changed the object`);
    }
  });
  // The sweep reached calls that had room to run and calls that had none.
  assert.ok(tally.ok > 0, `${name}: no call succeeded (raise STACK_LEVELS): ${JSON.stringify(tally)}`);
  assert.ok(tally.coded + tally.overflow > 0, `${name}: no call lacked stack: ${JSON.stringify(tally)}`);
  // Everything else in the instance still works.
  const s = new Session(model);
  assert.equal(probe(s).length, PROBE.length);
  s.free();
  for (const o of objs) o.free?.();
  reference.free?.();
  return tally;
}

const freshSession = () => new Session(model);
const SAVED = (() => {
  const s = new Session(model);
  s.score(ITEMS.slice(0, 4), CONTEXT, ["a", "b", "c", "d"]);
  s.recordImpression("b", true);
  s.record(item(3), true, CONTEXT);
  const bytes = s.save();
  s.free();
  return bytes;
})();

const CASES = {
  "Session#score": { make: freshSession, op: (s) => s.score(ITEMS, CONTEXT, ITEMS.map((_, i) => `i${i}`)), look: state },
  "Session#scoreDetailed": { make: freshSession, op: (s) => s.scoreDetailed(ITEMS, CONTEXT, undefined, { hidden: true }), look: state },
  "Session#record": { make: freshSession, op: (s) => s.record(item(5), true, CONTEXT), look: state },
  "Session#recordImpression": {
    make: () => {
      const s = new Session(model);
      s.score(ITEMS.slice(0, 3), CONTEXT, ["x", "y", "z"]);
      return s;
    },
    op: (s) => s.recordImpression("y", true),
    look: state,
  },
  "Session#scoreCatalog": { make: freshSession, op: (s) => s.scoreCatalog(catalog, ["c1", "c4", "c9"], CONTEXT), look: state },
  "Session#recordCatalog": { make: freshSession, op: (s) => s.recordCatalog(catalog, "c7", false, CONTEXT), look: state },
  "Session#save": { make: () => new Session(model, undefined, SAVED), op: (s) => s.save(), look: state },
  "Session#reset": { make: () => new Session(model, undefined, SAVED), op: (s) => s.reset(), look: state },
  "Session.new (restore)": {
    make: () => ({ made: null, free() { this.made?.free(); } }),
    op: (box) => { box.made = new Session(model, { savedImpressions: 8 }, SAVED); },
    look: (box) => (box.made ? state(box.made) : null),
  },
  "Catalog#add": {
    make: () => new Catalog(model, ITEMS.slice(0, 2), ["p", "q"]),
    op: (c) => c.add(ITEMS.slice(2, 5), ["r", "s", "p"]),
    look: (c) => ({ size: c.size, r: c.indexOf("r"), s: freshScore(c) }),
  },
  "Catalog.new": {
    make: () => ({ made: null, free() { this.made?.free(); } }),
    op: (box) => { box.made = new Catalog(model, ITEMS, ITEMS.map((_, i) => `n${i}`)); },
    look: (box) => (box.made ? { size: box.made.size, s: freshScore(box.made, "n3") } : null),
  },
};
function freshScore(c, id = "p") {
  const s = new Session(model);
  try {
    return bits(s.scoreCatalog(c, [id], CONTEXT));
  } finally {
    s.free();
  }
}

for (const [name, c] of Object.entries(CASES)) {
  test(`${name} with any amount of JS stack left: succeeds or throws a coded error, and changes nothing then`, () => {
    const tally = sweep(name, c);
    console.log(`# ${name}: ${JSON.stringify(tally)}`);
  });
}

// Loading a model is the deepest call; each load takes a while, so every
// fourth level (frames are ~100–200 B, the window where the call used to
// break is ~10 KB wide).
test("Model.fromOnnx with any amount of JS stack left: succeeds or throws a coded error", () => {
  const tally = sweep("Model.fromOnnx", {
    make: () => ({ made: null, free() { this.made?.free(); } }),
    op: (box) => { box.made = Model.fromOnnx(ONNX, SPEC_TEXT); },
    look: (box) => {
      if (!box.made) return null;
      const s = new Session(box.made);
      try {
        return { id: box.made.id, p: probe(s) };
      } finally {
        s.free();
      }
    },
    stride: 4,
  });
  console.log(`# Model.fromOnnx: ${JSON.stringify(tally)}`);
});
