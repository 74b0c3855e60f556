// The demo page: loads the wasm module and the exported MovieLens data,
// scores a feed for the chosen profile, records Like / Skip into the
// profile's session memory (kept in localStorage), and sets up the replay.
import init, { Model } from "./pkg/browser.js";
import { loadJson } from "./data.js";
import { openMemory, saveMemory, clearMemory } from "./memory-store.js";
import { profileKey, contextFor, occupations, describeUser } from "./profile.js";
import { scoreAll, rankFeed, correctionByGenre } from "./scoring.js";
import { renderFeed, displayTitle } from "./feed-view.js";
import { drawGenreChart } from "./genre-chart.js";
import { setupReplay } from "./replay-panel.js";

const PROFILE_KEY = "reloop-edge-demo:profile";
const $ = (sel) => document.querySelector(sel);

/** Shows an error to the user (never silent) and logs it. */
function showError(message) {
    const box = $("#error");
    const p = document.createElement("p");
    p.textContent = message;
    box.append(p);
    box.hidden = false;
    console.error(message);
}

function showNotice(message) {
    const box = $("#notice");
    box.textContent = message ?? "";
    box.hidden = !message;
}

window.addEventListener("error", (e) => showError(`Unexpected error: ${e.message}`));
window.addEventListener("unhandledrejection", (e) => showError(`Unexpected error: ${e.reason?.message ?? e.reason}`));

async function main() {
    const [, moviesData, users] = await Promise.all([init(), loadJson("data/movies.json"), loadJson("data/users.json")]);
    const model = Model.bundled();
    const movies = moviesData.movies;
    const indexOf = new Map(movies.map((m, i) => [m.itemId, i]));
    const feed = moviesData.feed.map((id) => movies[indexOf.get(id)]);
    const genres = [...new Set(movies.flatMap((m) => m.genres))].filter((g) => g !== "unknown").sort();

    // Profile picker: a new user, or any MovieLens user.
    const picker = $("#profile");
    for (const user of Object.values(users).sort((a, b) => a.userId - b.userId)) picker.add(new Option(describeUser(user), String(user.userId)));
    const occupation = $("#new-occupation");
    for (const o of occupations(users)) occupation.add(new Option(o, o));

    let choice = readChoice();
    let session = null;
    let key = null;
    let context = null;
    /** itemId → rank at the last render of this profile's feed. */
    let lastRanks = new Map();

    function readChoice() {
        try {
            // Stored values are untrusted: keep only a well-formed profile.
            const saved = JSON.parse(localStorage.getItem(PROFILE_KEY) ?? "null");
            if (saved && saved.userId !== 0 && Object.hasOwn(users, saved.userId)) return { userId: saved.userId };
            if (saved && saved.userId === 0 && Number.isFinite(saved.age) && saved.age >= 1 && saved.age <= 120
                && ["F", "M"].includes(saved.gender) && occupations(users).includes(saved.occupation)) {
                return { userId: 0, age: saved.age, gender: saved.gender, occupation: saved.occupation };
            }
        } catch {
            // An unreadable saved choice just means the default profile.
        }
        return { userId: 0, age: 30, gender: "F", occupation: "engineer" };
    }

    function showChoice() {
        picker.value = String(choice.userId);
        $("#new-user").hidden = choice.userId !== 0;
        $("#new-age").value = choice.age ?? 30;
        $("#new-gender").value = choice.gender ?? "F";
        occupation.value = choice.occupation ?? "engineer";
    }

    function switchProfile(next) {
        choice = next;
        localStorage.setItem(PROFILE_KEY, JSON.stringify(choice));
        session?.free();
        key = profileKey(choice);
        const opened = openMemory(model, key);
        session = opened.session;
        showNotice(opened.notice);
        context = contextFor(choice, users);
        showChoice();
        $("#log").replaceChildren();
        lastRanks = new Map();
        refresh();
    }

    function refresh() {
        const scored = scoreAll(session, model.maxBatch, movies, context);
        const rows = rankFeed(feed, scored, indexOf);
        renderFeed($("#feed-body"), rows, record, lastRanks);
        lastRanks = new Map(rows.map((r) => [r.movie.itemId, r.rank]));
        drawGenreChart($("#genre-chart"), correctionByGenre(movies, scored, genres));
        $("#stat-events").textContent = String(session.events);
        $("#stat-saved").textContent = String(session.save().length);
        $("#stat-heap").textContent = String(session.memoryBytes);
        document.body.dataset.events = String(session.events);
    }

    function record(movie, clicked) {
        try {
            const before = session.scoreDetailed([movie], context).base[0];
            const stored = session.record(movie, clicked, context);
            saveMemory(session, key);
            const what = `${clicked ? "Liked" : "Skipped"} ${displayTitle(movie.title)} (model: ${(before * 100).toFixed(0)}%)`;
            log(stored ? `${what}: the memory stored the model's error.`
                : `${what}: the model already expected this (error below σ = ${session.options.errorFilter}), so the memory skipped it.`);
            refresh();
        } catch (e) {
            showError(`Could not record: ${e.code ? `${e.code}: ` : ""}${e.message}`);
        }
    }

    function log(text) {
        const li = document.createElement("li");
        li.textContent = text;
        $("#log").prepend(li);
    }

    picker.addEventListener("change", () => {
        const userId = Number(picker.value);
        switchProfile(userId ? { userId } : { userId: 0, age: Number($("#new-age").value) || 30, gender: $("#new-gender").value, occupation: occupation.value });
    });
    $("#new-user").addEventListener("change", () => {
        const age = Number($("#new-age").value);
        if (!Number.isFinite(age) || age < 1 || age > 120) {
            showError("Age must be a number between 1 and 120.");
            return;
        }
        switchProfile({ userId: 0, age, gender: $("#new-gender").value, occupation: occupation.value });
    });
    $("#reset").addEventListener("click", () => {
        session.reset();
        clearMemory(key);
        showNotice(null);
        $("#log").replaceChildren();
        log("Memory cleared: scores are the base model's again.");
        refresh();
    });

    switchProfile(choice);
    $("#model-id").textContent = model.id.slice(0, 12);
    document.body.dataset.ready = "true";
}

setupReplay($("#replay"), showError);
main().catch((e) => {
    document.body.dataset.ready = "error";
    showError(`The page could not start: ${e.code ? `${e.code}: ` : ""}${e.message ?? e}`);
});
