// The replay panel: runs replay-worker.js on the chosen number of stream
// events, shows progress, plots rolling AUC and log-loss of the frozen base
// vs the compensated scores with uPlot as results arrive, and prints the
// final numbers.
import uPlot from "./vendor/uPlot.esm.js";

const fmt = (v, digits = 4) => (Number.isFinite(v) ? v.toFixed(digits) : "–");

function chart(target, title, yLabel, width) {
    const opts = {
        title,
        width,
        height: 240,
        scales: { x: { time: false } },
        axes: [
            { label: "stream events replayed (time order)", size: 44 },
            { label: yLabel, size: 64, values: (u, ticks) => ticks.map((t) => t.toFixed(3)) },
        ],
        series: [
            { label: "events" },
            { label: "frozen base", stroke: "#6b7280", width: 2, dash: [6, 4] },
            { label: "compensated (session memory)", stroke: "#1d4ed8", width: 2 },
        ],
        legend: { live: true },
    };
    return new uPlot(opts, [[], [], []], target);
}

/** Wires the replay controls inside `root`; `onError(message)` shows failures. */
export function setupReplay(root, onError) {
    const $ = (sel) => root.querySelector(sel);
    const start = $("#replay-start");
    const stop = $("#replay-stop");
    const size = $("#replay-size");
    const progress = $("#replay-progress");
    const status = $("#replay-status");
    const results = $("#replay-results");
    const charts = $("#replay-charts");
    let worker = null;
    let plots = null;

    // Two charts side by side on a wide screen, stacked on a narrow one (see .charts in style.css).
    const width = () => {
        const full = charts.clientWidth || 600;
        return Math.max(260, window.matchMedia("(max-width: 800px)").matches ? full : Math.floor((full - 16) / 2));
    };
    const finish = () => {
        worker?.terminate();
        worker = null;
        start.disabled = false;
        stop.disabled = true;
        size.disabled = false;
    };
    window.addEventListener("resize", () => plots?.forEach((p) => p.setSize({ width: width(), height: 240 })));

    stop.addEventListener("click", () => {
        finish();
        root.dataset.state = "stopped";
        status.textContent += " Stopped.";
    });

    start.addEventListener("click", () => {
        const limit = Number(size.value);
        const span = Math.max(500, Math.min(2000, Math.floor((limit || 40000) / 5)));
        charts.replaceChildren();
        results.replaceChildren();
        root.dataset.state = "running";
        const w = width();
        plots = [
            chart(charts, `Rolling AUC (last ${span.toLocaleString("en")} events) — higher is better`, "AUC", w),
            chart(charts, `Rolling log-loss (last ${span.toLocaleString("en")} events) — lower is better`, "log-loss", w),
        ];
        start.disabled = true;
        stop.disabled = false;
        size.disabled = true;
        progress.value = 0;
        status.textContent = "Loading the module and the stream…";
        worker = new Worker(new URL("./replay-worker.js", import.meta.url), { type: "module" });
        worker.onerror = (e) => {
            finish();
            root.dataset.state = "error";
            onError(`Replay worker failed: ${e.message || "could not load replay-worker.js"}`);
        };
        worker.onmessage = ({ data }) => {
            if (data.type === "progress") {
                progress.max = data.total;
                progress.value = data.done;
                status.textContent = `${data.done.toLocaleString("en")} / ${data.total.toLocaleString("en")} events, ${data.sessions.toLocaleString("en")} sessions, ${data.seconds.toFixed(1)} s`;
                const c = data.curve;
                const gaps = (ys) => ys.map((y) => (Number.isFinite(y) ? y : null)); // one-class windows have no AUC
                plots[0].setData([c.x, gaps(c.baseAuc), gaps(c.compAuc)]);
                plots[1].setData([c.x, gaps(c.baseLoss), gaps(c.compLoss)]);
            } else if (data.type === "done") {
                finish();
                root.dataset.state = "done";
                status.textContent = `Done: ${data.total.toLocaleString("en")} events, ${data.sessions.toLocaleString("en")} sessions in ${data.seconds.toFixed(1)} s.`;
                results.replaceChildren(resultTable(data));
            } else if (data.type === "error") {
                finish();
                root.dataset.state = "error";
                onError(`Replay failed: ${data.message}`);
            }
        };
        worker.postMessage({ type: "start", options: {}, limit, window: span, every: Math.max(100, Math.floor((limit || 40000) / 80)) });
    });
}

function resultTable(data) {
    const table = document.createElement("table");
    table.className = "results";
    const caption = document.createElement("caption");
    caption.textContent = "Final numbers (prequential: each event scored before its outcome is recorded)";
    table.append(caption);
    const head = table.createTHead().insertRow();
    for (const h of ["events", "AUC base", "AUC compensated", "log-loss base", "log-loss compensated", "Δ log-loss"]) {
        const th = document.createElement("th");
        th.textContent = h;
        th.scope = "col";
        head.append(th);
    }
    const body = table.createTBody();
    const add = (label, s, id) => {
        const tr = body.insertRow();
        tr.id = id;
        tr.dataset.baseAuc = s.base.auc;
        tr.dataset.compAuc = s.comp.auc;
        tr.dataset.baseLogloss = s.base.logloss;
        tr.dataset.compLogloss = s.comp.logloss;
        const change = (s.comp.logloss / s.base.logloss - 1) * 100;
        for (const text of [label, fmt(s.base.auc), fmt(s.comp.auc), fmt(s.base.logloss), fmt(s.comp.logloss), `${change >= 0 ? "+" : ""}${change.toFixed(1)}%`]) {
            tr.insertCell().textContent = text;
        }
    };
    add(`all ${data.all.events.toLocaleString("en")} replayed`, data.all, "result-all");
    if (data.reported) {
        add(`${data.reported.events.toLocaleString("en")} after the first ${data.tuneEvents.toLocaleString("en")} (native replay's reported part)`, data.reported, "result-reported");
    }
    return table;
}
