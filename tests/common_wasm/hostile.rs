//! Regressions found by the JS-boundary property test
//! (tests/property/boundary.test.mjs): hostile receivers, re-entrant calls,
//! free() inside a call, fake typed arrays and object-valued options each
//! threw an uncoded error (a `TypeError`, wasm-bindgen's "recursive use of an
//! object detected" / "null pointer passed to rust", a wasm trap) and some
//! left the session borrowed or its memory misread for good. Each now throws
//! a coded error and leaves the session as it was.

use wasm_bindgen_test::wasm_bindgen_test;

use super::{bad_call, code, describe, ok};

#[wasm_bindgen_test]
fn wrong_receivers_reentrancy_and_fake_typed_arrays_throw_coded_errors() {
    let cases: &[(&str, &str)] = &[
        // A method of one class on another's instance: Rust read a Model or a
        // Catalog as a Session (a trap, nonsense values, a poisoned session).
        ("Session.prototype.save.call(model)", "E_INVALID_INPUT"),
        (
            "Object.getOwnPropertyDescriptor(Session.prototype, \"events\").get.call(new Catalog(model))",
            "E_INVALID_INPUT",
        ),
        ("Catalog.prototype.indexOf.call(s, \"a\")", "E_INVALID_INPUT"),
        ("Object.getOwnPropertyDescriptor(Model.prototype, \"fields\").get.call(s)", "E_INVALID_INPUT"),
        // Detached methods and plain objects (a TypeError / "null pointer passed to rust").
        ("const f = s.score; f(items, CONTEXT)", "E_INVALID_INPUT"),
        ("Session.prototype.save.call({})", "E_INVALID_INPUT"),
        ("Session.prototype.save.call(Object.create(Session.prototype))", "E_INVALID_INPUT"),
        ("Session.prototype.free.call(model)", "E_INVALID_INPUT"),
        // Re-entrancy: a getter calling back into the session during its call.
        ("s.score([new Proxy({ ...items[0] }, { get(t, k) { s.save(); return t[k]; } })], CONTEXT)", "E_INVALID_INPUT"),
        ("s.scoreTensors(new Proxy({}, { get() { s.record(items[1], true, CONTEXT); } }))", "E_INVALID_INPUT"),
        // Fake, proxied and lying typed arrays, read from wasm (an uncaught TypeError
        // through the module, leaving the session borrowed for good).
        (
            "s.scoreTensors({ ids: Object.setPrototypeOf({}, BigInt64Array.prototype), genres: new Float32Array(19) })",
            "E_INVALID_INPUT",
        ),
        (
            "s.scoreTensors({ ids: new BigInt64Array(9), genres: new Proxy(new Float32Array(19), {}) })",
            "E_INVALID_INPUT",
        ),
        (
            "s.scoreTensors({ ids: Object.defineProperty(new BigInt64Array(9), \"length\", { get() { throw new Error(\"boom\"); } }), genres: 1 })",
            "E_INVALID_INPUT",
        ),
        ("new Session(model, undefined, new Proxy(new Uint8Array(4), {}))", "E_INVALID_INPUT"),
        ("new Session(model, undefined, Object.setPrototypeOf({}, Uint8Array.prototype))", "E_INVALID_INPUT"),
        ("Model.fromOnnx(new Proxy(new Uint8Array(8), {}), SPEC)", "E_INVALID_INPUT"),
        (
            "s.scoreCatalog(new Catalog(model, items.slice(0, 2), [\"a\", \"b\"]), new Proxy(new Uint32Array(1), {}), CONTEXT)",
            "E_INVALID_INPUT",
        ),
        // Option values that are objects: their traps and getters threw through the module.
        (
            "new Session(model, { estimator: new Proxy({}, { ownKeys() { throw new Error(\"boom\"); } }) })",
            "E_INVALID_CONFIG",
        ),
        ("new Session(model, { lambda: { valueOf() { throw new Error(\"boom\"); } } })", "E_INVALID_CONFIG"),
        (
            "s.scoreDetailed(items.slice(0, 1), CONTEXT, null, { hidden: new Proxy({}, { get() { throw new Error(\"boom\"); } }) })",
            "E_INVALID_CONFIG",
        ),
        // What a getter threw is an Error whose `message` getter throws.
        (
            "s.scoreTensors({ get ids() { throw Object.create(Error.prototype, { message: { get() { throw new Error(\"boom\"); } } }); } })",
            "E_INVALID_INPUT",
        ),
    ];
    for (call, want) in cases {
        let e = bad_call(call);
        assert_eq!(code(&e), *want, "{call}: {}", describe(&e));
    }
}

#[wasm_bindgen_test]
fn a_reentrant_call_and_free_inside_a_call_are_coded_and_final() {
    // The inner call gets the coded "in use" error (was wasm-bindgen's uncoded
    // "recursive use of an object detected").
    ok(r#"
        const s = new Session(Model.bundled());
        let inner = null;
        const item = { ...catalogue(1, 4)[0], get year() { try { s.save(); } catch (e) { inner = e; } return 1990; } };
        s.score([item], CONTEXT);
        if (!inner || inner.name !== "ReloopError" || inner.code !== "E_INVALID_INPUT" || !/in use/.test(inner.message)) {
            throw new Error("inner call: " + (inner && inner.message));
        }
        if (s.score(catalogue(2, 4), CONTEXT).length !== 2) throw new Error("session not usable");
    "#);
    // Another session scoring from a getter, while this call's items are
    // being read: each call reads its own batch (js/reader.js gives the
    // inner call cells of its own).
    ok(r#"
        const model = Model.bundled();
        const outer = new Session(model), inner = new Session(model), plain = new Session(model);
        const items = catalogue(5, 6);
        const others = catalogue(7, 8).map((it) => ({ ...it, genres: ["Film-Noir", "Western"], zip: "other" }));
        let innerScores = null;
        const tricky = items.map((it, i) => i !== 2 ? it : { ...it, get year() { innerScores = inner.score(others, { ...CONTEXT, gender: "F" }); return it.year; } });
        const got = outer.score(tricky, CONTEXT);
        if (!same(got, plain.score(items, CONTEXT))) throw new Error("the outer batch changed");
        if (!innerScores || !same(innerScores, plain.score(others, { ...CONTEXT, gender: "F" }))) throw new Error("the inner batch changed");
    "#);
    // free() inside the object's own call takes effect when the call returns
    // (was: an uncoded throw from free(), then "null pointer passed to rust").
    ok(r#"
        const t = new Session(Model.bundled());
        let freeThrew = null;
        const item = { ...catalogue(1, 4)[0], get year() { try { t.free(); } catch (e) { freeThrew = e; } return 1990; } };
        try { t.score([item], CONTEXT); } catch (e) { if (e.name !== "ReloopError") throw e; }
        if (freeThrew) throw new Error("free() threw: " + freeThrew.message);
        let after = null;
        try { t.save(); } catch (e) { after = e; }
        if (!after || after.code !== "E_INVALID_INPUT" || !/freed/.test(after.message)) throw new Error("use after free: " + (after && after.message));
        t.free();
        const c = new Catalog(Model.bundled());
        try { c.add([{ ...catalogue(1, 5)[0], get year() { c.free(); return 1990; } }], ["x"]); } catch (e) { if (e.name !== "ReloopError") throw e; }
        let sized = null;
        try { c.size; } catch (e) { sized = e; }
        if (!sized || sized.code !== "E_INVALID_INPUT") throw new Error("catalog use after free: " + (sized && sized.message));
    "#);
}
