/**
 * The model this Worker serves.
 *
 * As shipped: `null`, the package's bundled MovieLens model. Your own model:
 * drop its files into `www/worker/model/` and export them here, e.g.
 *
 *   import onnx from "../model/model.onnx";      // wrangler rule "Data": an ArrayBuffer
 *   import spec from "../model/spec.json";       // a JSON module: the spec object
 *   import options from "../model/options.json"; // optional: `reloop replay`'s tuned options
 *   export default { onnx, spec, options };
 *
 * Optionally add `warmUp: { items, context, batchSizes }`: a sample page of
 * your items, run through a session at start-up for each batch size (default
 * `[items.length]`: the page size your clients send), so that the first
 * requests are as fast as later ones (warmup.js). Without it only the model
 * is warmed.
 *
 * Why a module and not a download: the model is part of the deployed bundle
 * (no fetch on the first request, no second origin to trust), and loading is
 * checked like any `Model.fromOnnx`: a spec that does not fit the model makes
 * every request (GET /health first) a 500 E_MODEL or E_INVALID_CONFIG, with
 * the message naming the key or field in the Worker's log, never a crash.
 * Check it before deploying: `reloop check model.onnx spec.json`.
 *
 * @type {{ onnx: ArrayBuffer | Uint8Array, spec: object | string, options?: object,
 *          warmUp?: { items: object[], context?: object, batchSizes?: number[] } } | null}
 */
export default null;
