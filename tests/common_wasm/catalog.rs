//! The catalog path and caller-made tensors through the JS classes: the
//! same scores as `score` on the objects, bit for bit, by indices, a
//! `Uint32Array` or ids, on pages shorter than the first-layer split's
//! `SPLIT_MIN_ROWS` (48), and within 1e-5 on longer ones; every bad argument a coded error that leaves the
//! session and the catalog as they were.

use wasm_bindgen_test::wasm_bindgen_test;

use super::{code, number, ok, throws};

#[wasm_bindgen_test]
fn catalog_scores_equal_object_scores_and_record_alike() {
    let out = ok(r#"
        const model = Model.bundled();
        const items = catalogue(40, 3);
        delete items[5].year;             // from the context, then the spec's default
        items[6].hour = 3;                // an item field over the context's
        const ids = items.map((_, i) => "m" + i);
        const catalog = new Catalog(model, items, ids);
        if (catalog.size !== 40 || catalog.indexOf("m7") !== 7 || catalog.indexOf("nope") !== -1) throw new Error("index");
        const a = new Session(model, { errorFilter: 0 }), b = new Session(model, { errorFilter: 0 });
        for (let i = 0; i < 6; i++) { a.record(items[i], i % 2 === 0, CONTEXT); b.recordCatalog(catalog, i, i % 2 === 0, CONTEXT); }
        b.recordCatalog(catalog, "m9", true, CONTEXT);
        a.record(items[9], true, CONTEXT);
        if (!same(a.save(), b.save())) throw new Error("recordCatalog learned unlike record");
        const order = [7, 0, 39, 5, 6, 6, 12];
        const want = a.score(order.map((i) => items[i]), CONTEXT);
        if (!same(b.scoreCatalog(catalog, order, CONTEXT), want)) throw new Error("indices");
        if (!same(b.scoreCatalog(catalog, Uint32Array.from(order), CONTEXT), want)) throw new Error("Uint32Array");
        if (!same(b.scoreCatalog(catalog, order.map((i) => "m" + i), CONTEXT), want)) throw new Error("ids");
        if (!same(b.scoreCatalog(catalog, catalog.indicesOf(order.map((i) => "m" + i)), CONTEXT), want)) throw new Error("indicesOf");
        // Impressions by catalog call, recorded by id alone.
        b.scoreCatalog(catalog, [1, 2], CONTEXT, ["x1", "x2"]);
        a.score([items[1], items[2]], CONTEXT, ["x1", "x2"]);
        a.recordImpression("x2", true); b.recordImpression("x2", true);
        if (!same(a.save(), b.save())) throw new Error("impression of a catalog entry");
        // Replaced in place, extended, cleared.
        catalog.add([items[0], items[1]], ["m7", "new"]);
        if (catalog.size !== 41 || catalog.indexOf("m7") !== 7 || catalog.indexOf("new") !== 40) throw new Error("add");
        if (!same(b.scoreCatalog(catalog, ["m7", "new"], CONTEXT), b.score([items[0], items[1]], CONTEXT))) throw new Error("replaced");
        // Ids that JSON escapes, and characters beyond ASCII.
        const odd = ['q"uote', "back\\slash", "new\nline", "\u0001", "é🎬"];
        catalog.add(odd.map((_, i) => items[i]), odd);
        if (!same(b.scoreCatalog(catalog, odd, CONTEXT), b.score(odd.map((_, i) => items[i]), CONTEXT))) throw new Error("odd ids");
        if (catalog.indicesOf(odd).join() !== "41,42,43,44,45") throw new Error("odd ids' indices");
        catalog.clear();
        if (catalog.size !== 0) throw new Error("clear");
        return want.length;
    "#);
    assert_eq!(number(&out), 7.0);
}

/// Ids looked up again come from the JS side's cache of earlier lookups
/// (`src/js/reader.js`), kept per catalog revision: two catalogs with the
/// same ids at other indices, used in turn, a catalog cleared and refilled
/// in another order, ids added later and an id removed must each give
/// what the catalog holds now.
#[wasm_bindgen_test]
fn ids_looked_up_again_follow_the_catalog_as_it_is_now() {
    let out = ok(r#"
        const model = Model.bundled();
        const items = catalogue(12, 5);
        const ids = items.map((_, i) => "m" + i);
        const a = new Catalog(model, items, ids);
        const b = new Catalog(model, [...items].reverse(), [...ids].reverse());
        const s = new Session(model, { errorFilter: 0 });
        s.record(items[3], true, CONTEXT);
        const page = ["m3", "m0", "m11", "m3"];
        const want = s.score(page.map((id) => items[Number(id.slice(1))]), CONTEXT);
        for (let round = 0; round < 3; round++) {
          if (!same(s.scoreCatalog(a, page, CONTEXT), want)) throw new Error("a, round " + round);
          if (!same(s.scoreCatalog(b, page, CONTEXT), want)) throw new Error("b, round " + round);
          if (a.indicesOf(page).join() !== "3,0,11,3") throw new Error("a's indices, round " + round);
          if (b.indicesOf(page).join() !== "8,11,0,8") throw new Error("b's indices, round " + round);
        }
        // Cleared and refilled in the other order: the same ids at b's indices.
        a.clear();
        a.add([...items].reverse(), [...ids].reverse());
        if (a.indicesOf(page).join() !== "8,11,0,8") throw new Error("after clear and add");
        if (!same(s.scoreCatalog(a, page, CONTEXT), want)) throw new Error("scores after clear and add");
        // Extended: the cached ids keep their indices, new ones are found.
        a.add([items[1]], ["late"]);
        if (a.indicesOf(["m3", "late", "m3"]).join() !== "8,12,8") throw new Error("after extending");
        // Gone: an error again, though every id was found before.
        a.clear();
        a.add([items[0]], ["m0"]);
        let code = "none";
        try { s.scoreCatalog(a, page, CONTEXT); } catch (e) { code = e.code; }
        if (code !== "E_INVALID_INPUT") throw new Error("a removed id was found: " + code);
        if (a.indicesOf(["m0", "m0"]).join() !== "0,0") throw new Error("the one id left");
        // A freed catalog's ids do not reach a new one with the same ids elsewhere.
        b.free();
        const c = new Catalog(model, items.slice(0, 4).reverse(), ["m0", "m1", "m2", "m3"].reverse());
        if (c.indicesOf(["m3", "m0"]).join() !== "0,3") throw new Error("a new catalog after a freed one");
        return want.length;
    "#);
    assert_eq!(number(&out), 4.0);
}

#[wasm_bindgen_test]
fn a_long_page_through_the_split_scores_within_tolerance() {
    let out = ok(r#"
        const model = Model.bundled();
        const items = catalogue(100, 7);
        delete items[3].year;
        const catalog = new Catalog(model, items, items.map((_, i) => "m" + i));
        const s = new Session(model);
        const order = items.map((_, i) => 99 - i);
        let worst = 0;
        for (const context of [CONTEXT, { ...CONTEXT, age: 60, hour: 2, year: 1950 }]) {
            const want = s.score(order.map((i) => items[i]), context);
            const got = s.scoreCatalog(catalog, Uint32Array.from(order), context);
            if (got.length !== 100 || want.every((p) => Math.abs(p - want[0]) < 1e-4)) throw new Error("scores all alike");
            for (let i = 0; i < 100; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
        }
        if (!(worst <= 1e-5)) throw new Error("catalog scores differ by " + worst);
        return 1;
    "#);
    assert_eq!(number(&out), 1.0);
}

#[wasm_bindgen_test]
fn bad_catalog_calls_throw_coded_errors_and_change_nothing() {
    let calls = [
        "s.scoreCatalog(catalog, ['m1', 'nope'], CONTEXT)",
        "s.scoreCatalog(catalog, [0, 99], CONTEXT)",
        "s.scoreCatalog(catalog, [0.5], CONTEXT)",
        "s.scoreCatalog(catalog, [-1], CONTEXT)",
        "s.scoreCatalog(catalog, [0, 'm1'], CONTEXT)",
        "s.scoreCatalog(catalog, new Float32Array([1]), CONTEXT)",
        "s.scoreCatalog(catalog, 'm1', CONTEXT)",
        "s.scoreCatalog(catalog, [0], { age: 3 })",
        "s.scoreCatalog(catalog, [0], { ...CONTEXT, hour: NaN })",
        "s.scoreCatalog(catalog, [0, 1], CONTEXT, ['only one'])",
        "s.scoreCatalog({ __reloopCatalog: 1 }, [0], CONTEXT)",
        "s.scoreCatalog(model, [0], CONTEXT)",
        "s.scoreCatalog(null, [0], CONTEXT)",
        "s.scoreCatalog(other, [0], CONTEXT)",
        "s.scoreCatalog(new Proxy({}, { get() { throw new Error('trap'); } }), [0], CONTEXT)",
        "s.recordCatalog(catalog, 'nope', true, CONTEXT)",
        "s.recordCatalog(catalog, 0, 'yes', CONTEXT)",
        "s.recordCatalog(catalog, 0, true, { age: 3 })",
        "catalog.add(catalogue(2, 1), ['a'])",
        "catalog.add(catalogue(2, 1), ['a', 'a'])",
        "catalog.add(catalogue(2, 1), ['a', ''])",
        "catalog.add(catalogue(2, 1))",
        "catalog.add([{ itemId: 1, genres: 'x', year: 'old' }], ['bad'])",
        "catalog.indicesOf(['m1', 'nope'])",
        "new Catalog({}, [], [])",
        "s.scoreTensors({ ids: new BigInt64Array(9).fill(1n), genres: new Float32Array(20) })",
        "s.scoreTensors({ ids: new BigInt64Array(9).fill(100000n), genres: new Float32Array(20) })",
        "s.scoreTensors({ ids: new Float32Array(9), genres: new Float32Array(20) })",
        "s.scoreTensors({ ids: new BigInt64Array(18).fill(1n), genres: new Float32Array(20) })",
        "s.scoreTensors({ ids: new BigInt64Array(9).fill(1n), genres: new Float32Array(20).fill(NaN) })",
        "s.scoreTensors(null)",
    ];
    for call in calls {
        let e = throws(&format!(
            r#"
            const model = Model.bundled();
            const other = new Catalog(Model.fromOnnx(ONNX, SPEC.replace('"maxBatch":1000', '"maxBatch":999')), catalogue(3, 1), ["m0", "m1", "m2"]);
            const items = catalogue(3, 1);
            const catalog = new Catalog(model, items, ["m0", "m1", "m2"]);
            const s = new Session(model, {{ errorFilter: 0 }});
            s.recordCatalog(catalog, 1, true, CONTEXT);
            const saved = s.save(), before = s.scoreCatalog(catalog, [0, 1, 2], CONTEXT);
            try {{ {call}; }} catch (e) {{
              if (!same(s.save(), saved)) throw new Error("the memory changed");
              if (!same(s.scoreCatalog(catalog, [0, 1, 2], CONTEXT), before)) throw new Error("scores changed");
              if (catalog.size !== 3 || catalog.indexOf("a") !== -1) throw new Error("the catalog changed");
              throw e;
            }}
            "#
        ));
        assert_eq!(code(&e), "E_INVALID_INPUT", "{call}");
    }
}

#[wasm_bindgen_test]
fn tensors_score_like_objects_and_a_freed_catalog_is_refused() {
    let out = ok(r#"
        const model = Model.bundled();
        const spec = JSON.parse(SPEC);
        const items = catalogue(5, 8);
        // The spec's encoding in JS (as a caller with its own encoder would).
        const idx = (f, v) => {
          const s = spec.fields[f];
          if (s.kind === "categorical") return s.vocabulary[String(v)] ?? s.oovIndex;
          return s.offset + s.boundaries.filter((b) => b <= v).length;
        };
        const cols = spec.inputs[0].columns;
        const ids = new BigInt64Array(items.length * cols.length);
        const genres = new Float32Array(items.length * 20);
        items.forEach((it, i) => {
          const row = { ...CONTEXT, ...it };
          cols.forEach((c, j) => { ids[i * cols.length + j] = BigInt(idx(c, row[c])); });
          for (const g of it.genres) genres[i * 20 + spec.fields.genres.vocabulary[g]] += 1 / it.genres.length;
        });
        const s = new Session(model);
        if (!same(s.scoreTensors({ ids, genres }), s.score(items, CONTEXT))) throw new Error("tensors differ");
        const catalog = new Catalog(model, items, items.map((_, i) => "i" + i));
        catalog.free();
        try { s.scoreCatalog(catalog, [0], CONTEXT); } catch (e) { return e.code; }
        throw new Error("a freed catalog was used");
    "#);
    assert_eq!(out.as_string().as_deref(), Some("E_INVALID_INPUT"));
}

#[wasm_bindgen_test]
fn warm_up_changes_no_score_and_a_freed_model_refuses_it() {
    let out = ok(r#"
        const model = Model.bundled();
        const items = catalogue(20, 5);
        const before = new Session(model).score(items, CONTEXT);
        model.warmUp();
        if (!same(new Session(model).score(items, CONTEXT), before)) throw new Error("warmUp changed a score");
        return 1;
    "#);
    assert_eq!(number(&out), 1.0);
    let e = throws("const m = Model.bundled(); m.free(); m.warmUp();");
    assert_eq!(code(&e), "E_INVALID_INPUT");
}
