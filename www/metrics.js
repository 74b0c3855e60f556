// Click-prediction metrics of the replay, computed like the native replay
// (crates/tools/src/metrics.rs): AUC with ties counted half, mean log-loss with
// probabilities clipped to [1e-7, 1 - 1e-7].

const EPS = 1e-7;

/** Log-loss of one prediction `p` for label `y` (0 or 1). */
export function logloss1(p, y) {
    const q = Math.min(Math.max(p, EPS), 1 - EPS);
    return y ? -Math.log(q) : -Math.log(1 - q);
}

/** Mean log-loss of `scores[from..to]` against `labels`. */
export function logloss(scores, labels, from = 0, to = labels.length) {
    let sum = 0;
    for (let i = from; i < to; i++) sum += logloss1(scores[i], labels[i]);
    return to > from ? sum / (to - from) : NaN;
}

/**
 * Area under the ROC curve of `scores[from..to]` (rank statistic; tied scores
 * count half). NaN when the range holds only one class.
 */
export function auc(scores, labels, from = 0, to = labels.length) {
    const n = to - from;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = from + i;
    order.sort((a, b) => scores[a] - scores[b]);
    let positives = 0;
    let rankSum = 0;
    for (let i = 0; i < n;) {
        let j = i;
        while (j < n && scores[order[j]] === scores[order[i]]) j++;
        const midRank = (i + j + 1) / 2; // 1-based average rank of the tie group
        for (let k = i; k < j; k++) {
            if (labels[order[k]]) {
                positives++;
                rankSum += midRank;
            }
        }
        i = j;
    }
    const negatives = n - positives;
    if (positives === 0 || negatives === 0) return NaN;
    return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}
