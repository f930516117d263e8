//! Shared by the `sql_*` tests: a small synthetic lakeaug output written with the
//! parquet crate following the output contract, and an independent reader that
//! loads output rows into plain Rust structs (no DataFusion) to compute expected
//! values.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Int32Array, Int64Array, ListArray,
    RecordBatch, StringArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Float32Type, Int32Type, Int64Type, Schema, UInt64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

/// Encodes a `w`x`h` RGB PNG (pixel values vary so files differ).
pub fn png(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([seed.wrapping_add(x as u8), y as u8, seed])
    });
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png)
        .expect("png encode");
    buf.into_inner()
}

/// Encodes a `w`x`h` JPEG.
pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 128]));
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Jpeg)
        .expect("jpeg encode");
    buf.into_inner()
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let file = File::create(path).expect("create parquet");
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).expect("writer");
    w.write(batch).expect("write");
    w.close().expect("close");
}

/// A `List<Int32>` with non-null items, as lakeaug writes token and word-index lists.
fn list_i32(values: Vec<Option<Vec<i32>>>) -> ListArray {
    let list = ListArray::from_iter_primitive::<Int32Type, _, _>(
        values
            .into_iter()
            .map(|v| v.map(|v| v.into_iter().map(Some).collect::<Vec<_>>())),
    );
    let (_, offsets, values, nulls) = list.into_parts();
    ListArray::new(
        Arc::new(Field::new_list_field(DataType::Int32, false)),
        offsets,
        values,
        nulls,
    )
}

/// Source captions of the synthetic input (6 rows).
pub const CAPTIONS: [&str; 6] = [
    "a red car parked on the left side of the road",
    "two cats sleeping",
    "a bowl of fruit on a wooden table near the window",
    "",
    "an astronaut in a white suit standing next to a flag",
    "coffee",
];

/// Tiny deterministic generator so the fixture is reproducible.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn unit(&mut self) -> f32 {
        (self.next() % 10_000) as f32 / 10_000.0
    }
}

/// One synthetic output row, before writing.
struct Gen {
    id: i64,
    image: Vec<u8>,
    caption: String,
    license: String,
    input_ids: Vec<i32>,
    truncated: bool,
    source_row: i64,
    copy: i32,
    seed: u64,
    hflip: Option<bool>,
    brightness: Option<f32>,
    contrast: Option<f32>,
    order: Option<String>,
    rotate: Option<f32>,
    erase: Option<(i32, i32, i32)>,
    replaced: Option<Vec<i32>>,
    deleted: Option<Vec<i32>>,
    mlm: bool,
}

/// Writes the synthetic input to `root/input/photos.parquet` and a two-run output to
/// `root/out`; returns (output dir, source argument as recorded in `source_file`).
pub fn write_fixture(root: &Path) -> (PathBuf, String) {
    let input = root.join("input").join("photos.parquet");
    let source_arg = input.display().to_string();
    let images: Vec<Vec<u8>> = (0..CAPTIONS.len() as u32)
        .map(|i| png(20 + i, 10 + 2 * i, i as u8))
        .collect();
    let src = RecordBatch::try_from_iter(vec![
        (
            "id",
            Arc::new(Int64Array::from_iter_values(100..106)) as ArrayRef,
        ),
        (
            "image",
            Arc::new(BinaryArray::from_iter_values(images.iter())) as ArrayRef,
        ),
        (
            "caption",
            Arc::new(StringArray::from(CAPTIONS.to_vec())) as ArrayRef,
        ),
        (
            "license",
            Arc::new(StringArray::from(vec!["CC0"; CAPTIONS.len()])) as ArrayRef,
        ),
    ])
    .expect("source batch");
    write_parquet(&input, &src);

    let out = root.join("out");
    let mut rng = Lcg(42);
    for (run, run_id, copies) in [(0u8, "r1", 2), (1u8, "r2", 1)] {
        let mut per_scheme: BTreeMap<&str, Vec<Gen>> = BTreeMap::new();
        for scheme in ["aligned", "cross_modal", "pseudo_label"] {
            for (row, caption) in CAPTIONS.iter().enumerate() {
                // Row 3 (empty caption) is rejected by cross_modal in run r1.
                if scheme == "cross_modal" && row == 3 && run == 0 {
                    continue;
                }
                for copy in 0..copies {
                    let words: Vec<&str> = caption.split_whitespace().collect();
                    let mut g = Gen {
                        id: 100 + row as i64,
                        image: jpeg(24, 16 + row as u32),
                        caption: caption.to_string(),
                        license: "CC0".into(),
                        input_ids: vec![],
                        truncated: false,
                        source_row: row as i64,
                        copy,
                        seed: rng.next(),
                        hflip: None,
                        brightness: None,
                        contrast: None,
                        order: None,
                        rotate: None,
                        erase: None,
                        replaced: None,
                        deleted: None,
                        mlm: false,
                    };
                    match scheme {
                        "aligned" => {
                            g.hflip = Some(rng.next().is_multiple_of(2));
                            g.brightness = Some(0.8 + 0.4 * rng.unit());
                            g.contrast = Some(0.8 + 0.4 * rng.unit());
                            g.order = Some(if rng.next().is_multiple_of(2) {
                                "brightness,contrast".into()
                            } else {
                                "contrast,brightness".into()
                            });
                            g.rotate = Some(-15.0 + 30.0 * rng.unit());
                            if !words.is_empty() && rng.next().is_multiple_of(3) {
                                let k = (rng.next() % words.len() as u64) as usize;
                                let mut w = words.clone();
                                w[k] = "random_word";
                                g.caption = w.join(" ");
                                g.replaced = Some(vec![k as i32]);
                            } else {
                                g.replaced = Some(vec![]);
                            }
                        }
                        "cross_modal" => {
                            g.erase = Some((
                                (rng.next() % 8) as i32,
                                (rng.next() % 8) as i32,
                                3 + (rng.next() % 2) as i32,
                            ));
                            if words.len() > 5 {
                                let k = words.len() / 3;
                                let del: Vec<i32> = (0..k as i32).map(|i| i * 2).collect();
                                g.caption = words
                                    .iter()
                                    .enumerate()
                                    .filter(|(i, _)| !del.contains(&(*i as i32)))
                                    .map(|(_, w)| *w)
                                    .collect::<Vec<_>>()
                                    .join(" ");
                                g.deleted = Some(del);
                            } else {
                                g.deleted = Some(vec![]);
                            }
                        }
                        _ => g.mlm = true,
                    }
                    // Token ids: [CLS] one id per word [SEP], padded with 0 to 14 and
                    // truncated at 8 tokens for long captions in pseudo_label.
                    let mut ids = vec![101];
                    ids.extend(g.caption.split_whitespace().map(|w| 1000 + w.len() as i32));
                    ids.push(102);
                    if scheme == "pseudo_label" && ids.len() > 8 {
                        ids.truncate(8);
                        g.truncated = true;
                    }
                    ids.resize(ids.len().max(14), 0);
                    g.input_ids = ids;
                    per_scheme.entry(scheme).or_default().push(g);
                }
            }
        }
        for (scheme, rows) in &per_scheme {
            // aligned is split in two files to check that all parts are read.
            let chunks: Vec<&[Gen]> = if *scheme == "aligned" {
                let mid = rows.len() / 2;
                vec![&rows[..mid], &rows[mid..]]
            } else {
                vec![&rows[..]]
            };
            for (k, chunk) in chunks.into_iter().enumerate() {
                let path = out
                    .join(format!("scheme={scheme}"))
                    .join(format!("part-{:016x}-{k:05}.parquet", 0xabc0 + run as u64));
                write_parquet(&path, &output_batch(chunk, &source_arg, run_id));
            }
        }
        // Rejects: r1 rejected cross_modal row 3 (empty caption) twice (two copies).
        let n_rej = if run == 0 { 2 } else { 0 };
        let rejects = RecordBatch::try_new(
            lakeaug::layout::rejects_schema(),
            vec![
                Arc::new(StringArray::from(vec![source_arg.as_str(); n_rej])),
                Arc::new(Int64Array::from(vec![3; n_rej])),
                Arc::new(StringArray::from(vec![Some("103"); n_rej])),
                Arc::new(StringArray::from(vec!["cross_modal"; n_rej])),
                Arc::new(Int32Array::from_iter_values(0..n_rej as i32)),
                Arc::new(StringArray::from(vec!["augment"; n_rej])),
                Arc::new(StringArray::from(vec!["empty caption"; n_rej])),
                Arc::new(StringArray::from(vec![run_id; n_rej])),
            ],
        )
        .expect("rejects batch");
        write_parquet(
            &out.join("_rejects").join(format!("run-{run_id}.parquet")),
            &rejects,
        );

        let written: usize = per_scheme.values().map(|v| v.len()).sum();
        let manifest = serde_json::json!({
            "run_id": run_id,
            "lakeaug_version": "0.1.0",
            "started_at": format!("2025-03-0{}T10:00:00Z", run + 1),
            "finished_at": format!("2025-03-0{}T10:00:02.5Z", run + 1),
            "duration_secs": 2.5,
            "seed": 7 + run as u64,
            "config_hash": format!("hash{run}"),
            "config": {"copies": copies},
            "inputs": [{"path": source_arg, "size": 1, "modified": "x"}],
            "skipped_files": [],
            "rows_read": CAPTIONS.len(),
            "rows_written": written,
            "rows_rejected": n_rej,
            "rows_per_sec": written as f64 / 2.5,
            "threads": 2,
            "per_scheme": per_scheme.iter().map(|(s, v)| (s.to_string(), serde_json::json!({
                "written": v.len(),
                "rejected": if *s == "cross_modal" { n_rej } else { 0 },
            }))).collect::<serde_json::Map<_, _>>(),
            "output_files": [],
        });
        let mpath = out
            .join("_lakeaug")
            .join("runs")
            .join(format!("run-{run_id}.json"));
        std::fs::create_dir_all(mpath.parent().expect("parent")).expect("mkdir");
        std::fs::write(
            &mpath,
            serde_json::to_string_pretty(&manifest).expect("json"),
        )
        .expect("write");
    }
    // A leftover staging file that must never be read by `augmented`.
    let staging_rows: Vec<Gen> = vec![];
    let _ = staging_rows;
    let junk = RecordBatch::try_from_iter(vec![(
        "caption",
        Arc::new(StringArray::from(vec!["staging junk"; 3])) as ArrayRef,
    )])
    .expect("junk");
    write_parquet(
        &out.join("_lakeaug/staging/scheme=aligned/part-ffffffffffffffff-00000.parquet"),
        &junk,
    );
    (out, source_arg)
}

/// The lineage columns of generated rows, through the writer's own column builder.
fn lineage_of(rows: &[Gen], source_file: &str, run_id: &str) -> Vec<ArrayRef> {
    use lakeaug::lineage::{lineage_columns, RowLineage, RunStamp};
    use lakeaug::schemes::{AugParams, JitterOrder};
    let lineage: Vec<RowLineage> = rows
        .iter()
        .map(|r| RowLineage {
            source_row: r.source_row,
            source_digest: "00".into(),
            decode_scale: 1,
            decode_warning: None,
            copy: r.copy,
            seed: r.seed,
            params: AugParams {
                hflip: r.hflip,
                brightness: r.brightness,
                contrast: r.contrast,
                jitter_order: r.order.as_deref().and_then(JitterOrder::parse),
                rotate_deg: r.rotate,
                erase_x: r.erase.map(|e| e.0),
                erase_y: r.erase.map(|e| e.1),
                erase_size: r.erase.map(|e| e.2),
                words_replaced: r.replaced.clone(),
                words_deleted: r.deleted.clone(),
                ..Default::default()
            },
        })
        .collect();
    let stamp = RunStamp {
        run_id: run_id.into(),
        created_at_us: 1_700_000_000_000_000,
    };
    lineage_columns(source_file, &lineage, &stamp).expect("lineage columns")
}

fn output_batch(rows: &[Gen], source_file: &str, run_id: &str) -> RecordBatch {
    // The writer's own token and lineage fields, after the input columns.
    let mut fields = vec![
        Field::new("id", DataType::Int64, true),
        Field::new("image", DataType::Binary, true),
        Field::new("caption", DataType::Utf8, true),
        Field::new("license", DataType::Utf8, true),
    ];
    fields.extend(lakeaug::layout::added_fields());
    let schema = Arc::new(Schema::new(fields));
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.id))),
        Arc::new(BinaryArray::from_iter_values(
            rows.iter().map(|r| r.image.as_slice()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.caption.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.license.as_str()),
        )),
        Arc::new(list_i32(
            rows.iter().map(|r| Some(r.input_ids.clone())).collect(),
        )),
        Arc::new(BooleanArray::from_iter(
            rows.iter().map(|r| Some(r.truncated)),
        )),
        Arc::new(list_i32(
            rows.iter()
                .map(|r| r.mlm.then(|| r.input_ids.clone()))
                .collect(),
        )),
        Arc::new(list_i32(
            rows.iter()
                .map(|r| r.mlm.then(|| vec![-100; r.input_ids.len()]))
                .collect(),
        )),
    ];
    cols.extend(lineage_of(rows, source_file, run_id));
    RecordBatch::try_new(schema, cols).expect("output batch")
}

// ---------------------------------------------------------------------------------
// Independent reader

/// One output row, as read with the parquet crate.
#[derive(Debug, Clone)]
pub struct OutRow {
    pub scheme: String,
    pub run_id: String,
    pub source_file: String,
    pub source_row: i64,
    pub caption: Option<String>,
    pub input_ids: Option<Vec<i64>>,
    pub truncated: Option<bool>,
    pub aug_copy: i64,
    pub aug_seed: u64,
    pub hflip: Option<bool>,
    pub brightness: Option<f32>,
    pub contrast: Option<f32>,
    pub rotate: Option<f32>,
    pub erase_size: Option<i32>,
    pub words_replaced: Option<Vec<i64>>,
    pub words_deleted: Option<Vec<i64>>,
    pub hflip_caption_swaps: Option<Vec<i64>>,
    pub hflip_skipped: Option<bool>,
    pub hue: Option<f32>,
    pub hue_skipped: Option<bool>,
    pub synonym_words: Option<Vec<i64>>,
    pub blur_sigma: Option<f32>,
    pub hedge: Option<String>,
    pub mix_partner_row: Option<i64>,
    pub mix_lambda: Option<f32>,
}

/// A reject row.
#[derive(Debug, Clone)]
pub struct RejectRow {
    pub run_id: String,
    pub scheme: String,
    pub stage: String,
    pub reason: String,
}

/// Reads every batch of a Parquet file.
pub fn read_batches(path: &Path) -> Vec<RecordBatch> {
    let file = File::open(path).expect("open parquet");
    ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet footer")
        .build()
        .expect("reader")
        .collect::<Result<Vec<_>, _>>()
        .expect("read batches")
}

fn strings(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    match b.column_by_name(name) {
        None => vec![None; b.num_rows()],
        Some(c) => {
            let c = cast(c, &DataType::Utf8).expect("cast utf8");
            c.as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect()
        }
    }
}

fn ints(b: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    match b.column_by_name(name) {
        None => vec![None; b.num_rows()],
        Some(c) => {
            let c = cast(c, &DataType::Int64).expect("cast i64");
            c.as_primitive::<Int64Type>().iter().collect()
        }
    }
}

fn floats(b: &RecordBatch, name: &str) -> Vec<Option<f32>> {
    match b.column_by_name(name) {
        None => vec![None; b.num_rows()],
        Some(c) => {
            let c = cast(c, &DataType::Float32).expect("cast f32");
            c.as_primitive::<Float32Type>().iter().collect()
        }
    }
}

fn bools(b: &RecordBatch, name: &str) -> Vec<Option<bool>> {
    match b.column_by_name(name) {
        None => vec![None; b.num_rows()],
        Some(c) => c.as_boolean().iter().collect(),
    }
}

fn lists(b: &RecordBatch, name: &str) -> Vec<Option<Vec<i64>>> {
    match b.column_by_name(name) {
        None => vec![None; b.num_rows()],
        Some(c) => {
            let c = cast(
                c,
                &DataType::List(Arc::new(Field::new("item", DataType::Int64, true))),
            )
            .expect("cast list");
            let l = c.as_list::<i32>();
            (0..l.len())
                .map(|i| {
                    l.is_valid(i).then(|| {
                        l.value(i)
                            .as_primitive::<Int64Type>()
                            .iter()
                            .flatten()
                            .collect()
                    })
                })
                .collect()
        }
    }
}

/// All rows of `DIR/scheme=*/part-*.parquet`.
pub fn read_output(dir: &Path) -> Vec<OutRow> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(scheme) = name.strip_prefix("scheme=") else {
            continue;
        };
        let mut files: Vec<_> = std::fs::read_dir(e.path())
            .expect("dir")
            .flatten()
            .collect();
        files.sort_by_key(|f| f.file_name());
        for f in files {
            let fname = f.file_name().to_string_lossy().into_owned();
            if !(fname.starts_with("part-") && fname.ends_with(".parquet")) {
                continue;
            }
            for b in read_batches(&f.path()) {
                let (run, sf, sr) = (
                    strings(&b, "run_id"),
                    strings(&b, "source_file"),
                    ints(&b, "source_row"),
                );
                let (cap, ids) = (strings(&b, "caption"), lists(&b, "input_ids"));
                let (tr, copy, seed) = (
                    bools(&b, "input_ids_truncated"),
                    ints(&b, "aug_copy"),
                    b.column_by_name("aug_seed")
                        .map(|c| c.as_primitive::<UInt64Type>().iter().collect::<Vec<_>>())
                        .unwrap_or_default(),
                );
                let (hf, br, ct, rot, es) = (
                    bools(&b, "aug_hflip"),
                    floats(&b, "aug_brightness"),
                    floats(&b, "aug_contrast"),
                    floats(&b, "aug_rotate_deg"),
                    ints(&b, "aug_erase_size"),
                );
                let (wr, wd) = (
                    lists(&b, "aug_words_replaced"),
                    lists(&b, "aug_words_deleted"),
                );
                let (swaps, skipped, hue, hue_skipped, syn) = (
                    lists(&b, "aug_hflip_caption_swaps"),
                    bools(&b, "aug_hflip_skipped"),
                    floats(&b, "aug_hue"),
                    bools(&b, "aug_hue_skipped"),
                    lists(&b, "aug_synonym_words"),
                );
                let (blur, hedge, partner, lambda) = (
                    floats(&b, "aug_blur_sigma"),
                    strings(&b, "aug_hedge"),
                    ints(&b, "aug_mix_partner_row"),
                    floats(&b, "aug_mix_lambda"),
                );
                for i in 0..b.num_rows() {
                    out.push(OutRow {
                        scheme: scheme.to_string(),
                        run_id: run[i].clone().unwrap_or_default(),
                        source_file: sf[i].clone().unwrap_or_default(),
                        source_row: sr[i].unwrap_or(-1),
                        caption: cap[i].clone(),
                        input_ids: ids[i].clone(),
                        truncated: tr[i],
                        aug_copy: copy[i].unwrap_or(-1),
                        aug_seed: seed.get(i).copied().flatten().unwrap_or(0),
                        hflip: hf[i],
                        brightness: br[i],
                        contrast: ct[i],
                        rotate: rot[i],
                        erase_size: es[i].map(|v| v as i32),
                        words_replaced: wr[i].clone(),
                        words_deleted: wd[i].clone(),
                        hflip_caption_swaps: swaps[i].clone(),
                        hflip_skipped: skipped[i],
                        hue: hue[i],
                        hue_skipped: hue_skipped[i],
                        synonym_words: syn[i].clone(),
                        blur_sigma: blur[i],
                        hedge: hedge[i].clone(),
                        mix_partner_row: partner[i],
                        mix_lambda: lambda[i],
                    });
                }
            }
        }
    }
    out
}

/// All rows of `DIR/_rejects/*.parquet`.
pub fn read_rejects(dir: &Path) -> Vec<RejectRow> {
    let rdir = dir.join("_rejects");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&rdir) else {
        return out;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().ends_with(".parquet") {
            continue;
        }
        for b in read_batches(&e.path()) {
            let (run, sch, st, re) = (
                strings(&b, "run_id"),
                strings(&b, "scheme"),
                strings(&b, "stage"),
                strings(&b, "reason"),
            );
            for i in 0..b.num_rows() {
                out.push(RejectRow {
                    run_id: run[i].clone().unwrap_or_default(),
                    scheme: sch[i].clone().unwrap_or_default(),
                    stage: st[i].clone().unwrap_or_default(),
                    reason: re[i].clone().unwrap_or_default(),
                });
            }
        }
    }
    out
}

/// Captions of a source Parquet file in physical row order.
pub fn read_source_captions(path: &Path) -> Vec<Option<String>> {
    read_batches(path)
        .iter()
        .flat_map(|b| strings(b, "caption"))
        .collect()
}

/// Word-level Levenshtein by the textbook full matrix (independent of the UDF's
/// single-row version).
pub fn word_distance(a: &str, b: &str) -> i64 {
    let a: Vec<&str> = a.split_whitespace().collect();
    let b: Vec<&str> = b.split_whitespace().collect();
    let mut d = vec![vec![0i64; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i as i64;
    }
    for (j, v) in d[0].iter_mut().enumerate() {
        *v = j as i64;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = if a[i - 1] == b[j - 1] { 0 } else { 1 };
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
        }
    }
    d[a.len()][b.len()]
}
