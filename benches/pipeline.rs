//! The whole per-row pipeline per scheme (decode -> resize -> augment -> encode) on a
//! 640x480 JPEG, as `Augmenter` runs it (reduced decoding), against the bare transcode
//! (decode -> resize -> encode), and the bare transcode with a full-size decode.
//!
//! The photo is `/work/shared/data/photos/coffee.png` when present (a real 600x400 photo),
//! otherwise the repository fixture `tests/fixtures/torchvision/input_large.png`.
//!
//! `cargo bench --bench pipeline`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lakeaug::config::Config;
use lakeaug::kernels::image as img;
use lakeaug::schemes::{apply_image, Scheme};

fn source_jpeg() -> Vec<u8> {
    // A real photo, resized to COCO-like 640x480 and encoded at quality 90.
    let shared = std::path::PathBuf::from("/work/shared/data/photos/coffee.png");
    let path = if shared.exists() {
        shared
    } else {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/torchvision/input_large.png")
    };
    let photo = image::open(path).expect("photo").to_rgb8();
    let photo = img::resize(&photo, 640, 480, img::ResizeMode::Stretch);
    let mut out = Vec::new();
    img::encode(&photo, img::OutputFormat::Jpeg { quality: 90 }, &mut out).unwrap();
    out
}

fn per_row(c: &mut Criterion) {
    let jpeg = source_jpeg();
    let config = Config::default();
    let format = config.image.output_format();
    let mut group = c.benchmark_group("per_row_640x480_to_224");
    group.throughput(Throughput::Elements(1));
    let decode = |jpeg: &[u8]| {
        img::decode_rgb8_reduced(jpeg, config.image.max_pixels, (224, 224))
            .unwrap()
            .image
    };
    group.bench_function("bare_transcode", |b| {
        b.iter(|| {
            let decoded = decode(&jpeg);
            let resized = img::resize(&decoded, 224, 224, img::ResizeMode::Stretch);
            let mut out = Vec::with_capacity(32 << 10);
            img::encode(&resized, format, &mut out).unwrap();
            out
        })
    });
    group.bench_function("bare_transcode_full_decode", |b| {
        b.iter(|| {
            let decoded = img::decode_rgb8(&jpeg, config.image.max_pixels).unwrap();
            let resized = img::resize(&decoded, 224, 224, img::ResizeMode::Stretch);
            let mut out = Vec::with_capacity(32 << 10);
            img::encode(&resized, format, &mut out).unwrap();
            out
        })
    });
    // The per-row path before libjpeg-turbo: the `image` crate's decoder (full size) and
    // encoder, for a before/after in one run.
    group.bench_function("bare_transcode_image_crate", |b| {
        b.iter(|| {
            let decoded = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
                .unwrap()
                .into_rgb8();
            let resized = img::resize(&decoded, 224, 224, img::ResizeMode::Stretch);
            let mut out = Vec::with_capacity(32 << 10);
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
                .encode_image(&resized)
                .unwrap();
            out
        })
    });
    for scheme in Scheme::from_config(&config).unwrap() {
        let mut seed = 0u64;
        group.bench_function(scheme.name.clone(), |b| {
            b.iter(|| {
                seed += 1;
                let decoded = decode(&jpeg);
                let resized = img::resize(&decoded, 224, 224, img::ResizeMode::Stretch);
                let params = scheme.sample(seed, 224, 224, Some(10));
                let augmented = apply_image(resized, &params);
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
