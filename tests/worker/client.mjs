/**
 * Test helpers: an HTTP client for the Worker that carries the session the
 * way a non-browser client does (X-Reloop-Session / X-Reloop-Token headers),
 * plus a MovieLens-shaped feed with four genres.
 */

/** A user's context for the bundled MovieLens model. */
export const CONTEXT = Object.freeze({ userId: 42, age: 31, gender: "F", occupation: "engineer", zip: "9", hour: 20, weekday: 4 });

export const GENRES = ["Horror", "Comedy", "Drama", "Romance"];

/** `n` items cycling through GENRES (each item one genre), with ids "m0".. */
export function feed(n = 40) {
  return Array.from({ length: n }, (_, i) => ({
    id: `m${i}`, itemId: 200 + i * 7, genres: [GENRES[i % GENRES.length]], year: 1985 + (i % 13),
  }));
}

/** Sends a raw request; returns status, headers and the parsed JSON body (or text). */
export async function request(base, path, { method = "POST", body, headers = {} } = {}) {
  const response = await fetch(base + path, { method, body, headers });
  const text = await response.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: response.status, headers: response.headers, json, text };
}

/** POSTs `payload` as JSON, with extra `headers`. */
export function postJson(base, path, payload, headers = {}) {
  return request(base, path, {
    body: JSON.stringify(payload), headers: { "content-type": "application/json", ...headers },
  });
}

/**
 * A client session: remembers the session id and token the Worker returns,
 * and sends them back on the next request.
 */
export class Client {
  constructor(base) {
    this.base = base;
    this.sessionId = undefined;
    this.token = undefined;
  }

  headers() {
    const h = {};
    if (this.sessionId !== undefined) h["x-reloop-session"] = this.sessionId;
    if (this.token !== undefined) h["x-reloop-token"] = this.token;
    return h;
  }

  async post(path, payload) {
    const reply = await postJson(this.base, path, payload, this.headers());
    if (reply.status === 200) {
      this.sessionId = reply.headers.get("x-reloop-session");
      this.token = reply.headers.get("x-reloop-token");
    }
    return reply;
  }

  /** Scores `items`; throws unless 200. Returns the body. */
  async score(items, context = CONTEXT) {
    const reply = await this.post("/score", { items, context });
    if (reply.status !== 200) throw new Error(`score: ${reply.status} ${reply.text}`);
    return reply.json;
  }

  /** Records one outcome (`what` = { item } or { impressionId }); throws unless 200. */
  async feedback(what, clicked, context = CONTEXT) {
    const reply = await this.post("/feedback", { ...what, clicked, context });
    if (reply.status !== 200) throw new Error(`feedback: ${reply.status} ${reply.text}`);
    return reply.json;
  }
}

/** Mean of score − base over the scored items of `genre`. */
/**
 * How far apart two lists of scores may be and still be "the same": the
 * Worker runs the relaxed-SIMD build, whose fused multiply-adds round in
 * the last bits differently for different batch plans (the general plan and
 * one fixed to a batch size), so the same item's base score can move by a
 * few ulps between calls.
 */
export const ULPS = 1e-6;

/** Asserts two lists of numbers equal within ULPS, naming the first that is not. */
export function assertClose(actual, expected, message = "") {
  if (actual.length !== expected.length) throw new Error(`${message}: ${actual.length} values, expected ${expected.length}`);
  actual.forEach((v, i) => {
    if (!(Math.abs(v - expected[i]) <= ULPS)) throw new Error(`${message}: [${i}] ${v} vs ${expected[i]}`);
  });
}

export function meanCorrection(scored, items, genre) {
  let sum = 0;
  let n = 0;
  scored.scores.forEach((s, i) => {
    if (items[i].genres[0] === genre) { sum += s.score - s.base; n += 1; }
  });
  return sum / n;
}
