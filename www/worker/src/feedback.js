/**
 * POST /feedback: `{ item | impressionId, clicked, context }` → the outcome
 * is recorded into the caller's session memory (if the error filter keeps it).
 * By impression id: from what the token carries, with no model run (O(K));
 * by item: the model runs on it (`context` then matters).
 */
import { json } from "./errors.js";
import { checkImpressionId, unknownImpression } from "./impression.js";
import { withSession } from "./session.js";
import { badRequest, isObject, onlyFields, optionalObject } from "./shape.js";
import { readJsonObject } from "./body.js";

const FIELDS = ["item", "impressionId", "clicked", "context"];

/** Handles POST /feedback. */
export async function feedback(request, engine, config) {
  const body = await readJsonObject(request, config.maxBodyBytes);
  onlyFields(body, FIELDS);
  if ((body.item === undefined) === (body.impressionId === undefined)) {
    throw badRequest('give exactly one of "item" and "impressionId"');
  }
  if (body.item !== undefined && !isObject(body.item)) throw badRequest('"item" must be an object');
  const impressionId = body.impressionId === undefined ? undefined : checkImpressionId(body.impressionId);
  if (typeof body.clicked !== "boolean") throw badRequest('"clicked" must be true or false');
  const context = optionalObject(body.context, "context");

  const { result, session, headers } = await withSession(request, engine, config, (memory) => {
    if (impressionId === undefined) return memory.record(body.item, body.clicked, context);
    try {
      return memory.recordImpression(impressionId, body.clicked);
    } catch (error) {
      if (error?.code === "E_INVALID_INPUT") throw unknownImpression();
      throw error;
    }
  });
  // `recorded` is false when the error filter found the model already right enough.
  return json(200, { recorded: result, session }, headers);
}
