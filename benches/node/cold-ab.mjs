// Cold start of two builds of the package, interleaved: each round starts a
// fresh Node process per package (`bench.mjs --cold reloop`), in a fresh
// random order, so a slow phase of a shared machine hits both alike. Prints
// per package the median of each phase (benches/common/cold.mjs) and of the
// total, with the total's range.
//
//   node benches/node/cold-ab.mjs A_PKG_DIR B_PKG_DIR [rounds = 8]
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PHASES } from "../common/cold.mjs";

const [a, b, roundsArg] = process.argv.slice(2);
if (!a || !b) {
  console.error("usage: node benches/node/cold-ab.mjs A_PKG_DIR B_PKG_DIR [rounds]");
  process.exit(2);
}
const rounds = Number(roundsArg ?? 8);
const bench = fileURLToPath(new URL("./bench.mjs", import.meta.url));
const runs = new Map([[a, []], [b, []]]);
for (let r = 0; r < rounds; r++) {
  const order = Math.random() < 0.5 ? [a, b] : [b, a];
  for (const pkg of order) {
    const out = execFileSync(process.execPath, [bench, "--cold", "reloop"], { env: { ...process.env, RELOOP_PKG: pkg }, encoding: "utf8" });
    runs.get(pkg).push(JSON.parse(out));
  }
}
const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const ms = (x) => x.toFixed(1);
console.log(`| package | total, median (range) | ${PHASES.join(" | ")} |`);
console.log(`|---|---:|${PHASES.map(() => "---:").join("|")}|`);
for (const [pkg, rs] of runs) {
  const totals = rs.map((phases) => phases.reduce((x, y) => x + y, 0));
  const phases = PHASES.map((_, i) => ms(median(rs.map((p) => p[i]))));
  console.log(`| ${pkg} | ${ms(median(totals))} (${ms(Math.min(...totals))}–${ms(Math.max(...totals))}) ms | ${phases.join(" | ")} |`);
}
