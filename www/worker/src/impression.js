/**
 * Impression ids: an item as it was scored, so feedback can name it by id.
 *
 * Why the item itself: the Worker keeps no state between requests, and the
 * package's own impression list (`recordImpression`) lives in a session
 * object that is gone when the request ends (`save()` does not keep it). So
 * the id carries the fields the model reads, base64url-encoded JSON. It is
 * not signed, on purpose: a client may send any `item` to /feedback anyway,
 * and the memory it feeds is its own. Decoded ids are checked like a body.
 */
import { HttpError } from "./errors.js";
import { isObject } from "./shape.js";

/** Longest impression id read (a MovieLens item is ≈ 60 characters). */
export const MAX_IMPRESSION_CHARS = 2048;

const BASE64URL = { alphabet: "base64url", omitPadding: true };
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The impression id of `item`, keeping only the model's `fields`. */
export function impressionId(item, fields) {
  const kept = {};
  for (const field of fields) if (item[field] !== undefined) kept[field] = item[field];
  return encoder.encode(JSON.stringify(kept)).toBase64(BASE64URL);
}

/**
 * The item an impression id stands for.
 * @throws {HttpError} 400 E_BAD_IMPRESSION if it is not one of ours.
 */
export function itemOf(id) {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_IMPRESSION_CHARS) throw bad();
  let item;
  try {
    item = JSON.parse(decoder.decode(Uint8Array.fromBase64(id, { alphabet: "base64url" })));
  } catch {
    throw bad();
  }
  if (!isObject(item)) throw bad();
  return item;
}

function bad() {
  return new HttpError(400, "E_BAD_IMPRESSION", "impressionId is not an impression id from POST /score");
}
