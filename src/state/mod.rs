//! What an output dataset already holds, so that a rerun does only new work.
//!
//! Layout below the output root (all under `_lakeaug/`, which Parquet readers skip):
//!
//! ```text
//! _lakeaug/state/dataset.json          the config hash (and config) the dataset is built with
//! _lakeaug/state/files.json            snapshot: one record per processed input file
//! _lakeaug/state/commits/<id>.json     records committed since the last snapshot
//! _lakeaug/state/intents/<id>.json     files a commit in flight may leave (see [`journal`])
//! _lakeaug/lock.json                   the run holding the dataset (see [`lock`])
//! ```
//!
//! A file's record is written (one small atomic object) right after its outputs are
//! published, so progress is committed per input file and a crash loses only the file in
//! flight. The snapshot is rewritten once per run (compaction), so planning reads one
//! object plus the few commits of an interrupted run, whatever the lake's size.
//!
//! Each processing of an input file writes a new *generation* of parts
//! (`part-<file id>-g<generation>-<seq>.parquet`), so a changed file's new parts never
//! overwrite the old ones: the old generation stays whole until the record naming the
//! new one is committed, and is deleted after. The committed records are therefore a
//! consistent snapshot of the dataset at every moment ([`State::snapshot_files`]).

pub mod journal;
pub mod lock;

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::read::InputFile;
use crate::store::{Store, StoreError};

/// Why the state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A state object that is not what lakeaug wrote.
    #[error("{location} is damaged{advice}")]
    Damaged {
        location: String,
        /// What to do about it (empty, or starting with `; `).
        advice: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot encode {what} as JSON")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// `value` as JSON (`pretty`: indented, for files people read).
pub(crate) fn to_json<T: Serialize>(
    value: &T,
    what: &'static str,
    pretty: bool,
) -> Result<Vec<u8>, StateError> {
    let json = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    };
    json.map_err(|source| StateError::Encode { what, source })
}

/// The JSON object at `rel` of `store`, decoded; damaged if it is not a `T`.
fn from_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    store: &dyn Store,
    rel: &str,
    advice: &'static str,
) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|source| StateError::Damaged {
        location: format!("{}/{rel}", store.describe()),
        advice,
        source,
    })
}

pub const DATASET_PATH: &str = "_lakeaug/state/dataset.json";
pub const SNAPSHOT_PATH: &str = "_lakeaug/state/files.json";
pub const COMMITS_DIR: &str = "_lakeaug/state/commits";

/// The configuration an output dataset is built with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DatasetState {
    pub config_hash: String,
    pub lakeaug_version: String,
    /// Run that started the dataset (first run, or the last `--full`).
    pub created_by_run: String,
    pub config: crate::config::Config,
    /// The input files' columns (`name: type`), recorded when the first files are
    /// processed; files with other columns are refused (see `pipeline::drift`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_columns: Option<Vec<String>>,
}

/// Rows written and rejected, of one scheme.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SchemeCounts {
    pub written: u64,
    pub rejected: u64,
}

impl SchemeCounts {
    /// Add `other`'s counts to these.
    pub fn add(&mut self, other: &SchemeCounts) {
        self.written += other.written;
        self.rejected += other.rejected;
    }
}

/// Add every scheme's counts of `from` to `into`.
pub fn add_counts(
    into: &mut BTreeMap<String, SchemeCounts>,
    from: &BTreeMap<String, SchemeCounts>,
) {
    for (scheme, c) in from {
        into.entry(scheme.clone()).or_default().add(c);
    }
}

/// Which version of an input file was processed: what tells a changed file from the same
/// one. Written flattened into its [`FileRecord`] (the fields sit at the record's top
/// level, as before this type existed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileIdentity {
    /// The path as found from `--input` (what `source_file` holds).
    pub path: String,
    pub size: u64,
    /// Modification time in microseconds since the epoch (local files, and object stores
    /// without ETags).
    pub modified_us: Option<i64>,
    /// Object store entity tag.
    pub etag: Option<String>,
    pub footer_fingerprint: String,
}

impl FileIdentity {
    /// The identity of a listed input file whose footer has fingerprint `footer_fingerprint`.
    pub fn of(file: &InputFile, footer_fingerprint: String) -> FileIdentity {
        FileIdentity {
            path: file.display.clone(),
            size: file.size,
            modified_us: file.modified.and_then(micros),
            etag: file.etag.clone(),
            footer_fingerprint,
        }
    }

    /// True when both describe the same content (size, time, ETag and footer; the path it
    /// was reached by may differ).
    pub fn same_content(&self, other: &FileIdentity) -> bool {
        self.size == other.size
            && self.modified_us == other.modified_us
            && self.etag == other.etag
            && self.footer_fingerprint == other.footer_fingerprint
    }

    /// True when `file` is, by its listing alone (size, then ETag or modification time),
    /// the file this identity describes. Reads nothing.
    pub fn same_listing(&self, file: &InputFile) -> bool {
        if self.size != file.size {
            return false;
        }
        match (&self.etag, &file.etag) {
            (Some(a), Some(b)) => a == b,
            _ => self.modified_us.is_some() && self.modified_us == file.modified.and_then(micros),
        }
    }
}

/// One processed input file: its identity when processed, and what it produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileRecord {
    /// The file's key (path relative to its `--input` root); part names derive from it.
    pub key: String,
    /// Which processing of this file `outputs` and `rejects` come from (1 for the first;
    /// 0 in records written before generations existed). Part names carry it.
    #[serde(default)]
    pub generation: u32,
    #[serde(flatten)]
    pub identity: FileIdentity,
    pub rows: u64,
    /// Published part files, relative to the output root.
    pub outputs: Vec<String>,
    /// The file's rejects tables (one per chunk with rejected rows).
    pub rejects: Vec<String>,
    pub per_scheme: BTreeMap<String, SchemeCounts>,
    pub run_id: String,
    /// Set while only the first rows of a large file are committed (see [`Partial`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial: Option<Partial>,
}

/// Progress inside a large input file, committed every `chunk_rows` rows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Partial {
    /// Rows committed so far (a multiple of `chunk_rows`, so even).
    pub rows_done: u64,
    pub chunk_rows: u64,
    /// Sequence number of the next part of each scheme.
    pub next_seq: BTreeMap<String, u32>,
    /// Outputs of the file's previous version not yet replaced: removed when it completes.
    pub replaces: Vec<String>,
    /// Of `replaces`, the last complete version's parts and rejects: what a consistent
    /// snapshot shows of this file until this version completes (empty for a new file).
    #[serde(default)]
    pub visible: Vec<String>,
}

/// Microseconds since the epoch.
pub fn micros(t: SystemTime) -> Option<i64> {
    t.duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_micros() as i64)
}

impl FileRecord {
    /// The parts and rejects of this file's last complete version: what a reader of a
    /// consistent snapshot sees.
    pub fn visible_files(&self) -> Vec<String> {
        match &self.partial {
            Some(p) => p.visible.clone(),
            None => self.outputs.iter().chain(&self.rejects).cloned().collect(),
        }
    }

    /// Every file this record still accounts for: its current parts and rejects, and those
    /// of a previous version it has yet to delete. Anything else of this file is garbage.
    pub fn referenced(&self) -> impl Iterator<Item = &String> {
        let replaced = self.partial.iter().flat_map(|p| &p.replaces);
        self.outputs.iter().chain(&self.rejects).chain(replaced)
    }

    /// A record of `identity` with nothing committed yet.
    pub fn empty(
        key: String,
        generation: u32,
        identity: FileIdentity,
        run_id: String,
    ) -> FileRecord {
        FileRecord {
            key,
            generation,
            identity,
            rows: 0,
            outputs: Vec::new(),
            rejects: Vec::new(),
            per_scheme: BTreeMap::new(),
            run_id,
            partial: None,
        }
    }

    /// True when `file` is, by its listing alone, the file this record describes.
    pub fn same_listing(&self, file: &InputFile) -> bool {
        self.identity.same_listing(file)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Snapshot {
    files: Vec<FileRecord>,
}

/// Why an input file is (or is not) processed in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Never processed into this output.
    New,
    /// Processed before, but its size, time, ETag or footer differ now.
    Changed,
    /// Partly processed (a run stopped inside it) and unchanged: goes on after the rows
    /// already committed.
    Resume,
    /// Processed before and unchanged: skipped without reading.
    Unchanged,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::New => "new",
            Plan::Changed => "changed",
            Plan::Resume => "resume",
            Plan::Unchanged => "unchanged",
        }
    }
}

/// The processed-files state of one output dataset.
#[derive(Debug, Default)]
pub struct State {
    pub dataset: Option<DatasetState>,
    /// Records by file key.
    pub files: BTreeMap<String, FileRecord>,
    /// Commit objects read at load time (folded into the snapshot by [`State::compact`]).
    pending_commits: Vec<String>,
}

fn commit_path(key: &str) -> String {
    format!("{COMMITS_DIR}/{}.json", crate::layout::file_id(key))
}

impl State {
    /// Read the state of the dataset at `store` (empty for a new output).
    pub fn load(store: &dyn Store) -> Result<State, StateError> {
        let dataset = match store.get(DATASET_PATH)? {
            Some(b) => Some(from_json(&b, store, DATASET_PATH, "")?),
            None => None,
        };
        let mut files = BTreeMap::new();
        if let Some(b) = store.get(SNAPSHOT_PATH)? {
            let snap: Snapshot = from_json(&b, store, SNAPSHOT_PATH, "")?;
            for r in snap.files {
                files.insert(r.key.clone(), r);
            }
        }
        let mut pending_commits = Vec::new();
        let mut commits = store.list(COMMITS_DIR)?;
        commits.sort_by(|a, b| a.rel.cmp(&b.rel));
        for c in commits {
            if !c.rel.ends_with(".json") {
                continue;
            }
            if let Some(b) = store.get(&c.rel)? {
                let r: FileRecord = from_json(&b, store, &c.rel, "")?;
                files.insert(r.key.clone(), r);
            }
            pending_commits.push(c.rel);
        }
        Ok(State {
            dataset,
            files,
            pending_commits,
        })
    }

    /// How `file` is to be treated, from its listing alone.
    pub fn plan(&self, file: &InputFile) -> Plan {
        match self.files.get(&file.key) {
            None => Plan::New,
            Some(r) if r.same_listing(file) && r.partial.is_some() => Plan::Resume,
            Some(r) if r.same_listing(file) => Plan::Unchanged,
            Some(_) => Plan::Changed,
        }
    }

    /// Record that `record`'s file is processed and its outputs published: one atomic
    /// object, the commit point of that file.
    pub fn commit(&mut self, store: &dyn Store, record: FileRecord) -> Result<(), StateError> {
        let path = commit_path(&record.key);
        store.put(&path, &to_json(&record, "a file record", false)?)?;
        self.pending_commits.push(path);
        self.files.insert(record.key.clone(), record);
        Ok(())
    }

    /// Write the dataset's config record.
    pub fn set_dataset(
        &mut self,
        store: &dyn Store,
        dataset: DatasetState,
    ) -> Result<(), StateError> {
        store.put(
            DATASET_PATH,
            &to_json(&dataset, "the dataset record", true)?,
        )?;
        self.dataset = Some(dataset);
        Ok(())
    }

    /// Fold the commits into a new snapshot (written atomically), then remove them. A crash
    /// in between leaves commits that the next load applies again, to the same effect.
    pub fn compact(&mut self, store: &dyn Store) -> Result<(), StateError> {
        if self.pending_commits.is_empty() {
            return Ok(());
        }
        let snap = Snapshot {
            files: self.files.values().cloned().collect(),
        };
        store.put(SNAPSHOT_PATH, &to_json(&snap, "the state snapshot", false)?)?;
        for c in std::mem::take(&mut self.pending_commits) {
            store.delete(&c)?;
        }
        Ok(())
    }

    /// Every part and rejects file of the committed snapshot, sorted: each input file's
    /// last complete version ([`FileRecord::visible_files`]). `lakeaug query` reads exactly
    /// these, so it never sees two versions of a file side by side, nor half of one.
    pub fn snapshot_files(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .files
            .values()
            .flat_map(FileRecord::visible_files)
            .collect();
        all.sort();
        // A part of `lakeaug compact` is listed by every input file with rows in it.
        all.dedup();
        all
    }

    /// Write `records` as the snapshot directly (tests build large synthetic states so).
    pub fn write_snapshot(store: &dyn Store, records: Vec<FileRecord>) -> Result<(), StateError> {
        let snap = Snapshot { files: records };
        Ok(store.put(SNAPSHOT_PATH, &to_json(&snap, "the state snapshot", false)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::LocalStore;

    fn input(key: &str, size: u64, us: i64, etag: Option<&str>) -> InputFile {
        InputFile {
            path: key.into(),
            display: key.into(),
            key: key.into(),
            partition_values: vec![],
            size,
            modified: Some(UNIX_EPOCH + std::time::Duration::from_micros(us as u64)),
            etag: etag.map(String::from),
            remote: None,
        }
    }

    fn record(key: &str, size: u64, us: i64, etag: Option<&str>) -> FileRecord {
        FileRecord {
            key: key.into(),
            identity: FileIdentity {
                path: key.into(),
                size,
                modified_us: Some(us),
                etag: etag.map(String::from),
                footer_fingerprint: "f".into(),
            },
            rows: 1,
            outputs: vec![],
            rejects: vec![],
            per_scheme: BTreeMap::new(),
            run_id: "r".into(),
            partial: None,
            generation: 1,
        }
    }

    #[test]
    fn listing_decides_new_changed_unchanged() {
        let mut s = State::default();
        s.files.insert("a".into(), record("a", 10, 5, None));
        s.files
            .insert("e".into(), record("e", 10, 5, Some("\"x\"")));
        assert_eq!(s.plan(&input("a", 10, 5, None)), Plan::Unchanged);
        assert_eq!(s.plan(&input("a", 11, 5, None)), Plan::Changed);
        assert_eq!(s.plan(&input("a", 10, 6, None)), Plan::Changed);
        assert_eq!(s.plan(&input("b", 10, 5, None)), Plan::New);
        let mut partly = record("p", 10, 5, None);
        partly.partial = Some(Partial {
            rows_done: 4,
            chunk_rows: 4,
            next_seq: BTreeMap::new(),
            replaces: vec![],
            visible: vec![],
        });
        s.files.insert("p".into(), partly);
        assert_eq!(s.plan(&input("p", 10, 5, None)), Plan::Resume);
        assert_eq!(s.plan(&input("p", 12, 5, None)), Plan::Changed);
        // With ETags on both sides the ETag decides, not the time.
        assert_eq!(s.plan(&input("e", 10, 99, Some("\"x\""))), Plan::Unchanged);
        assert_eq!(s.plan(&input("e", 10, 5, Some("\"y\""))), Plan::Changed);
    }

    #[test]
    fn commits_survive_and_compact_into_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore {
            root: dir.path().to_path_buf(),
        };
        let mut s = State::load(&store).unwrap();
        assert!(s.files.is_empty() && s.dataset.is_none());
        s.commit(&store, record("a", 1, 1, None)).unwrap();
        s.commit(&store, record("b", 2, 2, None)).unwrap();
        // A "crash" now: a fresh load sees both commits.
        let mut again = State::load(&store).unwrap();
        assert_eq!(again.files.len(), 2);
        assert_eq!(store.list(COMMITS_DIR).unwrap().len(), 2);
        again.compact(&store).unwrap();
        assert!(store.list(COMMITS_DIR).unwrap().is_empty());
        let last = State::load(&store).unwrap();
        assert_eq!(last.files["b"], record("b", 2, 2, None));
        assert_eq!(last.files.len(), 2);
    }

    /// State JSON written by lakeaug before `FileIdentity` existed (at 6436100): a
    /// snapshot, and a commit of a partly done file. It reads, and writes back the same.
    #[test]
    fn state_written_by_earlier_versions_reads_and_writes_back_the_same() {
        let snapshot = include_str!("../../tests/fixtures/golden/state/files.json").trim();
        let snap: Snapshot = serde_json::from_str(snapshot).unwrap();
        let r = &snap.files[0];
        assert_eq!(
            (r.key.as_str(), r.generation, r.rows),
            ("photos.parquet", 1, 15)
        );
        assert_eq!(r.identity.path, "sample_data/photos.parquet");
        assert_eq!(r.identity.size, 678_845);
        assert_eq!(r.identity.modified_us, Some(1_795_828_969_000_000));
        assert_eq!(r.identity.etag, None);
        assert_eq!(r.identity.footer_fingerprint, "f5fb0ba7f0bdabf6");
        assert!(r.partial.is_none());
        assert_eq!(serde_json::to_string(&snap).unwrap(), snapshot);

        let commit = include_str!("../../tests/fixtures/golden/state/commit_partial.json").trim();
        let r: FileRecord = serde_json::from_str(commit).unwrap();
        assert_eq!(r.identity.footer_fingerprint, "f5fb0ba7f0bdabf6");
        let p = r.partial.as_ref().unwrap();
        assert_eq!((p.rows_done, p.chunk_rows), (4, 4));
        assert_eq!(serde_json::to_string(&r).unwrap(), commit);

        // An object store's ETag round-trips too.
        let with_etag = commit.replace(r#""etag":null"#, r#""etag":"\"abc\"""#);
        let r: FileRecord = serde_json::from_str(&with_etag).unwrap();
        assert_eq!(r.identity.etag.as_deref(), Some("\"abc\""));
        assert_eq!(serde_json::to_string(&r).unwrap(), with_etag);
    }
}
