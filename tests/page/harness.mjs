// Test harness for the demo page: serves the built site (target/www, or
// $WWW_DIR) with www/serve.mjs on a free 127.0.0.1 port and drives Debian's
// Chromium headless through playwright-core. Missing pieces are failures,
// not skips: the page tests must not pass without the real module and data.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const root = resolve(import.meta.dirname, "../..");
export const site = resolve(root, process.env.WWW_DIR ?? "target/www");
export const output = resolve(root, "target/test-output/page");
const browserPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Throws naming what is missing and how to get it. */
export function requireBuiltSite() {
    const needed = {
        "index.html": "bash scripts/build-www.sh",
        "pkg/browser.js": "make pkg, then bash scripts/build-www.sh",
        "pkg/reloop_edge.js": "make pkg, then bash scripts/build-www.sh",
        "pkg/reloop_edge_relaxed_bg.wasm": "make pkg, then bash scripts/build-www.sh",
        "pkg/reloop_edge_bg.wasm": "make pkg, then bash scripts/build-www.sh",
        "vendor/uPlot.esm.js": "npm ci, then bash scripts/build-www.sh",
        "data/movies.json": "bash scripts/build-www.sh (exports the MovieLens data)",
        "data/users.json": "bash scripts/build-www.sh (exports the MovieLens data)",
        "data/stream.json": "bash scripts/build-www.sh (exports the MovieLens data)",
    };
    for (const [file, fix] of Object.entries(needed)) {
        if (!existsSync(join(site, file))) throw new Error(`${join(site, file)} is missing: run ${fix}`);
    }
    if (!existsSync(browserPath)) throw new Error(`${browserPath} is missing: apt-get install chromium (or set CHROMIUM)`);
    mkdirSync(output, { recursive: true });
}

/** Starts www/serve.mjs on a free port; resolves to { url, stop }. */
export function startServer() {
    const child = spawn(process.execPath, [join(root, "www/serve.mjs"), site], {
        env: { ...process.env, PORT: "0" },
        stdio: ["ignore", "pipe", "pipe"],
    });
    const stop = () => {
        if (child.exitCode === null) child.kill("SIGTERM");
    };
    return new Promise((resolveUrl, reject) => {
        let err = "";
        const timer = setTimeout(() => {
            stop();
            reject(new Error(`serve.mjs did not print its URL in 10 s: ${err}`));
        }, 10_000);
        child.stderr.on("data", (d) => (err += d));
        child.stdout.once("data", (d) => {
            clearTimeout(timer);
            const url = String(d).trim().split("\n")[0];
            if (!url.startsWith("http://127.0.0.1:")) {
                stop();
                reject(new Error(`serve.mjs printed ${url}`));
            } else resolveUrl({ url, stop });
        });
        child.on("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`serve.mjs exited with ${code}: ${err}`));
        });
    });
}

/** Launches headless Chromium with a fresh profile; resolves to { context, close }. */
export async function launchBrowser(viewport = { width: 1280, height: 800 }) {
    const dataDir = mkdtempSync(join(tmpdir(), "reloop-page-"));
    const context = await chromium.launchPersistentContext(dataDir, {
        executablePath: browserPath,
        headless: true,
        viewport,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    const close = async () => {
        await context.close().catch(() => {});
        rmSync(dataDir, { recursive: true, force: true });
    };
    return { context, close };
}

/** Collects console errors and uncaught page errors of `page`. */
export function watchErrors(page) {
    const errors = [];
    page.on("console", (msg) => {
        if (msg.type() === "error") errors.push(`console: ${msg.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    return errors;
}
