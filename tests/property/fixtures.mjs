// What the property tests of the package share (boundary.test.mjs,
// stack.test.mjs): the package under test (RELOOP_PKG points at another build,
// default pkg/), the bundled model's files, valid items and a context, the
// error codes the package may throw, and how scores are compared.
import { readFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { join, resolve } from "node:path";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
export const PKG = resolve(process.env.RELOOP_PKG ?? join(ROOT, "pkg"));
/** The package's Node entry. */
export const pkg = await import(pathToFileURL(join(PKG, "node.js")).href);

export const ONNX = new Uint8Array(readFileSync(join(ROOT, "models/movielens.onnx")));
export const SPEC_TEXT = readFileSync(join(ROOT, "models/movielens.spec.json"), "utf8");
export const SPEC = JSON.parse(SPEC_TEXT);
export const GENRES = Object.keys(SPEC.fields.genres.vocabulary);
export const CONTEXT = Object.freeze({ userId: 42, age: 31, gender: "F", occupation: "writer", zip: "9", hour: 21, weekday: 4 });
export const item = (i) => ({ itemId: 1 + ((i * 37) % 1600), genres: [GENRES[i % GENRES.length]], year: 1950 + (i % 50) });
/** A fixed batch whose scores show whether a session changed. */
export const PROBE = Object.freeze(Array.from({ length: 6 }, (_, i) => Object.freeze(item(i * 7 + 3))));
/** Every `code` a ReloopError may carry. */
export const CODES = new Set([
  "E_INVALID_INPUT", "E_INVALID_CONFIG", "E_MODEL", "E_CORRUPT_MEMORY", "E_MODEL_MISMATCH",
  "E_UNSUPPORTED_VERSION", "E_NOT_INITIALISED",
]);

/** Whether `e` is the package's coded error. */
export function isReloopError(e) {
  return e instanceof Error && e.name === "ReloopError" && CODES.has(e.code);
}

/** The bit patterns of a Float32Array, to compare scores exactly. */
export function bits(f32) {
  return Array.from(new Uint32Array(f32.buffer, f32.byteOffset, f32.length));
}
