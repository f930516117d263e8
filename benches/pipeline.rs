//! The whole per-row pipeline per scheme (decode -> resize -> sample, caption ops,
//! augment -> encode) on a 640x480 camera photo (JPEG, 60 KB), as `Augmenter` runs it
//! (reduced decoding unless the scheme crops the source), against the bare transcode
//! (decode -> resize -> encode),
//! the bare transcode with a full-size decode, and the bare transcode through the `image`
//! crate's own JPEG codec (the path before libjpeg-turbo), for a before/after in one run.
//!
//! `cargo bench --bench pipeline`

use std::borrow::Cow;

use arrow::array::AsArray;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lakeaug::config::Config;
use lakeaug::kernels::image as img;
use lakeaug::schemes::{RowInput, Scheme, TextContext, BUILTIN_SCHEMES};

fn source_jpeg() -> Vec<u8> {
    // A camera photo (sample_data row 1, the tabby cat, 451x300), resized to COCO-like
    // 640x480 and encoded at quality 90: 60 KB, the median size of the compare.py bench
    // photos, so the Huffman decoding costs what it costs on real data. (A smooth fixture
    // encodes to a third of that and understates the decode.)
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/sample_data/photos.parquet");
    let file = std::fs::File::open(path).expect("sample_data/photos.parquet");
    let batch = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet")
        .build()
        .expect("reader")
        .next()
        .expect("a batch")
        .expect("batch");
    let images = batch.column_by_name("image").expect("image column");
    let images = images.as_binary::<i32>();
    let photo = image::load_from_memory(images.value(1))
        .expect("photo")
        .to_rgb8();
    let photo = img::resize(&photo, 640, 480, img::ResizeMode::Stretch);
    let mut out = Vec::new();
    img::encode(&photo, img::OutputFormat::Jpeg { quality: 90 }, &mut out).unwrap();
    out
}

fn per_row(c: &mut Criterion) {
    let jpeg = source_jpeg();
    let config = Config {
        // Every built-in scheme except mixgen, which needs a partner row (see the run bench).
        schemes: BUILTIN_SCHEMES
            .iter()
            .filter(|s| **s != "mixgen")
            .map(|s| s.to_string())
            .collect(),
        ..Config::default()
    };
    let text = TextContext::from_config(&config.text).unwrap();
    let caption = "A red motorcycle with a black seat parked on the left of a cluttered garage.";
    let format = config.image.output_format();
    let max_pixels = config.image.max_pixels;
    let mut group = c.benchmark_group("per_row_640x480_to_224");
    group.throughput(Throughput::Elements(1));
    let transcode = |decoded: &img::RgbImage| {
        let resized = img::resize(decoded, 224, 224, img::ResizeMode::Stretch);
        let mut out = Vec::with_capacity(32 << 10);
        img::encode(&resized, format, &mut out).unwrap();
        out
    };
    group.bench_function("bare_transcode", |b| {
        b.iter(|| {
            transcode(
                &img::decode_rgb8_reduced(&jpeg, max_pixels, (224, 224))
                    .unwrap()
                    .image,
            )
        })
    });
    group.bench_function("bare_transcode_full_decode", |b| {
        b.iter(|| transcode(&img::decode_rgb8(&jpeg, max_pixels).unwrap()))
    });
    group.bench_function("bare_transcode_image_crate", |b| {
        b.iter(|| {
            let decoded = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
                .unwrap()
                .into_rgb8();
            let resized = img::resize(&decoded, 224, 224, img::ResizeMode::Stretch);
            let mut out = Vec::with_capacity(32 << 10);
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
                .encode_image(&resized)
                .unwrap();
            out
        })
    });
    for scheme in Scheme::from_config(&config).unwrap() {
        let mut seed = 0u64;
        let min_size = if scheme.crops_source() {
            (0, 0)
        } else {
            (224, 224)
        };
        group.bench_function(scheme.name.clone(), |b| {
            b.iter(|| {
                seed += 1;
                let decoded = img::decode_rgb8_reduced(&jpeg, max_pixels, min_size)
                    .unwrap()
                    .image;
                let row = RowInput {
                    source_width: decoded.width(),
                    source_height: decoded.height(),
                    width: 224,
                    height: 224,
                    caption: Some(caption),
                    partner: None,
                };
                let sampled = scheme.sample(seed, &row, &text);
                let base = match scheme
                    .crop_source(&decoded, &sampled.params, 224, 224)
                    .unwrap()
                {
                    Some(cropped) => cropped,
                    None => img::resize(&decoded, 224, 224, img::ResizeMode::Stretch),
                };
                let augmented = scheme
                    .apply_image(Cow::Owned(base), &sampled.params, None)
                    .unwrap();
                let mut out = Vec::with_capacity(32 << 10);
                img::encode(&augmented, format, &mut out).unwrap();
                out
            })
        });
    }
    group.finish();
}

criterion_group!(benches, per_row);
criterion_main!(benches);
