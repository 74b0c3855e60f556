// Cold start of the package, phase by phase, shared by the Node benchmark
// (benches/node/bench.mjs, a fresh process per run) and the Chromium one
// (benches/browser/builds.mjs, a fresh page per run, which imports this file
// from the served repository).

/** Phase names of `coldStart`'s result, in order. */
export const PHASES = ["import+read", "compile", "instantiate", "Model.bundled()", "new Session", "first score"];

/**
 * Imports the glue at `glueUrl`, gets the wasm bytes (`readBytes()`),
 * compiles them (`compile(bytes)`, sync or async), instantiates, loads the
 * bundled model, opens a session and scores one item; returns the
 * milliseconds of each of PHASES.
 */
export async function coldStart({ glueUrl, readBytes, compile }) {
  const t = [performance.now()];
  const mark = () => t.push(performance.now());
  const api = await import(glueUrl);
  const bytes = await readBytes();
  mark();
  const module = await compile(bytes);
  mark();
  api.initSync({ module });
  mark();
  const model = api.Model.bundled();
  mark();
  const session = new api.Session(model);
  mark();
  session.score([{ itemId: 50, genres: ["Action"], year: 1977 }],
    { userId: 1, age: 24, gender: "M", occupation: "writer", zip: "5", hour: 20, weekday: 5 });
  mark();
  return t.slice(1).map((x, i) => x - t[i]);
}
