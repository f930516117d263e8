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
    adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation, apply_color_ops,
    decode_rgb8, decode_rgb8_reduced, encode, erase, gaussian_blur, grayscale, hflip, mixgen_blend,
    resize, resize_pillow_exact, resized_crop, resized_crop_pillow_exact, rotate_nearest,
    sample_resized_crop, ColorOp, CropBox, OutputFormat, ResizeMode,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

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
    g.bench_function("saturation", |b| {
        b.iter_batched_ref(
            || img.clone(),
            |im| adjust_saturation(black_box(im), 1.3),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("hue", |b| {
        b.iter_batched_ref(
            || img.clone(),
            |im| adjust_hue(black_box(im), -0.05),
            BatchSize::SmallInput,
        )
    });
    let jitter4 = [
        (ColorOp::Saturation, 1.3),
        (ColorOp::Brightness, 1.1),
        (ColorOp::Hue, -0.05),
        (ColorOp::Contrast, 0.9),
    ];
    g.bench_function("color_jitter_4", |b| {
        b.iter_batched_ref(
            || img.clone(),
            |im| apply_color_ops(black_box(im), &jitter4),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("grayscale", |b| b.iter(|| grayscale(black_box(&img))));
    for (k, sigma) in [(7u32, 1.0f32), (13, 2.0)] {
        g.bench_function(format!("gaussian_blur_k{k}_s{sigma}"), |b| {
            b.iter(|| gaussian_blur(black_box(&img), k, sigma).expect("blur"))
        });
    }
    let other = {
        let mut o = img.clone();
        hflip(&mut o);
        o
    };
    g.bench_function("mixgen_blend_0.5", |b| {
        b.iter(|| mixgen_blend(black_box(&img), black_box(&other), 0.5).expect("same size"))
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
    // RandomResizedCrop on the source: sample a box, crop, resize to 224x224.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    g.bench_function("random_resized_crop_224x224", |b| {
        b.iter(|| {
            let bx = sample_resized_crop(&mut rng, 640, 480, (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0));
            resized_crop(black_box(&big), bx, 224, 224).expect("box fits")
        })
    });
    let half = CropBox {
        x: 100,
        y: 60,
        width: 400,
        height: 300,
    };
    g.bench_function("resized_crop_400x300_to_224x224", |b| {
        b.iter(|| resized_crop(black_box(&big), half, 224, 224).expect("box fits"))
    });
    g.bench_function("resized_crop_400x300_to_224x224_pillow_exact", |b| {
        b.iter(|| resized_crop_pillow_exact(black_box(&big), half, 224, 224).expect("box fits"))
    });
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
