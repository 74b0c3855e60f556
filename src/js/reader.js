// How the package reads items: the one definition every call uses (score,
// scoreDetailed, record), documented in src/reader.rs.
//
// A field is read by name as `item[name]` reads it in JavaScript — own or
// inherited, enumerable or not, getters run (once per field and call) —
// and only the fields the model reads are looked at. Each value is checked
// against the value grammar here and written as *cells* (src/cells.rs reads
// them): a tag and a number per value, in two typed arrays, with each
// distinct string of the call written once as UTF-8 and named by its index.
// So a batch crosses into wasm as three typed arrays, with no JSON text to
// write or parse. A problem comes back as a string (the message), never as
// an exception.

const UTF8 = new TextEncoder();
const MIN_I64 = -(2n ** 63n);
const MAX_I64 = 2n ** 63n - 1n;

// Cell tags: the same numbers as src/cells.rs.
const NULL = 0;
const FALSE = 1;
const TRUE = 2;
const NUMBER = 3;
const STRING = 4;
const BIGINT = 5;
const LIST = 6;

class Problem {
  constructor(message) {
    this.message = message;
  }
}

/**
 * One call's cells: `tags[i]` and `values[i]` (a number, a string's index,
 * or a list's length, the list's cells following it), and the call's
 * distinct strings in `text`, each as a 4-byte little-endian byte length
 * and its UTF-8 bytes.
 */
class Cells {
  constructor() {
    this.tags = new Uint8Array(4096);
    this.values = new Float64Array(4096);
    this.n = 0;
    this.text = new Uint8Array(4096);
    this.textLength = 0;
    /** string → its index in `text`, for this call. */
    this.strings = new Map();
  }

  clear() {
    this.n = 0;
    this.textLength = 0;
    this.strings.clear();
  }

  push(tag, value) {
    const n = this.n;
    if (n === this.tags.length) {
      const tags = new Uint8Array(2 * n);
      tags.set(this.tags);
      this.tags = tags;
      const values = new Float64Array(2 * n);
      values.set(this.values);
      this.values = values;
    }
    this.tags[n] = tag;
    this.values[n] = value;
    this.n = n + 1;
  }

  /** The index of string `s` in this call's text, written there the first time. */
  string(s) {
    let index = this.strings.get(s);
    if (index === undefined) {
      index = this.strings.size;
      this.strings.set(s, index);
      // UTF-8 takes at most 3 bytes per UTF-16 unit.
      const most = this.textLength + 4 + 3 * s.length;
      if (most > this.text.length) {
        const text = new Uint8Array(Math.max(2 * this.text.length, most));
        text.set(this.text.subarray(0, this.textLength));
        this.text = text;
      }
      const at = this.textLength;
      const written = UTF8.encodeInto(s, this.text.subarray(at + 4)).written;
      this.text[at] = written & 0xff;
      this.text[at + 1] = (written >>> 8) & 0xff;
      this.text[at + 2] = (written >>> 16) & 0xff;
      this.text[at + 3] = written >>> 24;
      this.textLength = at + 4 + written;
    }
    return index;
  }

  /** What Rust copies at once: `[values, tags, text]`, views of this call's part. */
  done() {
    return [this.values.subarray(0, this.n), this.tags.subarray(0, this.n), this.text.subarray(0, this.textLength)];
  }
}

// The cells of a call are written in `spare`; a call that starts while
// another is reading (a getter scoring with another model) gets its own.
// Rust copies a call's cells before any other JavaScript runs.
let spare = new Cells();

function cellsFor(read) {
  const cells = spare ?? new Cells();
  spare = null;
  cells.clear();
  try {
    return read(cells);
  } catch (e) {
    return failed(e);
  } finally {
    spare = cells;
  }
}

/** What kind of value `v` is, for messages. */
function kind(v) {
  if (v === null) return "null";
  switch (typeof v) {
    case "undefined": return "undefined";
    case "boolean": return "a boolean";
    case "number": return "a number";
    case "bigint": return "a BigInt";
    case "string": return "a string";
    case "symbol": return "a symbol";
    case "function": return "a function";
  }
  try {
    if (Array.isArray(v)) return "a list";
    if (v instanceof Date) return "a Date";
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return "a typed array or buffer";
  } catch {
    // A Proxy whose traps throw is still an object.
  }
  return "an object";
}

/** The message of something JS threw (its own getters may throw too). */
export function reloop_message_of(e) {
  return messageOf(e);
}

function messageOf(e) {
  try {
    if (e instanceof Error) return String(e.message);
  } catch {
    return "a non-Error value";
  }
  return typeof e === "string" ? e : "a non-Error value";
}

/**
 * A string, finite number, boolean or 64-bit BigInt written as a cell
 * (checked); false, writing nothing, for other values.
 */
function scalar(name, v, cells) {
  switch (typeof v) {
    case "string":
      cells.push(STRING, cells.string(v));
      return true;
    case "boolean":
      cells.push(v ? TRUE : FALSE, 0);
      return true;
    case "number":
      if (!Number.isFinite(v)) throw new Problem(`field \`${name}\` must be a finite number, got ${v}`);
      cells.push(NUMBER, v);
      return true;
    case "bigint":
      if (v < MIN_I64 || v > MAX_I64) {
        throw new Problem(`field \`${name}\` is a BigInt outside the 64-bit integer range`);
      }
      cells.push(BIGINT, cells.string(v.toString()));
      return true;
    default:
      return false;
  }
}

/** One field value, checked, as cells: NULL when missing, a scalar, or LIST and its scalars. */
function value(name, v, cells) {
  if (v === undefined || v === null) {
    cells.push(NULL, 0);
    return;
  }
  if (scalar(name, v, cells)) return;
  if (Array.isArray(v)) {
    const n = v.length;
    cells.push(LIST, n);
    for (let i = 0; i < n; i++) {
      const e = v[i];
      if (!scalar(name, e, cells)) {
        if (Array.isArray(e)) throw new Problem(`field \`${name}\`: lists inside lists are not accepted`);
        throw new Problem(`field \`${name}\`: element ${i} is ${kind(e)}; expected a string, number or boolean`);
      }
    }
    return;
  }
  const what = kind(v);
  if (what === "a typed array or buffer") throw new Problem(`field \`${name}\` is a typed array or buffer; pass a plain array`);
  throw new Problem(`field \`${name}\` is ${what}; expected a string, number, boolean or a list of them`);
}

/** The model's fields of one object (`what` names it in messages), checked, as cells in field order. */
function fieldsOf(what, obj, fields, cells) {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new Problem(`${what} must be an object of field values, got ${kind(obj)}`);
  }
  for (let f = 0; f < fields.length; f++) {
    const name = fields[f];
    try {
      value(name, obj[name], cells);
    } catch (e) {
      if (e instanceof Problem) throw new Problem(`${what}: ${e.message}`);
      throw new Problem(`${what}: reading field \`${name}\` threw: ${messageOf(e)}`);
    }
  }
}

/** NULL for no context, else TRUE and its fields. */
function contextOf(context, fields, cells) {
  if (context === undefined || context === null) {
    cells.push(NULL, 0);
  } else {
    cells.push(TRUE, 0);
    fieldsOf("context", context, fields, cells);
  }
}

/**
 * Strings as UTF-8 JSON text (catalog ids for Rust to look up): in one
 * JSON.stringify call, unless something gave arrays a `toJSON` (then
 * written here).
 */
function json(strings) {
  if (!("toJSON" in strings)) return UTF8.encode(JSON.stringify(strings));
  let out = "[";
  for (let i = 0; i < strings.length; i++) out += (i === 0 ? "" : ",") + JSON.stringify(strings[i]);
  return UTF8.encode(out + "]");
}

/** An array's length through its own `length` (a Proxy may throw or lie). */
function lengthOf(what, array) {
  let n;
  try {
    n = array.length;
  } catch (e) {
    throw new Problem(`${what}: reading its length threw: ${messageOf(e)}`);
  }
  if (!Number.isInteger(n) || n < 0 || n > 4294967295) throw new Problem(`${what}: its length is not a valid array length`);
  return n;
}

function failed(e) {
  return e instanceof Problem ? e.message : `reading the arguments threw: ${messageOf(e)}`;
}

/**
 * A batch for `score`: `items` (an array of objects), the optional
 * `context` and `ids` (strings, one per item), read for the model's
 * `fields`. Returns the cells — the context (NULL, or TRUE and its fields),
 * the number of items and each item's fields, then the ids (NULL, or LIST
 * and a STRING each) — or a message.
 */
export function reloop_read_batch(items, context, ids, fields, maxBatch) {
  return cellsFor((cells) => {
    if (!Array.isArray(items)) throw new Problem(`items must be an array of objects, got ${kind(items)}`);
    const n = lengthOf("items", items);
    if (n > maxBatch) throw new Problem(`batch of ${n} items is larger than maxBatch ${maxBatch}`);
    contextOf(context, fields, cells);
    cells.push(NUMBER, n);
    for (let i = 0; i < n; i++) {
      let item;
      try {
        item = items[i];
      } catch (e) {
        throw new Problem(`reading item ${i} threw: ${messageOf(e)}`);
      }
      fieldsOf(`item ${i}`, item, fields, cells);
    }
    if (ids === undefined || ids === null) {
      cells.push(NULL, 0);
    } else {
      if (!Array.isArray(ids)) throw new Problem(`ids must be an array of strings, got ${kind(ids)}`);
      const k = lengthOf("ids", ids);
      cells.push(LIST, k);
      for (let i = 0; i < k; i++) {
        let id;
        try {
          id = ids[i];
        } catch (e) {
          throw new Problem(`reading ids[${i}] threw: ${messageOf(e)}`);
        }
        if (typeof id !== "string") throw new Problem(`ids[${i}] must be a string, got ${kind(id)}`);
        cells.push(STRING, cells.string(id));
      }
    }
    return cells.done();
  });
}

/** One item for `record`, read like a batch of one (no ids). */
export function reloop_read_item(item, context, fields) {
  return cellsFor((cells) => {
    contextOf(context, fields, cells);
    cells.push(NUMBER, 1);
    fieldsOf("item", item, fields, cells);
    cells.push(NULL, 0);
    return cells.done();
  });
}

// Ids looked up before (src/reader.rs `read_entries`), kept per catalog
// revision: a revision names one catalog's ids and indices as they were and
// is never given to another catalog or state, so a cached index is right for
// as long as its revision is asked for. Only ids Rust resolved go in, all of
// a call at once; a call with any id not cached goes to Rust as before (which
// also gives the error for an unknown id). Bounded: the most recent
// `ID_CACHE_REVISIONS` revisions, `ID_CACHE_IDS` ids in all.
const ID_CACHE_REVISIONS = 4;
const ID_CACHE_IDS = 1 << 16;
/** revision → Map(id → index), least recently used first. */
const idCache = new Map();
let idCacheSize = 0;
/** The ids of the last call that went to Rust, and its revision. */
let pendingIds = null;

/** The cache of `revision`, marked most recently used; undefined if none. */
function idsOf(revision) {
  const known = idCache.get(revision);
  if (known !== undefined && idCache.size > 1) {
    idCache.delete(revision);
    idCache.set(revision, known);
  }
  return known;
}

/** The indices of `ids` if every one is cached under `revision`. */
function cachedIndices(revision, ids) {
  const known = idsOf(revision);
  if (known === undefined || known.size === 0) return undefined;
  const out = new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const index = known.get(ids[i]);
    if (index === undefined) return undefined;
    out[i] = index;
  }
  return out;
}

/** Drops the least recently used revision other than `keep`; whether there was one. */
function evictOther(keep) {
  for (const [revision, known] of idCache) {
    if (revision === keep) continue;
    idCache.delete(revision);
    idCacheSize -= known.size;
    return true;
  }
  return false;
}

/**
 * Called by Rust once it has resolved the ids of the last `reloop_read_entries`
 * call (of catalog revision `revision`) to `indices`. Never throws.
 */
export function reloop_remember_entries(revision, indices) {
  try {
    const pending = pendingIds;
    pendingIds = null;
    if (pending === null || pending.revision !== revision || pending.ids.length !== indices.length) return;
    let known = idsOf(revision);
    if (known === undefined) {
      known = new Map();
      idCache.set(revision, known);
      while (idCache.size > ID_CACHE_REVISIONS && evictOther(revision));
    }
    while (idCacheSize + indices.length > ID_CACHE_IDS && evictOther(revision));
    if (idCacheSize + indices.length > ID_CACHE_IDS) return;
    for (let i = 0; i < indices.length; i++) {
      const before = known.size;
      known.set(pending.ids[i], indices[i]);
      idCacheSize += known.size - before;
    }
  } catch {
    // Only a cache: the call has its indices either way.
  }
}

/**
 * Catalog entries for `scoreCatalog`/`indicesOf` on the catalog whose
 * revision is `revision`: a Uint32Array (or any integer typed array) or an
 * array of non-negative integers → a Uint32Array of indices; an array of
 * strings → a Uint32Array when every id is cached under `revision`, else
 * its UTF-8 JSON (ids, looked up by the caller, who then passes the indices
 * to `reloop_remember_entries`). Returns a message on anything else.
 */
export function reloop_read_entries(entries, revision) {
  pendingIds = null;
  try {
    // A fresh copy: Rust reads it from wasm, where a fake or a Proxy would throw uncaught.
    if (typedKind(entries) === "Uint32Array") return new Uint32Array(entries);
    if (ArrayBuffer.isView(entries) && !(entries instanceof DataView)) {
      if (entries instanceof Float32Array || entries instanceof Float64Array) {
        throw new Problem("entries must be integers (a Uint32Array or an array of indices or ids), got a float array");
      }
      const out = new Uint32Array(entries.length);
      for (let i = 0; i < entries.length; i++) {
        const v = entries[i];
        if (v < 0 || v > 4294967295) throw new Problem(`entries[${i}] = ${v} is not a catalog index`);
        out[i] = Number(v);
      }
      return out;
    }
    if (!Array.isArray(entries)) {
      throw new Problem(`entries must be a Uint32Array or an array of indices or ids, got ${kind(entries)}`);
    }
    const n = lengthOf("entries", entries);
    if (n === 0) return new Uint32Array(0);
    const first = entries[0];
    if (typeof first === "string") {
      // Each element read once, into a plain array the engine stringifies in one call.
      const ids = new Array(n);
      for (let i = 0; i < n; i++) {
        const id = entries[i];
        if (typeof id !== "string") throw new Problem(`entries[${i}] must be a string like entries[0], got ${kind(id)}`);
        ids[i] = id;
      }
      const cached = cachedIndices(revision, ids);
      if (cached !== undefined) return cached;
      pendingIds = { revision, ids };
      return json(ids);
    }
    return u32sOf("entries", entries, n, "a catalog index (an integer ≥ 0) like entries[0]");
  } catch (e) {
    return failed(e);
  }
}

/** The first `n` elements of the array `array` (named `name`), each `what`: an integer in 0..2^32. */
function u32sOf(name, array, n, what) {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const v = array[i];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 4294967295) {
      throw new Problem(`${name}[${i}] must be ${what}, got ${typeof v === "number" ? v : kind(v)}`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * A short list of sizes (`warmUp`'s batch sizes): a Uint32Array or an array
 * of at most `most` integers ≥ 0 → a fresh Uint32Array; a message (naming
 * `name`) on anything else. Never throws (a revoked Proxy throws even from
 * `Array.isArray`).
 */
export function reloop_read_sizes(value, name, most) {
  try {
    const sizes = typedKind(value) === "Uint32Array" ? new Uint32Array(value) : undefined;
    if (sizes) {
      if (sizes.length > most) throw new Problem(`${name}: at most ${most} sizes, got ${sizes.length}`);
      return sizes;
    }
    if (!Array.isArray(value)) throw new Problem(`${name} must be an array of integers or a Uint32Array, got ${kind(value)}`);
    const n = lengthOf(name, value);
    if (n > most) throw new Problem(`${name}: at most ${most} sizes, got ${n}`);
    return u32sOf(name, value, n, "an integer ≥ 0");
  } catch (e) {
    return failed(e);
  }
}

// The `Symbol.toStringTag` getter of %TypedArray%.prototype: the element type
// of a real typed array (from its internal slot; a Proxy, a subclass that lies
// or an object with a typed array's prototype gets undefined).
const TYPED_TAG = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag).get;
const BUFFER_BYTES = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength").get;

/** `"Uint8Array"`, `"Float32Array"`, ... for a real typed array; else undefined. Never throws. */
function typedKind(v) {
  try {
    return TYPED_TAG.call(v);
  } catch {
    return undefined;
  }
}

/**
 * A fresh copy of `value` as a typed array of `kind` (`"Uint8Array"` also
 * takes an ArrayBuffer), made from internal slots only, so Rust can read it
 * from wasm without running any of the caller's code (a Proxy, a fake typed
 * array or a lying `length` would throw from inside wasm, uncaught). Returns
 * null for anything else. Never throws.
 */
export function reloop_copy_typed(value, kind) {
  try {
    const got = typedKind(value);
    if (got === kind) {
      switch (kind) {
        case "Uint8Array": return new Uint8Array(value);
        case "Float32Array": return new Float32Array(value);
        case "BigInt64Array": return new BigInt64Array(value);
        case "Uint32Array": return new Uint32Array(value);
        default: return null;
      }
    }
    if (kind === "Uint8Array" && got === undefined) {
      try {
        BUFFER_BYTES.call(value); // throws unless a real (non-shared) ArrayBuffer
      } catch {
        return null;
      }
      return new Uint8Array(new Uint8Array(value));
    }
    return null;
  } catch {
    return null;
  }
}
