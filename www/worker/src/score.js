/**
 * POST /score: `{ items: [...], context: {...} }` → the compensated score of
 * each item in the caller's session, its base score and an impression id.
 */
import { HttpError, json } from "./errors.js";
import { pageIds } from "./impression.js";
import { withSession } from "./session.js";
import { badRequest, isObject, onlyFields, optionalObject } from "./shape.js";
import { readJsonObject } from "./body.js";

const FIELDS = ["items", "context"];

/** Handles POST /score. */
export async function score(request, engine, config) {
  const body = await readJsonObject(request, config.maxBodyBytes);
  onlyFields(body, FIELDS);
  const { items } = body;
  if (!Array.isArray(items) || items.length === 0) throw badRequest('"items" must be a non-empty array');
  if (items.length > config.maxItems) {
    throw new HttpError(413, "E_TOO_MANY_ITEMS", `at most ${config.maxItems} items per request (got ${items.length})`);
  }
  const bad = items.findIndex((item) => !isObject(item));
  if (bad >= 0) throw badRequest(`items[${bad}] must be an object`);
  const context = optionalObject(body.context, "context");

  // Each item's impression (base score and buckets) is remembered under its
  // id and saved in the token, so /feedback needs no model run.
  const ids = pageIds(items.length);
  const { result, session, headers } = await withSession(request, engine, config,
    (memory) => memory.scoreDetailed(items, context, ids));
  const scores = items.map((item, i) => ({
    id: item.id ?? i,
    score: result.scores[i],
    base: result.base[i],
    impressionId: ids[i],
  }));
  return json(200, { scores, model: engine.modelId, session }, headers);
}
