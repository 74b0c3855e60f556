// The replay panel in real Chromium: streams the first 5,000 events of the
// MovieLens test period through the wasm module (in a Web Worker) with
// per-session memories, shows progress while the page stays responsive,
// and ends with a compensated log-loss below the frozen base's.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { requireBuiltSite, startServer, launchBrowser, watchErrors, output } from "./harness.mjs";

let server;
let browser;

before(async () => {
    requireBuiltSite();
    server = await startServer();
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    server?.stop();
});

test("the replay of a test-period subset ends with a compensated log-loss below the base's", async () => {
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.goto(server.url);
    await page.waitForSelector("body[data-ready='true']");
    // The main thread must stay responsive: record the longest gap between 50 ms timer ticks during the run
    // (the replay itself takes seconds of CPU: on the main thread it would show as one long gap).
    await page.evaluate(() => {
        let last = performance.now();
        window.longestGap = 0;
        setInterval(() => {
            const now = performance.now();
            window.longestGap = Math.max(window.longestGap, now - last);
            last = now;
        }, 50);
    });
    await page.selectOption("#replay-size", "5000");
    await page.click("#replay-start");
    await page.waitForFunction(() => Number(document.querySelector("#replay-progress").value) > 0, null, { timeout: 60_000 });
    await page.waitForFunction(() => ["done", "error"].includes(document.querySelector("#replay").dataset.state), null, { timeout: 180_000 });
    assert.equal(await page.getAttribute("#replay", "data-state"), "done", await page.textContent("#error"));
    const all = await page.$eval("#result-all", (tr) => ({ ...tr.dataset }));
    const n = (k) => Number(all[k]);
    console.log(`replay of 5000 events: base AUC ${n("baseAuc").toFixed(4)} logloss ${n("baseLogloss").toFixed(4)}; compensated AUC ${n("compAuc").toFixed(4)} logloss ${n("compLogloss").toFixed(4)}`);
    for (const k of ["baseAuc", "compAuc", "baseLogloss", "compLogloss"]) assert.ok(Number.isFinite(n(k)), `${k} = ${all[k]}`);
    assert.ok(n("compLogloss") < n("baseLogloss"), `compensated log-loss ${n("compLogloss")} is not below the base's ${n("baseLogloss")}`);
    assert.ok(n("compAuc") > n("baseAuc"), `compensated AUC ${n("compAuc")} is not above the base's ${n("baseAuc")}`);
    // The frozen model on real data is a real model: far from chance, far from perfect.
    assert.ok(n("baseAuc") > 0.6 && n("baseAuc") < 0.8, `base AUC ${n("baseAuc")}`);
    assert.equal(await page.$eval("#replay-progress", (p) => p.value === p.max), true);
    const gap = await page.evaluate(() => window.longestGap);
    assert.ok(gap < 1000, `the page froze for ${gap.toFixed(0)} ms during the replay`);
    // Both charts drew their series (uPlot: one canvas and a legend each).
    assert.equal(await page.locator("#replay-charts .uplot").count(), 2);
    assert.equal(await page.locator("#replay-charts .u-legend").count(), 2);

    await page.locator("#replay").scrollIntoViewIfNeeded();
    await page.locator("#replay").screenshot({ path: join(output, "replay.png") });
    assert.deepEqual(errors, []);
    await page.close();
});

test("the page fits a narrow (mobile-width) viewport", async () => {
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(server.url);
    await page.waitForSelector("body[data-ready='true']");
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(await overflow() <= 0, `the page is ${await overflow()}px wider than a 390px viewport`);
    // The replay's charts and result table fit too.
    await page.selectOption("#replay-size", "5000");
    await page.click("#replay-start");
    await page.waitForFunction(() => document.querySelector("#replay").dataset.state === "done", null, { timeout: 180_000 });
    assert.ok(await overflow() <= 0, `after the replay the page is ${await overflow()}px wider than a 390px viewport`);
    assert.equal(await page.isVisible("#feed-body tr:first-child button.like"), true);
    await page.locator("#feed-body").scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(output, "feed-mobile.png") });
    assert.deepEqual(errors, []);
    await page.close();
});
