/**
 * Checks of a request body's shape, before anything reaches the model.
 *
 * Why strict: a misspelt key (`"contxt"`) silently ignored would score
 * without the user's context; naming it in a 400 makes the mistake visible.
 * Item fields are the model's business (the package names a bad one).
 */
import { HttpError } from "./errors.js";

/** Rejects keys of `body` outside `allowed` (400 E_UNKNOWN_FIELD). */
export function onlyFields(body, allowed) {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) {
      throw new HttpError(400, "E_UNKNOWN_FIELD",
        `unknown field "${clip(key)}" (expected: ${allowed.join(", ")})`);
    }
  }
}

/** True for a plain JSON object (not null, not an array). */
export function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** `value` if it is an object (or absent: null), else 400 E_BAD_REQUEST naming `name`. */
export function optionalObject(value, name) {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw badRequest(`"${name}" must be an object`);
  return value;
}

/** A 400 E_BAD_REQUEST. */
export function badRequest(message) {
  return new HttpError(400, "E_BAD_REQUEST", message);
}

// Keys come from the client: keep echoes short.
function clip(text) {
  return text.length > 64 ? `${text.slice(0, 64)}…` : text;
}
