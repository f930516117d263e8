//! Random resized crop: torchvision `RandomResizedCrop`'s box sampler and
//! `F.resized_crop` on PIL images.
//!
//! The sampler follows `RandomResizedCrop.get_params` (torchvision 0.29) step by step,
//! drawing from the caller's generator instead of torch's (so the algorithm matches,
//! not the random numbers):
//!
//! ```text
//! area = width * height; log_ratio = (ln r0, ln r1)
//! 10 times:
//!     target_area = area * uniform(s0, s1)
//!     aspect      = exp(uniform(log_ratio))
//!     w = round(sqrt(target_area * aspect)); h = round(sqrt(target_area / aspect))
//!     if 0 < w <= width and 0 < h <= height:
//!         y = randint(0, height - h); x = randint(0, width - w)      (inclusive)
//!         return (x, y, w, h)
//! fallback (centre crop): in_ratio = width / height
//!     in_ratio < min(ratio): w = width,  h = round(w / min(ratio))
//!     in_ratio > max(ratio): h = height, w = round(h * max(ratio))
//!     otherwise the whole image; x = (width - w) // 2, y = (height - h) // 2
//! ```
//! `round` is Python's (half to even). torch draws in float32; here it is f64.

use image::RgbImage;
use rand::Rng;

use super::{resize, resize_pillow_exact, ImageOpError, ResizeMode};

/// A crop window in source pixels: top-left corner `(x, y)` and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropBox {
    /// Left column (torchvision's `j`).
    pub x: u32,
    /// Top row (torchvision's `i`).
    pub y: u32,
    /// Width in pixels (torchvision's `w`).
    pub width: u32,
    /// Height in pixels (torchvision's `h`).
    pub height: u32,
}

impl CropBox {
    /// Whether the box is non-empty and lies inside a `width` x `height` image.
    pub fn fits(&self, width: u32, height: u32) -> bool {
        self.width > 0
            && self.height > 0
            && self.x.checked_add(self.width).is_some_and(|r| r <= width)
            && self.y.checked_add(self.height).is_some_and(|b| b <= height)
    }
}

/// `lo + (hi - lo) * u` with `u` uniform in `[0, 1)`: torch's `uniform_(lo, hi)`,
/// which also accepts `lo == hi` (and here never panics on `lo > hi`).
fn uniform(rng: &mut impl Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// Python's `int(round(x))` for the non-negative sizes here (halves to even; NaN and
/// negative values give 0, which the caller rejects).
fn round_half_even(x: f64) -> u32 {
    x.round_ties_even() as u32
}

/// torchvision `RandomResizedCrop.get_params(img, scale, ratio)` for a `width` x
/// `height` image: a box whose area is a `scale` fraction of the image and whose
/// aspect ratio (width / height) is log-uniform in `ratio`, at a uniform position; after
/// 10 failed tries, the centre crop described in the module docs. torchvision's
/// defaults are `scale = (0.08, 1.0)`, `ratio = (3/4, 4/3)`.
///
/// The box always fits the image (for an empty image it is the empty box at 0, 0).
/// Ratio bounds that are not positive make every try fail (their logarithm is NaN),
/// so the fallback is used.
pub fn sample_resized_crop(
    rng: &mut impl Rng,
    width: u32,
    height: u32,
    scale: (f64, f64),
    ratio: (f64, f64),
) -> CropBox {
    if width == 0 || height == 0 {
        return CropBox {
            x: 0,
            y: 0,
            width,
            height,
        };
    }
    let area = width as f64 * height as f64;
    let (log_lo, log_hi) = (ratio.0.ln(), ratio.1.ln());
    for _ in 0..10 {
        let target_area = area * uniform(rng, scale.0, scale.1);
        let aspect = uniform(rng, log_lo, log_hi).exp();
        let w = round_half_even((target_area * aspect).sqrt());
        let h = round_half_even((target_area / aspect).sqrt());
        if 0 < w && w <= width && 0 < h && h <= height {
            let y = rng.random_range(0..=height - h);
            let x = rng.random_range(0..=width - w);
            return CropBox {
                x,
                y,
                width: w,
                height: h,
            };
        }
    }
    centre_crop_fallback(width, height, ratio)
}

/// The fallback of `get_params`: the largest centred box whose aspect ratio is clamped
/// into `ratio` (the whole image when its own ratio is inside).
fn centre_crop_fallback(width: u32, height: u32, ratio: (f64, f64)) -> CropBox {
    let in_ratio = width as f64 / height as f64;
    let (min_r, max_r) = (ratio.0.min(ratio.1), ratio.0.max(ratio.1));
    let (w, h) = if in_ratio < min_r {
        (width, round_half_even(width as f64 / min_r))
    } else if in_ratio > max_r {
        (round_half_even(height as f64 * max_r), height)
    } else {
        (width, height)
    };
    // Rounding cannot exceed the image (w / min_r < height), but stay inside and
    // non-empty whatever the ratio bounds were.
    let (w, h) = (w.clamp(1, width), h.clamp(1, height));
    CropBox {
        x: (width - w) / 2,
        y: (height - h) / 2,
        width: w,
        height: h,
    }
}

/// torchvision `F.resized_crop(img, top=y, left=x, height, width, [out_h, out_w],
/// BILINEAR)` on a PIL image, i.e. `img.crop(box).resize((out_w, out_h), BILINEAR)`,
/// with the fast [`resize`] (values may differ from Pillow by 1, see its docs).
///
/// Errors when the box is empty or not inside the image, or the output size is zero.
pub fn resized_crop(
    img: &RgbImage,
    crop: CropBox,
    out_width: u32,
    out_height: u32,
) -> Result<RgbImage, ImageOpError> {
    crop_then(img, crop, out_width, out_height, resize)
}

/// [`resized_crop`] with [`resize_pillow_exact`]: bit-exact with torchvision/Pillow.
pub fn resized_crop_pillow_exact(
    img: &RgbImage,
    crop: CropBox,
    out_width: u32,
    out_height: u32,
) -> Result<RgbImage, ImageOpError> {
    crop_then(img, crop, out_width, out_height, resize_pillow_exact)
}

fn crop_then(
    img: &RgbImage,
    crop: CropBox,
    out_width: u32,
    out_height: u32,
    resize_fn: fn(&RgbImage, u32, u32, ResizeMode) -> RgbImage,
) -> Result<RgbImage, ImageOpError> {
    if !crop.fits(img.width(), img.height()) {
        return Err(ImageOpError::InvalidParameter(format!(
            "crop box {}x{} at ({}, {}) is empty or outside the {}x{} image",
            crop.width,
            crop.height,
            crop.x,
            crop.y,
            img.width(),
            img.height()
        )));
    }
    if out_width == 0 || out_height == 0 {
        return Err(ImageOpError::InvalidParameter(format!(
            "resized crop output size {out_width}x{out_height} is empty"
        )));
    }
    let window = image::imageops::crop_imm(img, crop.x, crop.y, crop.width, crop.height).to_image();
    Ok(resize_fn(
        &window,
        out_width,
        out_height,
        ResizeMode::Stretch,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    const SCALE: (f64, f64) = (0.08, 1.0);
    const RATIO: (f64, f64) = (3.0 / 4.0, 4.0 / 3.0);

    #[test]
    fn sampled_boxes_fit_and_respect_scale_and_ratio() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for &(w, h) in &[
            (224u32, 224u32),
            (640, 427),
            (300, 1200),
            (33, 17),
            (1, 1),
            (2, 500),
        ] {
            let area = (w * h) as f64;
            for _ in 0..2000 {
                let b = sample_resized_crop(&mut rng, w, h, SCALE, RATIO);
                assert!(b.fits(w, h), "{b:?} outside {w}x{h}");
                if b == centre_crop_fallback(w, h, RATIO) {
                    continue; // the fallback may also be drawn by chance; checked below
                }
                // Rounding each side by up to 0.5 moves area and ratio a little off the
                // continuous ranges; the bounds below allow exactly that.
                let (bw, bh) = (b.width as f64, b.height as f64);
                let lo_area = (SCALE.0 * area).sqrt();
                assert!(
                    (bw + 0.5) * (bh + 0.5) >= lo_area * lo_area,
                    "{b:?} too small for {w}x{h}"
                );
                assert!(
                    (bw + 0.5) / (bh - 0.5).max(0.5) >= RATIO.0
                        && (bw - 0.5) / (bh + 0.5) <= RATIO.1,
                    "{b:?} ratio out of range"
                );
            }
        }
    }

    #[test]
    fn positions_cover_the_whole_range() {
        // With scale pinned to a box of about half the image, x and y must reach both
        // ends of 0..=width-w over many draws (uniform, inclusive).
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (mut min_x, mut max_x) = (u32::MAX, 0);
        for _ in 0..3000 {
            let b = sample_resized_crop(&mut rng, 20, 20, (0.25, 0.25), (1.0, 1.0));
            assert_eq!((b.width, b.height), (10, 10));
            min_x = min_x.min(b.x);
            max_x = max_x.max(b.x);
        }
        assert_eq!((min_x, max_x), (0, 10));
    }

    #[test]
    fn fallback_is_torchvision_centre_crop() {
        // A scale range that can never fit (area 5x the image) forces the fallback.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let never = (5.0, 6.0);
        // Wide 640x427 (ratio 1.499 > 4/3): h = 427, w = round(427 * 4/3) = round(569.33)
        // = 569, x = (640 - 569) // 2 = 35.
        assert_eq!(
            sample_resized_crop(&mut rng, 640, 427, never, RATIO),
            CropBox {
                x: 35,
                y: 0,
                width: 569,
                height: 427
            }
        );
        // Tall 300x1200 (0.25 < 3/4): w = 300, h = round(300 / 0.75) = 400, y = 400.
        assert_eq!(
            sample_resized_crop(&mut rng, 300, 1200, never, RATIO),
            CropBox {
                x: 0,
                y: 400,
                width: 300,
                height: 400
            }
        );
        // Ratio inside the range: the whole image.
        assert_eq!(
            sample_resized_crop(&mut rng, 224, 200, never, RATIO),
            CropBox {
                x: 0,
                y: 0,
                width: 224,
                height: 200
            }
        );
        // Half to even: 6 / 0.8 = 7.5 -> 8 (and 5 / 0.8 = 6.25 -> 6).
        assert_eq!(
            sample_resized_crop(&mut rng, 6, 100, never, (0.8, 1.0)),
            CropBox {
                x: 0,
                y: 46,
                width: 6,
                height: 8
            }
        );
        // Nonsense ratio bounds still give a box inside the image.
        let b = sample_resized_crop(&mut rng, 50, 40, SCALE, (-1.0, 0.0));
        assert!(b.fits(50, 40), "{b:?}");
        assert_eq!(
            sample_resized_crop(&mut rng, 0, 40, SCALE, RATIO),
            CropBox {
                x: 0,
                y: 0,
                width: 0,
                height: 40
            }
        );
    }

    #[test]
    fn same_seed_same_box() {
        let a = sample_resized_crop(&mut ChaCha8Rng::seed_from_u64(42), 640, 480, SCALE, RATIO);
        let b = sample_resized_crop(&mut ChaCha8Rng::seed_from_u64(42), 640, 480, SCALE, RATIO);
        assert_eq!(a, b);
    }

    #[test]
    fn resized_crop_of_identity_box_is_a_copy_of_the_window() {
        let img = RgbImage::from_fn(6, 5, |x, y| image::Rgb([x as u8, y as u8, (x * y) as u8]));
        let b = CropBox {
            x: 2,
            y: 1,
            width: 3,
            height: 2,
        };
        let out = resized_crop_pillow_exact(&img, b, 3, 2).unwrap();
        assert_eq!(
            out.as_raw(),
            &[2, 1, 2, 3, 1, 3, 4, 1, 4, 2, 2, 4, 3, 2, 6, 4, 2, 8]
        );
        assert_eq!(resized_crop(&img, b, 3, 2).unwrap(), out);
    }

    #[test]
    fn bad_boxes_are_errors() {
        let img = RgbImage::new(10, 8);
        let outside = CropBox {
            x: 5,
            y: 0,
            width: 6,
            height: 8,
        };
        let empty = CropBox {
            x: 0,
            y: 0,
            width: 0,
            height: 8,
        };
        let huge = CropBox {
            x: u32::MAX,
            y: 0,
            width: 2,
            height: 2,
        };
        let ok = CropBox {
            x: 0,
            y: 0,
            width: 10,
            height: 8,
        };
        for b in [outside, empty, huge] {
            assert!(matches!(
                resized_crop(&img, b, 4, 4),
                Err(ImageOpError::InvalidParameter(_))
            ));
        }
        assert!(resized_crop(&img, ok, 0, 4).is_err());
        assert_eq!(resized_crop(&img, ok, 4, 3).unwrap().dimensions(), (4, 3));
    }
}
