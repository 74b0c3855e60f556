// The two memory settings the page offers, for the feed and the replay.
// "recommended" is the package's default (tuned on the replay's tuning part):
// besides similar movies it pools the whole memory, so a few likes mostly
// shift the user's scores together and keep the model's ranking. "local"
// keeps each correction with similar movies (buckets only, quick to trust),
// so the feed visibly reorders; the replay shows what that costs.

export const SETTINGS = {
    local: {
        label: "Similar movies only (pool 0, n0 0.1)",
        options: { pool: 0, n0: 0.1 },
    },
    recommended: {
        label: "Recommended defaults (also a session-wide offset)",
        options: {},
    },
};

/** The options of setting `name`, or an error naming it. */
export function optionsOf(name) {
    const setting = SETTINGS[name];
    if (!setting) throw new Error(`unknown memory setting "${name}"`);
    return setting.options;
}

/** Fills `select` with the settings and selects `initial`. */
export function fillSettings(select, initial) {
    for (const [name, s] of Object.entries(SETTINGS)) select.add(new Option(s.label, name));
    select.value = initial;
}
