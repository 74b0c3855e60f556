/**
 * The session token: a session's saved memory, sealed so it can travel with
 * the client (cookie or header) and come back unaltered.
 *
 * Why: a Worker keeps nothing between requests (one user's requests may land
 * on different isolates), so the memory rides with the client. HMAC-SHA256
 * under the Worker's secret (WebCrypto) makes it tamper-evident; the session
 * id and model tag inside the signed bytes bind it to one session and one
 * model; the expiry bounds replay. It is signed, not encrypted: the memory is
 * bucket sums of the client's own feedback.
 *
 * Bytes (little-endian), sent as base64url without padding:
 *
 *   offset  size  field
 *   0       1     version (1)
 *   1       4     expiry, Unix seconds (u32)
 *   5       16    session id
 *   21      8     model tag: first 8 bytes of the model's SHA-256 identity
 *   29      n     saved memory (the package's format; it carries the full identity too)
 *   29+n    32    HMAC-SHA256(secret, "reloop-edge token v1" ‖ bytes 0 .. 29+n)
 *
 * Checks, in order, each with the reason a client is told: decodable and
 * long enough ("malformed"), signature ("tampered": altered, or signed under
 * another secret), model tag ("foreign-model"), session id
 * ("foreign-session"), expiry ("expired").
 */

export const VERSION = 1;
export const SESSION_ID_BYTES = 16;
export const MODEL_TAG_BYTES = 8;
export const HEADER_BYTES = 1 + 4 + SESSION_ID_BYTES + MODEL_TAG_BYTES;
export const MAC_BYTES = 32;
/**
 * Longest token text read at all, and written: 16 KiB of base64url ≈ 12 KB
 * of memory and impressions (the default memory with 48 impressions is at
 * most 3,796 characters; with the most SAVED_IMPRESSIONS, 256, ≈ 10 K).
 * Well under the 32 KB Cloudflare allows for all of a request's headers.
 */
export const MAX_TOKEN_CHARS = 16384;

const DOMAIN = new TextEncoder().encode("reloop-edge token v1");
const BASE64URL = { alphabet: "base64url", omitPadding: true };
// "loose" (the default) accepts unpadded text, as `omitPadding` writes it.
const BASE64URL_DECODE = { alphabet: "base64url" };

const keys = new Map();

/** The HMAC key for `secret`, imported once per isolate. */
async function hmacKey(secret) {
  let key = keys.get(secret);
  if (key === undefined) {
    key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret),
      { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    keys.set(secret, key);
  }
  return key;
}

function macInput(body) {
  const input = new Uint8Array(DOMAIN.length + body.length);
  input.set(DOMAIN, 0);
  input.set(body, DOMAIN.length);
  return input;
}

/**
 * Seals `memory` for `sessionId` under `modelTag`, valid until `expiry`.
 * @param {{ secret: string, sessionId: Uint8Array, modelTag: Uint8Array, memory: Uint8Array, expiry: number }} parts
 * @returns {Promise<string>} the token text (base64url)
 */
export async function seal({ secret, sessionId, modelTag, memory, expiry }) {
  const body = new Uint8Array(HEADER_BYTES + memory.length);
  const view = new DataView(body.buffer);
  view.setUint8(0, VERSION);
  view.setUint32(1, expiry, true);
  body.set(sessionId, 5);
  body.set(modelTag, 5 + SESSION_ID_BYTES);
  body.set(memory, HEADER_BYTES);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret), macInput(body)));
  const token = new Uint8Array(body.length + MAC_BYTES);
  token.set(body, 0);
  token.set(mac, body.length);
  return token.toBase64(BASE64URL);
}

/**
 * Opens a token from the client (untrusted text).
 * @param {string} text
 * @param {{ secret: string, sessionId: Uint8Array, modelTag: Uint8Array, now: number }} expect
 * @returns {Promise<{ ok: true, memory: Uint8Array } | { ok: false, reason: string }>}
 */
export async function open(text, { secret, sessionId, modelTag, now }) {
  if (text.length > MAX_TOKEN_CHARS) return fail("malformed");
  let bytes;
  try {
    bytes = Uint8Array.fromBase64(text, BASE64URL_DECODE);
  } catch {
    return fail("malformed");
  }
  if (bytes.length < HEADER_BYTES + MAC_BYTES || bytes[0] !== VERSION) return fail("malformed");
  const body = bytes.subarray(0, bytes.length - MAC_BYTES);
  const mac = bytes.subarray(bytes.length - MAC_BYTES);
  // crypto.subtle.verify compares in constant time.
  const authentic = await crypto.subtle.verify("HMAC", await hmacKey(secret), mac, macInput(body));
  if (!authentic) return fail("tampered");
  if (!equal(body.subarray(5 + SESSION_ID_BYTES, HEADER_BYTES), modelTag)) return fail("foreign-model");
  if (!equal(body.subarray(5, 5 + SESSION_ID_BYTES), sessionId)) return fail("foreign-session");
  const expiry = new DataView(body.buffer, body.byteOffset).getUint32(1, true);
  if (expiry <= now) return fail("expired");
  return { ok: true, memory: body.slice(HEADER_BYTES) };
}

function fail(reason) {
  return { ok: false, reason };
}

// Not secret-dependent (both sides are authenticated by now): a plain compare.
function equal(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
