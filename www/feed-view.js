// Renders the ranked feed: one row per movie with its rank (and how far the
// memory moved it from the base model's rank), title, year, genres, the base
// and compensated scores side by side, and Like / Skip buttons.

const percent = (p) => `${(p * 100).toFixed(1)}%`;

/** "Star Wars (1977)" → "Star Wars": the year has its own column. */
export function displayTitle(title) {
    return title.replace(/\s*\(\d{4}\)\s*$/, "");
}

function cell(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
}

function rankMove(row) {
    const moved = row.baseRank - row.rank;
    const span = cell("span", moved > 0 ? "move up" : moved < 0 ? "move down" : "move same");
    span.textContent = moved > 0 ? `▲${moved}` : moved < 0 ? `▼${-moved}` : "=";
    span.title = `rank ${row.baseRank} under the base model`;
    span.setAttribute("aria-label", moved === 0 ? "same rank as the base model" : `${Math.abs(moved)} places ${moved > 0 ? "up" : "down"} from the base model's rank ${row.baseRank}`);
    return span;
}

function scoreBars(row) {
    const wrap = cell("div", "bars");
    const base = cell("div", "bar base");
    base.style.width = percent(row.base);
    const comp = cell("div", "bar comp");
    comp.style.width = percent(row.score);
    wrap.append(base, comp);
    wrap.setAttribute("aria-hidden", "true");
    return wrap;
}

/**
 * Replaces the body of `tbody` with `rows` (from rankFeed). `onRecord(movie,
 * clicked)` is called by the Like (clicked) and Skip (not clicked) buttons.
 * Rows whose rank differs from `previous` (itemId → rank of the last render)
 * flash, so the effect of the last action is easy to spot.
 */
export function renderFeed(tbody, rows, onRecord, previous = new Map()) {
    const out = rows.map((row) => {
        const { movie } = row;
        const tr = document.createElement("tr");
        tr.dataset.itemId = movie.itemId;
        tr.dataset.genres = movie.genres.join("|");
        tr.dataset.base = row.base;
        tr.dataset.score = row.score;
        tr.dataset.rank = row.rank;
        tr.dataset.baseRank = row.baseRank;
        if (previous.has(movie.itemId) && previous.get(movie.itemId) !== row.rank) tr.classList.add("moved");

        const rank = cell("td", "rank");
        rank.append(cell("span", "rank-num", String(row.rank)), rankMove(row));
        const title = cell("td", "movie");
        title.append(cell("span", "title", displayTitle(movie.title)), cell("span", "year", movie.year ? ` ${movie.year}` : ""));
        const genres = cell("div", "genres");
        for (const g of movie.genres) genres.append(cell("span", "genre", g));
        title.append(genres);
        const scores = cell("td", "scores");
        const numbers = cell("div", "numbers");
        numbers.append(cell("span", "num base", percent(row.base)), cell("span", "arrow", "→"), cell("span", "num comp", percent(row.score)));
        const delta = row.score - row.base;
        const change = cell("span", `delta ${delta > 0.0005 ? "up" : delta < -0.0005 ? "down" : "same"}`, `${delta >= 0 ? "+" : "−"}${(Math.abs(delta) * 100).toFixed(1)}`);
        change.title = "compensated − base, percentage points";
        numbers.append(change);
        scores.append(numbers, scoreBars(row));
        const actions = cell("td", "actions");
        const like = cell("button", "like", "Like");
        like.type = "button";
        like.setAttribute("aria-label", `Like ${movie.title}`);
        like.addEventListener("click", () => onRecord(movie, true));
        const skip = cell("button", "skip", "Skip");
        skip.type = "button";
        skip.setAttribute("aria-label", `Skip ${movie.title}`);
        skip.addEventListener("click", () => onRecord(movie, false));
        actions.append(like, skip);
        tr.append(rank, title, scores, actions);
        return tr;
    });
    tbody.replaceChildren(...out);
}
