//! Brightness, contrast, saturation and grayscale as Pillow's `ImageEnhance` and
//! `convert("L")` compute them.
//!
//! `ImageEnhance.X(img).enhance(f)` is `Image.blend(degenerate, img, f)`, and
//! `ImagingBlend` (Pillow `src/libImaging/Blend.c`) computes, per byte and in `float`
//! (the factor is parsed from Python as a C `float`):
//!
//! ```c
//! out = (UINT8)((int)in1 + alpha * ((int)in2 - (int)in1));   // 0 <= alpha <= 1
//! // otherwise the same value, clipped to [0, 255] before the cast
//! ```
//!
//! i.e. truncation toward zero, not rounding. For brightness and contrast every output
//! byte depends only on the input byte (the degenerate image is a constant), so both
//! kernels are a 256-entry lookup table built with exactly that float32 expression and
//! applied to the raw buffer. Saturation blends each pixel with its own grey level, so
//! it evaluates the same expression ([`blend_value`]) per value.

use image::RgbImage;

/// The 256-entry table of `ImagingBlend(constant base, image, alpha)`: entry `v` is
/// `(u8)(base + alpha * (v - base))` evaluated in `f32`, clipped to `[0, 255]`.
///
/// Rust's saturating `f32 as u8` is exactly Pillow's clip-then-truncate (values in
/// `(0, 255)` truncate, `<= 0` gives 0, `>= 255` gives 255); a NaN factor gives 0
/// (undefined in Pillow).
pub fn blend_lut(base: u8, alpha: f32) -> [u8; 256] {
    let mut lut = [0u8; 256];
    for (v, out) in lut.iter_mut().enumerate() {
        *out = blend_value(base, v as u8, alpha);
    }
    lut
}

/// One byte of `ImagingBlend(im1, im2, alpha)`: `(u8)(a + alpha * (b - a))` in `f32`
/// with `a` from `im1` and `b` from `im2`, clipped to `[0, 255]` (see [`blend_lut`]).
#[inline]
pub fn blend_value(a: u8, b: u8, alpha: f32) -> u8 {
    let diff = (b as i32 - a as i32) as f32;
    (a as f32 + alpha * diff) as u8
}

/// Pillow's `convert("L")` of one pixel (`Convert.c`, `rgb2l`):
/// `(R*19595 + G*38470 + B*7471 + 0x8000) >> 16`, i.e. ITU-R BT.601
/// `0.299 R + 0.587 G + 0.114 B` in 16-bit fixed point, rounded half up. The weights
/// sum to 65536, so grey pixels keep their value.
#[inline]
pub fn luma(r: u8, g: u8, b: u8) -> u8 {
    let [wr, wg, wb] = LUMA_WEIGHTS;
    ((r as u32 * wr + g as u32 * wg + b as u32 * wb + 0x8000) >> 16) as u8
}

/// The R, G, B weights of [`luma`] (16-bit fixed point).
const LUMA_WEIGHTS: [u32; 3] = [19595, 38470, 7471];

/// torchvision `Grayscale(num_output_channels=3)` on a PIL image
/// (`img.convert("L").convert("RGB")`): every pixel becomes `(l, l, l)` with
/// `l =` [`luma`].
pub fn grayscale(img: &RgbImage) -> RgbImage {
    let mut out = img.clone();
    for px in out.chunks_exact_mut(3) {
        let l = luma(px[0], px[1], px[2]);
        px.fill(l);
    }
    out
}

/// Pillow `ImageEnhance.Color(img).enhance(factor)` (torchvision `adjust_saturation` on
/// PIL images), in place: blend every pixel with its grey level,
/// `out = (u8)clip(l + factor * (v - l))` in `f32` with `l =` [`luma`] of that pixel.
/// Factor 1 is the identity, 0 gives [`grayscale`], above 1 saturates (and clips).
pub fn adjust_saturation(img: &mut RgbImage, factor: f32) {
    if factor == 1.0 {
        return; // ImagingBlend's shortcut: a copy of the image
    }
    for px in img.chunks_exact_mut(3) {
        let l = luma(px[0], px[1], px[2]);
        for v in px.iter_mut() {
            *v = blend_value(l, *v, factor);
        }
    }
}

/// Maps every channel value of `img` through `lut`, in place.
#[inline]
pub(super) fn apply_lut(img: &mut RgbImage, lut: &[u8; 256]) {
    // `u8` indexes into a `[u8; 256]` never go out of bounds, so this loop has no
    // bounds checks.
    for b in img.iter_mut() {
        *b = lut[*b as usize];
    }
}

/// Pillow `ImageEnhance.Brightness(img).enhance(factor)`, in place: blend with black,
/// `out = (u8)clip(factor * v)` in `f32`. Factor 1 is the identity, 0 gives black.
pub fn adjust_brightness(img: &mut RgbImage, factor: f32) {
    if factor == 1.0 {
        return; // Pillow's shortcut: ImagingCopy(image)
    }
    let lut = blend_lut(0, factor);
    apply_lut(img, &lut);
}

/// The rounded mean Pillow's `ImageEnhance.Contrast` blends towards:
/// `int(ImageStat.Stat(img.convert("L")).mean[0] + 0.5)`.
///
/// `convert("L")` is `L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16` (Pillow
/// `Convert.c`, `L24`); the mean is `sum / count` as a Python float (exact here: the
/// sum is far below 2^53). An empty image has mean 0 (ImageStat's convention).
pub fn grayscale_mean_rounded(img: &RgbImage) -> u8 {
    grayscale_mean_rounded_mapped(img, None)
}

/// [`grayscale_mean_rounded`] of `img` with every channel value mapped through `lut`
/// first (without writing the mapped image).
pub(super) fn grayscale_mean_rounded_mapped(img: &RgbImage, lut: Option<&[u8; 256]>) -> u8 {
    let count = img.width() as u64 * img.height() as u64;
    if count == 0 {
        return 0;
    }
    // The table (none: identity) folded into the luma weights once: three lookups and
    // adds per pixel, no multiplies (the same integer sum as `luma` of the mapped values).
    let mapped = |v: usize| lut.map_or(v as u32, |t| t[v] as u32);
    let [wr, wg, wb] =
        LUMA_WEIGHTS.map(|w| -> [u32; 256] { std::array::from_fn(|v| mapped(v) * w) });
    let mut sum: u64 = 0;
    for px in img.as_raw().chunks_exact(3) {
        let l = (wr[px[0] as usize] + wg[px[1] as usize] + wb[px[2] as usize] + 0x8000) >> 16;
        sum += l as u64;
    }
    let mean = sum as f64 / count as f64;
    // int() truncates; mean + 0.5 is in [0.5, 255.5], so this is in [0, 255].
    (mean + 0.5) as u8
}

/// Pillow `ImageEnhance.Contrast(img).enhance(factor)`, in place: blend with a grey
/// image at [`grayscale_mean_rounded`], `out = (u8)clip(mean + factor * (v - mean))` in
/// `f32`. This is what torchvision's `adjust_contrast` does on PIL images (the tensor
/// path uses an unrounded float mean instead).
pub fn adjust_contrast(img: &mut RgbImage, factor: f32) {
    if factor == 1.0 {
        return;
    }
    let mean = grayscale_mean_rounded(img);
    let lut = blend_lut(mean, factor);
    apply_lut(img, &lut);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(w: u32, h: u32, data: Vec<u8>) -> RgbImage {
        RgbImage::from_raw(w, h, data).expect("buffer size")
    }

    #[test]
    fn brightness_truncates_like_pillow() {
        // 0.5 * v truncated: 1 -> 0, 3 -> 1, 101 -> 50, 255 -> 127.
        let mut im = img(2, 1, vec![0, 1, 3, 100, 101, 255]);
        adjust_brightness(&mut im, 0.5);
        assert_eq!(im.as_raw(), &[0, 0, 1, 50, 50, 127]);
    }

    #[test]
    fn brightness_uses_float32() {
        // 0.7f32 = 0.699999988..., 0.7f32 * 10 = 6.99999988 rounds to 7.0 in f32,
        // so Pillow gives 7 (a float64 computation would truncate to 6).
        let mut im = img(1, 1, vec![10, 20, 30]);
        adjust_brightness(&mut im, 0.7);
        assert_eq!(im.as_raw(), &[7, 14, 21]);
    }

    #[test]
    fn brightness_above_one_clips() {
        // 1.5 * 100 = 150, 1.5 * 101 = 151.5 -> 151, 1.5 * 170 = 255 -> 255, 1.5*255 -> 255
        let mut im = img(2, 1, vec![100, 101, 170, 255, 0, 1]);
        adjust_brightness(&mut im, 1.5);
        assert_eq!(im.as_raw(), &[150, 151, 255, 255, 0, 1]);
    }

    #[test]
    fn brightness_zero_and_one() {
        let mut im = img(1, 1, vec![9, 200, 255]);
        adjust_brightness(&mut im, 1.0);
        assert_eq!(im.as_raw(), &[9, 200, 255]);
        adjust_brightness(&mut im, 0.0);
        assert_eq!(im.as_raw(), &[0, 0, 0]);
    }

    #[test]
    fn grayscale_mean_matches_hand_computation() {
        // L(255,0,0) = (255*19595 + 32768) >> 16 = 5029493 >> 16 = 76
        // L(0,0,255) = (255*7471 + 32768) >> 16 = 1937873 >> 16 = 29
        // mean = 52.5, int(52.5 + 0.5) = 53
        let im = img(2, 1, vec![255, 0, 0, 0, 0, 255]);
        assert_eq!(grayscale_mean_rounded(&im), 53);
        // grey pixels keep their level: L(x,x,x) = x.
        let im = img(3, 1, vec![10, 10, 10, 11, 11, 11, 13, 13, 13]);
        // mean 34/3 = 11.33 -> 11
        assert_eq!(grayscale_mean_rounded(&im), 11);
        assert_eq!(grayscale_mean_rounded(&RgbImage::new(0, 0)), 0);
    }

    #[test]
    fn contrast_blends_towards_rounded_mean() {
        // mean 53 (see above). factor 0.5: 53 + 0.5*202 = 154; 53 + 0.5*(-53) = 26.5 -> 26
        let mut im = img(2, 1, vec![255, 0, 0, 0, 0, 255]);
        adjust_contrast(&mut im, 0.5);
        assert_eq!(im.as_raw(), &[154, 26, 26, 26, 26, 154]);
        // factor 2: 53 + 2*202 -> 255 (clipped); 53 - 106 -> 0 (clipped)
        let mut im = img(2, 1, vec![255, 0, 0, 0, 0, 255]);
        adjust_contrast(&mut im, 2.0);
        assert_eq!(im.as_raw(), &[255, 0, 0, 0, 0, 255]);
        // factor 0: uniform grey at the mean
        let mut im = img(2, 1, vec![255, 0, 0, 0, 0, 255]);
        adjust_contrast(&mut im, 0.0);
        assert_eq!(im.as_raw(), &[53; 6]);
    }

    #[test]
    fn luma_matches_pillow_fixed_point() {
        // (255*19595 + 32768) >> 16 = 76; (255*38470 + 32768) >> 16 = 150;
        // (255*7471 + 32768) >> 16 = 29; grey stays grey.
        assert_eq!(luma(255, 0, 0), 76);
        assert_eq!(luma(0, 255, 0), 150);
        assert_eq!(luma(0, 0, 255), 29);
        for v in [0u8, 1, 127, 128, 254, 255] {
            assert_eq!(luma(v, v, v), v);
        }
        // (10*19595 + 200*38470 + 30*7471 + 32768) >> 16 = 8146848 >> 16 = 124
        assert_eq!(luma(10, 200, 30), 124);
    }

    #[test]
    fn grayscale_replicates_luma() {
        let im = img(2, 1, vec![255, 0, 0, 10, 200, 30]);
        assert_eq!(grayscale(&im).as_raw(), &[76, 76, 76, 124, 124, 124]);
    }

    #[test]
    fn saturation_blends_each_pixel_with_its_grey() {
        // Pixel (255, 0, 0): l = 76. factor 0.5: 76 + 0.5*179 = 165.5 -> 165;
        // 76 + 0.5*(-76) = 38 -> 38.
        let mut im = img(2, 1, vec![255, 0, 0, 10, 200, 30]);
        adjust_saturation(&mut im, 0.5);
        // Pixel (10, 200, 30): l = 124. 124 - 57 = 67; 124 + 38 = 162; 124 - 47 = 77.
        assert_eq!(im.as_raw(), &[165, 38, 38, 67, 162, 77]);
        // factor 2: 76 + 358 -> 255, 76 - 152 -> 0.
        let mut im = img(1, 1, vec![255, 0, 0]);
        adjust_saturation(&mut im, 2.0);
        assert_eq!(im.as_raw(), &[255, 0, 0]);
    }

    #[test]
    fn saturation_one_is_identity_and_zero_is_grayscale() {
        let data: Vec<u8> = (0..60u32).map(|i| (i * 37 % 256) as u8).collect();
        let orig = img(5, 4, data);
        let mut im = orig.clone();
        adjust_saturation(&mut im, 1.0);
        assert_eq!(im, orig);
        let mut im = orig.clone();
        adjust_saturation(&mut im, 0.0);
        assert_eq!(im, grayscale(&orig));
    }

    #[test]
    fn contrast_on_empty_image_is_noop() {
        let mut im = RgbImage::new(0, 5);
        adjust_contrast(&mut im, 0.3);
        assert_eq!(im.dimensions(), (0, 5));
    }
}
