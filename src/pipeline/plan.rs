//! Planning a run: which input files to process, which to skip as already done.

use std::collections::BTreeMap;

use crate::config::Columns;
use crate::read::{BytesFetched, InputFile, OpenedInput};
use crate::state::{Plan, State};

/// An input file and what this run does with it.
#[derive(Debug, Clone)]
pub struct PlannedFile {
    pub file: InputFile,
    pub plan: Plan,
}

/// Two inputs with the same key would write the same part names: refuse, naming both.
pub fn check_unique_keys(files: &[InputFile]) -> Result<(), super::RunError> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for f in files {
        if let Some(other) = seen.insert(&f.key, &f.display) {
            return Err(super::RunError::Inputs(format!(
                "{} and {} have the same relative path {:?} below their --input roots, so their outputs would collide; give their common parent folder as --input instead",
                other,
                f.display,
                f.key
            )));
        }
    }
    Ok(())
}

/// Classify every input against the state.
///
/// A file whose size and modification time (or ETag) match its record is skipped without
/// opening it: at lake scale planning reads no file. With `verify_footers`, such files also
/// have their footer read and fingerprinted, and are reprocessed if it differs (for file
/// systems whose times are too coarse to notice a same-size rewrite; a remote input's
/// footer is fetched by ranged GETs, counted in `fetched`). New and changed files are
/// fingerprinted when they are opened for processing. Returns the plan and the number of
/// footers read.
pub fn plan_inputs(
    files: Vec<InputFile>,
    state: &State,
    full: bool,
    verify_footers: bool,
    columns: &Columns,
    fetched: &BytesFetched,
) -> (Vec<PlannedFile>, u64) {
    let mut footers_read = 0;
    let planned = files
        .into_iter()
        .map(|file| {
            let mut plan = if full { Plan::New } else { state.plan(&file) };
            if plan == Plan::Unchanged && verify_footers {
                footers_read += 1;
                let same = OpenedInput::open_counting(&file, columns, fetched).is_ok_and(|o| {
                    state
                        .files
                        .get(&file.key)
                        .is_some_and(|r| r.identity.footer_fingerprint == o.footer_fingerprint())
                });
                if !same {
                    plan = Plan::Changed;
                }
            }
            PlannedFile { file, plan }
        })
        .collect();
    (planned, footers_read)
}

/// What `--dry-run` prints: one line per file, then the totals.
pub fn render_plan(planned: &[PlannedFile], output: &str) -> String {
    let mut out = String::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in planned {
        let verb = if p.plan == Plan::Unchanged {
            "skip"
        } else {
            "process"
        };
        out.push_str(&format!(
            "{verb:<8} {:<9} {}\n",
            p.plan.as_str(),
            p.file.display
        ));
        *counts.entry(p.plan.as_str()).or_default() += 1;
    }
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    out.push_str(&format!(
        "dry run for {output}: would process {} file(s) ({} new, {} changed, {} to resume), skip {} unchanged\n",
        n("new") + n("changed") + n("resume"),
        n("new"),
        n("changed"),
        n("resume"),
        n("unchanged")
    ));
    out
}
