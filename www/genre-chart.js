// A small SVG bar chart: how the session memory currently moves each genre's
// scores (mean of compensated − base over every movie of the genre, in
// percentage points). Diverging bars around zero, with an axis and labels.

const NS = "http://www.w3.org/2000/svg";

function el(name, attrs, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
}

/** Nice symmetric axis limit (percentage points) for the largest |value|. */
function axisLimit(maxAbs) {
    for (const step of [1, 2, 5, 10, 20, 50, 100]) if (maxAbs <= step) return step;
    return 100;
}

/** Draws `rows` ([{ genre, mean, movies }]) into the `svg` element. */
export function drawGenreChart(svg, rows) {
    const labelW = 92;
    const rowH = 18;
    const top = 8;
    const width = 420;
    const plotW = width - labelW - 16;
    const height = top + rows.length * rowH + 40;
    svg.replaceChildren();
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const values = rows.map((r) => r.mean * 100);
    const limit = axisLimit(Math.max(0.5, ...values.map(Math.abs)));
    const x = (v) => labelW + ((v + limit) / (2 * limit)) * plotW;
    const bottom = top + rows.length * rowH;

    for (const t of [-limit, -limit / 2, 0, limit / 2, limit]) {
        svg.append(el("line", { x1: x(t), x2: x(t), y1: top, y2: bottom, class: t === 0 ? "axis-zero" : "grid" }));
        svg.append(el("text", { x: x(t), y: bottom + 14, class: "tick", "text-anchor": "middle" }, `${t > 0 ? "+" : ""}${t}`));
    }
    svg.append(el("text", { x: labelW + plotW / 2, y: bottom + 32, class: "axis-label", "text-anchor": "middle" },
        "mean correction of the genre's movies (percentage points)"));
    rows.forEach((row, i) => {
        const y = top + i * rowH;
        const v = values[i];
        svg.append(el("text", { x: labelW - 6, y: y + rowH * 0.7, class: "tick", "text-anchor": "end" }, row.genre));
        const x0 = x(Math.min(0, v));
        const bar = el("rect", {
            x: x0, y: y + 3, height: rowH - 6, width: Math.max(0.5, Math.abs(x(v) - x(0))),
            class: v >= 0 ? "bar-up" : "bar-down", "data-genre": row.genre, "data-mean": row.mean.toFixed(6),
        });
        bar.append(el("title", {}, `${row.genre}: ${v >= 0 ? "+" : ""}${v.toFixed(2)} points over ${row.movies} movies`));
        svg.append(bar);
    });
}
