//! The run manifest: what a run read, how it was configured, and what it produced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::WriteError;
use crate::config::Config;
use crate::layout::rfc3339_micros;
use crate::state::{FileIdentity, SchemeCounts};
use crate::store::io_error;

/// An input file a run processed whole.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ManifestInput {
    pub path: String,
    pub size: u64,
    /// Modification time, RFC 3339 UTC.
    pub modified: Option<String>,
    /// Rows read from this file.
    pub rows: u64,
    pub footer_fingerprint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub run_id: String,
    pub lakeaug_version: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_secs: f64,
    pub seed: u64,
    pub config_hash: String,
    pub config: Config,
    pub inputs: Vec<ManifestInput>,
    pub skipped_files: Vec<SkippedFile>,
    pub rows_read: u64,
    pub rows_written: u64,
    pub rows_rejected: u64,
    pub rows_per_sec: f64,
    pub threads: usize,
    pub per_scheme: BTreeMap<String, SchemeCounts>,
    /// Part files published by this run (relative to the output root).
    pub output_files: Vec<String>,
    /// Rejects tables published by this run, one per input file with rejected rows.
    pub rejects_files: Vec<String>,
    /// Input files skipped because this output already holds them, unchanged.
    pub unchanged_files: u64,
    /// Whether this run rebuilt the whole dataset (`--full`).
    pub full_rebuild: bool,
    /// Bytes fetched from remote (`s3://`) inputs: footers and the row groups read, by
    /// byte ranges (by the cluster's executors too). 0 for local inputs.
    #[serde(default)]
    pub input_bytes_fetched: u64,
}

impl ManifestInput {
    /// The entry of the file `identity`, of which this run read `rows` rows.
    pub fn new(identity: &FileIdentity, rows: u64) -> ManifestInput {
        ManifestInput {
            path: identity.path.clone(),
            size: identity.size,
            modified: identity.modified_us.map(rfc3339_micros),
            rows,
            footer_fingerprint: identity.footer_fingerprint.clone(),
        }
    }
}

impl Manifest {
    /// The manifest of run `run_id` of `config`, from `started_us` to `finished_us`
    /// (microseconds since the epoch) taking `duration_secs`, before it read or wrote
    /// anything: the run fills in what it did.
    pub fn new(
        run_id: &str,
        started_us: i64,
        finished_us: i64,
        duration_secs: f64,
        config: &Config,
    ) -> Manifest {
        Manifest {
            run_id: run_id.to_string(),
            lakeaug_version: crate::VERSION.to_string(),
            started_at: rfc3339_micros(started_us),
            finished_at: rfc3339_micros(finished_us),
            duration_secs,
            seed: config.seed,
            config_hash: config.hash(),
            config: config.clone(),
            inputs: Vec::new(),
            skipped_files: Vec::new(),
            rows_read: 0,
            rows_written: 0,
            rows_rejected: 0,
            rows_per_sec: 0.0,
            threads: 0,
            per_scheme: BTreeMap::new(),
            output_files: Vec::new(),
            rejects_files: Vec::new(),
            unchanged_files: 0,
            full_rebuild: false,
            input_bytes_fetched: 0,
        }
    }

    /// `_lakeaug/runs/run-<run_id>.json`, relative to the output root.
    pub fn relative_path(run_id: &str) -> String {
        format!("_lakeaug/runs/run-{run_id}.json")
    }

    /// `DIR/_lakeaug/runs/run-<run_id>.json` for a local output `DIR`.
    pub fn path(output: &Path, run_id: &str) -> PathBuf {
        output.join(Self::relative_path(run_id))
    }

    pub fn write(&self, store: &dyn crate::store::Store) -> Result<(), WriteError> {
        let path = Self::relative_path(&self.run_id);
        let json = serde_json::to_vec_pretty(self).map_err(|source| WriteError::Manifest {
            path: path.clone(),
            source,
        })?;
        Ok(store.put(&path, &json)?)
    }

    pub fn read(path: &Path) -> Result<Manifest, WriteError> {
        let text = std::fs::read_to_string(path).map_err(io_error("read", path))?;
        serde_json::from_str(&text).map_err(|source| WriteError::Manifest {
            path: path.display().to_string(),
            source,
        })
    }
}
