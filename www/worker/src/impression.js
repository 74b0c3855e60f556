/**
 * Impression ids: what /score hands out per item so /feedback can name it.
 *
 * The session's saved bytes (and so the token) carry the most recent
 * impressions — for each, the model's base score and the memory's bucket per
 * array, not the item — so /feedback by impression id restores the session
 * and records the outcome with no model run. An id is this response's random
 * page prefix and the item's position: short, because the token carries it
 * (`SAVED_IMPRESSIONS` of them at most). Each impression records one outcome.
 */
import { HttpError } from "./errors.js";

/** Longest impression id accepted (ours are 8 to 10 characters). */
export const MAX_IMPRESSION_CHARS = 64;

const BASE64URL = { alphabet: "base64url", omitPadding: true };

/** The impression ids of one /score response of `n` items. */
export function pageIds(n) {
  const prefix = crypto.getRandomValues(new Uint8Array(4)).toBase64(BASE64URL);
  return Array.from({ length: n }, (_, i) => `${prefix}.${i}`);
}

/**
 * Checks the shape of an impression id from a request body.
 * @throws {HttpError} 400 E_BAD_IMPRESSION if it cannot be one of ours.
 */
export function checkImpressionId(id) {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_IMPRESSION_CHARS) {
    throw new HttpError(400, "E_BAD_IMPRESSION", "impressionId is not an impression id from POST /score");
  }
  return id;
}

/** The error for an id the session does not (or no longer) remember. */
export function unknownImpression() {
  return new HttpError(400, "E_BAD_IMPRESSION",
    "impressionId is not among this session's recent impressions (already recorded, older than the last " +
      "SAVED_IMPRESSIONS, or from another session); send the item instead");
}
