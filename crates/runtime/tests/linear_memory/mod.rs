//! Wasm linear memory, emulated natively: the dlmalloc that std uses on
//! wasm32 (same crate and version), over a reserved region that only grows
//! in 64 KiB pages and never gives memory back, as `memory.grow` does. A
//! test binary installs [`Emulated`] (alone or wrapped) as its global
//! allocator, and [`pages`] is then its linear memory's size.
//!
//! A measurement runs in a fresh process ([`measure_in_child`]): memory
//! freed by an earlier load would otherwise be reused by the next one.

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use dlmalloc::Dlmalloc;

const PAGE: usize = 64 << 10;
/// All a wasm32 memory can address.
const RESERVE: usize = 4 << 30;

static BASE: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static PAGES: AtomicUsize = AtomicUsize::new(0);

/// The emulated linear memory's size in bytes.
pub fn size() -> usize {
    PAGES.load(Ordering::Relaxed) * PAGE
}

/// `memory.grow` over the reservation, as dlmalloc's wasm `System` uses it.
pub struct LinearMemory;

// SAFETY: hands out disjoint, zeroed, never-reused page runs of one
// reservation; frees nothing, like wasm.
unsafe impl dlmalloc::Allocator for LinearMemory {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        let mut base = BASE.load(Ordering::Relaxed);
        if base.is_null() {
            // SAFETY: a non-zero size; calloc maps it lazily, zeroed.
            base = unsafe { System.alloc_zeroed(Layout::from_size_align(RESERVE, PAGE).unwrap()) };
            assert!(!base.is_null(), "cannot reserve the emulated linear memory");
            BASE.store(base, Ordering::Relaxed);
        }
        let pages = size.div_ceil(PAGE);
        let prev = PAGES.fetch_add(pages, Ordering::Relaxed);
        if (prev + pages) * PAGE > RESERVE {
            PAGES.fetch_sub(pages, Ordering::Relaxed);
            return (std::ptr::null_mut(), 0, 0);
        }
        // SAFETY: inside the reservation (checked above).
        (unsafe { base.add(prev * PAGE) }, pages * PAGE, 0)
    }

    fn remap(&self, _ptr: *mut u8, _oldsize: usize, _newsize: usize, _can_move: bool) -> *mut u8 {
        std::ptr::null_mut()
    }

    fn free_part(&self, _ptr: *mut u8, _oldsize: usize, _newsize: usize) -> bool {
        false
    }

    fn free(&self, _ptr: *mut u8, _size: usize) -> bool {
        false
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

/// dlmalloc over [`LinearMemory`], as std's wasm32 global allocator.
pub struct Emulated(Mutex<Dlmalloc<LinearMemory>>);

impl Emulated {
    pub const fn new() -> Emulated {
        Emulated(Mutex::new(Dlmalloc::new_with_allocator(LinearMemory)))
    }

    fn heap(&self) -> std::sync::MutexGuard<'_, Dlmalloc<LinearMemory>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub static EV: [AtomicUsize; 6000] = [const { AtomicUsize::new(0) }; 6000];
pub static NEV: AtomicUsize = AtomicUsize::new(0);
pub fn ev(kind: usize, size: usize, align: usize, p: *mut u8) {
    if size >= 1 << 20 {
        let i = NEV.fetch_add(5, Ordering::Relaxed);
        if i + 5 < 6000 {
            for (k, v) in [kind, size, align, p as usize - BASE.load(Ordering::Relaxed) as usize, size_now()]
                .into_iter()
                .enumerate()
            {
                EV[i + k].store(v, Ordering::Relaxed);
            }
        }
    }
}
fn size_now() -> usize {
    PAGES.load(Ordering::Relaxed) * PAGE
}
pub fn dump() {
    let n = NEV.load(Ordering::Relaxed);
    for i in (0..n).step_by(5) {
        let g = |k: usize| EV[i + k].load(Ordering::Relaxed);
        eprintln!(
            "{} size {} align {} at {:.2}M mem {:.2}M",
            ["", "alloc", "zalloc", "free", "realloc-from", "realloc-to"][g(0)],
            g(1),
            g(2),
            g(3) as f64 / 1e6,
            g(4) as f64 / 1e6
        );
    }
}
// SAFETY: the same calls std's wasm32 `System` makes into dlmalloc.
unsafe impl GlobalAlloc for Emulated {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { self.heap().malloc(layout.size(), layout.align()) };
        ev(1, layout.size(), layout.align(), p);
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { self.heap().calloc(layout.size(), layout.align()) };
        ev(2, layout.size(), layout.align(), p);
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { self.heap().free(ptr, layout.size(), layout.align()) };
        ev(3, layout.size(), layout.align(), ptr);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        ev(4, layout.size(), layout.align(), ptr);
        let p = unsafe { self.heap().realloc(ptr, layout.size(), layout.align(), new_size) };
        ev(5, new_size, layout.align(), p);
        p
    }
}

/// Runs the test `child` of this binary in a new process with
/// `RELOOP_HEAP_CHILD=<what>`; returns what it printed after `measured:`.
pub fn measure_in_child(what: &str) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["child", "--exact", "--nocapture", "--test-threads=1"])
        .env("RELOOP_HEAP_CHILD", what)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child `{what}` failed:\n{text}");
    // The harness prints `test child ... ` on the same line.
    text.split("measured: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("child `{what}` printed no measurement:\n{text}"))
        .to_string()
}

/// The models measured: name, ONNX bytes, spec.
fn models() -> Vec<(&'static str, Vec<u8>, String)> {
    use crate::common::{Head, embedding_model, matrix_model, mlp_spec, with_large_tensors};
    let spec = mlp_spec(Head::Sigmoid);
    vec![
        ("bundled", reloop_runtime::bundled::onnx().to_vec(), reloop_runtime::bundled::spec_json().to_string()),
        ("20 MB matrix", matrix_model(), spec.clone()),
        ("20 MB matrix, float_data", with_large_tensors(2236, 6), spec.clone()),
        ("16 MiB embedding + 4 MiB matrix", embedding_model(), spec),
    ]
}

/// The body of each binary's `child` test: with `RELOOP_HEAP_CHILD=<dir>`,
/// loads `<dir>/model.onnx` the way the wasm binding does (the bytes copied
/// into linear memory first, then handed over) and prints how much linear
/// memory grew; without it, nothing.
pub fn child() {
    let Ok(dir) = std::env::var("RELOOP_HEAP_CHILD") else { return };
    let dir = std::path::PathBuf::from(dir);
    let spec = std::fs::read_to_string(dir.join("spec.json")).unwrap();
    let before = size();
    let onnx = std::fs::read(dir.join("model.onnx")).unwrap();
    let model = reloop_runtime::Model::from_json_owned(onnx, &spec).unwrap();
    let grown = size() - before;
    if std::env::var("DUMP").is_ok() {
        dump();
    }
    println!("measured: {grown}");
    drop(model);
}

/// Linear memory growth of loading each model whose name `only` accepts
/// (in its own process), as (name, growth, weight bytes).
pub fn loads(only: impl Fn(&str) -> bool) -> Vec<(&'static str, usize, usize)> {
    let root = std::env::temp_dir().join(format!("reloop-wasm-heap-{}", std::process::id()));
    let mut out = Vec::new();
    for (i, (name, onnx, spec)) in models().into_iter().filter(|(name, ..)| only(name)).enumerate() {
        let dir = root.join(i.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("model.onnx"), &onnx).unwrap();
        std::fs::write(dir.join("spec.json"), &spec).unwrap();
        let grown: usize = measure_in_child(dir.to_str().unwrap()).parse().unwrap();
        let weights = crate::common::weight_bytes(&onnx);
        eprintln!(
            "{name}: weights {:.2} MiB, linear memory +{:.2} MiB ({:.2}x)",
            weights as f64 / (1 << 20) as f64,
            grown as f64 / (1 << 20) as f64,
            grown as f64 / weights as f64
        );
        out.push((name, grown, weights));
    }
    std::fs::remove_dir_all(&root).ok();
    out
}
