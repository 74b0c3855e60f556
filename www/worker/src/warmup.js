/**
 * The isolate's warm-up, run at global scope right after the model loads,
 * so that its first requests take about as long as later ones.
 *
 * What a first request used to pay (workerd, bundled model, `POST /score`
 * of 100 items; 9–15 ms in the Worker against 1–2 ms warm, and 6 ms again
 * for the second request): the first run of the session, reading, encoding,
 * memory and save code, and the plan fixed to the batch size on its second
 * run. So the warm-up fixes a plan to each of `batchSizes` now
 * (`model.warmUp(batchSizes)`), then runs the request's path on a sample
 * page of each size: a session scores it with impression ids, is saved,
 * restored, records one impression and is saved again. Sessions are
 * discarded; nothing is drawn at random (Workers refuse that at global
 * scope) and no state is left but the model's plans.
 *
 * The bundled model warms with a sample page of 100 MovieLens items. Your
 * own model (model.js) warms with its `warmUp: { items, context, batchSizes }`
 * if it gives one (`items` are cycled to each batch size; `batchSizes`
 * defaults to `[items.length]`), else with `model.warmUp()` alone.
 */

/** The bundled model's sample page: 100 items, four genres, and a context. */
export const BUNDLED_SAMPLE = Object.freeze({
  items: Array.from({ length: 100 }, (_, i) => ({
    itemId: 1 + i * 13, genres: [["Drama"], ["Comedy", "Romance"], ["Action", "Sci-Fi"], ["Horror"]][i % 4], year: 1970 + (i % 29),
  })),
  context: { userId: 1, age: 30, gender: "F", occupation: "other", zip: "1", hour: 12, weekday: 3 },
});

/**
 * Warms `model` for `sample` (or only the model when `sample` is null);
 * sessions get `options`. Returns what was warmed, for GET /health.
 * Throws what the package throws (the caller records it).
 */
export function warmUp({ model, Session }, sample, options) {
  if (!sample) {
    model.warmUp();
    return { batchSizes: [], sessions: 0 };
  }
  const batchSizes = sample.batchSizes ?? [sample.items.length];
  model.warmUp(batchSizes);
  let sessions = 0;
  for (const n of batchSizes) {
    const items = Array.from({ length: n }, (_, i) => sample.items[i % sample.items.length]);
    const ids = Array.from({ length: n }, (_, i) => `warm-${i}`);
    const fresh = new Session(model, options);
    let saved;
    try {
      fresh.scoreDetailed(items, sample.context, ids);
      saved = fresh.save();
    } finally {
      fresh.free();
    }
    const restored = new Session(model, options, saved);
    try {
      restored.recordImpression(ids[n - 1], true);
      restored.save();
    } finally {
      restored.free();
    }
    sessions += 2;
  }
  return { batchSizes: [...batchSizes], sessions };
}
