/**
 * reloop-edge Worker: per-session CTR compensation at the edge.
 *
 * Routes: POST /score, POST /feedback, GET /health. The session memory travels
 * with the client as a signed token (token.js, carrier.js); the model is
 * loaded once per isolate (engine.js). Every failure is a coded JSON error
 * (errors.js); the response's Server-Timing header gives the time spent in
 * the Worker (what the load run reports as in-Worker latency).
 */
import { getEngine } from "./engine.js";
import { settings } from "./config.js";
import { HttpError, errorResponse } from "./errors.js";
import { feedback } from "./feedback.js";
import { health } from "./health.js";
import { score } from "./score.js";

const ROUTES = {
  "/score": { method: "POST", handle: score },
  "/feedback": { method: "POST", handle: feedback },
  "/health": { method: "GET", handle: health },
};

export default {
  async fetch(request, env) {
    const started = performance.now();
    let response;
    try {
      response = await route(request, env);
    } catch (error) {
      response = errorResponse(error);
    }
    response.headers.set("server-timing", `worker;dur=${(performance.now() - started).toFixed(3)}`);
    return response;
  },
};

async function route(request, env) {
  const { pathname } = new URL(request.url);
  const found = Object.hasOwn(ROUTES, pathname) ? ROUTES[pathname] : undefined;
  if (found === undefined) throw new HttpError(404, "E_NOT_FOUND", `no route ${pathname.slice(0, 64)}`);
  if (request.method !== found.method) {
    throw new HttpError(405, "E_METHOD_NOT_ALLOWED", `${pathname} takes ${found.method}`, { allow: found.method });
  }
  const engine = getEngine();
  return found.handle(request, engine, settings(env, engine.model.maxBatch));
}
