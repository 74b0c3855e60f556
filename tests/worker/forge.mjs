/**
 * An independent reader/writer of the Worker's token format (node:crypto,
 * not WebCrypto), so the tests can check the layout the Worker writes and
 * build authentic-but-wrong tokens: expired, another model's, another
 * session's, another secret's.
 */
import { createHmac } from "node:crypto";

const DOMAIN = Buffer.from("reloop-edge token v1");
const HEADER = 29;
const MAC = 32;

/** The fields of token text `text`. */
export function parse(text) {
  const bytes = Buffer.from(text, "base64url");
  return {
    version: bytes[0],
    expiry: bytes.readUInt32LE(1),
    sessionId: bytes.subarray(5, 21),
    modelTag: bytes.subarray(21, HEADER),
    memory: bytes.subarray(HEADER, bytes.length - MAC),
    mac: bytes.subarray(bytes.length - MAC),
    body: bytes.subarray(0, bytes.length - MAC),
  };
}

/** HMAC-SHA256 of a token body, as the Worker computes it. */
export function mac(body, secret) {
  return createHmac("sha256", secret).update(DOMAIN).update(body).digest();
}

/** A token with `fields` (as `parse` returns them, any of them replaced), signed with `secret`. */
export function build({ version = 1, expiry, sessionId, modelTag, memory }, secret) {
  const header = Buffer.alloc(HEADER);
  header[0] = version;
  header.writeUInt32LE(expiry, 1);
  Buffer.from(sessionId).copy(header, 5);
  Buffer.from(modelTag).copy(header, 21);
  const body = Buffer.concat([header, Buffer.from(memory)]);
  return Buffer.concat([body, mac(body, secret)]).toString("base64url");
}
