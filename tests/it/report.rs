//! `lakeaug report`: the page's numbers against the shipped queries and the Parquet files,
//! self-containment, determinism, sampling, escaping, caption diffs, `--verify`, and the
//! page in a real browser (headless Chromium).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::*;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use base64::Engine;
use lakeaug::config::Config;
use lakeaug::pipeline::{run, RunOptions};
use lakeaug::report::{render, ReportOptions};

/// A caption that would run script if it were not escaped.
const HOSTILE: &str =
    "<script>alert(1)</script> a \"dog\" & 'cat' on the left <img src=x onerror=alert(2)>";

/// Every built-in scheme.
const SCHEMES: &[&str] = lakeaug::schemes::BUILTIN_SCHEMES;

/// One run over the sample photos (the first caption replaced by [`HOSTILE`]) plus an
/// undecodable image, with all seven schemes and 2 copies; built once per test binary.
fn fixture() -> &'static (PathBuf, PathBuf) {
    static FIXTURE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-fixture");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let source = read_dir_batches(&repo_path("sample_data"))
            .into_iter()
            .find(|(rel, _)| rel == "photos.parquet")
            .unwrap()
            .1;
        let images = source.column_by_name("image").unwrap().as_binary::<i32>();
        let captions = strs(&source, "caption");
        let mut imgs: Vec<Option<Vec<u8>>> = (0..images.len())
            .map(|i| Some(images.value(i).to_vec()))
            .collect();
        let mut caps: Vec<Option<&str>> = (0..captions.len())
            .map(|i| Some(captions.value(i)))
            .collect();
        caps[0] = Some(HOSTILE);
        imgs.push(Some(b"not an image".to_vec()));
        caps.push(Some("a broken row"));
        let input = root.join("in").join("photos.parquet");
        write_pairs(&input, imgs, caps);
        let out = root.join("out");
        let config = Config {
            schemes: SCHEMES.iter().map(|s| s.to_string()).collect(),
            copies: 2,
            ..Config::default()
        };
        let mut o = RunOptions::new(vec![input.to_string_lossy().into_owned()], &out, config);
        o.threads = Some(2);
        run(&o).unwrap();
        (root, out)
    })
}

fn strs<'a>(b: &'a RecordBatch, name: &str) -> &'a arrow::array::StringArray {
    b.column_by_name(name).unwrap().as_string::<i32>()
}

fn i64s<'a>(b: &'a RecordBatch, name: &str) -> &'a arrow::array::Int64Array {
    b.column_by_name(name).unwrap().as_primitive::<Int64Type>()
}

fn i32s<'a>(b: &'a RecordBatch, name: &str) -> &'a arrow::array::Int32Array {
    b.column_by_name(name)
        .unwrap()
        .as_primitive::<arrow::datatypes::Int32Type>()
}

fn options(out: &Path, html: &Path) -> ReportOptions {
    let mut o = ReportOptions::new(out, html);
    o.samples = 4;
    o.copies_shown = 2;
    o.thumb_px = 64;
    o.generated_at = Some(1_800_000_000);
    o.command_line = "lakeaug report OUT".into();
    o
}

fn page(verify: bool) -> &'static str {
    static PLAIN: OnceLock<String> = OnceLock::new();
    static VERIFIED: OnceLock<String> = OnceLock::new();
    let cell = if verify { &VERIFIED } else { &PLAIN };
    cell.get_or_init(|| {
        let (root, out) = fixture();
        let mut o = options(out, &root.join("r.html"));
        o.verify = verify;
        render(&o).unwrap().html
    })
}

/// Undoes HTML escaping: named (&lt; &gt; &quot; &amp; &apos;) and numeric (&#60;,
/// &#x3c;) character references.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let c = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "amp" => Some('&'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(|d| d.parse::<u32>()))
                .and_then(|r| r.ok())
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Every `data-metric="KEY"` with the text of its element.
fn metrics(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("data-metric=\"") {
        rest = &rest[i + 13..];
        let end = rest.find('"').unwrap();
        let key = rest[..end].to_string();
        let gt = rest.find('>').unwrap();
        let lt = rest[gt..].find('<').unwrap();
        out.push((key, unescape(&rest[gt + 1..gt + lt])));
        rest = &rest[gt..];
    }
    out
}

/// Values of attribute `name` on every element that has it, in page order.
fn attrs(html: &str, name: &str) -> Vec<String> {
    let pat = format!(" {name}=\"");
    html.match_indices(&pat)
        .map(|(i, _)| {
            let v = &html[i + pat.len()..];
            unescape(&v[..v.find('"').unwrap()])
        })
        .collect()
}

fn formatted(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for b in batches {
        let fmts: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &FormatOptions::default()).unwrap())
            .collect();
        for i in 0..b.num_rows() {
            rows.push(
                b.columns()
                    .iter()
                    .zip(&fmts)
                    .map(|(c, f)| {
                        if c.is_valid(i) {
                            f.value(i).to_string()
                        } else {
                            String::new()
                        }
                    })
                    .collect(),
            );
        }
    }
    rows
}

/// Every output row of the fixture, one batch per part file, with its scheme.
fn parts(out: &Path) -> Vec<(String, RecordBatch)> {
    read_dir_batches(out)
        .into_iter()
        .filter_map(|(rel, b)| {
            let scheme = rel.strip_prefix("scheme=")?.split('/').next()?.to_string();
            Some((scheme, b))
        })
        .collect()
}

fn rejects_rows(out: &Path) -> usize {
    read_dir_batches(&out.join("_rejects"))
        .iter()
        .map(|(_, b)| b.num_rows())
        .sum()
}

#[test]
fn every_number_matches_the_shipped_queries_and_the_parquet_files() {
    let (_, out) = fixture();
    let html = page(false);
    let metrics = metrics(html);
    assert!(metrics.len() > 100, "only {} metrics", metrics.len());

    // 1. Cells of shipped queries: rerun each query with `lakeaug query`'s session.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ctx = rt
        .block_on(lakeaug::sql::session_for(
            out,
            &[fixture()
                .0
                .join("in/photos.parquet")
                .to_string_lossy()
                .into_owned()],
        ))
        .unwrap();
    let mut results: BTreeMap<String, Vec<Vec<Vec<String>>>> = BTreeMap::new();
    let mut checked = 0;
    for (key, text) in &metrics {
        let parts: Vec<&str> = key.split('.').collect();
        if parts.len() != 4 || parts[0] == "dist" {
            continue;
        }
        let (query, stmt, row, col): (&str, usize, usize, usize) = (
            parts[0],
            parts[1].parse().unwrap(),
            parts[2].parse().unwrap(),
            parts[3].parse().unwrap(),
        );
        let tables = results.entry(query.to_string()).or_insert_with(|| {
            let sql = std::fs::read_to_string(repo_path(&format!("queries/{query}.sql"))).unwrap();
            rt.block_on(lakeaug::sql::run_sql(&ctx, &sql))
                .unwrap()
                .iter()
                .map(|r| formatted(&r.batches))
                .collect()
        });
        assert_eq!(&tables[stmt][row][col], text, "{key}");
        checked += 1;
    }
    assert!(checked > 80, "only {checked} query cells checked");

    // 2. The same figures computed directly from the Parquet files.
    let parts = parts(out);
    let mut written: BTreeMap<String, usize> = BTreeMap::new();
    let mut truncated = 0;
    let mut sources: BTreeSet<(String, i64)> = BTreeSet::new();
    for (scheme, b) in &parts {
        *written.entry(scheme.clone()).or_default() += b.num_rows();
        truncated += b
            .column_by_name("input_ids_truncated")
            .unwrap()
            .as_boolean()
            .true_count();
        let f = strs(&b, "source_file");
        let r = i64s(&b, "source_row");
        for i in 0..b.num_rows() {
            sources.insert((f.value(i).to_string(), r.value(i)));
        }
    }
    let total: usize = written.values().sum();
    let rejected = rejects_rows(out);
    let mut rejected_by_scheme: BTreeMap<String, usize> = BTreeMap::new();
    for (_, b) in read_dir_batches(&out.join("_rejects")) {
        let s = strs(&b, "scheme");
        for i in 0..b.num_rows() {
            *rejected_by_scheme
                .entry(s.value(i).to_string())
                .or_default() += 1;
        }
    }
    // The broken row is rejected for every scheme and copy, and its MixGen partner too.
    assert_eq!(total + rejected, 16 * 7 * 2, "fixture");
    assert_eq!(rejected, 7 * 2 + 2, "fixture");
    let m: BTreeMap<&str, &str> = metrics
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(m["report.rows_written"], total.to_string());
    assert_eq!(m["report.rows_rejected"], rejected.to_string());
    assert_eq!(m["report.source_rows"], sources.len().to_string());
    assert_eq!(m["report.truncated"], truncated.to_string());
    let rate: f64 = m["report.reject_rate"].parse().unwrap();
    assert!((rate - rejected as f64 / (total + rejected) as f64).abs() < 1e-4);
    // scheme_summary.sql (one run): row k is the k-th scheme in name order.
    let schemes: Vec<&String> = written.keys().collect();
    for (k, scheme) in schemes.iter().enumerate() {
        assert_eq!(
            m[format!("scheme_summary.0.{k}.2").as_str()],
            written[*scheme].to_string(),
            "{scheme}"
        );
        assert_eq!(
            m[format!("scheme_summary.0.{k}.3").as_str()],
            rejected_by_scheme[*scheme].to_string(),
            "{scheme}"
        );
        // token_lengths.sql: rows with token ids per scheme.
        assert_eq!(
            m[format!("token_lengths.0.{k}.1").as_str()],
            written[*scheme].to_string()
        );
    }
    // rejects_by_reason.sql: every reject counted once.
    let by_reason: usize = metrics
        .iter()
        .filter(|(k, _)| k.starts_with("rejects_by_reason.0.") && k.ends_with(".3"))
        .map(|(_, v)| v.parse::<usize>().unwrap())
        .sum();
    assert_eq!(by_reason, rejected);

    // 3. Histograms: bins sum to n, and n is the column's non-null count.
    let dist_columns: Vec<String> = html
        .match_indices("<figure data-dist=\"")
        .map(|(i, _)| {
            let s = &html[i..];
            let id = &s[19..19 + s[19..].find('"').unwrap()];
            let code = &s[s.find("<code>").unwrap() + 6..s.find("</code>").unwrap()];
            format!("{id}|{}", unescape(code))
        })
        .collect();
    assert!(dist_columns.len() >= 20, "{dist_columns:?}");
    let mut compared = 0;
    for entry in &dist_columns {
        let (id, column) = entry.split_once('|').unwrap();
        let n: u64 = m[format!("{id}.n").as_str()].parse().unwrap();
        let bins: u64 = metrics
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{id}.bin")))
            .map(|(_, v)| v.parse::<u64>().unwrap())
            .sum();
        assert_eq!(bins, n, "{id} {column}");
        let scheme = id.split('.').nth(1).unwrap();
        if column.starts_with("aug_") && !column.contains(' ') {
            let non_null: usize = parts
                .iter()
                .filter(|(s, _)| s == scheme)
                .map(|(_, b)| {
                    let c = b.column_by_name(column).unwrap();
                    c.len() - c.null_count()
                })
                .sum();
            assert_eq!(n, non_null as u64, "{id} {column}");
            compared += 1;
        }
    }
    assert!(compared >= 15, "{compared}");
    // Every check passes but the reject rate (16 of 224 rows: a fail above 1 %).
    let names = attrs(html, "data-check");
    let statuses = attrs(html, "data-status");
    for (name, status) in names.iter().zip(&statuses) {
        let want = if name == "reject rate" {
            "fail"
        } else {
            "pass"
        };
        assert_eq!(status, want, "{name}\n{}", checks_text(html));
    }
}

fn checks_text(html: &str) -> String {
    let s = html.find("id=\"checks\"").unwrap();
    let e = html.find("id=\"samples\"").unwrap();
    html[s..e].to_string()
}

#[test]
fn the_page_is_self_contained_escaped_and_byte_identical() {
    let (root, out) = fixture();
    let html = page(false);
    // Deterministic: a second render (fresh session) gives the same bytes.
    let again = render(&options(out, &root.join("r2.html"))).unwrap().html;
    assert!(again == html, "two renders differ");
    // No reference to anything outside the file.
    let lower = html.to_lowercase();
    for bad in [
        "http:", "https:", "=\"//", "url(", "@import", "<link", "<iframe",
    ] {
        assert!(!lower.contains(bad), "the page contains {bad}");
    }
    assert!(html.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:;"
    ));
    // The hostile caption is text: no second <script> element, and it reads back.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(!html.contains("<img src=x"));
    assert!(
        html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "hostile caption not shown escaped"
    );
    // Every image is a JPEG of the size its tag states.
    let srcs = attrs(html, "src");
    assert!(srcs.len() >= 4 * 8, "{} images", srcs.len());
    let widths = attrs(html, "width");
    let mut tags = 0;
    for (i, _) in html.match_indices("<img ") {
        let tag = &html[i..i + html[i..].find('>').unwrap()];
        let get = |name: &str| {
            let p = format!(" {name}=\"");
            let v = &tag[tag.find(&p).unwrap() + p.len()..];
            unescape(&v[..v.find('"').unwrap()])
        };
        let src = get("src");
        let b64 = src
            .strip_prefix("data:image/jpeg;base64,")
            .expect("a data: JPEG");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF], "JPEG magic");
        let decoded =
            image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).unwrap();
        let (w, h): (u32, u32) = (
            get("width").parse().unwrap(),
            get("height").parse().unwrap(),
        );
        assert_eq!((decoded.width(), decoded.height()), (w, h));
        assert_eq!(w, 64);
        tags += 1;
    }
    assert_eq!(tags, srcs.len());
    assert!(!widths.is_empty());
}

#[test]
fn samples_are_the_lowest_digests_in_every_scheme() {
    let (_, out) = fixture();
    let html = page(false);
    let mut keys: BTreeSet<(String, String, i64)> = BTreeSet::new();
    for (_, b) in parts(out) {
        let d = strs(&b, "source_digest");
        let f = strs(&b, "source_file");
        let r = i64s(&b, "source_row");
        for i in 0..b.num_rows() {
            keys.insert((d.value(i).to_string(), f.value(i).to_string(), r.value(i)));
        }
    }
    let expected: Vec<String> = keys.iter().take(4).map(|k| k.0.clone()).collect();
    assert_eq!(attrs(html, "data-digest"), expected);
    let rows: Vec<i64> = attrs(html, "data-source-row")
        .iter()
        .map(|r| r.parse().unwrap())
        .collect();
    assert_eq!(rows, keys.iter().take(4).map(|k| k.2).collect::<Vec<_>>());
    // Every sampled row shows copies 0 and 1 of every scheme, in scheme order.
    let tiles = attrs(html, "data-scheme");
    assert_eq!(tiles.len(), 4 * 7 * 2);
    for row in tiles.chunks(14) {
        let names: Vec<&str> = row.iter().step_by(2).map(String::as_str).collect();
        assert_eq!(names, SCHEMES);
    }
}

#[test]
fn caption_diff_spans_give_back_the_stored_caption() {
    let (_, out) = fixture();
    let html = page(false);
    // In the page: the visible spans of every tile (struck words left out) are the stored
    // caption of that row.
    let mut stored: BTreeMap<(String, String, i64, i32), String> = BTreeMap::new();
    for (scheme, b) in parts(out) {
        let c = strs(&b, "caption");
        let f = strs(&b, "source_file");
        let r = i64s(&b, "source_row");
        let k = i32s(&b, "aug_copy");
        for i in 0..b.num_rows() {
            stored.insert(
                (
                    scheme.clone(),
                    f.value(i).to_string(),
                    r.value(i),
                    k.value(i),
                ),
                c.value(i).to_string(),
            );
        }
    }
    let mut checked = 0;
    let mut hostile_seen = false;
    for (i, _) in html.match_indices("<tr class=\"sample\"") {
        // Up to the next sample row (tiles hold tables of their own).
        let end = html[i + 1..]
            .find("<tr class=\"sample\"")
            .map_or(html.len(), |e| e + i + 1);
        let row_html = &html[i..end];
        let file = attrs(row_html, "data-source-file")[0].clone();
        let row: i64 = attrs(row_html, "data-source-row")[0].parse().unwrap();
        for (t, _) in row_html.match_indices("<div class=\"tile\" data-scheme=") {
            let tile = &row_html[t..];
            let scheme = attrs(tile, "data-scheme")[0].clone();
            let copy: i32 = attrs(tile, "data-copy")[0].parse().unwrap();
            let d = tile.find("<div class=\"caption diff\">").unwrap() + 26;
            let diff = &tile[d..d + tile[d..].find("</div>").unwrap()];
            let mut visible = String::new();
            let mut rest = diff;
            while let Some(open) = rest.find('<') {
                let tag_end = rest[open..].find('>').unwrap() + open;
                let tag = &rest[open..=tag_end];
                let close = rest[tag_end..].find('<').unwrap() + tag_end;
                if !tag.starts_with("<del") {
                    visible.push_str(&unescape(&rest[tag_end + 1..close]));
                }
                let after = rest[close..].find('>').unwrap() + close + 1;
                rest = &rest[after..];
            }
            let want = &stored[&(scheme.clone(), file.clone(), row, copy)];
            assert_eq!(&visible, want, "{scheme} {file}:{row} copy {copy}");
            hostile_seen |= want.contains("<script>");
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * 7 * 2);
    // Through the library, for every row of the output, not only the sampled ones.
    let source = read_dir_batches(&fixture().0.join("in"))[0].1.clone();
    let src_caps = strs(&source, "caption");
    for (scheme, b) in parts(out) {
        let c = strs(&b, "caption");
        let r = i64s(&b, "source_row");
        for i in 0..b.num_rows() {
            let p = lakeaug::lineage::params_from_batch(&b, i).unwrap();
            let spans = lakeaug::report::diff::caption_diff(
                src_caps.value(r.value(i) as usize),
                c.value(i),
                &p,
            );
            assert_eq!(
                lakeaug::report::diff::joined(&spans),
                c.value(i),
                "{scheme} row {i}"
            );
        }
    }
    assert!(hostile_seen, "the HTML caption is among the sampled rows");
}

#[test]
fn verify_passes_on_the_output_and_flags_a_tampered_image() {
    let (root, out) = fixture();
    let html = page(true);
    let verdicts = attrs(html, "data-verify");
    assert_eq!(verdicts.len(), 4 * 7 * 2);
    assert!(verdicts.iter().all(|v| v == "ok"), "{verdicts:?}");

    // Copy the output, then change the image bytes of one sampled row.
    let copy = root.join("tampered");
    let _ = std::fs::remove_dir_all(&copy);
    copy_dir(out, &copy);
    let digest = attrs(html, "data-digest")[0].clone();
    let part = std::fs::read_dir(copy.join("scheme=aligned"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .unwrap();
    let batch = read_dir_batches(part.parent().unwrap())
        .into_iter()
        .find(|(rel, _)| part.ends_with(rel))
        .unwrap()
        .1;
    let digests = strs(&batch, "source_digest");
    let images = batch.column_by_name("image").unwrap().as_binary::<i32>();
    let copies = i32s(&batch, "aug_copy");
    let target = (0..batch.num_rows())
        .find(|&i| digests.value(i) == digest && copies.value(i) == 0)
        .unwrap();
    let new_images: arrow::array::BinaryArray = (0..batch.num_rows())
        .map(|i| {
            let mut bytes = images.value(i).to_vec();
            if i == target {
                // Still a valid JPEG: one byte of the entropy-coded data changed.
                let k = bytes.len() - 100;
                bytes[k] ^= 0x01;
            }
            Some(bytes)
        })
        .collect();
    let idx = batch.schema().index_of("image").unwrap();
    let mut cols = batch.columns().to_vec();
    cols[idx] = std::sync::Arc::new(new_images);
    write_batch(&part, RecordBatch::try_new(batch.schema(), cols).unwrap());

    let mut o = options(&copy, &root.join("t.html"));
    o.verify = true;
    let rendered = render(&o).unwrap();
    assert_eq!(rendered.verified, Some((4 * 7 * 2 - 1, 1)));
    let tampered = &rendered.html;
    let verdicts = attrs(tampered, "data-verify");
    assert_eq!(verdicts.iter().filter(|v| *v == "failed").count(), 1);
    assert_eq!(
        verdicts[0], "failed",
        "the first tile of the first sample is aligned copy 0"
    );
    assert!(tampered.contains("re-made image bytes differ from the stored image"));
    assert!(tampered.contains("data-check=\"lineage replay (--verify)\" data-status=\"fail\""));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn the_report_refuses_to_write_into_the_output_and_halves_to_fit() {
    let (_, out) = fixture();
    let err = lakeaug::report::write_report(&options(out, &out.join("r.html"))).unwrap_err();
    assert!(
        err.to_string().contains("inside the output folder"),
        "{err}"
    );
    // Sized for about two samples: the sample is halved (4 -> 2) and the page says so.
    let full = page(false).len() as u64;
    let mut o = options(out, &fixture().0.join("small.html"));
    o.max_bytes = full * 2 / 3;
    let r = render(&o).unwrap();
    assert!(r.halved && r.samples < 4, "{} samples", r.samples);
    assert!(r.html.len() as u64 <= o.max_bytes);
    assert!(r.html.contains("halved to"));
}

/// Headless Chromium, as `.ci/run` installs it (Debian package `chromium`).
fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("LAKEAUG_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            let ok = Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            ok.then(|| PathBuf::from(name))
        })
}

fn chromium_run(
    browser: &Path,
    profile: &Path,
    extra: &[&str],
    page: &Path,
) -> std::process::Output {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    cmd.args(extra);
    cmd.arg(format!("file://{}", page.display()));
    cmd.output().expect("running chromium")
}

#[test]
fn the_page_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        if std::env::var("LAKEAUG_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("SKIPPED: no chromium on PATH and LAKEAUG_SKIP_BROWSER=1");
            return;
        }
        panic!(
            "headless Chromium is needed for this test and was not found (tried chromium, \
             chromium-browser, google-chrome, $LAKEAUG_CHROMIUM). Install it with \
             `apt-get install chromium` (.ci/run does), or set LAKEAUG_SKIP_BROWSER=1 to skip \
             it locally"
        );
    };
    let (root, _) = fixture();
    let html_path = root.join("browser.html");
    std::fs::write(&html_path, page(false)).unwrap();
    let profile = tempfile::tempdir().unwrap();

    let dom = chromium_run(&browser, profile.path(), &["--dump-dom"], &html_path);
    let stdout = String::from_utf8_lossy(&dom.stdout);
    let stderr = String::from_utf8_lossy(&dom.stderr);
    assert!(dom.status.success(), "chromium failed: {stderr}");
    // No console message at all (errors, CSP refusals), and no refused load.
    for line in stderr.lines() {
        assert!(!line.contains("CONSOLE"), "console message: {line}");
        assert!(!line.contains("Refused"), "refused: {line}");
    }
    let check_start = stdout
        .find("id=\"browser-check\"")
        .expect("the page in the DOM");
    let check = &stdout[check_start..check_start + stdout[check_start..].find('>').unwrap()];
    let get = |name: &str| -> usize {
        let p = format!("{name}=\"");
        let v = &check[check
            .find(&p)
            .unwrap_or_else(|| panic!("{name} not set: the script did not run: {check}"))
            + p.len()..];
        v[..v.find('"').unwrap()].parse().unwrap()
    };
    let images_expected = get("data-images-expected");
    assert_eq!(images_expected, 4 + 4 * 7 * 2, "sources and tiles");
    assert_eq!(get("data-images-decoded"), images_expected);
    let charts = get("data-charts-expected");
    assert!(charts >= 20, "{charts}");
    assert_eq!(get("data-charts-drawn"), charts);

    // A screenshot 1280 px wide is not blank.
    let shot = root.join("report.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium_run(
        &browser,
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600",
        ],
        &html_path,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&shot).unwrap().to_luma8();
    assert_eq!(img.width(), 1280);
    let n = img.as_raw().len() as f64;
    let mean = img.as_raw().iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = img
        .as_raw()
        .iter()
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n;
    assert!(var > 200.0, "screenshot looks blank: variance {var:.1}");
}

/// Writes the benchmark input of BENCHMARKS.md ("Report"): `LAKEAUG_BENCH_ROWS` rows
/// (default 100,000) of small distinct JPEGs with captions, to `LAKEAUG_BENCH_INPUT`.
/// Run with `cargo test --test report -- --ignored write_report_benchmark_input`.
#[test]
#[ignore]
fn write_report_benchmark_input() {
    let path = PathBuf::from(std::env::var("LAKEAUG_BENCH_INPUT").expect("LAKEAUG_BENCH_INPUT"));
    let rows: usize = std::env::var("LAKEAUG_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let words = [
        "dog", "cat", "red", "car", "tree", "on", "the", "left", "of", "a", "house",
    ];
    let file = std::fs::File::create(&path).unwrap();
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("image", arrow::datatypes::DataType::Binary, true),
        arrow::datatypes::Field::new("caption", arrow::datatypes::DataType::Utf8, true),
    ]));
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
    for start in (0..rows).step_by(1000) {
        let n = 1000.min(rows - start);
        let mut images = Vec::with_capacity(n);
        let mut captions = Vec::with_capacity(n);
        for r in start..start + n {
            let img = image::RgbImage::from_fn(96, 72, |x, y| {
                image::Rgb([
                    (x * 2 + r as u32) as u8,
                    (y * 3 + (r / 256) as u32) as u8,
                    (r * 7) as u8,
                ])
            });
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
            images.push(out.into_inner());
            let caption: Vec<&str> = (0..8)
                .map(|k| words[(r * 31 + k * 17 + k * k) % words.len()])
                .collect();
            captions.push(caption.join(" "));
        }
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                std::sync::Arc::new(arrow::array::BinaryArray::from_iter_values(images.iter())),
                std::sync::Arc::new(arrow::array::StringArray::from(captions)),
            ],
        )
        .unwrap();
        w.write(&batch).unwrap();
    }
    w.close().unwrap();
}

#[test]
fn run_report_writes_the_page_next_to_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let bin = env!("CARGO_BIN_EXE_lakeaug");
    let status = Command::new(bin)
        .args([
            "run",
            "--quiet",
            "--report",
            "--input",
            &sample_photos(),
            "--output",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let html = std::fs::read_to_string(dir.path().join("out-report.html")).unwrap();
    assert!(html.contains("<h1>lakeaug report</h1>"));
    assert_eq!(attrs(&html, "data-digest").len(), 8, "8 samples by default");
    // `lakeaug report` writes the same place by default, and refuses OUT itself.
    let report = Command::new(bin).arg("report").arg(&out).output().unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let refused = Command::new(bin)
        .arg("report")
        .arg(&out)
        .arg("--out")
        .arg(out.join("r.html"))
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("inside the output folder"));
}
