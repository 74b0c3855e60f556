// Your own model from the command line to a Session in Node: a generated
// model with other fields than MovieLens goes `reloop inspect` → the draft,
// edited as a user would → `reloop check` → `reloop replay` → options.json
// → `new Session(Model.fromOnnx(...), options)` from the built package.
// The package's scores and key vectors equal `reloop check`'s natively.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import init, { Model, Session } from "../../pkg/reloop_edge.js";

const RELOOP = process.env.RELOOP_BIN;
let dir;
const run = (...args) => execFileSync(RELOOP, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const runErr = (...args) => execFileSync(RELOOP, args, { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });

before(async () => {
  assert.ok(RELOOP, "RELOOP_BIN (the reloop binary) is not set: run `make test-cli`");
  await init({ module_or_path: readFileSync(new URL("../../pkg/reloop_edge_bg.wasm", import.meta.url)) });
  dir = mkdtempSync(join(tmpdir(), "reloop-pipeline-"));
});
after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

test("inspect → edited draft → check → replay → options → new Session", () => {
  run("example", dir, "--events", "4000", "--quiet");
  const file = (name) => join(dir, name);
  const onnx = readFileSync(file("model.onnx"));
  // The example's spec stands for what the user knows of their training: the encodings.
  const trained = JSON.parse(readFileSync(file("spec.json"), "utf8"));

  // inspect: the graph and a draft that already loads.
  const notes = execFileSync(RELOOP, ["inspect", file("model.onnx"), "--out", file("draft.json")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  const draft = JSON.parse(readFileSync(file("draft.json"), "utf8"));
  assert.deepEqual(draft.inputs.map((i) => [i.name, i.dtype, i.columns.length]), [["ids", "i64", 3], ["dense", "f32", 4]]);
  assert.equal(draft.outputs.probability, "ctr");
  assert.equal(draft.outputs.kind, "probability");
  assert.equal(draft.p0, undefined);
  const asIs = Model.fromOnnx(onnx, draft);
  assert.equal(asIs.p0, null);
  assert.throws(() => new Session(asIs), (e) => e.code === "E_INVALID_CONFIG" && /p0/.test(e.message));
  void notes;

  // The edit: the log's column names and the training encodings, and an item-side key.
  const edited = {
    ...draft,
    inputs: [
      { name: "ids", dtype: "i64", columns: ["site", "ad", "hour"] },
      { name: "dense", dtype: "f32", columns: ["device", "price"] },
    ],
    fields: trained.fields,
    outputs: { ...draft.outputs, hidden: [{ node: "emb_flat", columns: [8, 16] }] },
  };
  writeFileSync(file("edited.json"), JSON.stringify(edited, null, 2));

  // check: every load-time check, the index ranges, and p0/mu from the log.
  const checked = JSON.parse(run("check", file("model.onnx"), file("edited.json"), file("events.jsonl"), "--label", "label", "--show", "3", "--json"));
  assert.equal(checked.hidden_dim, 8);
  assert.ok(checked.index_uses.every((u) => u.fits && u.exact), JSON.stringify(checked.index_uses));
  assert.ok(checked.label_rate > 0.1 && checked.label_rate < 0.9);

  // replay: the completed spec (p0 from the tuning part), the tuned options, a verdict.
  const report = run("replay", file("model.onnx"), file("edited.json"), file("events.jsonl"),
    "--rounds", "1", "--bootstrap", "20", "--out", file("replay"), "--quiet");
  assert.match(report, /\*\*Verdict\*\*/);
  const spec = JSON.parse(readFileSync(file("replay/spec.json"), "utf8"));
  const options = JSON.parse(readFileSync(file("replay/options.json"), "utf8"));
  assert.ok(spec.p0 > 0 && spec.p0 < 1);

  // The package: the same model and spec, the replay's options.
  const model = Model.fromOnnx(onnx, spec);
  assert.deepEqual(model.fields, ["ad", "device", "hour", "price", "site"]);
  const session = new Session(model, options);
  for (const [key, value] of Object.entries(options)) {
    const got = session.options[key];
    if (typeof value === "number") assert.ok(Math.abs(got - value) <= 1e-6 * Math.max(1, Math.abs(value)), `${key}: ${got} vs ${value}`);
    else assert.deepEqual(got, value, key);
  }
  // The first rows of the log score as `reloop check` scored them natively.
  const rows = readFileSync(file("events.jsonl"), "utf8").split("\n").slice(0, 3).map((l) => JSON.parse(l));
  const detail = session.scoreDetailed(rows, null, null, { hidden: true });
  checked.rows.forEach((r, i) => {
    assert.ok(Math.abs(detail.base[i] - r.y_base) < 1e-5, `row ${i}: ${detail.base[i]} vs ${r.y_base}`);
    r.hidden.forEach((h, j) => assert.ok(Math.abs(detail.hidden[i * 8 + j] - h) < 1e-5, `row ${i} key ${j}`));
  });
  // And the loop corrects: clicks on one ad lift it.
  const item = { site: "s3", ad: "ad16", hour: 14, device: "web", price: 9.5 };
  const before = session.score([item])[0];
  for (let i = 0; i < 4; i++) session.record(item, true);
  assert.ok(session.score([item])[0] > before, "clicks lifted the ad");
});

test("bad input to the tool names the line and field, and writes nothing", () => {
  const file = (name) => join(dir, name);
  const lines = readFileSync(file("events.jsonl"), "utf8").trim().split("\n");
  const row = JSON.parse(lines[99]);
  row.price = "free";
  lines[99] = JSON.stringify(row);
  writeFileSync(file("bad.jsonl"), lines.join("\n"));
  let stderr = "";
  try {
    runErr("replay", file("model.onnx"), file("edited.json"), file("bad.jsonl"), "--out", file("bad-out"), "--quiet");
    assert.fail("replay accepted a bad row");
  } catch (e) {
    stderr = String(e.stderr);
  }
  assert.match(stderr, /line 100: field `price` must be a number/);
  assert.throws(() => readFileSync(file("bad-out/options.json")), /ENOENT/);
});
