/**
 * A request's session: restored from the client's token, or fresh; and the
 * token that goes back with the response.
 *
 * Why here: whatever is wrong with a token (missing, malformed, tampered,
 * expired, another session's, another model's), the request goes on with a
 * fresh memory and the response says why — a bad token never fails a request.
 */
import * as carrier from "./carrier.js";
import { MAX_TOKEN_CHARS, open, seal } from "./token.js";

// Sessions run with engine.options: model.js's (e.g. `reloop replay`'s tuned
// options for your model), else the package's defaults. A restored memory
// keeps its saved layout.

/**
 * @typedef {object} OpenedSession
 * @property {import("../../../pkg/reloop_edge.js").Session} memory the package session (free() it)
 * @property {{ bytes: Uint8Array, text: string }} id
 * @property {"restored" | "fresh"} state
 * @property {string | null} reason why the memory is fresh (null when restored)
 */

/**
 * The session of `request`.
 * @returns {Promise<OpenedSession>}
 */
export async function openSession(request, engine, config) {
  const carried = carrier.fromRequest(request);
  const bytes = carrier.parseSessionId(carried.sessionId);
  // No (or an unreadable) session id: a new one; a token, if any, then fails as foreign-session.
  const id = bytes ? { bytes, text: carried.sessionId } : carrier.newSessionId();
  let memory;
  let reason = null;
  if (carried.token === undefined || carried.token === "") {
    reason = "missing";
  } else {
    const opened = await open(carried.token, {
      secret: config.secret, sessionId: id.bytes, modelTag: engine.modelTag, now: nowSeconds(),
    });
    if (opened.ok) {
      ({ memory, reason } = restore(engine, config, opened.memory));
    } else {
      reason = opened.reason;
    }
  }
  memory ??= new engine.Session(engine.model, sessionOptions(engine, config));
  return { memory, id, state: reason === null ? "restored" : "fresh", reason };
}

// The bytes are authentic (we signed them), but the package checks them again:
// a memory of another model layout is reset, unreadable bytes start afresh.
function restore(engine, config, saved) {
  let memory;
  try {
    memory = new engine.Session(engine.model, sessionOptions(engine, config), saved);
  } catch (error) {
    if (error?.name !== "ReloopError") throw error;
    return { memory: undefined, reason: "corrupt-memory" };
  }
  if (memory.restoreError !== undefined) return { memory, reason: "foreign-model" };
  return { memory, reason: null };
}

/**
 * Runs `use(memory)` in the request's session and seals the memory again.
 * @returns {Promise<{ result: any, session: object, headers: Headers }>} `use`'s result,
 *   the `session` part of the response body and the headers carrying the new token.
 */
export async function withSession(request, engine, config, use) {
  const session = await openSession(request, engine, config);
  let result;
  try {
    result = use(session.memory);
  } catch (error) {
    session.memory.free();
    throw error;
  }
  const headers = new Headers();
  return { result, session: await closeSession(session, headers, engine, config), headers };
}

/**
 * Seals the session's memory into a new token, puts it on `headers` and
 * returns the `session` part of the response body. Frees the memory.
 */
export async function closeSession(session, headers, engine, config) {
  try {
    const token = await seal({
      secret: config.secret,
      sessionId: session.id.bytes,
      modelTag: engine.modelTag,
      memory: session.memory.save(),
      expiry: nowSeconds() + config.tokenTtlSeconds,
    });
    // A token the Worker would not read back (a memory made too large by
    // model.js's options) is not sent: the session would only start afresh.
    const carried = token.length <= MAX_TOKEN_CHARS
      ? carrier.toResponse(headers, session.id.text, token, config.tokenTtlSeconds)
      : tooLong(token.length);
    return {
      id: session.id.text,
      state: session.state,
      reason: session.reason,
      events: session.memory.events,
      tokenChars: token.length,
      carrier: carried,
    };
  } finally {
    session.memory.free();
  }
}

function tooLong(chars) {
  console.error(`session token of ${chars} characters exceeds ${MAX_TOKEN_CHARS}: not sent; use a smaller memory (bits, arrays) or SAVED_IMPRESSIONS`);
  return "none";
}

/** model.js's options (or the defaults), keeping SAVED_IMPRESSIONS impressions in the token. */
export function sessionOptions(engine, config) {
  return { savedImpressions: config.savedImpressions, ...engine.options };
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}
