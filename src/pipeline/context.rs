//! What one run's processing knows: when and as what it started ([`RunClock`]), its
//! options and target ([`Job`]), and the manifest it ends with. Shared by the local
//! path (`job.rs`) and the cluster path (`remote.rs`), neither of which imports the other's
//! internals.

use std::time::Instant;

use super::tally::RunTally;
use super::target::Target;
use super::{round_to, RunOptions};
use crate::layout::now_micros;
use crate::write::Manifest;

/// When and as what a run started.
pub(super) struct RunClock {
    pub run_id: String,
    pub started: Instant,
    /// Microseconds since the epoch.
    pub started_us: i64,
}

/// One run's processing of the files it has to do, into its target.
pub(super) struct Job<'a> {
    pub opts: &'a RunOptions,
    pub target: &'a Target,
    pub clock: &'a RunClock,
    /// Input files skipped as already in the output.
    pub unchanged: u64,
    /// Bytes fetched from remote inputs by this run (planning included), and by the
    /// cluster tasks that report theirs.
    pub fetched: crate::read::BytesFetched,
}

impl Job<'_> {
    /// The run's manifest, and its rejected rows.
    pub(super) fn manifest(
        &self,
        tally: RunTally,
        mut published: Vec<String>,
        rejects_files: Vec<String>,
        threads: usize,
    ) -> (Manifest, Vec<crate::layout::Reject>) {
        let mut manifest = self.clock.manifest(&self.opts.config);
        published.sort();
        manifest.threads = threads;
        manifest.output_files = published;
        manifest.rejects_files = rejects_files;
        manifest.unchanged_files = self.unchanged;
        manifest.full_rebuild = self.target.build_dir.is_some();
        manifest.input_bytes_fetched = self.fetched.get();
        let rejects = tally.into_manifest(&mut manifest);
        (manifest, rejects)
    }
}

impl RunClock {
    /// The manifest of this run ending now, before it counts what it did.
    pub fn manifest(&self, config: &crate::config::Config) -> Manifest {
        // Microseconds are plenty, and short decimals read back from the JSON manifest as
        // the very same f64 (long ones may not without serde_json's float_roundtrip).
        let duration = round_to(self.started.elapsed().as_secs_f64(), 1e6);
        Manifest::new(
            &self.run_id,
            self.started_us,
            now_micros(),
            duration,
            config,
        )
    }
}
