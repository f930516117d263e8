//! Soak test (issue 21; not run in CI): generated rows with 1 % bad rows of every kind,
//! one run killed (SIGKILL) three times and resumed to the end, then the books are
//! checked: rows written + rejected = input x schemes x copies, and the rejects of each
//! kind equal the injected count x schemes x copies. Prints the peak RSS of the runs.
//!
//! `cargo bench --bench soak` (1,000,000 rows); `LAKEAUG_SOAK_ROWS=20000` for a short one.
//! `LAKEAUG_SOAK_KILL_SECS` (default 20) is how long each killed run lives.

// The integration tests' PNG header helper.
#[path = "../tests/it/common/png.rs"]
mod png;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{BinaryArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

/// A kind of bad row, what it looks like and how its reject reason starts.
struct BadKind {
    name: &'static str,
    bytes: Option<Vec<u8>>,
    reason_prefix: &'static str,
}

fn jpeg(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let t = ((x * 7 + y * 13 + seed) % 17) as u8 * 3;
        image::Rgb([
            ((x * 3) as u8).wrapping_add(t),
            ((y * 5) as u8).wrapping_add(t),
            ((seed * 37) as u8).wrapping_add(t),
        ])
    });
    let mut out = Vec::new();
    lakeaug::kernels::image::encode(
        &img,
        lakeaug::kernels::image::OutputFormat::Jpeg { quality: 90 },
        &mut out,
    )
    .expect("jpeg");
    out
}

fn bad_kinds() -> Vec<BadKind> {
    let good = jpeg(64, 48, 1);
    let mut corrupt = good.clone();
    let mid = corrupt.len() * 2 / 3;
    for (i, b) in corrupt[mid..mid + 16].iter_mut().enumerate() {
        *b = if i % 2 == 0 { 0xFF } else { 0xC8 };
    }
    vec![
        BadKind {
            name: "null",
            bytes: None,
            reason_prefix: "image is null",
        },
        BadKind {
            name: "empty",
            bytes: Some(Vec::new()),
            reason_prefix: "image is empty",
        },
        BadKind {
            name: "garbage",
            bytes: Some((0..500u32).map(|i| (i * 7919 % 251) as u8).collect()),
            reason_prefix: "image could not be decoded",
        },
        BadKind {
            name: "truncated",
            bytes: Some(good[..good.len() * 3 / 4].to_vec()),
            reason_prefix: "truncated JPEG",
        },
        BadKind {
            name: "corrupt",
            bytes: Some(corrupt),
            reason_prefix: "corrupt JPEG data",
        },
        BadKind {
            name: "too_many_pixels",
            bytes: Some(png::png_header(20000, 20000, 8, 2)),
            reason_prefix: "image is 20000x20000",
        },
        BadKind {
            name: "too_many_bytes",
            bytes: Some(png::png_header(7000, 7000, 16, 6)),
            reason_prefix: "image is 7000x7000 and decodes to",
        },
    ]
}

/// Writes `rows` rows in files of 100,000; every 100th row is bad, the kinds in turn.
/// Returns the injected count per kind.
fn write_lake(dir: &Path, rows: usize, kinds: &[BadKind]) -> Vec<usize> {
    let goods: Vec<Vec<u8>> = (0..16).map(|s| jpeg(64, 48, s)).collect();
    let mut injected = vec![0; kinds.len()];
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("image", DataType::Binary, true),
        Field::new("caption", DataType::Utf8, true),
    ]));
    let per_file = 100_000;
    for (f, start) in (0..rows).step_by(per_file).enumerate() {
        let end = (start + per_file).min(rows);
        let path = dir.join(format!("part-{f:04}.parquet"));
        let file = std::fs::File::create(&path).expect("create");
        let mut w = ArrowWriter::try_new(file, schema.clone(), None).expect("writer");
        for chunk in (start..end).step_by(10_000) {
            let stop = (chunk + 10_000).min(end);
            let images: Vec<Option<&[u8]>> = (chunk..stop)
                .map(|i| {
                    if i % 100 == 99 {
                        let k = (i / 100) % kinds.len();
                        injected[k] += 1;
                        kinds[k].bytes.as_deref()
                    } else {
                        Some(goods[i % goods.len()].as_slice())
                    }
                })
                .collect();
            let captions: Vec<String> = (chunk..stop)
                .map(|i| format!("a dog on the left of a red car, photo {i}"))
                .collect();
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int64Array::from_iter_values(chunk as i64..stop as i64)),
                    Arc::new(BinaryArray::from(images)),
                    Arc::new(StringArray::from(captions)),
                ],
            )
            .expect("batch");
            w.write(&batch).expect("write");
        }
        w.close().expect("close");
    }
    injected
}

fn lakeaug() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lakeaug"))
}

/// Peak RSS (MB) of every child waited for so far.
fn children_peak_rss_mb() -> f64 {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u
    };
    usage.ru_maxrss as f64 / 1024.0 // kB on Linux
}

fn query_csv(out: &Path, sql: &str) -> String {
    let o = lakeaug()
        .arg("query")
        .arg(out)
        .arg(sql)
        .args(["--format", "csv"])
        .output()
        .expect("query");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).expect("utf8")
}

fn main() {
    let rows: usize = std::env::var("LAKEAUG_SOAK_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let kill_after = Duration::from_secs(
        std::env::var("LAKEAUG_SOAK_KILL_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(20),
    );
    let (schemes, copies) = (["aligned", "cross_modal"], 2usize);
    let dir = tempfile::tempdir().expect("tempdir");
    let lake = dir.path().join("lake");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&lake).expect("lake");
    let kinds = bad_kinds();
    let t = Instant::now();
    let injected = write_lake(&lake, rows, &kinds);
    eprintln!(
        "soak: {rows} rows written in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Small chunks, so that every killed run leaves committed chunks to resume after.
    let chunk_rows = (rows / 50).max(1000).to_string();
    let run = || {
        let mut c = lakeaug();
        c.args([
            "run",
            "--quiet",
            "--size",
            "64",
            "--chunk-rows",
            &chunk_rows,
            "--copies",
        ])
        .arg(copies.to_string())
        .args(["--schemes", &schemes.join(",")])
        .arg("--input")
        .arg(&lake)
        .arg("--output")
        .arg(&out)
        .stdout(Stdio::null());
        c
    };
    let t = Instant::now();
    let mut kills = 0;
    while kills < 3 {
        let mut child = run().stderr(Stdio::null()).spawn().expect("spawn");
        std::thread::sleep(kill_after);
        match child.try_wait().expect("try_wait") {
            Some(status) => {
                eprintln!("soak: run ended before its kill ({status}); not killed");
                break;
            }
            None => {
                child.kill().expect("kill");
                child.wait().expect("wait");
                kills += 1;
                eprintln!("soak: killed run {kills} after {:?}", kill_after);
            }
        }
    }
    let last = run().output().expect("final run");
    assert!(
        matches!(last.status.code(), Some(0) | Some(3)),
        "final run: {}",
        String::from_utf8_lossy(&last.stderr)
    );
    let wall = t.elapsed().as_secs_f64();

    let per_row = schemes.len() * copies;
    let written: usize = query_csv(&out, "SELECT count(*) AS n FROM augmented")
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("count");
    let rejects = query_csv(
        &out,
        "SELECT reason, count(*) AS n FROM rejects GROUP BY reason ORDER BY reason",
    );
    let mut rejected_by_kind = vec![0usize; kinds.len()];
    let mut rejected = 0;
    for line in rejects.lines().skip(1) {
        let (reason, n) = line.rsplit_once(',').expect("reason,n");
        let n: usize = n.parse().expect("n");
        let reason = reason.trim_matches('"');
        let kind = kinds
            .iter()
            .position(|k| reason.starts_with(k.reason_prefix))
            .unwrap_or_else(|| panic!("a reject no kind explains: {reason}"));
        rejected_by_kind[kind] += n;
        rejected += n;
    }
    let bad: usize = injected.iter().sum();
    println!(
        "soak: {rows} rows x {} schemes x {copies} copies, killed {kills} times, {wall:.1} s in all",
        schemes.len()
    );
    println!(
        "  written {written} + rejected {rejected} = {} (expected {})",
        written + rejected,
        rows * per_row
    );
    for (k, kind) in kinds.iter().enumerate() {
        println!(
            "  {:<16} injected {:>6} -> rejects {:>7} (expected {})",
            kind.name,
            injected[k],
            rejected_by_kind[k],
            injected[k] * per_row
        );
    }
    println!("  peak RSS of any run: {:.0} MB", children_peak_rss_mb());
    assert_eq!(written + rejected, rows * per_row, "rows unaccounted for");
    assert_eq!(written, (rows - bad) * per_row);
    for (k, kind) in kinds.iter().enumerate() {
        assert_eq!(rejected_by_kind[k], injected[k] * per_row, "{}", kind.name);
    }
    println!("  books balance");
}
