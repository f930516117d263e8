//! `lakeaug run` as the incremental and S3 tests start it: small images, small batches.

use std::process::Command;

/// `lakeaug run --quiet --size 32 --batch-size 4 --threads 2`; add inputs, output, options.
pub fn small_run() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_lakeaug"));
    c.args([
        "run",
        "--quiet",
        "--size",
        "32",
        "--batch-size",
        "4",
        "--threads",
        "2",
    ]);
    c
}
