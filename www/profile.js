// The profile the feed is scored for: a real MovieLens user (their age,
// gender, occupation and zip prefix, with their id the model has an
// embedding for) or a new user the model has never seen (unknown id and zip).
// The time fields are now, in UTC, as the model was trained on UTC times.

/** A stable key for the profile, used to keep one memory per profile (one for the new user, whatever its details). */
export function profileKey(choice) {
    return choice.userId ? `user-${choice.userId}` : "new-user";
}

/** The model context for `choice` at time `now`. */
export function contextFor(choice, users, now = new Date()) {
    const time = { hour: now.getUTCHours(), weekday: (now.getUTCDay() + 6) % 7 }; // 0 = Monday
    if (choice.userId) {
        const user = users[choice.userId];
        if (!user) throw new Error(`user ${choice.userId} is not in MovieLens-100K`);
        return { ...user, ...time };
    }
    // userId 0 and an empty zip are outside the model's vocabularies: it scores them as unknown.
    return { userId: 0, age: choice.age, gender: choice.gender, occupation: choice.occupation, zip: "", ...time };
}

/** The distinct occupations of the users, sorted. */
export function occupations(users) {
    return [...new Set(Object.values(users).map((u) => u.occupation))].sort();
}

/** One-line description of a MovieLens user for the picker. */
export function describeUser(user) {
    return `User ${user.userId}: ${user.age}, ${user.gender === "F" ? "female" : "male"}, ${user.occupation}`;
}
