/**
 * The Worker's settings, read from its environment (`env`: wrangler.toml
 * `[vars]` and secrets) and checked before any request is served.
 *
 * Why: a missing or weak secret must fail loudly (E_CONFIG, 500) rather than
 * sign tokens with something guessable; limits come from one place.
 */
import { HttpError } from "./errors.js";

/** Defaults when a variable is absent (wrangler.toml sets the same values). */
export const DEFAULTS = Object.freeze({ tokenTtlSeconds: 3600, maxBodyBytes: 65536, maxItems: 200, savedImpressions: 48 });

/** Shortest TOKEN_SECRET accepted, in characters (≈ 192 bits of base64). */
export const MIN_SECRET_LENGTH = 32;

const cache = new WeakMap();

/**
 * The settings of `env`, computed once per env object.
 * @throws {HttpError} 500 E_CONFIG naming the variable at fault.
 */
export function settings(env, maxBatch) {
  let found = cache.get(env);
  if (found === undefined) {
    found = read(env, maxBatch);
    cache.set(env, found);
  }
  return found;
}

function read(env, maxBatch) {
  const secret = env.TOKEN_SECRET;
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
    throw new HttpError(500, "E_CONFIG",
      `the Worker's TOKEN_SECRET is missing or shorter than ${MIN_SECRET_LENGTH} characters`);
  }
  return Object.freeze({
    secret,
    tokenTtlSeconds: integer(env, "TOKEN_TTL_SECONDS", DEFAULTS.tokenTtlSeconds, 1, 30 * 86400),
    maxBodyBytes: integer(env, "MAX_BODY_BYTES", DEFAULTS.maxBodyBytes, 1024, 1 << 24),
    maxItems: integer(env, "MAX_ITEMS", DEFAULTS.maxItems, 1, maxBatch),
    // Impressions the token carries for /feedback by id (the latest ones);
    // each adds ≤ 31 token characters. The default 48 keeps the largest
    // token of the default memory (dense, 1,682 bytes) under the cookie limit.
    savedImpressions: integer(env, "SAVED_IMPRESSIONS", DEFAULTS.savedImpressions, 0, 256),
  });
}

function integer(env, name, fallback, min, max) {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new HttpError(500, "E_CONFIG", `the Worker's ${name} must be an integer in [${min}, ${max}]`);
  }
  return value;
}
