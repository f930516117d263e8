//! The run manifest: what a run read, how it was configured, and what it produced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Config;

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

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SchemeCounts {
    pub written: u64,
    pub rejected: u64,
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
}

impl Manifest {
    /// `_lakeaug/runs/run-<run_id>.json`, relative to the output root.
    pub fn relative_path(run_id: &str) -> String {
        format!("_lakeaug/runs/run-{run_id}.json")
    }

    /// `DIR/_lakeaug/runs/run-<run_id>.json` for a local output `DIR`.
    pub fn path(output: &Path, run_id: &str) -> PathBuf {
        output.join(Self::relative_path(run_id))
    }

    pub fn write(&self, store: &dyn crate::store::Store) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(self)?;
        store.put(&Self::relative_path(&self.run_id), &json)
    }

    pub fn read(path: &Path) -> anyhow::Result<Manifest> {
        let text = std::fs::read_to_string(path)?;
        Ok(serde_json::from_str(&text)?)
    }
}

/// RFC 3339 UTC with microseconds, from microseconds since the epoch.
pub fn rfc3339_micros(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        // 2026-11-27T05:07:32.5Z = 1795756052.5 s (checked with `date -u -d @1795756052`).
        assert_eq!(
            rfc3339_micros(1_795_756_052_500_000),
            "2026-11-27T05:07:32.500000Z"
        );
        assert_eq!(
            rfc3339_micros(951_782_400_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
    }
}
