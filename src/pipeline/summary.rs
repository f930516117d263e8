//! The end-of-run summary: a table for people, JSON for schedulers and monitoring.

use comfy_table::{presets::UTF8_BORDERS_ONLY, Cell, CellAlignment, Table};
use serde::Serialize;

use super::{PlannedFile, Reject};
use crate::write::Manifest;

/// How a run ended (errors aside).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Files were processed and committed.
    Processed,
    /// Every input is already in the output, unchanged.
    NothingToDo,
    /// `--dry-run` with work to do.
    DryRun,
}

/// What a run did: its manifest, the rejected rows and its plan.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub manifest: Manifest,
    pub rejects: Vec<Reject>,
    pub status: RunStatus,
    /// Every input file found and whether it was processed.
    pub planned: Vec<PlannedFile>,
    /// Parquet footers read (planning with `--verify-footers`, and files processed).
    pub footers_read: u64,
    /// Seconds from start until the first file was ready to process.
    pub planning_secs: f64,
    pub output: String,
    /// Chunks each cluster executor ran (`run --cluster`; empty for a local run).
    pub executors: std::collections::BTreeMap<String, u64>,
}

/// `--summary-json`: counts, durations and throughput for monitoring.
#[derive(Debug, Serialize)]
pub struct SummaryJson<'a> {
    pub status: &'a str,
    pub exit_code: i32,
    pub run_id: &'a str,
    pub output: &'a str,
    pub files_processed: usize,
    pub files_unchanged: u64,
    pub files_skipped: usize,
    pub rows_read: u64,
    pub rows_written: u64,
    pub rows_rejected: u64,
    pub per_scheme: &'a std::collections::BTreeMap<String, crate::state::SchemeCounts>,
    pub rejects_files: &'a [String],
    pub planning_secs: f64,
    pub duration_secs: f64,
    pub rows_per_sec: f64,
    /// The process's peak resident memory so far (Linux `VmHWM`; absent elsewhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// The most decoded image bytes this process's threads held at once (reserved from
    /// `--decode-memory`), for sizing that option.
    pub decode_memory_peak_bytes: u64,
    /// Bytes fetched from remote inputs (footers and row groups, by byte ranges).
    pub input_bytes_fetched: u64,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "no_executors")]
    pub executors: &'a std::collections::BTreeMap<String, u64>,
}

/// A local run's summary lists no executors.
fn no_executors(executors: &&std::collections::BTreeMap<String, u64>) -> bool {
    executors.is_empty()
}

impl RunSummary {
    pub fn status_str(&self) -> &'static str {
        match self.status {
            RunStatus::Processed => "processed",
            RunStatus::NothingToDo => "nothing_to_do",
            RunStatus::DryRun => "dry_run",
        }
    }

    pub fn to_json(&self, exit_code: i32) -> SummaryJson<'_> {
        let m = &self.manifest;
        SummaryJson {
            status: self.status_str(),
            exit_code,
            run_id: &m.run_id,
            output: &self.output,
            files_processed: m.inputs.len(),
            files_unchanged: m.unchanged_files,
            files_skipped: m.skipped_files.len(),
            rows_read: m.rows_read,
            rows_written: m.rows_written,
            rows_rejected: m.rows_rejected,
            per_scheme: &m.per_scheme,
            rejects_files: &m.rejects_files,
            planning_secs: self.planning_secs,
            duration_secs: m.duration_secs,
            rows_per_sec: m.rows_per_sec,
            peak_rss_bytes: peak_rss_bytes(),
            decode_memory_peak_bytes: crate::kernels::image::decode_memory().peak(),
            input_bytes_fetched: m.input_bytes_fetched,
            error: None,
            executors: &self.executors,
        }
    }

    /// A table of rows written and rejected per scheme, with totals and throughput.
    pub fn render(&self) -> String {
        let m = &self.manifest;
        if self.status == RunStatus::NothingToDo {
            return format!(
                "run {}: nothing to do: all {} input file(s) are already in {}, unchanged\n{}",
                m.run_id,
                m.unchanged_files,
                self.output,
                fetched_line(m.input_bytes_fetched)
            );
        }
        let mut table = Table::new();
        table
            .load_preset(UTF8_BORDERS_ONLY)
            .set_header(vec!["scheme", "written", "rejected"]);
        for (scheme, c) in &m.per_scheme {
            table.add_row(vec![Cell::new(scheme), num(c.written), num(c.rejected)]);
        }
        table.add_row(vec![
            Cell::new("total"),
            num(m.rows_written),
            num(m.rows_rejected),
        ]);
        let copies = m.config.copies;
        let mut out = format!(
            "run {}: {} rows read from {} file(s) x {} scheme(s) x {} cop{} = {} written + {} rejected\n",
            m.run_id,
            m.rows_read,
            m.inputs.len(),
            m.per_scheme.len(),
            copies,
            if copies == 1 { "y" } else { "ies" },
            m.rows_written,
            m.rows_rejected
        );
        if m.unchanged_files > 0 {
            out.push_str(&format!(
                "{} unchanged file(s) already in the output were skipped\n",
                m.unchanged_files
            ));
        }
        out.push_str(&table.to_string());
        out.push_str(&format!(
            "\n{:.2} s, {:.1} input rows/s, {} thread(s)",
            m.duration_secs, m.rows_per_sec, m.threads
        ));
        if let Some(peak) = peak_rss_bytes() {
            out.push_str(&format!(", peak memory {} MB", peak / 1_000_000));
        }
        out.push('\n');
        out.push_str(&fetched_line(m.input_bytes_fetched));
        if !m.skipped_files.is_empty() {
            out.push_str(&format!("{} file(s) skipped:\n", m.skipped_files.len()));
            for s in &m.skipped_files {
                out.push_str(&format!("  {}: {}\n", s.path, s.reason));
            }
        }
        if m.rows_rejected > 0 {
            out.push_str(&format!(
                "rejected rows are listed in {}\n",
                m.rejects_files.join(", ")
            ));
        }
        out
    }
}

/// The process's peak resident set size: `VmHWM` of `/proc/self/status` (Linux only).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm_bytes(&status)
}

fn vm_hwm_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The line saying how much was fetched from remote inputs; none when nothing was.
fn fetched_line(bytes: u64) -> String {
    if bytes == 0 {
        return String::new();
    }
    format!(
        "{bytes} bytes ({:.1} MiB) fetched from remote inputs (footers and the row groups read)\n",
        bytes as f64 / (1024.0 * 1024.0)
    )
}

fn num(n: u64) -> Cell {
    Cell::new(n).set_alignment(CellAlignment::Right)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_from_proc_status() {
        let status =
            "Name:\tlakeaug\nVmPeak:\t  900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(vm_hwm_bytes(status), Some(204_800 * 1024));
        assert_eq!(vm_hwm_bytes("VmRSS:\t1 kB\n"), None);
        // This test process has touched memory: its own figure is there and plausible.
        let own = peak_rss_bytes().expect("Linux has /proc/self/status");
        assert!(own > 1 << 20, "{own}");
    }
}
