/*
 * `import { Model, Session } from "reloop-edge"` initialises the package itself in Node and
 * Cloudflare Workers; in a browser, `await init()` (the default export) once first.
 * Then: const model = Model.bundled(); const session = new Session(model, options, savedBytes);
 *
 * `Model<I, C>`, `Session<I, C>` and `Catalog<I>` carry the item and context types of a
 * model: `Model.bundled()` is a `Model<MovieLensItem, MovieLensContext>`, so a session of it
 * refuses, at compile time, an item whose `itemId` is a string; `Model.fromOnnx<MyItem,
 * MyContext>(...)` names your model's; left out, they are `Item` (any fields).
 */
declare global {
    /** ES2025's `Symbol.dispose`, declared as TypeScript's own `esnext.disposable` lib does, so
     * the classes' `[Symbol.dispose]()` type-checks under older `lib`/`target` settings too. */
    interface SymbolConstructor { readonly dispose: unique symbol }
}
/** One item, or the shared context (e.g. the user's features): field name → value.
 * Each field the model reads (`model.fields`) is read as `item[name]` reads it (own or
 * inherited, getters run; `toJSON` is not applied); other properties are ignored. A field
 * missing from both the item and the context takes the spec's default or is an
 * `E_INVALID_INPUT` error naming it. */
export type Item = { [field: string]: FieldValue | unknown };
/** What a field the model reads may hold. `null`/`undefined` count as missing; numbers
 * must be finite; a BigInt must fit 64 signed bits; lists hold scalars only. */
export type FieldValue = string | number | bigint | boolean | null | undefined | Array<string | number | bigint | boolean>;

/** An item of the bundled MovieLens model (`Model.bundled()`). */
export interface MovieLensItem { itemId: number; genres?: string[]; year?: number; [other: string]: unknown }
/** The context of the bundled MovieLens model: the user and the moment (UTC). */
export interface MovieLensContext {
  userId: number; age: number; gender: "M" | "F"; occupation: string; zip: string;
  hour: number; weekday: number; [other: string]: unknown
}

/** `session.scoreDetailed(...)`: per item, the compensated score, the model's own
 * probability and their difference; with `{ hidden: true }`, the key vectors the model
 * gave, `items.length × model.hiddenDim` row-major (the memory hashes them minus `model.mu`). */
export interface ScoreDetail { scores: Float32Array; base: Float32Array; corrections: Float32Array; hidden?: Float32Array }
/** The fourth argument of `session.scoreDetailed`: what to return besides the scores. */
export interface ScoreDetailOptions { hidden?: boolean }

/** Every error thrown by reloop-edge. */
export interface ReloopError extends Error {
  name: "ReloopError";
  code: "E_INVALID_INPUT" | "E_INVALID_CONFIG" | "E_MODEL" | "E_CORRUPT_MEMORY"
      | "E_MODEL_MISMATCH" | "E_UNSUPPORTED_VERSION" | "E_NOT_INITIALISED";
}
