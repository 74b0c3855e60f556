/**
 * Errors a client may see: an HTTP status plus a stable `code`, as JSON.
 *
 * Why one place: every route fails the same way (`{ error: { code, message } }`),
 * and nothing else ever reaches a client — unexpected exceptions are logged on
 * the Worker's side and answered with a bare E_INTERNAL, never a stack trace.
 */

/** A failure the client caused or should know about. */
export class HttpError extends Error {
  /**
   * @param {number} status HTTP status (400, 404, 405, 413, 415, 500).
   * @param {string} code stable machine-readable code, e.g. "E_BAD_JSON".
   * @param {string} message human-readable, safe to show (no internals).
   * @param {Record<string, string>} [headers] extra response headers (e.g. Allow).
   */
  constructor(status, code, message, headers = {}) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

/** How the package's `ReloopError` codes reach clients. */
const PACKAGE_ERRORS = {
  // A bad item or context field: the package's message names the item and field.
  E_INVALID_INPUT: { status: 400, expose: true },
  // The rest are the Worker's problem, not the client's.
  E_INVALID_CONFIG: { status: 500, expose: false },
  E_MODEL: { status: 500, expose: false },
};

/** The JSON error response for anything thrown while handling a request. */
export function errorResponse(error) {
  if (error instanceof HttpError) {
    return json(error.status, { error: { code: error.code, message: error.message } }, error.headers);
  }
  const known = error?.name === "ReloopError" ? PACKAGE_ERRORS[error.code] : undefined;
  if (known?.expose) {
    return json(known.status, { error: { code: error.code, message: error.message } });
  }
  // Server-side only: the stack goes to the Worker's log (wrangler tail), not the client.
  console.error("reloop-edge worker: unexpected error", error?.stack ?? String(error));
  const code = known ? error.code : "E_INTERNAL";
  return json(500, { error: { code, message: "internal error" } });
}

/** A JSON response with `status` and `headers` (a Headers or a plain object). */
export function json(status, body, headers = {}) {
  const all = new Headers(headers);
  // Scores and tokens are per user: never cached by the CDN or the browser.
  all.set("cache-control", "no-store");
  return Response.json(body, { status, headers: all });
}
