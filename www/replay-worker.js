// Web Worker: the prequential replay of the MovieLens test period, off the
// page's main thread so the page stays responsive. For each event in time
// order it scores the movie with the user's current session memory (frozen
// base and compensated score), then records the real outcome into that
// memory. Sessions are per user with a 1-hour gap, exactly like the native
// replay (crates/tools/src/replay/stream.rs, SESSION_GAP_SECONDS); every session starts
// with an empty memory and the chosen options (the package defaults unless
// the page says otherwise).
//
// Messages in:  { type: "start", limit, window, every, options }
// Messages out: { type: "ready" } | { type: "progress", ... } | { type: "done", ... } | { type: "error", message }
import init, { Model, Session } from "./pkg/browser.js";
import { auc, logloss } from "./metrics.js";
import { loadJson } from "./data.js";

/** Same as crates/tools/src/replay/stream.rs: a user's session ends after this many seconds without an event. */
const SESSION_GAP_SECONDS = 3600;

self.onmessage = async ({ data }) => {
    if (data.type !== "start") return;
    try {
        await replay(data);
    } catch (e) {
        self.postMessage({ type: "error", message: describe(e) });
    }
};

function describe(e) {
    return e && e.code ? `${e.code}: ${e.message}` : String(e && e.message ? e.message : e);
}

async function replay({ limit, window, every, options }) {
    const [, stream, movies, users] = await Promise.all([
        init(),
        loadJson("data/stream.json"),
        loadJson("data/movies.json"),
        loadJson("data/users.json"),
    ]);
    const model = Model.bundled();
    const byId = new Map(movies.movies.map((m) => [m.itemId, m]));
    const total = Math.min(limit > 0 ? limit : Infinity, stream.label.length);
    const labels = Uint8Array.from(stream.label.slice(0, total));
    const base = new Float32Array(total);
    const comp = new Float32Array(total);
    /** userId → { session, last, id }: the user's open session. */
    const open = new Map();
    let sessions = 0;
    const curve = { x: [], baseAuc: [], compAuc: [], baseLoss: [], compLoss: [] };
    const started = performance.now();

    for (let i = 0; i < total; i++) {
        const user = stream.user[i];
        const t = stream.timestamp[i];
        let s = open.get(user);
        if (!s || t - s.last > SESSION_GAP_SECONDS) {
            s?.session.free();
            s = { session: new Session(model, options), last: t };
            open.set(user, s);
            sessions++;
        }
        s.last = t;
        const movie = byId.get(stream.item[i]);
        if (!movie) throw new Error(`stream event ${i}: movie ${stream.item[i]} is not in movies.json`);
        const context = { ...users[user], hour: stream.hour[i], weekday: stream.weekday[i] };
        if (!context.userId) throw new Error(`stream event ${i}: user ${user} is not in users.json`);
        // Score first (remembering the impression), then record what really happened.
        const id = String(i);
        const detail = s.session.scoreDetailed([movie], context, [id]);
        base[i] = detail.base[0];
        comp[i] = detail.scores[0];
        s.session.recordImpression(id, labels[i] === 1);

        const done = i + 1;
        if (done % every === 0 || done === total) {
            const from = Math.max(0, done - window);
            curve.x.push(done);
            curve.baseAuc.push(auc(base, labels, from, done));
            curve.compAuc.push(auc(comp, labels, from, done));
            curve.baseLoss.push(logloss(base, labels, from, done));
            curve.compLoss.push(logloss(comp, labels, from, done));
            self.postMessage({ type: "progress", done, total, sessions, curve, seconds: (performance.now() - started) / 1000 });
        }
    }
    for (const s of open.values()) s.session.free();

    const summary = (from, to) => ({
        events: to - from,
        base: { auc: auc(base, labels, from, to), logloss: logloss(base, labels, from, to) },
        comp: { auc: auc(comp, labels, from, to), logloss: logloss(comp, labels, from, to) },
    });
    self.postMessage({
        type: "done",
        total,
        sessions,
        seconds: (performance.now() - started) / 1000,
        all: summary(0, total),
        // The native replay's reported part: after the first 25% of the full stream.
        reported: total > stream.tuneEvents ? summary(stream.tuneEvents, total) : null,
        tuneEvents: stream.tuneEvents,
        streamEvents: stream.label.length,
    });
}
