/**
 * Where the session id and token travel: a header for non-browser clients,
 * else a cookie; responses set both.
 *
 * Why both: browsers keep cookies without any client code, while API clients
 * (and tests) find headers easier. Headers win when both are present. The
 * cookies are HttpOnly, Secure and SameSite=Strict: page scripts never read
 * the token, and other sites cannot make a browser send it.
 */
import { SESSION_ID_BYTES } from "./token.js";

export const SESSION_HEADER = "x-reloop-session";
export const TOKEN_HEADER = "x-reloop-token";
export const SESSION_COOKIE = "reloop_sid";
export const TOKEN_COOKIE = "reloop_mem";

const BASE64URL = { alphabet: "base64url", omitPadding: true };

/** The session id and token text a request carries (either may be undefined). */
export function fromRequest(request) {
  const cookies = parseCookies(request.headers.get("cookie"));
  return {
    sessionId: request.headers.get(SESSION_HEADER) ?? cookies.get(SESSION_COOKIE),
    token: request.headers.get(TOKEN_HEADER) ?? cookies.get(TOKEN_COOKIE),
  };
}

/** Longest token sent as a cookie: browsers drop cookies over 4,096 bytes (name and attributes included). */
export const MAX_COOKIE_TOKEN_CHARS = 3900;

/**
 * Puts the session id and token on `headers` (header and cookie forms).
 * A token too long for a cookie (many saved impressions) goes in the header
 * only, and the token cookie is cleared so a browser does not send back an
 * older one. Returns how the token travels: "header+cookie" or "header".
 */
export function toResponse(headers, sessionIdText, token, ttlSeconds) {
  headers.set(SESSION_HEADER, sessionIdText);
  headers.set(TOKEN_HEADER, token);
  const attributes = `Path=/; Max-Age=${ttlSeconds}; HttpOnly; Secure; SameSite=Strict`;
  headers.append("set-cookie", `${SESSION_COOKIE}=${sessionIdText}; ${attributes}`);
  if (token.length <= MAX_COOKIE_TOKEN_CHARS) {
    headers.append("set-cookie", `${TOKEN_COOKIE}=${token}; ${attributes}`);
    return "header+cookie";
  }
  headers.append("set-cookie", `${TOKEN_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict`);
  return "header";
}

/** A session id's bytes from its text (22 base64url characters), or undefined. */
export function parseSessionId(text) {
  if (typeof text !== "string" || text.length !== 22) return undefined;
  try {
    const bytes = Uint8Array.fromBase64(text, { alphabet: "base64url" });
    // Only the canonical spelling: one id, one text (loose decoding forgives stray bits).
    const canonical = bytes.length === SESSION_ID_BYTES && bytes.toBase64(BASE64URL) === text;
    return canonical ? bytes : undefined;
  } catch {
    return undefined;
  }
}

/** A fresh random session id: its bytes and text. */
export function newSessionId() {
  const bytes = crypto.getRandomValues(new Uint8Array(SESSION_ID_BYTES));
  return { bytes, text: bytes.toBase64(BASE64URL) };
}

// RFC 6265 `Cookie: a=1; b=2`. Our values are base64url, so no quoting or
// decoding is needed; the first occurrence of a name wins.
function parseCookies(header) {
  const found = new Map();
  if (!header) return found;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    if (!found.has(name)) found.set(name, pair.slice(eq + 1).trim());
  }
  return found;
}
