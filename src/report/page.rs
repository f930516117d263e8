//! The page: view models for the askama template `templates/report.html`.
//!
//! askama checks the template against these types at compile time and escapes every
//! value it prints, so user data (captions, file names, scheme names) always renders as
//! text. The only unescaped insertions are the SVG charts, which plotters builds with
//! escaped text, and the fixed CSS and script.
//!
//! Every number the page shows is marked `data-metric="KEY"`: `<query>.<statement>.<row>.
//! <column>` for cells of the shipped queries, `dist.<scheme>.<chart>.<n|binK>` for the
//! distributions, and `report.<name>` for the few figures computed here.

use askama::Template;

use super::charts;
use super::dist::{fmt_num, fmt_p, DistResult, Expected, P_FAIL};
use super::sample::Samples;
use super::snapshot::{
    Fixed, QueryTable, Snapshot, CAPTION_EDITS, CONSISTENCY, PARAMETER_DISTRIBUTION,
    REJECTS_BY_REASON, RUN_HISTORY, SCHEME_SUMMARY, TOKEN_LENGTHS,
};
use super::{shell_quote, sql_str, ReportError, ReportOptions};

const CSS: &str = include_str!("../../templates/report.css");
const SCRIPT: &str = include_str!("../../templates/report.js");

/// A number on the page and its metric key.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub key: String,
    pub text: String,
}

fn metric(key: impl Into<String>, text: impl Into<String>) -> Metric {
    Metric {
        key: key.into(),
        text: text.into(),
    }
}

/// A line of the header.
pub struct HeaderLine {
    pub label: &'static str,
    pub value: String,
    /// Shown as code (a command, a hash).
    pub code: bool,
}

/// A pass/warn/fail badge.
pub struct Check {
    pub name: String,
    /// `pass`, `warn`, `fail` or `info`.
    pub status: &'static str,
    pub detail: String,
    pub numbers: Vec<(String, Metric)>,
}

/// One distribution chart with its table.
pub struct DistView {
    pub id: String,
    pub column: String,
    pub rule: String,
    pub test: String,
    pub status: &'static str,
    pub svg: Option<String>,
    pub chart_error: Option<String>,
    pub n: Metric,
    pub range: String,
    /// (bin label, count, expected count).
    pub bins: Vec<(String, Metric, String)>,
}

/// The distributions of one scheme.
pub struct SchemeDistView {
    pub scheme: String,
    pub charts: Vec<DistView>,
}

/// The token-length histogram of one scheme.
pub struct TokenChart {
    pub scheme: String,
    pub svg: Option<String>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct PageTemplate<'a> {
    nonce: String,
    css: &'static str,
    script: &'static str,
    title: String,
    header: Vec<HeaderLine>,
    sampling: String,
    sample_metrics: (Metric, Metric),
    halved_note: Option<String>,
    checks: Vec<Check>,
    samples: &'a Samples,
    source_note: Option<String>,
    dists: Vec<SchemeDistView>,
    tokens: Vec<&'a QueryTable>,
    token_charts: Vec<TokenChart>,
    max_tokens: usize,
    caption_edits: Option<&'a QueryTable>,
    rejects: Option<&'a QueryTable>,
    reject_commands: Vec<(String, String)>,
    rejects_query: String,
    scheme_summary: Option<&'a QueryTable>,
    history: Option<&'a QueryTable>,
    config_changes: Vec<(String, String)>,
    param_summary: Vec<&'a QueryTable>,
    consistency: Option<&'a QueryTable>,
    expected_images: usize,
    expected_charts: usize,
}

/// Renders the whole page for `samples` (`requested`: the sample size asked for).
pub fn render_page(
    snap: &Snapshot,
    fixed: &Fixed,
    samples: &Samples,
    requested: usize,
    opts: &ReportOptions,
) -> Result<String, ReportError> {
    let output = opts.output.display().to_string();
    let last = snap.manifests.last();
    let generated = match opts.generated_at {
        Some(secs) => chrono::DateTime::from_timestamp(secs, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default(),
        None => chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let snapshot_desc = match (&snap.committed, snap.snapshot_id()) {
        (Some(files), Some(id)) => format!(
            "committed state {id}: {} part and rejects files (what `lakeaug query` reads)",
            files.len()
        ),
        _ => "no lakeaug state: every part file in the folder".to_string(),
    };
    let scheme_names: Vec<String> = snap.schemes.iter().map(|s| s.name.clone()).collect();
    let header = vec![
        HeaderLine {
            label: "output",
            value: output.clone(),
            code: true,
        },
        HeaderLine {
            label: "snapshot",
            value: snapshot_desc,
            code: false,
        },
        HeaderLine {
            label: "last run",
            value: last
                .map(|m| m.run_id.clone())
                .unwrap_or_else(|| "none".into()),
            code: true,
        },
        HeaderLine {
            label: "config hash",
            value: last.map(|m| m.config_hash.clone()).unwrap_or_default(),
            code: true,
        },
        HeaderLine {
            label: "seed",
            value: snap.config.seed.to_string(),
            code: false,
        },
        HeaderLine {
            label: "schemes",
            value: scheme_names.join(", "),
            code: false,
        },
        HeaderLine {
            label: "command",
            value: opts.command_line.clone(),
            code: true,
        },
        HeaderLine {
            label: "generated",
            value: generated,
            code: false,
        },
    ];
    let shown = samples.rows.len();
    let sample_metrics = (
        metric("report.samples", shown.to_string()),
        metric("report.source_rows", fixed.stats.source_rows.to_string()),
    );
    let halved_note = (shown < requested && (shown as i64) < fixed.stats.source_rows).then(|| {
        format!(
            "{requested} samples were asked for; halved to {shown} so that the page stays under --max-bytes {}",
            opts.max_bytes
        )
    });

    let dists = dist_views(fixed);
    let token_charts = token_charts(fixed, snap.config.tokens.max_tokens);
    let expected_charts = dists
        .iter()
        .flat_map(|d| &d.charts)
        .filter(|c| c.svg.is_some())
        .count()
        + token_charts.iter().filter(|c| c.svg.is_some()).count();
    let rejects = fixed.table(REJECTS_BY_REASON.name, 0);
    let quoted_out = shell_quote(&output);
    let reject_commands = rejects
        .map(|t| {
            let mut reasons: Vec<(String, String)> = Vec::new();
            for (stage, reason) in t.texts("stage").into_iter().zip(t.texts("reason")) {
                if reasons.iter().any(|(r, _)| r == &reason) {
                    continue;
                }
                let sql = format!(
                    "SELECT * FROM rejects WHERE stage = {} AND reason = {}",
                    sql_str(&stage),
                    sql_str(&reason)
                );
                reasons.push((
                    reason,
                    format!("lakeaug query {quoted_out} {}", shell_quote(&sql)),
                ));
            }
            reasons
        })
        .unwrap_or_default();
    let history = fixed.table(RUN_HISTORY.name, 0);
    let config_changes = config_changes(snap);
    let page = PageTemplate {
        nonce: nonce(),
        css: CSS,
        script: SCRIPT,
        title: format!("lakeaug report: {output}"),
        header,
        sampling: samples.rule.clone(),
        sample_metrics,
        halved_note,
        checks: checks(snap, fixed, samples, opts),
        samples,
        source_note: snap.source_note.clone(),
        dists,
        tokens: [0]
            .iter()
            .filter_map(|i| fixed.table(TOKEN_LENGTHS.name, *i))
            .collect(),
        token_charts,
        max_tokens: snap.config.tokens.max_tokens,
        caption_edits: fixed.table(CAPTION_EDITS.name, 0),
        rejects,
        reject_commands,
        rejects_query: format!("lakeaug query {quoted_out} --file queries/rejects_by_reason.sql"),
        scheme_summary: fixed.table(SCHEME_SUMMARY.name, 0),
        history,
        config_changes,
        param_summary: [0, 1]
            .iter()
            .filter_map(|i| fixed.table(PARAMETER_DISTRIBUTION.name, *i))
            .collect(),
        consistency: fixed.table(CONSISTENCY.name, 0),
        expected_images: samples.image_count(),
        expected_charts,
    };
    Ok(page.render()?)
}

/// The CSP nonce of the page's one style and one script: derived from their text, so
/// the page stays byte-identical between renders. (A nonce guards against injected
/// markup only if it cannot be guessed; here every user value is escaped by the template
/// and the policy's job is to forbid any load from outside the file.)
fn nonce() -> String {
    let mut h = blake3::Hasher::new();
    h.update(CSS.as_bytes());
    h.update(SCRIPT.as_bytes());
    h.finalize().to_hex()[..32].to_string()
}

fn dist_views(fixed: &Fixed) -> Vec<SchemeDistView> {
    fixed
        .dists
        .iter()
        .map(|sd| SchemeDistView {
            scheme: sd.scheme.clone(),
            charts: sd
                .results
                .iter()
                .enumerate()
                .map(|(i, r)| dist_view(&sd.scheme, i, r))
                .collect(),
        })
        .collect()
}

fn dist_view(scheme: &str, i: usize, r: &DistResult) -> DistView {
    let id = format!("dist.{scheme}.{i}");
    let (svg, chart_error) = if r.n == 0 {
        (None, Some("no values".to_string()))
    } else {
        match charts::distribution(r) {
            Ok(svg) => (Some(svg), None),
            Err(e) => (None, Some(format!("chart not drawn: {e}"))),
        }
    };
    let status = if r.n == 0 {
        "info"
    } else if r.passes() {
        "pass"
    } else {
        "fail"
    };
    // The observed range says something for draws from a range, not for 0/1 draws.
    let ranged = matches!(
        r.spec.expected,
        Expected::Uniform { .. } | Expected::Constant(_)
    );
    let range = match (r.min, r.max) {
        (Some(a), Some(b)) if ranged => format!("observed {}..{}", fmt_num(a), fmt_num(b)),
        _ => String::new(),
    };
    let out_of_range = if r.out_of_range > 0 {
        format!("; {} values outside the configured range", r.out_of_range)
    } else {
        String::new()
    };
    DistView {
        column: r.spec.column.clone(),
        rule: r.spec.rule.clone(),
        test: format!("{}{out_of_range}", r.test),
        status,
        svg,
        chart_error,
        n: metric(format!("{id}.n"), r.n.to_string()),
        range,
        bins: r
            .bins
            .iter()
            .enumerate()
            .map(|(k, b)| {
                (
                    b.label.clone(),
                    metric(format!("{id}.bin{k}"), b.count.to_string()),
                    b.expected.map(|e| format!("{e:.1}")).unwrap_or_default(),
                )
            })
            .collect(),
        id,
    }
}

/// Token-length histograms (8-token buckets, from `queries/token_lengths.sql`) with
/// the truncation limit.
fn token_charts(fixed: &Fixed, max_tokens: usize) -> Vec<TokenChart> {
    let Some(t) = fixed.table(TOKEN_LENGTHS.name, 1) else {
        return Vec::new();
    };
    let schemes = t.texts("scheme");
    let starts = t.numbers("bucket_start");
    let rows = t.numbers("rows");
    let mut names: Vec<String> = schemes.clone();
    names.dedup();
    names
        .into_iter()
        .map(|scheme| {
            let bins: Vec<super::dist::Bin> = schemes
                .iter()
                .zip(starts.iter().zip(&rows))
                .filter(|(s, _)| **s == scheme)
                .map(|(_, (start, count))| super::dist::Bin {
                    label: fmt_num(*start),
                    lo: *start,
                    hi: start + 8.0,
                    count: *count as u64,
                    expected: None,
                })
                .collect();
            let svg = charts::histogram(
                &format!("{scheme}: tokens per caption"),
                &bins,
                false,
                Some((max_tokens as f64, "--max-tokens")),
            )
            .ok();
            TokenChart { scheme, svg }
        })
        .collect()
}

/// Runs whose config hash differs from the run before: (run id, new hash).
fn config_changes(snap: &Snapshot) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut prev: Option<&str> = None;
    for m in &snap.manifests {
        if prev.is_some_and(|p| p != m.config_hash) {
            out.push((m.run_id.clone(), m.config_hash.clone()));
        }
        prev = Some(&m.config_hash);
    }
    out
}

fn checks(snap: &Snapshot, fixed: &Fixed, samples: &Samples, opts: &ReportOptions) -> Vec<Check> {
    let mut out = Vec::new();
    let t = fixed.stats;
    let total = t.written + t.rejected;
    let rate = if total > 0 {
        t.rejected as f64 / total as f64
    } else {
        0.0
    };
    out.push(Check {
        name: "reject rate".into(),
        status: if t.rejected == 0 {
            "pass"
        } else if rate <= 0.01 {
            "warn"
        } else {
            "fail"
        },
        detail: "rows rejected / (written + rejected); pass at 0, warn up to 1 %".into(),
        numbers: vec![
            (
                "written".into(),
                metric("report.rows_written", t.written.to_string()),
            ),
            (
                "rejected".into(),
                metric("report.rows_rejected", t.rejected.to_string()),
            ),
            ("rate".into(), metric("report.reject_rate", fmt_num(rate))),
        ],
    });
    let all: Vec<&DistResult> = fixed.dists.iter().flat_map(|d| &d.results).collect();
    let ranged: Vec<&&DistResult> = all.iter().filter(|r| r.in_range.is_some()).collect();
    let outside: u64 = ranged.iter().map(|r| r.out_of_range).sum();
    out.push(Check {
        name: "drawn parameters inside their configured ranges".into(),
        status: if outside == 0 { "pass" } else { "fail" },
        detail: format!(
            "{} ranged or constant parameters of the schemes shown checked value by value (section 4)",
            ranged.len()
        ),
        numbers: vec![(
            "values outside".into(),
            metric("report.values_out_of_range", outside.to_string()),
        )],
    });
    let tested: Vec<&&DistResult> = all.iter().filter(|r| r.p_value.is_some()).collect();
    let failed = tested
        .iter()
        .filter(|r| r.p_value.is_some_and(|p| p < P_FAIL))
        .count();
    let min_p = tested
        .iter()
        .filter_map(|r| r.p_value)
        .fold(f64::INFINITY, f64::min);
    out.push(Check {
        name: "distributions consistent with the config".into(),
        status: if failed == 0 { "pass" } else { "fail" },
        detail: format!(
            "goodness-of-fit tests (chi-square, exact binomial) fail at p < {P_FAIL}; smallest p {}",
            if min_p.is_finite() { fmt_p(min_p) } else { "n/a".into() }
        ),
        numbers: vec![
            ("tested".into(), metric("report.dists_tested", tested.len().to_string())),
            ("failed".into(), metric("report.dists_failed", failed.to_string())),
        ],
    });
    if let Some(c) = fixed.table(CONSISTENCY.name, 0) {
        let without: f64 = c.numbers("hedged_without_cause").iter().sum();
        let hedged: f64 = c.numbers("hedged").iter().sum();
        out.push(Check {
            name: "hedges only with a cause".into(),
            status: if without == 0.0 { "pass" } else { "fail" },
            detail: "hedged captions whose image was neither blurred nor erased (queries/consistency.sql)".into(),
            numbers: vec![
                ("hedged".into(), metric("report.hedged", fmt_num(hedged))),
                (
                    "without cause".into(),
                    metric("report.hedged_without_cause", fmt_num(without)),
                ),
            ],
        });
    }
    {
        let truncated = t.truncated;
        out.push(Check {
            name: "token lists truncated".into(),
            status: if truncated == 0 { "pass" } else { "warn" },
            detail: format!(
                "captions longer than --max-tokens {} lose their tail (per scheme in section 5)",
                snap.config.tokens.max_tokens
            ),
            numbers: vec![(
                "truncated".into(),
                metric("report.truncated", truncated.to_string()),
            )],
        });
    }
    let hashes: std::collections::BTreeSet<&str> = snap
        .manifests
        .iter()
        .map(|m| m.config_hash.as_str())
        .collect();
    out.push(Check {
        name: "one config across runs".into(),
        status: if hashes.len() <= 1 { "pass" } else { "warn" },
        detail: "distinct config hashes in the run manifests (section 7)".into(),
        numbers: vec![
            (
                "runs".into(),
                metric("report.runs", snap.manifests.len().to_string()),
            ),
            (
                "config hashes".into(),
                metric("report.config_hashes", hashes.len().to_string()),
            ),
        ],
    });
    if opts.verify {
        let (ok, bad) = samples.verified_counts();
        out.push(Check {
            name: "lineage replay (--verify)".into(),
            status: if bad == 0 { "pass" } else { "fail" },
            detail: "each sampled row re-derived from its source: digest = BLAKE3 of the source \
                     bytes, image = apply_image on the source (the same bytes), caption = \
                     replay_caption"
                .into(),
            numbers: vec![
                (
                    "re-derived".into(),
                    metric("report.verify_ok", ok.to_string()),
                ),
                (
                    "differ".into(),
                    metric("report.verify_failed", bad.to_string()),
                ),
            ],
        });
    }
    out
}
