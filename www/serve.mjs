// Serves the built demo site (target/www, from scripts/build-www.sh) as plain
// static files on 127.0.0.1. PORT=0 picks a free port; the URL is printed on
// the first line of stdout so tests and people can find it.
//
//   node www/serve.mjs [DIR]        (PORT, default 8080)
import { createServer } from "node:http";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import sirv from "sirv";

const dir = resolve(process.argv[2] ?? "target/www");
if (!existsSync(resolve(dir, "index.html"))) {
    console.error(`serve: ${dir}/index.html is missing; build the site first (bash scripts/build-www.sh)`);
    process.exit(1);
}
const port = Number(process.env.PORT ?? 8080);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`serve: PORT=${process.env.PORT} is not a port number`);
    process.exit(1);
}

// dev: no caching, so a rebuilt site is what the next reload gets.
const files = sirv(dir, { dev: true, etag: true });
const server = createServer((req, res) =>
    files(req, res, () => {
        res.statusCode = 404;
        res.end("not found");
    }));
server.on("error", (e) => {
    console.error(`serve: ${e.message}`);
    process.exit(1);
});
server.listen(port, "127.0.0.1", () => {
    console.log(`http://127.0.0.1:${server.address().port}/`);
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => server.close(() => process.exit(0)));
