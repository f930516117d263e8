//! One run at a time per output: `_lakeaug/lock.json`, created only if absent.
//!
//! The lock names its holder (run id, pid, host, start time) and carries a heartbeat the
//! holder refreshes every [`HEARTBEAT_EVERY`]. It is stale, and taken over, when its
//! process is gone (same host: the pid no longer runs) or its heartbeat is older than
//! [`STALE_AFTER`] (another host, which we cannot ask).

use std::sync::mpsc::{channel, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{to_json, StateError};
use crate::layout::rfc3339_micros;
use crate::store::Store;

pub const LOCK_PATH: &str = "_lakeaug/lock.json";
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);
pub const STALE_AFTER: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockInfo {
    pub run_id: String,
    pub pid: u32,
    pub host: String,
    pub started_at: String,
    pub heartbeat_us: i64,
}

/// Another live run holds the output.
#[derive(Debug, thiserror::Error)]
#[error("{output} is being written by another run: run {} (pid {} on host {}, started {}); wait for it to finish, or remove {output}/_lakeaug/lock.json if you are sure it is dead", .holder.run_id, .holder.pid, .holder.host, .holder.started_at)]
pub struct Locked {
    pub output: String,
    pub holder: LockInfo,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live run holds it.
    #[error(transparent)]
    Locked(#[from] Locked),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{location} is not a lakeaug lock; remove it if no run is active")]
    NotALock {
        location: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{location}: could not take the lock (it keeps changing)")]
    KeepsChanging { location: String },
}

impl From<crate::store::StoreError> for LockError {
    fn from(e: crate::store::StoreError) -> LockError {
        LockError::State(e.into())
    }
}

/// This machine's host name.
/// The run that holds `store`'s lock now, if any: a cluster task checks it is still its
/// run's before publishing (a task of a run that lost the lock publishes nothing).
pub fn holder(store: &dyn Store) -> Result<Option<LockInfo>, StateError> {
    Ok(store
        .get(LOCK_PATH)?
        .and_then(|b| serde_json::from_slice::<LockInfo>(&b).ok()))
}

pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether process `pid` exists on this machine.
fn pid_alive(pid: u32) -> bool {
    // Signal 0 checks existence only; EPERM means it exists but is not ours.
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill(2) with signal 0 sends nothing and touches no memory of ours; it only
    // reports whether `pid` exists. It is sound for any pid value.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn now_us() -> i64 {
    super::micros(std::time::SystemTime::now()).unwrap_or(0)
}

impl LockInfo {
    /// Whether the holder is known to be dead.
    pub fn is_stale(&self, host: &str, now_us: i64) -> bool {
        if self.host == host {
            !pid_alive(self.pid)
        } else {
            now_us - self.heartbeat_us > STALE_AFTER.as_micros() as i64
        }
    }
}

/// A held lock; refreshed in the background until released or dropped.
pub struct RunLock {
    store: Arc<dyn Store>,
    info: LockInfo,
    /// Dropping it stops the heartbeat thread.
    stop: Option<Sender<()>>,
    heartbeat: Option<std::thread::JoinHandle<()>>,
    /// A stale lock this one replaced.
    pub took_over: Option<LockInfo>,
}

/// Write a fresher heartbeat into the lock if it is still `info`'s run's (compare-and-swap,
/// so a run that was taken over never overwrites the new holder's lock). `false` once the
/// lock is someone else's: the heartbeat stops, with a warning.
fn refresh(store: &dyn Store, info: &LockInfo) -> bool {
    let Ok(Some((held, version))) = store.get_versioned(LOCK_PATH) else {
        return true; // unreadable for now, or released: try again next beat
    };
    let ours = serde_json::from_slice::<LockInfo>(&held).is_ok_and(|h| h.run_id == info.run_id);
    let swapped = ours
        && serde_json::to_vec_pretty(info)
            .ok()
            .is_some_and(|b| store.replace_if(LOCK_PATH, &b, &version).unwrap_or(true));
    if !swapped {
        eprintln!(
            "lakeaug: warning: {}/{LOCK_PATH} is no longer held by run {} (another run took it over as stale); this run's heartbeat stops",
            store.describe(),
            info.run_id
        );
    }
    swapped
}

impl RunLock {
    /// Take the lock of the output at `store` for `run_id`, or fail naming the holder.
    pub fn acquire(store: Arc<dyn Store>, run_id: &str) -> Result<RunLock, LockError> {
        let host = host_name();
        let info = LockInfo {
            run_id: run_id.to_string(),
            pid: std::process::id(),
            host: host.clone(),
            started_at: rfc3339_micros(now_us()),
            heartbeat_us: now_us(),
        };
        let bytes = to_json(&info, "the lock", true)?;
        for _ in 0..3 {
            if store.put_if_absent(LOCK_PATH, &bytes)? {
                return Ok(RunLock::start(store, info, None));
            }
            let Some((held, version)) = store.get_versioned(LOCK_PATH)? else {
                continue; // released meanwhile
            };
            let holder: LockInfo = match serde_json::from_slice(&held) {
                Ok(h) => h,
                Err(source) => {
                    return Err(LockError::NotALock {
                        location: format!("{}/{LOCK_PATH}", store.describe()),
                        source,
                    })
                }
            };
            if holder.run_id == run_id {
                return Ok(RunLock::start(store, info, None));
            }
            if !holder.is_stale(&host, now_us()) {
                return Err(Locked {
                    output: store.describe(),
                    holder,
                }
                .into());
            }
            crate::crash::point("lock-stale-found");
            // Replace exactly the stale lock read above (compare-and-swap on its version):
            // of several runs taking it over at once, one swap succeeds, and the others
            // find the winner's live lock on their next pass. (Deleting the stale lock and
            // then creating a new one would let a slow run delete the winner's lock.)
            if store.replace_if(LOCK_PATH, &bytes, &version)? {
                return Ok(RunLock::start(store, info, Some(holder)));
            }
        }
        Err(LockError::KeepsChanging {
            location: format!("{}/{LOCK_PATH}", store.describe()),
        })
    }

    fn start(store: Arc<dyn Store>, info: LockInfo, took_over: Option<LockInfo>) -> RunLock {
        // Dropping `stop` (the only sender) wakes the heartbeat at once: a run does not
        // wait out a sleep when it ends.
        let (stop, stopped) = channel::<()>();
        let heartbeat = {
            let (store, mut info) = (store.clone(), info.clone());
            std::thread::Builder::new()
                .name("lakeaug-lock".into())
                .spawn(move || loop {
                    match stopped.recv_timeout(HEARTBEAT_EVERY) {
                        Err(RecvTimeoutError::Timeout) => {
                            info.heartbeat_us = now_us();
                            if !refresh(store.as_ref(), &info) {
                                return;
                            }
                        }
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                })
                .ok()
        };
        RunLock {
            store,
            info,
            stop: Some(stop),
            heartbeat,
            took_over,
        }
    }

    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    fn stop_heartbeat(&mut self) {
        self.stop = None;
        if let Some(h) = self.heartbeat.take() {
            h.join().ok();
        }
    }

    /// Write this lock into another store too (the sibling folder a `--full` run builds,
    /// which becomes the output when swapped in).
    pub fn copy_to(&self, other: &dyn Store) -> Result<(), StateError> {
        Ok(other.put(LOCK_PATH, &to_json(&self.info, "the lock", true)?)?)
    }

    /// Release the lock if it is still ours.
    pub fn release(mut self) -> Result<(), StateError> {
        self.stop_heartbeat();
        self.remove_if_ours()
    }

    fn remove_if_ours(&self) -> Result<(), StateError> {
        if let Some(b) = self.store.get(LOCK_PATH)? {
            if serde_json::from_slice::<LockInfo>(&b).is_ok_and(|h| h.run_id == self.info.run_id) {
                self.store.delete(LOCK_PATH)?;
            }
        }
        Ok(())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        if self.heartbeat.is_some() {
            self.stop_heartbeat();
            self.remove_if_ours().ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    fn store(dir: &std::path::Path) -> Arc<dyn Store> {
        Arc::new(LocalStore {
            root: dir.to_path_buf(),
        })
    }

    #[test]
    fn second_run_fails_naming_the_holder_then_gets_it_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let a = RunLock::acquire(store(dir.path()), "run-a").unwrap();
        let Err(err) = RunLock::acquire(store(dir.path()), "run-b") else {
            panic!("a second run got the lock");
        };
        let LockError::Locked(locked) = &err else {
            panic!("not a Locked error: {err}");
        };
        assert_eq!(locked.holder.run_id, "run-a");
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains(&host_name()), "{msg}");
        assert!(msg.contains(&a.info().started_at), "{msg}");
        a.release().unwrap();
        let b = RunLock::acquire(store(dir.path()), "run-b").unwrap();
        assert!(b.took_over.is_none());
    }

    #[test]
    fn a_dead_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // A process that has exited: its pid no longer runs.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = child.id();
        child.wait().unwrap();
        let dead = LockInfo {
            run_id: "run-dead".into(),
            pid: dead_pid,
            host: host_name(),
            started_at: "2026-01-01T00:00:00.000000Z".into(),
            heartbeat_us: now_us(),
        };
        let s = store(dir.path());
        s.put(LOCK_PATH, &serde_json::to_vec(&dead).unwrap())
            .unwrap();
        let l = RunLock::acquire(s.clone(), "run-new").unwrap();
        assert_eq!(l.took_over.as_ref().unwrap().run_id, "run-dead");

        // Another host: alive while its heartbeat is fresh, stale once it is old.
        let other = LockInfo {
            host: "elsewhere".into(),
            ..dead.clone()
        };
        assert!(!other.is_stale(&host_name(), now_us()));
        assert!(other.is_stale(&host_name(), now_us() + STALE_AFTER.as_micros() as i64 + 1));
    }

    fn dead_lock() -> LockInfo {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = child.id();
        child.wait().unwrap();
        LockInfo {
            run_id: "run-dead".into(),
            pid: dead_pid,
            host: host_name(),
            started_at: "2026-01-01T00:00:00.000000Z".into(),
            heartbeat_us: now_us(),
        }
    }

    // Concurrent takeovers (exactly one winner) are tested in `tests/it/incremental.rs`
    // (local) and `tests/s3.rs` (S3), with one shared race.

    /// The interleaving that let two runs win before: both read the same stale lock, then
    /// both try to replace it. Only the first replacement lands.
    #[test]
    fn a_takeover_replaces_only_the_stale_version_it_read() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.put(LOCK_PATH, &serde_json::to_vec(&dead_lock()).unwrap())
            .unwrap();
        let (_, seen_by_a) = s.get_versioned(LOCK_PATH).unwrap().unwrap();
        let (_, seen_by_b) = s.get_versioned(LOCK_PATH).unwrap().unwrap();
        assert!(s.replace_if(LOCK_PATH, b"{}", &seen_by_a).unwrap());
        assert!(!s.replace_if(LOCK_PATH, b"{}", &seen_by_b).unwrap());
        // A run whose lock was taken over stops refreshing it rather than overwrite it.
        let mut info = dead_lock();
        info.run_id = "run-b".into();
        s.put(LOCK_PATH, &serde_json::to_vec(&info).unwrap())
            .unwrap();
        let mut other = info.clone();
        other.run_id = "run-a".into();
        assert!(!refresh(s.as_ref(), &other));
        assert!(refresh(s.as_ref(), &info));
        let held: LockInfo = serde_json::from_slice(&s.get(LOCK_PATH).unwrap().unwrap()).unwrap();
        assert_eq!(held.run_id, "run-b");
    }
}
