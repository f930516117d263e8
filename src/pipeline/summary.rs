//! The end-of-run summary table.

use comfy_table::{presets::UTF8_BORDERS_ONLY, Cell, CellAlignment, Table};

use super::Reject;
use crate::write::Manifest;

/// What a run did; its manifest plus the rejected rows.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub manifest: Manifest,
    pub rejects: Vec<Reject>,
}

impl RunSummary {
    /// A table of rows written and rejected per scheme, with totals and throughput.
    pub fn render(&self) -> String {
        let m = &self.manifest;
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
        out.push_str(&table.to_string());
        out.push_str(&format!(
            "\n{:.2} s, {:.1} input rows/s, {} thread(s)\n",
            m.duration_secs, m.rows_per_sec, m.threads
        ));
        if !m.skipped_files.is_empty() {
            out.push_str(&format!("{} file(s) skipped:\n", m.skipped_files.len()));
            for s in &m.skipped_files {
                out.push_str(&format!("  {}: {}\n", s.path, s.reason));
            }
        }
        if m.rows_rejected > 0 {
            out.push_str(&format!("rejected rows are listed in {}\n", m.rejects_file));
        }
        out
    }
}

fn num(n: u64) -> Cell {
    Cell::new(n).set_alignment(CellAlignment::Right)
}
