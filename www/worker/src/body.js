/**
 * Reads a request's JSON body within the Worker's limits.
 *
 * Why a reader of its own: `request.json()` would buffer a body of any size
 * and blur "too big", "not JSON" and "not UTF-8" into one exception. Here the
 * content type is checked first (415), the size is capped while streaming
 * (413, also for bodies without Content-Length), and parse failures are 400.
 */
import { HttpError } from "./errors.js";

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/**
 * The parsed body of `request`, a JSON object.
 * @throws {HttpError} 415 E_UNSUPPORTED_MEDIA_TYPE, 413 E_BODY_TOO_LARGE,
 *   400 E_BAD_JSON (not UTF-8, not JSON) or E_BAD_REQUEST (not an object).
 */
export async function readJsonObject(request, maxBytes) {
  const type = request.headers.get("content-type") ?? "";
  if (!JSON_TYPE.test(type)) {
    throw new HttpError(415, "E_UNSUPPORTED_MEDIA_TYPE", "the body must be application/json");
  }
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readCapped(request.body, maxBytes);
  let value;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    // The parser's message says where ("... at position 12"); it holds no internals.
    const detail = error instanceof SyntaxError ? `: ${error.message}` : "";
    throw new HttpError(400, "E_BAD_JSON", `the body is not valid UTF-8 JSON${detail}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new HttpError(400, "E_BAD_REQUEST", "the body must be a JSON object");
  }
  return value;
}

async function readCapped(stream, maxBytes) {
  if (stream === null) return new Uint8Array(0);
  const chunks = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

function tooLarge(maxBytes) {
  return new HttpError(413, "E_BODY_TOO_LARGE", `the body is larger than ${maxBytes} bytes`);
}
