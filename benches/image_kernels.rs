//! Image kernels on a 224x224 and a 640x480 RGB photo, one image per iteration.
//!
//! The photo is `/work/shared/data/photos/coffee.png` (600x400) when present, otherwise
//! the repository fixture `tests/fixtures/torchvision/input_large.png` (300x200); it is
//! resized to each benchmark size once, outside the timed loops.
//!
//! Run: `cargo bench --bench image_kernels`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use image::RgbImage;
use lakeaug::kernels::image::{
    adjust_brightness, adjust_contrast, decode_rgb8, decode_rgb8_reduced, encode, erase, hflip,
    resize, resize_pillow_exact, rotate_nearest, OutputFormat, ResizeMode,
};

fn photo() -> RgbImage {
    let shared = PathBuf::from("/work/shared/data/photos/coffee.png");
    let path = if shared.exists() {
        shared
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torchvision/input_large.png")
    };
    image::open(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .into_rgb8()
}

fn bench_size(c: &mut Criterion, base: &RgbImage, w: u32, h: u32) {
    let img = resize(base, w, h, ResizeMode::Stretch);
    let mut jpeg = Vec::new();
    encode(&img, OutputFormat::Jpeg { quality: 90 }, &mut jpeg).expect("jpeg");

    let mut g = c.benchmark_group(format!("image_{w}x{h}"));
    g.throughput(Throughput::Elements(1));

    g.bench_function("decode_jpeg_q90", |b| {
        b.iter(|| decode_rgb8(black_box(&jpeg), 64_000_000).expect("decode"))
    });
    // What the pipeline does for a 224 output: DCT-domain reduction when the JPEG is at
    // least twice as large (640x480 -> 320x240; 224x224 stays full size).
    g.bench_function("decode_jpeg_q90_reduced_for_224", |b| {
        b.iter(|| decode_rgb8_reduced(black_box(&jpeg), 64_000_000, (224, 224)).expect("decode"))
    });
    // Before libjpeg-turbo: the `image` crate's pure-Rust decoder (zune-jpeg), for reference.
    g.bench_function("decode_jpeg_q90_image_crate", |b| {
        b.iter(|| {
            image::load_from_memory_with_format(black_box(&jpeg), image::ImageFormat::Jpeg)
                .expect("decode")
                .into_rgb8()
        })
    });
    g.bench_function("hflip", |b| {
        b.iter_batched_ref(
            || img.clone(),
            |im| hflip(black_box(im)),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("brightness", |b| {
        b.iter_batched_ref(
            || img.clone(),
            |im| adjust_brightness(black_box(im), 1.17),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("contrast", |b| {
        b.iter_batched_ref(
            || img.clone(),
            |im| adjust_contrast(black_box(im), 0.87),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("rotate_12.5", |b| {
        b.iter(|| rotate_nearest(black_box(&img), 12.5))
    });
    let side = (w.min(h) as f32 * 0.2) as u32;
    g.bench_function("erase_20pct", |b| {
        b.iter_batched_ref(
            || img.clone(),
            |im| erase(black_box(im), w / 3, h / 3, side),
            BatchSize::SmallInput,
        )
    });
    let mut out = Vec::with_capacity(1 << 20);
    for q in [90u8, 95] {
        g.bench_function(format!("encode_jpeg_q{q}"), |b| {
            b.iter(|| {
                out.clear();
                encode(black_box(&img), OutputFormat::Jpeg { quality: q }, &mut out)
                    .expect("encode");
            })
        });
    }
    // Before libjpeg-turbo: the `image` crate's pure-Rust encoder, for reference.
    g.bench_function("encode_jpeg_q90_image_crate", |b| {
        b.iter(|| {
            out.clear();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
                .encode_image(black_box(&img))
                .expect("encode");
        })
    });
    g.finish();
}

fn kernels(c: &mut Criterion) {
    let base = photo();
    bench_size(c, &base, 224, 224);
    bench_size(c, &base, 640, 480);

    let big = resize(&base, 640, 480, ResizeMode::Stretch);
    let mut g = c.benchmark_group("resize_640x480");
    g.throughput(Throughput::Elements(1));
    g.bench_function("stretch_224x224", |b| {
        b.iter(|| resize(black_box(&big), 224, 224, ResizeMode::Stretch))
    });
    g.bench_function("shorter_side_center_crop_224", |b| {
        b.iter(|| resize(black_box(&big), 224, 224, ResizeMode::ShorterSideCenterCrop))
    });
    g.bench_function("stretch_224x224_pillow_exact", |b| {
        b.iter(|| resize_pillow_exact(black_box(&big), 224, 224, ResizeMode::Stretch))
    });
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
