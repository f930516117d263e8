//! lakeaug's integration tests: one test binary made of modules (as ripgrep does), so
//! DataFusion and the rest of the crate are linked once, and the helpers in `common` and
//! `sql_fixture` are shared instead of copied.
//!
//! Run one module with `cargo test --test it MODULE::` (e.g. `cargo test --test it s3::`).
//! The Python-backed modules (`interop`, `s3`) create `.venv` on first use; `.ci/run`
//! prepares it up front.

mod common;
mod sql_fixture;

mod cli;
mod cluster;
mod cluster_docs;
mod cluster_sql;
mod fuzz_inputs;
mod golden;
mod hostile;
mod image_parity;
mod incremental;
mod interop;
mod nightly_docs;
mod report;
mod run_e2e;
mod s3;
mod s3_ranges;
mod schemes_e2e;
mod simd;
mod sql_cli;
mod sql_queries;
mod tokenizer_parity;
