//! Named crash points for testing crash safety: with `LAKEAUG_CRASH_AT=<name>` (or
//! `<name>:<n>` for the n-th time, 1-based) the process aborts at that point, like a
//! `kill -9` there: no destructors, no cleanup. Unset, a point costs one environment
//! lookup on first use.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

fn target() -> &'static Option<(String, u64)> {
    static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
    TARGET.get_or_init(|| {
        let v = std::env::var("LAKEAUG_CRASH_AT").ok()?;
        Some(match v.rsplit_once(':') {
            Some((name, n)) if n.parse::<u64>().is_ok() => (name.to_string(), n.parse().unwrap()),
            _ => (v, 1),
        })
    })
}

/// Abort the process here if `LAKEAUG_CRASH_AT` names this point (and its count is reached).
pub fn point(name: &str) {
    static HITS: AtomicU64 = AtomicU64::new(0);
    if let Some((want, nth)) = target() {
        if want == name && HITS.fetch_add(1, Ordering::SeqCst) + 1 == *nth {
            eprintln!("lakeaug: LAKEAUG_CRASH_AT={want}: aborting here");
            std::process::abort();
        }
    }
}
