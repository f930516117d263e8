//! Hostile and damaged input through the `lakeaug` binary (issue 21): truncated images,
//! corrupt Parquet pages, footers that lie about their row counts, out-of-range option
//! values, an output folder inside the input folder, and query results without rows.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{Array, AsArray, BinaryArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::{ParquetMetaDataReader, ParquetMetaDataWriter};
use parquet::file::properties::WriterProperties;

use crate::common::small_run::small_run;

fn lakeaug() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lakeaug"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `lakeaug run` (small images and batches) of the `aligned` scheme, with `extra` options.
fn run_aligned(
    input: impl AsRef<std::ffi::OsStr>,
    output: impl AsRef<std::ffi::OsStr>,
    extra: &[&str],
) -> Output {
    small_run()
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .args(["--schemes", "aligned"])
        .args(extra)
        .output()
        .unwrap()
}

/// Runs the SQL on an output folder and returns stdout (asserting success).
fn query(out: &Path, sql: &str, extra: &[&str]) -> String {
    let o = lakeaug()
        .arg("query")
        .arg(out)
        .arg(sql)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

/// Rows 0 and 4 whole (baseline, progressive), rows 1-3 and 5-7 cut at 10, 50 and 99 %:
/// every cut is rejected at stage `decode` as a truncated JPEG; with
/// `--accept-truncated-images` all 8 rows are written and the 6 cut ones are marked.
#[test]
fn truncated_jpegs_are_rejected_or_kept_marked() {
    let dir = tempfile::tempdir().unwrap();
    let img = common::textured(320, 240);
    let mut images = Vec::new();
    for progressive in [false, true] {
        let whole = common::turbo_jpeg(&img, progressive);
        images.push(Some(whole.clone()));
        for percent in [10, 50, 99] {
            images.push(Some(whole[..whole.len() * percent / 100].to_vec()));
        }
    }
    let captions = vec![Some("a photo"); images.len()];
    let input = dir.path().join("in.parquet");
    common::write_pairs(&input, images, captions);

    let out = dir.path().join("strict");
    let o = run_aligned(&input, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(common::scheme_batch(&out, "aligned").num_rows(), 2);
    let rejects = common::read_dir_batches(&out.join("_rejects"));
    let rows: Vec<(i64, String, String)> = rejects
        .iter()
        .flat_map(|(_, b)| {
            let row = b
                .column_by_name("source_row")
                .unwrap()
                .as_primitive::<arrow::datatypes::Int64Type>()
                .clone();
            let stage = b
                .column_by_name("stage")
                .unwrap()
                .as_string::<i32>()
                .clone();
            let reason = b
                .column_by_name("reason")
                .unwrap()
                .as_string::<i32>()
                .clone();
            (0..b.num_rows())
                .map(|i| {
                    (
                        row.value(i),
                        stage.value(i).to_string(),
                        reason.value(i).to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let rejected: Vec<i64> = rows.iter().map(|r| r.0).collect();
    assert_eq!(rejected, [1, 2, 3, 5, 6, 7]);
    for (row, stage, reason) in &rows {
        assert_eq!(stage, "decode", "row {row}");
        assert!(
            reason.starts_with("truncated JPEG: "),
            "row {row}: {reason}"
        );
    }

    let out = dir.path().join("accepting");
    let o = run_aligned(&input, &out, &["--accept-truncated-images"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let kept = common::scheme_batch(&out, "aligned");
    assert_eq!(kept.num_rows(), 8);
    let warnings = kept
        .column_by_name("source_decode_warning")
        .unwrap()
        .as_string::<i32>()
        .clone();
    let marked: Vec<usize> = (0..8).filter(|&i| warnings.is_valid(i)).collect();
    assert_eq!(marked, [1, 2, 3, 5, 6, 7]);
    assert!(warnings.value(2).starts_with("truncated JPEG"));
    // SQL finds every such row.
    let csv = query(
        &out,
        "SELECT source_row FROM augmented WHERE source_decode_warning IS NOT NULL ORDER BY source_row",
        &["--format", "csv"],
    );
    assert_eq!(csv, "source_row\n1\n2\n3\n5\n6\n7\n");
}

/// An output without rejects: `rejects_by_reason.sql` gives a CSV header, `[]`, and a
/// Parquet file with the schema and no rows.
#[test]
fn empty_query_results_are_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = small_run()
        .args(["--input", &common::sample_photos(), "--output"])
        .arg(&out)
        .args(["--schemes", "aligned"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let file = common::repo_path("queries/rejects_by_reason.sql");
    let run = |format: &str, extra: &[&str]| {
        let o = lakeaug()
            .arg("query")
            .arg(&out)
            .arg("--file")
            .arg(&file)
            .args(["--format", format])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        stdout(&o)
    };
    assert_eq!(
        run("csv", &[]),
        "scheme,stage,reason,rejects,share_of_rejects,example\n"
    );
    let json: serde_json::Value = serde_json::from_str(&run("json", &[])).expect("valid JSON");
    assert_eq!(json, serde_json::json!([]));
    let pq = dir.path().join("r.parquet");
    run("parquet", &["--out", pq.to_str().unwrap()]);
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&pq).unwrap()).unwrap();
    let names: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "scheme",
            "stage",
            "reason",
            "rejects",
            "share_of_rejects",
            "example"
        ]
    );
    assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
}

/// `n` rows of (id, image, caption), captions snappy-compressed in one page.
fn write_captions(path: &Path, n: usize) {
    let image = common::turbo_jpeg(&common::textured(16, 16), false);
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("image", DataType::Binary, true),
        Field::new("caption", DataType::Utf8, true),
    ]));
    let captions: Vec<Option<String>> = (0..n)
        .map(|i| (i % 7 != 3).then(|| format!("caption number {i} of a small photo")))
        .collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..n as i64)),
            Arc::new(BinaryArray::from_iter_values(
                (0..n).map(|_| image.as_slice()),
            )),
            Arc::new(StringArray::from(captions)),
        ],
    )
    .unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_dictionary_enabled(false)
        .build();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// Where the caption column's first data page starts and how long the column chunk is.
fn caption_chunk(path: &Path) -> (usize, usize) {
    let bytes = std::fs::read(path).unwrap();
    let md = ParquetMetaDataReader::new()
        .parse_and_finish(&bytes::Bytes::from(bytes))
        .unwrap();
    let col = md.row_group(0).column(2);
    let (start, len) = col.byte_range();
    (start as usize, len as usize)
}

/// Two bits (byte offset in the caption column chunk, bit) whose flip makes arrow panic
/// with `offset + len out of bounds` while decoding [`write_captions`]'s file, as in
/// issue 21 (a regression seed found by trying every flip of this file; the writer's
/// output is deterministic for the pinned parquet version).
const CORRUPT_FLIPS: [(usize, u8); 2] = [(26, 0), (26, 3)];

fn corrupt(path: &Path) {
    let (start, _) = caption_chunk(path);
    let mut bytes = std::fs::read(path).unwrap();
    for (offset, bit) in CORRUPT_FLIPS {
        bytes[start + offset] ^= 1 << bit;
    }
    std::fs::write(path, bytes).unwrap();
}

/// A corrupt caption page: without `--on-bad-file skip` the run fails (exit 1) naming the
/// file; with it, the good file next to it is processed and the bad one is listed as
/// skipped (exit 0, as for any run that did work).
#[test]
fn a_corrupt_page_fails_naming_the_file_or_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    write_captions(&lake.join("a_bad.parquet"), 40);
    corrupt(&lake.join("a_bad.parquet"));
    write_captions(&lake.join("b_good.parquet"), 40);

    let o = run_aligned(&lake, dir.path().join("out1"), &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("a_bad.parquet"), "{err}");
    assert!(
        err.contains("the Parquet decoder failed: offset + len out of bounds"),
        "{err}"
    );

    let out = dir.path().join("out2");
    let summary = dir.path().join("summary.json");
    let o = small_run()
        .arg("--input")
        .arg(&lake)
        .arg("--output")
        .arg(&out)
        .args([
            "--schemes",
            "aligned",
            "--on-bad-file",
            "skip",
            "--summary-json",
        ])
        .arg(&summary)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["files_skipped"], 1, "{s}");
    assert_eq!(s["files_processed"], 1, "{s}");
    assert_eq!(s["rows_written"], 40, "{s}");
    let manifests: Vec<PathBuf> = std::fs::read_dir(out.join("_lakeaug/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let manifest = std::fs::read_to_string(&manifests[0]).unwrap();
    assert!(manifest.contains("a_bad.parquet"), "{manifest}");
    let written = common::scheme_batch(&out, "aligned");
    let files = written
        .column_by_name("source_file")
        .unwrap()
        .as_string::<i32>()
        .clone();
    assert!((0..files.len()).all(|i| files.value(i).ends_with("b_good.parquet")));
}

/// Rewrites the footer of `path` saying each row group holds `delta` more rows.
fn lie_about_rows(path: &Path, delta: i64) {
    let bytes = std::fs::read(path).unwrap();
    let md = ParquetMetaDataReader::new()
        .parse_and_finish(&bytes::Bytes::from(bytes.clone()))
        .unwrap();
    let footer_len =
        u32::from_le_bytes(bytes[bytes.len() - 8..bytes.len() - 4].try_into().unwrap());
    let body_end = bytes.len() - 8 - footer_len as usize;
    let mut builder = md.into_builder();
    let groups = builder
        .take_row_groups()
        .into_iter()
        .map(|rg| {
            let n = rg.num_rows();
            rg.into_builder().set_num_rows(n + delta).build().unwrap()
        })
        .collect();
    let md = builder.set_row_groups(groups).build();
    let mut out = bytes[..body_end].to_vec();
    ParquetMetaDataWriter::new(&mut out, &md).finish().unwrap();
    std::fs::write(path, out).unwrap();
}

/// A footer claiming 2 rows more, or 2 fewer, than the pages hold is refused with a
/// reason naming the file and both counts.
#[test]
fn footer_row_count_lies_are_refused() {
    for delta in [2i64, -2] {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("liar.parquet");
        write_captions(&input, 20);
        lie_about_rows(&input, delta);
        let o = run_aligned(&input, dir.path().join("out"), &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "delta {delta}: {err}");
        assert!(err.contains("liar.parquet"), "{err}");
        assert!(
            err.contains(&format!(
                "the footer says the file ends at row {}",
                20 + delta
            )),
            "delta {delta}: {err}"
        );
    }
}

/// Option values out of range are a bad command line: exit code 2, with a message that
/// names the option, before any input is touched.
#[test]
fn out_of_range_options_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--batch-size", "18446744073709551615"], "--batch-size"),
        (&["--batch-size", "0"], "--batch-size"),
        (&["--chunk-rows", "18446744073709551615"], "--chunk-rows"),
        (&["--chunk-rows", "0"], "--chunk-rows"),
        (&["--copies", "0"], "--copies"),
        (&["--copies", "100000000"], "--copies"),
        (&["--size", "0"], "--size"),
        (&["--size", "16384"], "--size"),
        (&["--quality", "0"], "--quality"),
        (&["--quality", "101"], "--quality"),
        (&["--threads", "0"], "--threads"),
        (&["--max-pixels", "0"], "--max-pixels"),
        (&["--decode-memory", "0"], "--decode-memory"),
        (
            &["--decode-memory", "18446744073709551615"],
            "--decode-memory",
        ),
        (&["--max-tokens", "1"], "--max-tokens"),
        (&["--schemes", "nope"], "unknown scheme `nope`"),
        (
            &["--schemes", "aligned,aligned"],
            "scheme `aligned` is listed twice",
        ),
    ];
    for (args, needle) in cases {
        let o = lakeaug()
            .args([
                "run",
                "--input",
                "missing.parquet",
                "--output",
                "never-created",
            ])
            .args(*args)
            .output()
            .unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert!(!Path::new("never-created").exists());
}

/// `--input lake/ --output lake/augmented/`, twice: the second run does not read the
/// first one's parts as input (nothing new: exit 3), and the first says why.
#[test]
fn an_output_inside_the_input_folder_is_not_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    write_captions(&lake.join("photos.parquet"), 6);
    let run = || {
        lakeaug()
            .args([
                "run",
                "--size",
                "32",
                "--threads",
                "2",
                "--schemes",
                "aligned",
            ])
            .arg("--input")
            .arg(format!("{}/", lake.display()))
            .arg("--output")
            .arg(format!("{}/augmented/", lake.display()))
            .output()
            .unwrap()
    };
    let first = run();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("is inside the input folder"),
        "{}",
        stderr(&first)
    );
    let second = run();
    assert_eq!(second.status.code(), Some(3), "{}", stderr(&second));
    assert_eq!(
        common::scheme_batch(&lake.join("augmented"), "aligned").num_rows(),
        6
    );
}

/// A page checksum that does not match its page (pyarrow's `write_page_checksum=True`, one
/// bit of a caption flipped) refuses the file naming it, instead of reading the changed
/// caption as if it were whole.
#[test]
fn page_checksums_are_verified() {
    let python =
        common::venv::python_with("tests/interop/requirements.txt", ".lakeaug-interop-ready")
            .expect("python3 is needed (Debian: apt-get install python3 python3-venv)");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("crc.parquet");
    let script = r#"
import sys, pyarrow as pa, pyarrow.parquet as pq
t = pa.table({"id": list(range(20)), "image": [b"x"] * 20,
              "caption": [f"caption {i}" for i in range(20)]})
pq.write_table(t, sys.argv[1], write_page_checksum=True, compression="snappy",
               use_dictionary=False, write_statistics=False)
c = pq.ParquetFile(sys.argv[1]).metadata.row_group(0).column(2)
print(c.data_page_offset, c.total_compressed_size)
"#;
    let o = Command::new(&python)
        .args(["-c", script])
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let printed = stdout(&o);
    let (start, len) = printed.trim().split_once(' ').unwrap();
    let (start, len): (usize, usize) = (start.parse().unwrap(), len.parse().unwrap());
    let mut bytes = std::fs::read(&input).unwrap();
    // The first caption is stored literally in the snappy block: "caption 0" -> "baption 0".
    let at = start
        + bytes[start..start + len]
            .windows(7)
            .position(|w| w == b"caption")
            .expect("a literal caption in the page");
    bytes[at] ^= 1;
    std::fs::write(&input, bytes).unwrap();

    let o = run_aligned(&input, dir.path().join("out"), &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("crc.parquet") && err.contains("Page CRC checksum mismatch"),
        "{err}"
    );
}

/// A 6000 x 6000 8-bit RGBA PNG (each decode holds 144 MB stored + 108 MB RGB = 252 MB),
/// flat `colour` so it compresses to little.
fn big_png(colour: [u8; 4]) -> Vec<u8> {
    use image::ImageEncoder;
    let side = 6000u32;
    let img = image::RgbaImage::from_pixel(side, side, image::Rgba(colour));
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Fast,
        // Sub turns a flat row into zeros, which the fast deflate stores in a few KB (no
        // filter would leave ~36 MB of Huffman-coded pixels per image in the input).
        image::codecs::png::FilterType::Sub,
    )
    .write_image(img.as_raw(), side, side, image::ExtendedColorType::Rgba8)
    .unwrap();
    out
}

/// The run's summary JSON, after checking it wrote `rows` rows.
fn summary_of(
    input: &Path,
    dir: &Path,
    name: &str,
    decode_memory_mib: &str,
    rows: u64,
) -> serde_json::Value {
    let summary = dir.join(format!("{name}.json"));
    let o = run_aligned(
        input,
        dir.join(name),
        &[
            "--decode-memory",
            decode_memory_mib,
            "--summary-json",
            summary.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(s["rows_written"], rows, "{s}");
    s
}

/// Six huge (but allowed) images on two threads. Each decode reserves 252 MB (6000 x 6000
/// x (4 bytes stored RGBA + 3 bytes RGB)). With `--decode-memory 300` never two at once,
/// whatever the timing, and the process stays within one decode plus its own ~70 MB; with
/// 4096 MiB two decode side by side. (How much higher the process then peaks depends on how
/// far the two decodes overlap, 165-250 MB here, so it is reported, not asserted.)
#[test]
fn decoded_bytes_are_bounded_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("six.parquet");
    let (red, blue) = (big_png([200, 30, 30, 255]), big_png([30, 30, 200, 255]));
    // Small inputs, so that what the peaks differ by is decoding.
    assert!(
        red.len() + blue.len() < 4_000_000,
        "{} bytes",
        red.len() + blue.len()
    );
    common::write_pairs(
        &input,
        (0..6)
            .map(|i| {
                Some(if i % 2 == 0 {
                    red.clone()
                } else {
                    blue.clone()
                })
            })
            .collect(),
        (0..6).map(|_| Some("a square")).collect(),
    );
    let one_decode = 6000 * 6000 * (4 + 3);
    let bounded = summary_of(&input, dir.path(), "bounded", "300", 6);
    let unbounded = summary_of(&input, dir.path(), "unbounded", "4096", 6);
    assert_eq!(bounded["decode_memory_peak_bytes"], one_decode, "{bounded}");
    assert_eq!(
        unbounded["decode_memory_peak_bytes"],
        2 * one_decode,
        "two threads, six rows and room for two: they decode side by side: {unbounded}"
    );
    let rss = |s: &serde_json::Value| s["peak_rss_bytes"].as_u64().expect("peak_rss_bytes");
    assert!(
        rss(&bounded) < 400_000_000,
        "one 252 MB decode at a time, yet the run peaked at {} MB (side by side: {} MB)",
        rss(&bounded) / 1_000_000,
        rss(&unbounded) / 1_000_000
    );
}
