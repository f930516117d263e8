//! Helpers shared by the integration tests: small inputs written on the fly.

pub mod cluster;
pub mod lock_race;
pub mod moto;
mod png;
pub mod small_run;
pub mod venv;

pub use png::png_header;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The committed sample dataset.
pub fn sample_photos() -> String {
    repo_path("sample_data/photos.parquet")
        .to_string_lossy()
        .into_owned()
}

/// A JPEG of a smooth colour gradient (w x h).
pub fn gradient_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A photo-like image: gradients plus fine texture, so most of a JPEG of it is
/// entropy-coded data (a cut at 10 % of the file lands inside it).
pub fn textured(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let t = ((x * 7 + y * 13) % 17) as u8 * 3;
        image::Rgb([
            (x * 255 / w) as u8 / 2 + t,
            (y * 255 / h) as u8 / 2 + t,
            128u8.wrapping_add(t),
        ])
    })
}

/// A quality-90 JPEG by libjpeg-turbo, baseline or progressive.
pub fn turbo_jpeg(img: &image::RgbImage, progressive: bool) -> Vec<u8> {
    let mut c = turbojpeg::Compressor::new().unwrap();
    c.set_quality(90).unwrap();
    c.set_progressive(progressive).unwrap();
    c.compress_to_vec(turbojpeg::Image {
        pixels: img.as_raw().as_slice(),
        width: img.width() as usize,
        pitch: img.width() as usize * 3,
        height: img.height() as usize,
        format: turbojpeg::PixelFormat::RGB,
    })
    .unwrap()
}

/// Write a Parquet file with `id`, `image` (binary) and `caption` columns.
pub fn write_pairs(path: &Path, images: Vec<Option<Vec<u8>>>, captions: Vec<Option<&str>>) {
    let n = images.len();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("image", DataType::Binary, true),
        Field::new("caption", DataType::Utf8, true),
    ]));
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n as i64));
    let images: ArrayRef = Arc::new(images.iter().map(|v| v.as_deref()).collect::<BinaryArray>());
    let captions: ArrayRef = Arc::new(StringArray::from(captions));
    write_batch(
        path,
        RecordBatch::try_new(schema, vec![ids, images, captions]).unwrap(),
    );
}

/// `rows` rows of small gradient JPEGs (sizes varying with the row and `salt`) with
/// captions; the rows in `nulls` have no image (each a reject).
pub fn write_gradient_input(path: &Path, rows: usize, salt: u32, nulls: &[usize]) {
    let images = (0..rows)
        .map(|i| {
            if nulls.contains(&i) {
                None
            } else {
                Some(gradient_jpeg(20 + (i as u32 + salt) % 7, 18 + salt % 5))
            }
        })
        .collect();
    let captions: Vec<String> = (0..rows)
        .map(|i| format!("a photo number {i} of a small red gradient on the left side {salt}"))
        .collect();
    write_pairs(
        path,
        images,
        captions.iter().map(|s| Some(s.as_str())).collect(),
    );
}

pub fn write_batch(path: &Path, batch: RecordBatch) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

/// All rows of all `*.parquet` files below `dir` (sorted by path), as one batch per file.
pub fn read_dir_batches(dir: &Path) -> Vec<(String, RecordBatch)> {
    let mut files = Vec::new();
    if !dir.exists() {
        return Vec::new();
    }
    collect(dir, dir, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|rel| {
            let f = std::fs::File::open(dir.join(&rel)).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap()
                .build()
                .unwrap();
            let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
            let schema = batches[0].schema();
            (
                rel,
                arrow::compute::concat_batches(&schema, &batches).unwrap(),
            )
        })
        .collect()
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        if p.is_dir() {
            collect(root, &p, out);
        } else if name.ends_with(".parquet") {
            out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        }
    }
}

/// Assert two batches hold the same values in every column except those that differ
/// between runs by design (`run_id`, `created_at`).
pub fn assert_same_values(a: &RecordBatch, b: &RecordBatch, what: &str) {
    assert_eq!(a.schema(), b.schema(), "{what}: schemas differ");
    assert_eq!(a.num_rows(), b.num_rows(), "{what}: row counts differ");
    for (i, field) in a.schema().fields().iter().enumerate() {
        if ["run_id", "created_at"].contains(&field.name().as_str()) {
            continue;
        }
        assert!(
            a.column(i).as_ref() == b.column(i).as_ref(),
            "{what}: column {} differs",
            field.name()
        );
    }
}

/// The footer's key-value metadata of a Parquet file.
pub fn footer_metadata(path: &Path) -> std::collections::HashMap<String, String> {
    let f = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .map(|e| (e.key.clone(), e.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// All rows of one scheme's partition of an output folder, concatenated in file order.
pub fn scheme_batch(out: &Path, scheme: &str) -> RecordBatch {
    let batches: Vec<RecordBatch> = read_dir_batches(out)
        .into_iter()
        .filter(|(rel, _)| rel.starts_with(&format!("scheme={scheme}/")))
        .map(|(_, b)| b)
        .collect();
    assert!(!batches.is_empty(), "no output for scheme {scheme}");
    arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap()
}
