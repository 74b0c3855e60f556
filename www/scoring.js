// Scores every movie for one profile with the session memory, in batches the
// model accepts, and ranks the feed by base and by compensated score.

/** Scores `movies` (model item objects) in `context`; returns { base, scores } Float32Arrays. */
export function scoreAll(session, maxBatch, movies, context) {
    const base = new Float32Array(movies.length);
    const scores = new Float32Array(movies.length);
    for (let i = 0; i < movies.length; i += maxBatch) {
        const detail = session.scoreDetailed(movies.slice(i, i + maxBatch), context);
        base.set(detail.base, i);
        scores.set(detail.scores, i);
    }
    return { base, scores };
}

/**
 * Ranks the feed: rows sorted by compensated score, each with its rank under
 * the base model (1-based) so the page can show how the memory reordered it.
 */
export function rankFeed(feed, scored, indexOf) {
    const rows = feed.map((movie) => {
        const i = indexOf.get(movie.itemId);
        return { movie, base: scored.base[i], score: scored.scores[i] };
    });
    [...rows].sort((a, b) => b.base - a.base || a.movie.itemId - b.movie.itemId).forEach((row, r) => (row.baseRank = r + 1));
    rows.sort((a, b) => b.score - a.score || a.movie.itemId - b.movie.itemId);
    rows.forEach((row, r) => (row.rank = r + 1));
    return rows;
}

/** Mean correction (compensated − base, in probability) per genre over all movies. */
export function correctionByGenre(movies, scored, genres) {
    const sum = new Map(genres.map((g) => [g, 0]));
    const count = new Map(genres.map((g) => [g, 0]));
    movies.forEach((movie, i) => {
        for (const g of movie.genres) {
            if (!sum.has(g)) continue;
            sum.set(g, sum.get(g) + (scored.scores[i] - scored.base[i]));
            count.set(g, count.get(g) + 1);
        }
    });
    return genres.map((g) => ({ genre: g, mean: count.get(g) ? sum.get(g) / count.get(g) : 0, movies: count.get(g) }));
}
