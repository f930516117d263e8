//! End-to-end: `lakeaug run` on the sample data and on crafted inputs, read back.

use std::borrow::Cow;
use std::path::Path;

use crate::common::*;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float32Type, Int32Type, Int64Type, UInt64Type};
use lakeaug::config::Config;
use lakeaug::kernels::image as img;
use lakeaug::pipeline::{run, BadFilePolicy, RunOptions};
use lakeaug::write::Manifest;

fn options(inputs: &[String], out: &Path) -> RunOptions {
    let mut o = RunOptions::new(inputs.to_vec(), out, Config::default());
    o.threads = Some(2);
    o
}

#[test]
fn sample_data_runs_with_documented_schema_and_reconciled_counts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let summary = run(&options(&[sample_photos()], &out)).unwrap();
    let m = &summary.manifest;
    assert_eq!(m.rows_read, 15);
    assert_eq!(m.rows_written + m.rows_rejected, 15 * 3);
    assert_eq!(m.rows_rejected, 0);
    assert_eq!(m.per_scheme.len(), 3);

    // The manifest on disk says the same, and lists exactly the files published.
    let on_disk = Manifest::read(&Manifest::path(&out, &m.run_id)).unwrap();
    assert_eq!(&on_disk, m);
    let files: Vec<String> = read_dir_batches(&out)
        .into_iter()
        .map(|(rel, _)| rel)
        .collect();
    assert_eq!(files, m.output_files);
    assert!(files
        .iter()
        .all(|f| f.starts_with("scheme=") && f.ends_with(".parquet")));
    // No row was rejected, so no rejects table was written.
    assert!(m.rejects_files.is_empty());
    assert!(!out.join("_rejects").exists());
    // Staging is gone after publication.
    assert!(!out.join("_lakeaug/staging").join(&m.run_id).exists());

    let aligned = scheme_batch(&out, "aligned");
    let names: Vec<String> = aligned
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let expected = [
        "id",
        "image",
        "caption",
        "license",
        "input_ids",
        "input_ids_truncated",
        "mlm_input_ids",
        "mlm_labels",
        "source_file",
        "source_row",
        "source_digest",
        "source_decode_scale",
        "source_decode_warning",
        "aug_copy",
        "aug_seed",
        "aug_hflip",
        "aug_hflip_skipped",
        "aug_hflip_caption_swaps",
        "aug_crop_x",
        "aug_crop_y",
        "aug_crop_width",
        "aug_crop_height",
        "aug_brightness",
        "aug_contrast",
        "aug_saturation",
        "aug_hue",
        "aug_hue_skipped",
        "aug_jitter_order",
        "aug_rotate_deg",
        "aug_blur_sigma",
        "aug_blur_kernel",
        "aug_erase_x",
        "aug_erase_y",
        "aug_erase_size",
        "aug_mix_partner_row",
        "aug_mix_lambda",
        "aug_segmentation",
        "aug_words_replaced",
        "aug_words_deleted",
        "aug_synonym_words",
        "aug_synonym_replacements",
        "aug_swap_pairs",
        "aug_insert_positions",
        "aug_insert_words",
        "aug_random_deleted",
        "aug_reorder_spans",
        "aug_hedge",
        "aug_char_swaps",
        "run_id",
        "lakeaug_version",
        "created_at",
    ];
    assert_eq!(names, expected);
    assert_eq!(aligned.num_rows(), 15);
    // Rows in source order; each image is a 224x224 JPEG.
    let rows: Vec<i64> = aligned
        .column_by_name("source_row")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec();
    assert_eq!(rows, (0..15).collect::<Vec<_>>());
    let images = aligned.column_by_name("image").unwrap().as_binary::<i32>();
    for i in 0..images.len() {
        assert_eq!(
            img::image_format_and_size(images.value(i)),
            Some(("jpeg", 224, 224))
        );
    }
    // Parameters are sampled for aligned only where aligned samples them.
    assert_eq!(
        aligned
            .column_by_name("aug_brightness")
            .unwrap()
            .null_count(),
        0
    );
    assert_eq!(
        aligned.column_by_name("aug_erase_x").unwrap().null_count(),
        15
    );
    assert_eq!(
        aligned.column_by_name("mlm_labels").unwrap().null_count(),
        15
    );

    let cross = scheme_batch(&out, "cross_modal");
    assert_eq!(
        cross
            .column_by_name("aug_erase_size")
            .unwrap()
            .as_primitive::<Int32Type>()
            .values()
            .to_vec(),
        vec![44; 15]
    );
    assert_eq!(cross.column_by_name("aug_hflip").unwrap().null_count(), 15);

    let pseudo = scheme_batch(&out, "pseudo_label");
    let src_caps = pseudo.column_by_name("caption").unwrap().as_string::<i32>();
    let al_caps = aligned
        .column_by_name("caption")
        .unwrap()
        .as_string::<i32>();
    // pseudo_label leaves captions alone; MLM labels are -100 or the original id.
    let ids = pseudo.column_by_name("input_ids").unwrap().as_list::<i32>();
    let labels = pseudo
        .column_by_name("mlm_labels")
        .unwrap()
        .as_list::<i32>();
    let mut selected = 0;
    for i in 0..pseudo.num_rows() {
        let ids = ids.value(i);
        let ids = ids.as_primitive::<Int32Type>();
        let labels = labels.value(i);
        let labels = labels.as_primitive::<Int32Type>();
        assert_eq!(ids.len(), labels.len());
        assert_eq!(ids.value(0), 101);
        assert_eq!(ids.value(ids.len() - 1), 102);
        for k in 0..ids.len() {
            let l = labels.value(k);
            assert!(l == -100 || l == ids.value(k));
            selected += (l != -100) as usize;
        }
        // An aligned caption differs from the source at most by one replaced word.
        let (a, s) = (al_caps.value(i), src_caps.value(i));
        let replaced = aligned
            .column_by_name("aug_words_replaced")
            .unwrap()
            .as_list::<i32>()
            .value(i);
        if replaced.is_empty() {
            assert_eq!(a, s);
        } else {
            let k = replaced.as_primitive::<Int32Type>().value(0) as usize;
            let words: Vec<&str> = s.split_whitespace().collect();
            let mut expected: Vec<&str> = words.clone();
            expected[k] = "random_word";
            assert_eq!(a, expected.join(" "));
        }
    }
    assert!(selected > 0, "no MLM position selected in 15 captions");
}

#[test]
fn output_values_do_not_depend_on_threads_or_batch_size() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = options(&[sample_photos()], &dir.path().join("a"));
    a.threads = Some(1);
    a.batch_size = 4;
    let mut b = options(&[sample_photos()], &dir.path().join("b"));
    b.threads = Some(2);
    b.batch_size = 128;
    run(&a).unwrap();
    run(&b).unwrap();
    let ra = read_dir_batches(&dir.path().join("a"));
    let rb = read_dir_batches(&dir.path().join("b"));
    assert_eq!(ra.len(), rb.len());
    for ((fa, ba), (fb, bb)) in ra.iter().zip(&rb) {
        assert_eq!(fa, fb);
        assert_same_values(ba, bb, fa);
    }
    // Another seed changes the draws.
    let mut c = options(&[sample_photos()], &dir.path().join("c"));
    c.config.seed = 1;
    run(&c).unwrap();
    let rc = read_dir_batches(&dir.path().join("c"));
    let seeds = |b: &RecordBatch| {
        b.column_by_name("aug_seed")
            .unwrap()
            .as_primitive::<UInt64Type>()
            .values()
            .to_vec()
    };
    assert_ne!(seeds(&ra[0].1), seeds(&rc[0].1));
}

#[test]
fn lineage_reproduces_each_image() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run(&options(&[sample_photos()], &out)).unwrap();
    let source = &read_dir_batches(&repo_path("sample_data"))
        .into_iter()
        .find(|(rel, _)| rel == "photos.parquet")
        .unwrap()
        .1;
    let src_images = source.column_by_name("image").unwrap().as_binary::<i32>();
    for scheme in ["aligned", "cross_modal"] {
        let b = scheme_batch(&out, scheme);
        let images = b.column_by_name("image").unwrap().as_binary::<i32>();
        let rows = b
            .column_by_name("source_row")
            .unwrap()
            .as_primitive::<Int64Type>();
        let scales = b
            .column_by_name("source_decode_scale")
            .unwrap()
            .as_primitive::<Int32Type>();
        // Several sample photos are JPEGs at least twice the output size: decoded reduced.
        let reduced = scales.values().iter().filter(|s| **s > 1).count();
        assert!(
            reduced >= 3,
            "{scheme}: only {reduced} rows decoded reduced"
        );
        for i in 0..b.num_rows() {
            let params = lakeaug::lineage::params_from_batch(&b, i).unwrap();
            let src = src_images.value(rows.value(i) as usize);
            assert!([1, 2, 4, 8].contains(&scales.value(i)), "{scheme} row {i}");
            let replayed = replay(src, scales.value(i) as u8, scheme, &params);
            // Encoding is deterministic: the replay gives the very bytes written.
            assert!(
                replayed == images.value(i),
                "{scheme} row {i}: bytes differ"
            );
        }
    }
    // And a replay with other parameters is clearly different (the check can fail).
    let b = scheme_batch(&out, "aligned");
    let mut params = lakeaug::lineage::params_from_batch(&b, 0).unwrap();
    params.rotate_deg = Some(params.rotate_deg.unwrap() + 10.0);
    let scale0 = b
        .column_by_name("source_decode_scale")
        .unwrap()
        .as_primitive::<Int32Type>()
        .value(0) as u8;
    assert!(scale0 > 1, "row 0 of the sample data is decoded reduced");
    let replayed = replay(src_images.value(0), scale0, "aligned", &params);
    let written = b
        .column_by_name("image")
        .unwrap()
        .as_binary::<i32>()
        .value(0);
    assert!(replayed != written, "a 10 degree error went unnoticed");
    // Nor does a full-size decode give the bytes written: the recorded scale matters.
    let params = lakeaug::lineage::params_from_batch(&b, 0).unwrap();
    assert!(replay(src_images.value(0), 1, "aligned", &params) != written);
    assert!(replay(src_images.value(0), scale0, "aligned", &params) == written);
}

/// Decode a source image at the recorded scale, resize, apply a scheme's recorded
/// parameters and encode with the default output settings, as the pipeline does.
fn replay(
    src: &[u8],
    decode_scale: u8,
    scheme: &str,
    params: &lakeaug::schemes::AugParams,
) -> Vec<u8> {
    let config = Config::default();
    let decoded = img::decode_rgb8_at_scale(src, config.image.max_pixels, decode_scale).unwrap();
    let size = config.image.size;
    let resized = img::resize(&decoded, size, size, img::ResizeMode::Stretch);
    let image = lakeaug::schemes::Scheme::named(&config, scheme)
        .unwrap()
        .apply_image(Cow::Owned(resized), params, None)
        .unwrap();
    let mut out = Vec::new();
    img::encode(&image, config.image.output_format(), &mut out).unwrap();
    out
}

#[test]
fn bad_rows_are_rejected_with_reasons_and_good_rows_land() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.parquet");
    // A PNG header claiming 100000 x 100000 pixels.
    let mut bomb = vec![
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R',
    ];
    bomb.extend_from_slice(&100_000u32.to_be_bytes());
    bomb.extend_from_slice(&100_000u32.to_be_bytes());
    bomb.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    let good = gradient_jpeg(64, 48);
    write_pairs(
        &input,
        vec![
            Some(good.clone()),
            None,
            Some(b"not an image".to_vec()),
            Some(bomb),
            Some(good.clone()),
            Some(good),
        ],
        vec![
            Some("a red car on the left side of a road"),
            Some("x"),
            Some("y"),
            Some("z"),
            None,
            Some(""),
        ],
    );
    let mut o = options(
        &[input.to_string_lossy().into_owned()],
        &dir.path().join("out"),
    );
    o.config.columns.id = Some("id".into());
    let summary = run(&o).unwrap();
    let m = &summary.manifest;
    assert_eq!(m.rows_read, 6);
    assert_eq!(m.rows_rejected, 3 * 3);
    assert_eq!(m.rows_written, 3 * 3);
    let rejects = &read_dir_batches(&dir.path().join("out/_rejects"))[0].1;
    assert_eq!(rejects.num_rows(), 9);
    let reasons = rejects.column_by_name("reason").unwrap().as_string::<i32>();
    let rows = rejects
        .column_by_name("source_row")
        .unwrap()
        .as_primitive::<Int64Type>();
    let ids = rejects.column_by_name("id").unwrap().as_string::<i32>();
    for i in 0..rejects.num_rows() {
        let (row, reason) = (rows.value(i), reasons.value(i));
        assert_eq!(ids.value(i), row.to_string());
        match row {
            1 => assert!(reason.contains("null"), "{reason}"),
            2 => assert!(!reason.is_empty()),
            3 => assert!(reason.contains("limit"), "{reason}"),
            other => panic!("row {other} should not be rejected: {reason}"),
        }
    }
    // The null and empty captions went through: null stays null, empty stays empty.
    let aligned = scheme_batch(&dir.path().join("out"), "aligned");
    let caps = aligned
        .column_by_name("caption")
        .unwrap()
        .as_string::<i32>();
    assert_eq!(caps.len(), 3);
    assert!(caps.is_null(1));
    assert_eq!(caps.value(2), "");
    let ids = aligned
        .column_by_name("input_ids")
        .unwrap()
        .as_list::<i32>();
    assert!(ids.is_null(1));
    assert_eq!(
        ids.value(2).as_primitive::<Int32Type>().values().to_vec(),
        vec![101, 102]
    );
}

#[test]
fn bad_files_stop_the_run_naming_file_and_column_and_publish_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("lake/a.parquet");
    write_pairs(
        &good,
        vec![Some(gradient_jpeg(32, 32))],
        vec![Some("a cat")],
    );
    let out = dir.path().join("out");
    let run_with = |extra: &Path| {
        let inputs = vec![
            good.to_string_lossy().into_owned(),
            extra.to_string_lossy().into_owned(),
        ];
        run(&options(&inputs, &out))
    };

    let not_parquet = dir.path().join("lake/b.parquet");
    std::fs::write(&not_parquet, b"this is not parquet at all").unwrap();
    let err = format!("{:#}", run_with(&not_parquet).unwrap_err());
    assert!(
        err.contains("b.parquet") && err.contains("not a readable Parquet file"),
        "{err}"
    );

    let truncated = dir.path().join("lake/c.parquet");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 20]).unwrap();
    let err = format!("{:#}", run_with(&truncated).unwrap_err());
    assert!(err.contains("c.parquet"), "{err}");

    let no_caption = dir.path().join("lake/d.parquet");
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("image", DataType::Binary, true),
    ]));
    let col: arrow::array::ArrayRef =
        std::sync::Arc::new(arrow::array::BinaryArray::from(vec![Some(&b"x"[..])]));
    write_batch(
        &no_caption,
        RecordBatch::try_new(schema, vec![col]).unwrap(),
    );
    let err = format!("{:#}", run_with(&no_caption).unwrap_err());
    assert!(
        err.contains("d.parquet")
            && err.contains("no column `caption`")
            && err.contains("--caption-col"),
        "{err}"
    );

    let wrong_type = dir.path().join("lake/e.parquet");
    let schema = std::sync::Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("image", DataType::Int64, true),
        arrow::datatypes::Field::new("caption", DataType::Utf8, true),
    ]));
    let cols: Vec<arrow::array::ArrayRef> = vec![
        std::sync::Arc::new(arrow::array::Int64Array::from(vec![1])),
        std::sync::Arc::new(arrow::array::StringArray::from(vec!["a"])),
    ];
    write_batch(&wrong_type, RecordBatch::try_new(schema, cols).unwrap());
    let err = format!("{:#}", run_with(&wrong_type).unwrap_err());
    assert!(
        err.contains("e.parquet") && err.contains("column `image`") && err.contains("Int64"),
        "{err}"
    );

    // Nothing was published by any of these runs.
    assert!(read_dir_batches(&out).is_empty());
    assert!(!out.join("_lakeaug/runs").exists());

    // With --on-bad-file skip the good file lands and the bad ones are recorded.
    let mut o = options(
        &[dir.path().join("lake").to_string_lossy().into_owned()],
        &out,
    );
    o.on_bad_file = BadFilePolicy::Skip;
    let summary = run(&o).unwrap();
    assert_eq!(summary.manifest.rows_read, 1);
    assert_eq!(summary.manifest.rows_written, 3);
    let skipped: Vec<&str> = summary
        .manifest
        .skipped_files
        .iter()
        .map(|s| s.path.as_str())
        .collect();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert!(skipped.iter().all(|p| !p.ends_with("a.parquet")));
}

#[test]
fn hugging_face_layout_and_hive_partitions_pass_through() {
    let dir = tempfile::tempdir().unwrap();
    let hf = repo_path("sample_data/photos_hf")
        .to_string_lossy()
        .into_owned();
    let out = dir.path().join("out");
    let mut o = options(std::slice::from_ref(&hf), &out);
    o.config.schemes = vec!["aligned".into()];
    let summary = run(&o).unwrap();
    assert_eq!(summary.manifest.rows_rejected, 0);
    let input = &read_dir_batches(Path::new(&hf))[0].1;
    let output = scheme_batch(&out, "aligned");
    assert_eq!(
        output
            .schema()
            .field_with_name("image")
            .unwrap()
            .data_type(),
        input.schema().field_with_name("image").unwrap().data_type()
    );
    let part = out.join(&summary.manifest.output_files[0]);
    let footer = footer_metadata(&part);
    let hf_in =
        &footer_metadata(&Path::new(&hf).join("train-00000-of-00001.parquet"))["huggingface"];
    assert_eq!(
        footer.get("huggingface"),
        Some(hf_in),
        "the huggingface features metadata is kept"
    );
    let paths_in = input
        .column_by_name("image")
        .unwrap()
        .as_struct()
        .column_by_name("path")
        .unwrap()
        .clone();
    let paths_out = output
        .column_by_name("image")
        .unwrap()
        .as_struct()
        .column_by_name("path")
        .unwrap()
        .clone();
    assert!(paths_in.as_ref() == paths_out.as_ref());

    // Hive folders become string columns of the output.
    let lake = dir.path().join("lake");
    write_pairs(
        &lake.join("year=2025/part-0.parquet"),
        vec![Some(gradient_jpeg(40, 30))],
        vec![Some("a b c")],
    );
    write_pairs(
        &lake.join("year=2026/part-0.parquet"),
        vec![Some(gradient_jpeg(30, 40))],
        vec![Some("d e f")],
    );
    let out2 = dir.path().join("out2");
    let mut o = options(&[lake.to_string_lossy().into_owned()], &out2);
    o.config.schemes = vec!["cross_modal".into()];
    run(&o).unwrap();
    let b = scheme_batch(&out2, "cross_modal");
    let years = b.column_by_name("year").unwrap().as_string::<i32>();
    let mut years: Vec<&str> = years.iter().map(|v| v.unwrap()).collect();
    years.sort();
    assert_eq!(years, ["2025", "2026"]);
    // Two input files give two part files with distinct deterministic names.
    let files: Vec<String> = read_dir_batches(&out2)
        .into_iter()
        .map(|(r, _)| r)
        .collect();
    assert_eq!(files.len(), 2);
    assert_ne!(files[0], files[1]);
}

#[test]
fn copies_give_distinct_draws_per_copy() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = options(&[sample_photos()], &dir.path().join("out"));
    o.config.copies = 3;
    o.config.schemes = vec!["aligned".into()];
    let s = run(&o).unwrap();
    assert_eq!(s.manifest.rows_written, 45);
    let b = scheme_batch(&dir.path().join("out"), "aligned");
    let copies = b
        .column_by_name("aug_copy")
        .unwrap()
        .as_primitive::<Int32Type>();
    assert_eq!(&copies.values()[..6], &[0, 1, 2, 0, 1, 2]);
    let angles = b
        .column_by_name("aug_rotate_deg")
        .unwrap()
        .as_primitive::<Float32Type>();
    assert_ne!(angles.value(0), angles.value(1));
}

#[test]
fn a_file_gives_the_same_rows_alone_or_with_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_pairs(
        &lake.join("a.parquet"),
        vec![Some(gradient_jpeg(50, 40)), Some(gradient_jpeg(40, 50))],
        vec![
            Some("one two three four five six seven"),
            Some("a dog on a sofa"),
        ],
    );
    write_pairs(
        &lake.join("b.parquet"),
        vec![Some(gradient_jpeg(30, 30))],
        vec![Some("b")],
    );
    let both = dir.path().join("both");
    let alone = dir.path().join("alone");
    run(&options(&[lake.to_string_lossy().into_owned()], &both)).unwrap();
    run(&options(
        &[lake.join("a.parquet").to_string_lossy().into_owned()],
        &alone,
    ))
    .unwrap();
    let alone_files = read_dir_batches(&alone);
    let both_files = read_dir_batches(&both);
    assert_eq!(alone_files.len(), 3);
    assert_eq!(both_files.len(), 6);
    for (rel, batch) in &alone_files {
        let (_, other) = both_files
            .iter()
            .find(|(r, _)| r == rel)
            .expect("same part name");
        // Only source_file (the path as given) differs; drop it and compare the rest.
        let drop_source = |b: &RecordBatch| {
            let keep: Vec<usize> = (0..b.num_columns())
                .filter(|&i| b.schema().field(i).name() != "source_file")
                .collect();
            b.project(&keep).unwrap()
        };
        assert_same_values(&drop_source(batch), &drop_source(other), rel);
    }
}

/// `lakeaug run` of `inputs` into `out` with `LAKEAUG_PANIC_AT=point` and `extra` flags:
/// (exit code, stderr, the run's summary JSON if written).
fn run_panicking(
    point: &str,
    inputs: &[&Path],
    out: &Path,
    extra: &[&str],
) -> (Option<i32>, String, Option<serde_json::Value>) {
    let summary = out.with_extension("summary.json");
    let mut cmd = crate::common::small_run::small_run();
    for input in inputs {
        cmd.arg("--input").arg(input);
    }
    let result = cmd
        .arg("--output")
        .arg(out)
        .arg("--summary-json")
        .arg(&summary)
        .args(extra)
        .env("LAKEAUG_PANIC_AT", point)
        .output()
        .unwrap();
    let json = std::fs::read(&summary)
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap());
    (
        result.status.code(),
        String::from_utf8_lossy(&result.stderr).into_owned(),
        json,
    )
}

/// Two input files of 4 rows with images and captions, `a` then `b`.
fn two_small_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (a, b) = (dir.join("lake/a.parquet"), dir.join("lake/b.parquet"));
    for path in [&a, &b] {
        let images = (0..4).map(|i| Some(gradient_jpeg(40 + i, 30))).collect();
        write_pairs(path, images, vec![Some("a red ball on the left"); 4]);
    }
    (a, b)
}

#[test]
fn a_panic_while_reading_a_file_fails_that_file_and_the_rest_is_processed() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_small_files(dir.path());

    // Skipping: the file is listed as skipped with the reason, the other one is written.
    let out = dir.path().join("skip");
    let (code, stderr, json) =
        run_panicking("read-batch:1", &[&a, &b], &out, &["--on-bad-file", "skip"]);
    assert_eq!(code, Some(0), "{stderr}");
    let json = json.unwrap();
    assert_eq!(json["files_skipped"], 1, "{json}");
    assert_eq!(json["rows_read"], 4, "{json}");
    assert_eq!(json["rows_written"], 4 * 3, "{json}");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            std::fs::read_dir(out.join("_lakeaug/runs"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path(),
        )
        .unwrap(),
    )
    .unwrap();
    let skipped = &manifest["skipped_files"][0];
    assert!(
        skipped["path"].as_str().unwrap().ends_with("a.parquet"),
        "{skipped}"
    );
    assert!(
        skipped["reason"]
            .as_str()
            .unwrap()
            .contains("internal panic caught"),
        "{skipped}"
    );
    // The skipped file is not in the state: the next run processes it.
    let (code, stderr, json) = run_panicking("none", &[&a, &b], &out, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json.unwrap()["rows_read"], 4);

    // Failing: exit 1 naming the file, nothing of it published.
    let out = dir.path().join("fail");
    let (code, stderr, _) = run_panicking("read-batch:1", &[&a, &b], &out, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("a.parquet") && stderr.contains("--on-bad-file skip"),
        "{stderr}"
    );
}

#[test]
fn a_panic_in_one_rows_augmentation_rejects_that_row() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = two_small_files(dir.path());
    let out = dir.path().join("out");
    let (code, stderr, json) = run_panicking("augment-row:1", &[&a], &out, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let json = json.unwrap();
    assert_eq!(
        (
            json["rows_written"].as_u64(),
            json["rows_rejected"].as_u64()
        ),
        (Some(11), Some(1))
    );
    let rejects = read_dir_batches(&out.join("_rejects"));
    assert_eq!(rejects.len(), 1);
    let batch = &rejects[0].1;
    let stage = batch.column_by_name("stage").unwrap().as_string::<i32>();
    let reason = batch.column_by_name("reason").unwrap().as_string::<i32>();
    assert_eq!(stage.value(0), "augment");
    assert!(
        reason.value(0).contains("internal panic caught"),
        "{}",
        reason.value(0)
    );
}

#[test]
fn a_panic_on_the_writer_thread_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = two_small_files(dir.path());
    let out = dir.path().join("out");
    let (code, stderr, _) = run_panicking("write-batch:1", &[&a], &out, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("the writer failed on the output of") && stderr.contains("a.parquet"),
        "{stderr}"
    );
    // Nothing was committed: a rerun does the file.
    let (code, stderr, json) = run_panicking("none", &[&a], &out, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json.unwrap()["rows_read"], 4);
}
