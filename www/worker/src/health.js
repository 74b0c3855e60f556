/**
 * GET /health: which model and package this isolate serves, and its limits.
 * Loading the model here too makes it a real readiness check; the wasm
 * memory size shows how much of the isolate's memory the package holds.
 */
import { startup } from "./engine.js";
import { json } from "./errors.js";

/** Handles GET /health. */
export function health(_request, engine, config) {
  const { model } = engine;
  return json(200, {
    ok: true,
    model: { id: engine.modelId, source: engine.source, fields: engine.fields, hiddenDim: model.hiddenDim, maxBatch: model.maxBatch },
    package: engine.package,
    limits: {
      maxBodyBytes: config.maxBodyBytes, maxItems: config.maxItems, tokenTtlSeconds: config.tokenTtlSeconds,
      savedImpressions: config.savedImpressions,
    },
    // Counts against the isolate's 128 MB; its high-water mark, since wasm memory never shrinks.
    wasmMemoryBytes: engine.wasmMemory.buffer.byteLength,
    // Where the model was loaded (global scope unless that failed) and random numbers drawn meanwhile.
    startup,
  });
}
