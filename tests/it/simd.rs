//! Determinism across CPUs: executors of one cluster may have different SIMD extensions,
//! and must still write identical values. Checked by forcing the SIMD paths off or
//! narrowing them: fast_image_resize's convolution with its CPU extensions set to none,
//! SSE4.1 and AVX2 (those this CPU has), and whole runs with libjpeg-turbo's SIMD
//! disabled (`JSIMD_FORCENONE=1`, its documented switch), compared byte for byte.

use crate::common;

use std::path::Path;

use fast_image_resize::{CpuExtensions, FilterType, ResizeAlg, ResizeOptions, Resizer};
use lakeaug::kernels::image::{resize, ResizeMode};

/// The CPU extension sets this machine can run, the plain one first.
fn extension_sets() -> Vec<(&'static str, CpuExtensions)> {
    let mut sets = vec![("none", CpuExtensions::None)];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.1") {
            sets.push(("sse4.1", CpuExtensions::Sse4_1));
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            sets.push(("avx2", CpuExtensions::Avx2));
        }
    }
    sets
}

#[test]
fn resizing_gives_the_same_bytes_with_every_simd_extension() {
    let cases = [
        (300, 200, 224, 224),
        (97, 61, 64, 48),
        (20, 18, 32, 32),
        (640, 480, 224, 224),
    ];
    let sets = extension_sets();
    println!(
        "extension sets checked: {:?}",
        sets.iter().map(|(n, _)| *n).collect::<Vec<_>>()
    );
    for (w, h, tw, th) in cases {
        let src = common::textured(w, h);
        // What lakeaug writes: its resize, on the best extension the CPU has.
        let ours = resize(&src, tw, th, ResizeMode::Stretch);
        for (name, ext) in &sets {
            let mut r = Resizer::new();
            // SAFETY: `extension_sets` lists only extensions this CPU reports.
            unsafe { r.set_cpu_extensions(*ext) };
            let mut dst = image::RgbImage::new(tw, th);
            let options =
                ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
            r.resize(&src, &mut dst, &options).unwrap();
            assert!(
                dst.as_raw() == ours.as_raw(),
                "{w}x{h} -> {tw}x{th}: {name} differs from the default path"
            );
        }
    }
}

/// Every column but run_id/created_at equal, byte for byte, in every part.
fn assert_same_parts(a: &Path, b: &Path) {
    let (pa, pb) = (common::read_dir_batches(a), common::read_dir_batches(b));
    assert_eq!(pa.len(), pb.len());
    assert!(!pa.is_empty());
    for ((name, x), (_, y)) in pa.iter().zip(&pb) {
        common::assert_same_values(x, y, name);
    }
}

#[test]
fn jpeg_decoding_and_encoding_without_simd_give_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &Path, env: &[(&str, &str)]| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_lakeaug"));
        c.args(["run", "--quiet", "--threads", "2", "--input"])
            .arg(common::sample_photos())
            .arg("--output")
            .arg(out);
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let simd = dir.path().join("simd");
    let plain = dir.path().join("plain");
    run(&simd, &[]);
    run(&plain, &[("JSIMD_FORCENONE", "1")]);
    assert_same_parts(&simd, &plain);
}
