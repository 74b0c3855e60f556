// Bad requests in real workerd: each gets its documented status and code as
// JSON (no stack trace), and the isolate keeps serving after every one.
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, test } from "node:test";
import { startWorker } from "../../www/worker/workerd.mjs";
import { CONTEXT, Client, feed, postJson, request } from "./client.mjs";

let worker;
before(async () => { worker = await startWorker(); });
after(async () => { await worker?.stop(); });

const items = feed(4);
const json = { "content-type": "application/json" };

/** Asserts an error reply: status, code, the error shape only, nothing internal. */
function assertError(reply, status, code, messagePart) {
  assert.equal(reply.status, status, reply.text);
  assert.equal(reply.headers.get("content-type"), "application/json");
  assert.deepEqual(Object.keys(reply.json), ["error"]);
  assert.deepEqual(Object.keys(reply.json.error), ["code", "message"]);
  assert.equal(reply.json.error.code, code);
  if (messagePart) assert.ok(reply.json.error.message.includes(messagePart), reply.json.error.message);
  assert.doesNotMatch(reply.json.error.message, /\n|\.js:\d+|\.rs:\d+|wasm-function|\bat \S+ \(/, "no stack trace");
}

/** The isolate still answers: health, and a real score. */
async function stillServing() {
  assert.equal((await request(worker.url, "/health", { method: "GET" })).status, 200);
  const scored = await new Client(worker.url).score(items);
  assert.equal(scored.scores.length, items.length);
}

/**
 * A POST whose body is streamed in chunks (no Content-Length), via node:http.
 * The request is left open after the chunks: the reply must come while the
 * body is still streaming (the cap holds mid-stream); after `waitMs` without
 * one, the body is ended and the reply awaited anyway.
 */
function postStreaming(path, chunks, headers, waitMs = 5000) {
  return new Promise((resolve, reject) => {
    let ended = false;
    const req = httpRequest(`${worker.url}${path}`, { method: "POST", headers }, (res) => {
      let text = "";
      res.on("data", (d) => { text += d; });
      res.on("end", () => {
        if (!ended) req.destroy();
        resolve({
          status: res.statusCode,
          headers: new Headers(Object.entries(res.headers).map(([k, v]) => [k, String(v)])),
          text,
          json: JSON.parse(text),
          beforeEnd: !ended,
        });
      });
    });
    req.on("error", (error) => { if (!ended) reject(error); });
    for (const chunk of chunks) req.write(chunk);
    setTimeout(() => { ended = true; req.end(); }, waitMs).unref();
  });
}

const cases = [
  ["malformed JSON", () => request(worker.url, "/score", { body: '{"items": [', headers: json }), 400, "E_BAD_JSON"],
  ["a body that is not UTF-8", () => request(worker.url, "/score", { body: new Uint8Array([0x7b, 0xff, 0x7d]), headers: json }), 400, "E_BAD_JSON"],
  ["an empty body", () => request(worker.url, "/score", { body: "", headers: json }), 400, "E_BAD_JSON"],
  ["a JSON array body", () => postJson(worker.url, "/score", [items]), 400, "E_BAD_REQUEST", "JSON object"],
  ["a text/plain body", () => request(worker.url, "/score", { body: JSON.stringify({ items }), headers: { "content-type": "text/plain" } }), 415, "E_UNSUPPORTED_MEDIA_TYPE"],
  ["no content type", () => request(worker.url, "/feedback", { body: JSON.stringify({ item: items[0], clicked: true }) }), 415, "E_UNSUPPORTED_MEDIA_TYPE"],
  ["an oversized body", () => postJson(worker.url, "/score", { items, context: { ...CONTEXT, pad: "x".repeat(70000) } }), 413, "E_BODY_TOO_LARGE"],
  ["an oversized streamed body", () => postStreaming("/score", Array.from({ length: 9 }, () => "x".repeat(8192)), json), 413, "E_BODY_TOO_LARGE"],
  ["too many items", () => postJson(worker.url, "/score", { items: feed(201), context: CONTEXT }), 413, "E_TOO_MANY_ITEMS", "200"],
  ["an unknown field", () => postJson(worker.url, "/score", { items, contxt: CONTEXT }), 400, "E_UNKNOWN_FIELD", "contxt"],
  ["an unknown feedback field", () => postJson(worker.url, "/feedback", { item: items[0], clicked: true, weight: 2 }), 400, "E_UNKNOWN_FIELD", "weight"],
  ["no items", () => postJson(worker.url, "/score", { context: CONTEXT }), 400, "E_BAD_REQUEST", "items"],
  ["an empty items list", () => postJson(worker.url, "/score", { items: [], context: CONTEXT }), 400, "E_BAD_REQUEST", "items"],
  ["an item that is not an object", () => postJson(worker.url, "/score", { items: [items[0], 7], context: CONTEXT }), 400, "E_BAD_REQUEST", "items[1]"],
  ["a context that is not an object", () => postJson(worker.url, "/score", { items, context: "user 42" }), 400, "E_BAD_REQUEST", "context"],
  ["an ill-typed item field", () => postJson(worker.url, "/score", { items: [items[0], { ...items[1], year: "nineteen" }], context: CONTEXT }), 400, "E_INVALID_INPUT", "year"],
  ["a missing context field", () => postJson(worker.url, "/score", { items, context: { ...CONTEXT, age: undefined } }), 400, "E_INVALID_INPUT", "age"],
  ["a non-finite number", () => request(worker.url, "/score", { body: `{"items":[{"itemId":1,"year":1e999}],"context":${JSON.stringify(CONTEXT)}}`, headers: json }), 400, "E_INVALID_INPUT", "year"],
  ["feedback without clicked", () => postJson(worker.url, "/feedback", { item: items[0], context: CONTEXT }), 400, "E_BAD_REQUEST", "clicked"],
  ["feedback with clicked = 1", () => postJson(worker.url, "/feedback", { item: items[0], clicked: 1, context: CONTEXT }), 400, "E_BAD_REQUEST", "clicked"],
  ["feedback with item and impressionId", () => postJson(worker.url, "/feedback", { item: items[0], impressionId: "e30", clicked: true }), 400, "E_BAD_REQUEST", "exactly one"],
  ["feedback with neither", () => postJson(worker.url, "/feedback", { clicked: true }), 400, "E_BAD_REQUEST", "exactly one"],
  ["a forged impression id", () => postJson(worker.url, "/feedback", { impressionId: "not*base64", clicked: true, context: CONTEXT }), 400, "E_BAD_IMPRESSION"],
  ["an impression id that is not an item", () => postJson(worker.url, "/feedback", { impressionId: Buffer.from("[1,2]").toString("base64url"), clicked: true }), 400, "E_BAD_IMPRESSION"],
  ["GET /score", () => request(worker.url, "/score", { method: "GET" }), 405, "E_METHOD_NOT_ALLOWED"],
  ["POST /health", () => postJson(worker.url, "/health", {}), 405, "E_METHOD_NOT_ALLOWED"],
  ["an unknown path", () => request(worker.url, "/admin", { method: "GET" }), 404, "E_NOT_FOUND"],
];

for (const [name, send, status, code, messagePart] of cases) {
  test(`${name}: ${status} ${code}, and the isolate keeps serving`, async () => {
    assertError(await send(), status, code, messagePart);
    await stillServing();
  });
}

test("an oversized streamed body is refused before it ends", async () => {
  const reply = await postStreaming("/feedback", Array.from({ length: 9 }, () => "y".repeat(8192)), json);
  assertError(reply, 413, "E_BODY_TOO_LARGE");
  assert.ok(reply.beforeEnd, "the 413 came while the body was still open");
  await stillServing();
});

test("405 says which method the route takes", async () => {
  const reply = await request(worker.url, "/feedback", { method: "PUT", body: "{}", headers: json });
  assertError(reply, 405, "E_METHOD_NOT_ALLOWED");
  assert.equal(reply.headers.get("allow"), "POST");
});

test("a failed request leaves the session's memory as it was", async () => {
  const client = new Client(worker.url);
  await client.score(items);
  await client.feedback({ item: items[0] }, true);
  const before = await client.score(items);
  const bad = await client.post("/feedback", { item: { ...items[1], year: "x" }, clicked: true, context: CONTEXT });
  assertError(bad, 400, "E_INVALID_INPUT");
  const afterwards = await client.score(items);
  // Same scores; impression ids are new on every page.
  const scoresOf = (page) => page.scores.map(({ impressionId, ...rest }) => rest);
  assert.deepEqual(scoresOf(afterwards), scoresOf(before));
  assert.equal(afterwards.session.events, before.session.events);
});

test("a Worker without a usable TOKEN_SECRET refuses to serve (500 E_CONFIG), without crashing", async () => {
  const weak = await startWorker({ secret: "too short" });
  try {
    assertError(await request(weak.url, "/health", { method: "GET" }), 500, "E_CONFIG", "TOKEN_SECRET");
    assertError(await postJson(weak.url, "/score", { items, context: CONTEXT }), 500, "E_CONFIG");
    assertError(await request(weak.url, "/nowhere", { method: "GET" }), 404, "E_NOT_FOUND");
  } finally {
    await weak.stop();
  }
});
