//! Named crash points for testing crash safety: with `LAKEAUG_CRASH_AT=<name>` (or
//! `<name>:<n>` for the n-th time, 1-based) the process aborts at that point, like a
//! `kill -9` there: no destructors, no cleanup. Unset, a point costs one environment
//! lookup on first use.
//!
//! Panic points work the same way with `LAKEAUG_PANIC_AT`: the thread panics there, as a
//! bug in a dependency would, to test that a panic on any thread fails the run cleanly
//! (or rejects just the row it happened in).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// `<name>` or `<name>:<n>` from the environment variable `var`.
fn target_of(var: &str) -> Option<(String, u64)> {
    let v = std::env::var(var).ok()?;
    Some(match v.rsplit_once(':') {
        Some((name, n)) => match n.parse::<u64>() {
            Ok(n) => (name.to_string(), n),
            Err(_) => (v, 1),
        },
        None => (v, 1),
    })
}

/// True when `target` names `name` and this is its n-th hit.
fn hit(target: &Option<(String, u64)>, hits: &AtomicU64, name: &str) -> bool {
    match target {
        Some((want, nth)) if want == name => hits.fetch_add(1, Ordering::SeqCst) + 1 == *nth,
        _ => false,
    }
}

/// Abort the process here if `LAKEAUG_CRASH_AT` names this point (and its count is reached).
pub fn point(name: &str) {
    static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);
    if hit(
        TARGET.get_or_init(|| target_of("LAKEAUG_CRASH_AT")),
        &HITS,
        name,
    ) {
        eprintln!("lakeaug: LAKEAUG_CRASH_AT={name}: aborting here");
        std::process::abort();
    }
}

/// Panic here if `LAKEAUG_PANIC_AT` names this point (and its count is reached).
pub fn panic_point(name: &str) {
    static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
    static HITS: AtomicU64 = AtomicU64::new(0);
    if hit(
        TARGET.get_or_init(|| target_of("LAKEAUG_PANIC_AT")),
        &HITS,
        name,
    ) {
        // Deliberate: this is the test hook that stands in for a bug elsewhere.
        panic!("LAKEAUG_PANIC_AT={name}: panicking here");
    }
}
