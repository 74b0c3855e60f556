// Loads the JSON the build step exported from MovieLens (crates/tools/src/bin/demo_data.rs)
// and fails with a message that says what to do, not a bare parse error.

/** Fetches `path` (relative to the page) as JSON. */
export async function loadJson(path) {
    const url = new URL(`./${path}`, import.meta.url);
    let response;
    try {
        response = await fetch(url);
    } catch (e) {
        throw new Error(`could not fetch ${path}: ${e.message}`);
    }
    if (!response.ok) {
        throw new Error(`${path}: HTTP ${response.status}; build the site with scripts/build-www.sh (it exports the MovieLens data)`);
    }
    try {
        return await response.json();
    } catch (e) {
        throw new Error(`${path} is not valid JSON (${e.message}); rebuild the site`);
    }
}
