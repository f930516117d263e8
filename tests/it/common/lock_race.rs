//! Concurrent takeovers of one stale lock, for the local and the S3 lock tests.

use std::sync::{Arc, Barrier};

use lakeaug::state::lock::{host_name, LockError, LockInfo, RunLock, LOCK_PATH};
use lakeaug::store::Store;

/// A lock left by a process of this host that has exited (so it is stale).
pub fn dead_lock() -> Vec<u8> {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    serde_json::to_vec(&LockInfo {
        run_id: "run-dead".into(),
        pid: dead_pid,
        host: host_name(),
        started_at: "2026-01-01T00:00:00.000000Z".into(),
        heartbeat_us: 0,
    })
    .unwrap()
}

/// `rounds` times: put a stale lock, let `n` runs (each with its own store handle from
/// `open`) take it over at the same moment, and check that exactly one wins, that the
/// others are refused naming the winner, and that the lock is the winner's.
pub fn race_takeovers(open: impl Fn() -> Arc<dyn Store>, rounds: usize, n: usize) {
    let store = open();
    for round in 0..rounds {
        store.put(LOCK_PATH, &dead_lock()).unwrap();
        let barrier = Arc::new(Barrier::new(n));
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (s, barrier) = (open(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    RunLock::acquire(s, &format!("run-{round}-{i}"))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let winners: Vec<&RunLock> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one run may win");
        let winner = winners[0].info().run_id.clone();
        assert_eq!(
            winners[0].took_over.as_ref().map(|h| h.run_id.as_str()),
            Some("run-dead"),
            "round {round}"
        );
        for r in &results {
            if let Err(e) = r {
                let LockError::Locked(locked) = e else {
                    panic!("round {round}: {e:#}");
                };
                assert_eq!(locked.holder.run_id, winner, "round {round}");
            }
        }
        let held: LockInfo =
            serde_json::from_slice(&store.get(LOCK_PATH).unwrap().unwrap()).unwrap();
        assert_eq!(held.run_id, winner, "round {round}");
    }
}
