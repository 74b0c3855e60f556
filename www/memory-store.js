// Keeps a profile's session memory in localStorage as the package's saved
// bytes (base64). What comes back from storage is untrusted: anything the
// package refuses (corrupt, unknown version, another model) starts a fresh
// memory and the caller is told why, instead of breaking the page.
import { Session } from "./pkg/browser.js";

const PREFIX = "reloop-edge-demo:memory:";

function toBase64(bytes) {
    let text = "";
    for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return btoa(text);
}

function fromBase64(text) {
    const raw = atob(text); // throws on invalid base64
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

/**
 * Opens the memory saved for `profileKey`, or a fresh one, with the estimator
 * `options` (they may differ from the saved ones: the memory's layout comes
 * from the bytes, its estimator from `options`).
 * Returns `{ session, notice }`: `notice` is a message for the user when the
 * saved memory could not be used (null otherwise).
 */
export function openMemory(model, profileKey, options = {}) {
    const key = PREFIX + profileKey;
    let stored = null;
    try {
        stored = localStorage.getItem(key);
    } catch (e) {
        return { session: new Session(model, options), notice: `localStorage is not available (${e.message}); this memory will not survive a reload.` };
    }
    if (stored === null) return { session: new Session(model, options), notice: null };
    try {
        const session = new Session(model, options, fromBase64(stored));
        const why = session.restoreError;
        return { session, notice: why ? `The saved memory belonged to another model (${why.code}); started a fresh one.` : null };
    } catch (e) {
        localStorage.removeItem(key);
        const reason = e && e.code ? `${e.code}: ${e.message}` : `not valid base64 (${e.message})`;
        return { session: new Session(model, options), notice: `The saved memory could not be read (${reason}); started a fresh one.` };
    }
}

/** Writes the memory's saved bytes; returns their size in bytes. */
export function saveMemory(session, profileKey) {
    const bytes = session.save();
    localStorage.setItem(PREFIX + profileKey, toBase64(bytes));
    return bytes.length;
}

/** Forgets the saved memory of `profileKey`. */
export function clearMemory(profileKey) {
    localStorage.removeItem(PREFIX + profileKey);
}
