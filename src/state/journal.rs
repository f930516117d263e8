//! Write-ahead notes for commits in flight, so that a crash never leaves stray parts.
//!
//! Before a chunk of an input file is published, the run writes
//! `_lakeaug/state/intents/<file id>.json` naming every file the step may leave behind:
//! the parts and rejects it is about to publish and, when it completes the file, the
//! previous version's files it will delete after the commit. The note is removed when
//! the step is done. A run killed in between leaves the note; the next run ([`recover`])
//! deletes each file it names that the committed record does not account for
//! ([`FileRecord::referenced`]). So whatever the moment of the crash, and even when the
//! rerun writes other names (another `--chunk-rows`, a file changed again), no part of
//! an uncommitted or superseded generation survives.

use serde::{Deserialize, Serialize};

use super::{from_json, to_json, State, StateError};
use crate::layout::file_id;
use crate::store::Store;

pub const INTENTS_DIR: &str = "_lakeaug/state/intents";

#[derive(Debug, Serialize, Deserialize)]
struct Intent {
    key: String,
    files: Vec<String>,
}

fn intent_path(key: &str) -> String {
    format!("{INTENTS_DIR}/{}.json", file_id(key))
}

/// Note that the step about to run for input `key` may leave `files` behind.
pub fn announce(store: &dyn Store, key: &str, files: &[String]) -> Result<(), StateError> {
    let intent = Intent {
        key: key.to_string(),
        files: files.to_vec(),
    };
    Ok(store.put(&intent_path(key), &to_json(&intent, "an intent", false)?)?)
}

/// The step for `key` is done: everything it named is committed or deleted.
pub fn clear(store: &dyn Store, key: &str) -> Result<(), StateError> {
    Ok(store.delete(&intent_path(key))?)
}

/// The note of one chunk of input `key` (chunk index `chunk`), for a cluster task: chunks
/// of one file are published by different executors at once, so each has its own note
/// (recovery reads every note alike: each names its input's key).
fn chunk_intent_path(key: &str, chunk: u64) -> String {
    format!("{INTENTS_DIR}/{}.c{chunk:05}.json", file_id(key))
}

/// [`announce`] for one chunk of `key`, by the task that publishes it.
pub fn announce_chunk(
    store: &dyn Store,
    key: &str,
    chunk: u64,
    files: &[String],
) -> Result<(), StateError> {
    let intent = Intent {
        key: key.to_string(),
        files: files.to_vec(),
    };
    let bytes = to_json(&intent, "an intent", false)?;
    Ok(store.put(&chunk_intent_path(key, chunk), &bytes)?)
}

/// [`clear`] for one chunk of `key`, once its record is committed (or its files deleted).
pub fn clear_chunk(store: &dyn Store, key: &str, chunk: u64) -> Result<(), StateError> {
    Ok(store.delete(&chunk_intent_path(key, chunk))?)
}

/// Finish what killed runs left: delete the files their notes name that `state` (the
/// committed records) does not account for, then the notes. Returns the files deleted.
/// Call with the lock held, before anything is written.
pub fn recover(store: &dyn Store, state: &State) -> Result<usize, StateError> {
    let mut deleted = 0;
    for note in store.list(INTENTS_DIR)? {
        if !note.rel.ends_with(".json") {
            continue;
        }
        let Some(bytes) = store.get(&note.rel)? else {
            continue;
        };
        let intent: Intent = from_json(
            &bytes,
            store,
            &note.rel,
            "; remove it (and any part files of its input that no state record lists)",
        )?;
        let record = state.files.get(&intent.key);
        for f in &intent.files {
            if !record.is_some_and(|r| r.referenced().any(|x| x == f)) {
                store.delete(f)?;
                deleted += 1;
            }
        }
        store.delete(&note.rel)?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{FileIdentity, FileRecord, Partial};
    use crate::store::LocalStore;

    fn record(outputs: &[&str], partial: Option<Partial>) -> FileRecord {
        FileRecord {
            key: "a.parquet".into(),
            generation: 2,
            identity: FileIdentity {
                path: "a.parquet".into(),
                size: 1,
                modified_us: Some(1),
                etag: None,
                footer_fingerprint: "f".into(),
            },
            rows: 1,
            outputs: outputs.iter().map(|s| s.to_string()).collect(),
            rejects: vec![],
            per_scheme: Default::default(),
            run_id: "r".into(),
            partial,
        }
    }

    #[test]
    fn recovery_deletes_only_what_no_record_accounts_for() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore {
            root: dir.path().to_path_buf(),
        };
        for f in ["p-g1", "p-g2", "p-g3"] {
            store.put(f, b"x").unwrap();
        }
        // Killed while completing generation 3 over generation 2, before the commit: the
        // record still names generation 2, so generation 3 goes and 2 stays.
        announce(&store, "a.parquet", &["p-g3".into(), "p-g2".into()]).unwrap();
        let mut state = State::default();
        state
            .files
            .insert("a.parquet".into(), record(&["p-g2"], None));
        assert_eq!(recover(&store, &state).unwrap(), 1);
        assert!(store.get("p-g3").unwrap().is_none());
        assert!(store.get("p-g2").unwrap().is_some());
        assert!(store.list(INTENTS_DIR).unwrap().is_empty());

        // A partial record keeps the version it replaces until it completes.
        let partial = Partial {
            rows_done: 4,
            chunk_rows: 4,
            next_seq: Default::default(),
            replaces: vec!["p-g1".into()],
            visible: vec!["p-g1".into()],
        };
        state
            .files
            .insert("a.parquet".into(), record(&["p-g2"], Some(partial)));
        announce(&store, "a.parquet", &["p-g2".into(), "p-g1".into()]).unwrap();
        assert_eq!(recover(&store, &state).unwrap(), 0);
        assert!(store.get("p-g1").unwrap().is_some());
        assert_eq!(state.snapshot_files(), vec!["p-g1".to_string()]);
    }
}
