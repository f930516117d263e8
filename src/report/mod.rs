//! `lakeaug report`: one self-contained HTML page that shows what a run did.
//!
//! The page reads one committed snapshot of an output (the one `lakeaug query` reads,
//! through [`crate::sql::session_for`]), so every number in it agrees with SQL over the
//! same output; most of them are the results of the shipped `queries/*.sql`, run as they
//! are. Sections, in order:
//!
//! 1. header (output, snapshot, last run, config hash, seed, schemes, sampling rule);
//! 2. checks, as pass/warn/fail badges with their numbers;
//! 3. samples: the same N source rows (lowest `source_digest`) in every scheme, with
//!    thumbnails, parameter chips, caption diffs and MLM token strips;
//! 4. parameter distributions against the config, with goodness-of-fit tests;
//! 5. token lengths; 6. rejects; 7. run history; 8. per-tile lineage drill-down.
//!
//! Modules: [`snapshot`] (what the page reads, as SQL), [`sample`] (bottom-k sampling,
//! thumbnails, `--verify`), [`diff`] (caption diffs from lineage), [`dist`]
//! (expected distributions and tests), [`charts`] (SVG), [`page`] (the askama template).
//! The page is deterministic: two reports of one output are byte-identical (the
//! timestamp comes from `SOURCE_DATE_EPOCH` when set).

pub mod charts;
pub mod diff;
pub mod dist;
pub mod page;
pub mod sample;
pub mod snapshot;

use std::path::{Path, PathBuf};

/// Default `--max-bytes`: browsers stay responsive well below this.
pub const DEFAULT_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// What `lakeaug report` was asked for.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// The output folder of `lakeaug run` (read only, never written).
    pub output: PathBuf,
    /// Where the HTML goes (must not be inside `output`).
    pub html: PathBuf,
    /// Schemes to show (default: every scheme of the last run's config).
    pub schemes: Option<Vec<String>>,
    /// Source rows sampled (rows of the samples grid).
    pub samples: usize,
    /// Copies shown per scheme and source row.
    pub copies_shown: usize,
    /// Thumbnail width in pixels.
    pub thumb_px: u32,
    /// Re-derive every sampled row from its source and lineage.
    pub verify: bool,
    /// Largest page size; the sample is halved until the page fits.
    pub max_bytes: u64,
    /// Input tables of the run (as given to `lakeaug run --input`); default: the inputs
    /// recorded in the manifests.
    pub sources: Vec<String>,
    /// The command line, shown in the header.
    pub command_line: String,
    /// Seconds since the epoch shown as the generation time (`SOURCE_DATE_EPOCH`);
    /// `None`: now.
    pub generated_at: Option<i64>,
}

impl ReportOptions {
    /// Defaults for `output` and `html`: 8 samples, 3 copies, 128 px thumbnails.
    pub fn new(output: impl Into<PathBuf>, html: impl Into<PathBuf>) -> ReportOptions {
        ReportOptions {
            output: output.into(),
            html: html.into(),
            schemes: None,
            samples: 8,
            copies_shown: 3,
            thumb_px: 128,
            verify: false,
            max_bytes: DEFAULT_MAX_BYTES,
            sources: Vec::new(),
            command_line: String::new(),
            generated_at: source_date_epoch(),
        }
    }
}

/// `SOURCE_DATE_EPOCH` (reproducible builds' convention), if set to an integer.
pub fn source_date_epoch() -> Option<i64> {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The report would be written into the output folder it reports on.
    #[error(
        "--out {html} is inside the output folder {output}; `lakeaug report` never writes \
         into the output: choose a path outside it"
    )]
    InsideOutput { html: PathBuf, output: PathBuf },
    /// Reading the output, its snapshot or its sources failed.
    #[error("{context}: {source:#}")]
    Read {
        context: String,
        source: anyhow::Error,
    },
    /// Writing the HTML file failed.
    #[error("writing the report {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Even with a single sampled row the page is larger than `--max-bytes`.
    #[error(
        "the report is {bytes} bytes even with 1 sampled row, above --max-bytes {max}; \
         raise --max-bytes or lower --thumb-px"
    )]
    TooLarge { bytes: usize, max: u64 },
    /// The template failed to render.
    #[error("rendering the report: {0}")]
    Render(#[from] askama::Error),
}

impl ReportError {
    pub(crate) fn read(context: impl Into<String>, source: impl Into<anyhow::Error>) -> Self {
        ReportError::Read {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportSummary {
    pub path: PathBuf,
    pub bytes: usize,
    /// Source rows shown (after halving to fit `--max-bytes`).
    pub samples: usize,
    /// Whether the sample was halved to fit.
    pub halved: bool,
    /// With `--verify`: rows that re-derived exactly, and rows that did not.
    pub verified: Option<(usize, usize)>,
}

/// Renders the report of `opts.output` and writes it to `opts.html` (atomically).
pub fn write_report(opts: &ReportOptions) -> Result<ReportSummary, ReportError> {
    check_outside(&opts.html, &opts.output)?;
    let rendered = render(opts)?;
    crate::store::write_atomic(&opts.html, rendered.html.as_bytes()).map_err(|source| {
        ReportError::Write {
            path: opts.html.clone(),
            source,
        }
    })?;
    Ok(ReportSummary {
        path: opts.html.clone(),
        bytes: rendered.html.len(),
        samples: rendered.samples,
        halved: rendered.halved,
        verified: rendered.verified,
    })
}

/// A rendered page and what it holds.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub html: String,
    pub samples: usize,
    pub halved: bool,
    pub verified: Option<(usize, usize)>,
}

/// Renders the report without writing it. Over `--max-bytes`, the sample is halved
/// (the other sections do not grow with it) until the page fits.
pub fn render(opts: &ReportOptions) -> Result<Rendered, ReportError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ReportError::read("starting the query runtime", e))?;
    runtime.block_on(render_async(opts))
}

async fn render_async(opts: &ReportOptions) -> Result<Rendered, ReportError> {
    let snap = snapshot::Snapshot::open(opts).await?;
    let fixed = snap.fixed_sections().await?;
    let requested = opts.samples;
    let mut n = requested;
    loop {
        let samples = sample::collect(&snap, n, opts).await?;
        let verified = opts.verify.then(|| samples.verified_counts());
        let html = page::render_page(&snap, &fixed, &samples, requested, opts)?;
        if html.len() as u64 <= opts.max_bytes {
            return Ok(Rendered {
                html,
                samples: samples.rows.len(),
                halved: n < requested,
                verified,
            });
        }
        if n <= 1 {
            return Err(ReportError::TooLarge {
                bytes: html.len(),
                max: opts.max_bytes,
            });
        }
        n /= 2;
    }
}

/// Refuses an HTML path inside the output folder (compared after resolving both, so
/// `out/../out/r.html` is caught too).
fn check_outside(html: &Path, output: &Path) -> Result<(), ReportError> {
    let resolve = |p: &Path| -> PathBuf {
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        };
        // The file (and maybe its folder) does not exist yet: resolve the nearest
        // existing ancestor and append the rest.
        let mut existing = abs.as_path();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => break,
            }
        }
        let mut resolved = existing
            .canonicalize()
            .unwrap_or_else(|_| existing.to_path_buf());
        for name in rest.into_iter().rev() {
            resolved.push(name);
        }
        resolved
    };
    let (h, o) = (resolve(html), resolve(output));
    if h.starts_with(&o) {
        return Err(ReportError::InsideOutput {
            html: html.to_path_buf(),
            output: output.to_path_buf(),
        });
    }
    Ok(())
}

/// A command-line word quoted for a POSIX shell (single quotes), unless it is plain.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A SQL string literal.
pub fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_inside_the_output_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        assert!(check_outside(&out.join("r.html"), &out).is_err());
        assert!(check_outside(&out.join("sub/../r.html"), &out).is_err());
        assert!(check_outside(&tmp.path().join("r.html"), &out).is_ok());
        assert!(check_outside(&tmp.path().join("out2/r.html"), &out).is_ok());
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("out/x"), "out/x");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(sql_str("o'k"), "'o''k'");
    }
}
