//! Bilinear (antialiased) resizing as torchvision does it on PIL images.

use std::cell::RefCell;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::RgbImage;

/// How [`resize`] maps the source onto the requested `width` x `height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizeMode {
    /// Both sides scaled independently to exactly `width` x `height` (torchvision
    /// `Resize((height, width))`); the aspect ratio may change.
    Stretch,
    /// Scale so the image covers `width` x `height` keeping the aspect ratio, then crop
    /// the centre (torchvision `Resize(size)` + `CenterCrop(size)` when
    /// `width == height == size`).
    ShorterSideCenterCrop,
}

thread_local! {
    // A Resizer keeps scratch buffers between calls; one per thread avoids reallocating
    // them for every image without any state shared between threads.
    static RESIZER: RefCell<Resizer> = RefCell::new(Resizer::new());
}

/// Resizes with Pillow's `BILINEAR` filter (triangle filter whose support grows with
/// the downscaling factor, i.e. antialiased), which is what torchvision's `Resize` does
/// on PIL images. Uses `fast_image_resize`'s convolution, which follows Pillow's
/// algorithm; its fixed-point coefficients have a different precision from Pillow's,
/// so single values can differ by 1.
///
/// Zero `width` or `height` gives an empty image; an empty source gives a black image
/// of the requested size.
pub fn resize(img: &RgbImage, width: u32, height: u32, mode: ResizeMode) -> RgbImage {
    match mode {
        ResizeMode::Stretch => resize_exact(img, width, height),
        ResizeMode::ShorterSideCenterCrop => {
            let (w, h) = img.dimensions();
            if w == 0 || h == 0 || width == 0 || height == 0 {
                return RgbImage::new(width, height);
            }
            let (rw, rh, left, top) = shorter_side_crop_geometry(w, h, width, height);
            let resized = resize_exact(img, rw, rh);
            crop(&resized, left, top, width, height)
        }
    }
}

/// [`resize`] computed with Pillow's own arithmetic (a transcription of
/// `Resample.c`: f64 triangle weights normalised per output sample, quantised to 22-bit
/// fixed point, 32-bit accumulation, horizontal pass first with an 8-bit intermediate).
/// Bit-exact with torchvision/Pillow, at the cost of speed: plain scalar code instead of
/// `fast_image_resize`'s SIMD. Use it where exact parity matters more than throughput.
pub fn resize_pillow_exact(img: &RgbImage, width: u32, height: u32, mode: ResizeMode) -> RgbImage {
    match mode {
        ResizeMode::Stretch => pillow::resize(img, width, height),
        ResizeMode::ShorterSideCenterCrop => {
            let (w, h) = img.dimensions();
            if w == 0 || h == 0 || width == 0 || height == 0 {
                return RgbImage::new(width, height);
            }
            let (rw, rh, left, top) = shorter_side_crop_geometry(w, h, width, height);
            let resized = pillow::resize(img, rw, rh);
            crop(&resized, left, top, width, height)
        }
    }
}

/// The geometry of [`ResizeMode::ShorterSideCenterCrop`]: `(resized_w, resized_h,
/// crop_left, crop_top)` for a `w` x `h` source and a `width` x `height` target.
///
/// For a square target of side `s` this is torchvision exactly: the shorter side becomes
/// `s` and the longer `int(s * long / short)` (Python float arithmetic, truncated), and
/// `CenterCrop` starts at `int(round((resized - s) / 2.0))` with Python's
/// round-half-to-even. A non-square target scales the side that makes the image cover
/// the target (the same formula with that side as the reference).
pub fn shorter_side_crop_geometry(w: u32, h: u32, width: u32, height: u32) -> (u32, u32, u32, u32) {
    let (wf, hf) = (w as f64, h as f64);
    // Try matching the width first (torchvision when w <= h); if the height then falls
    // short of the target, match the height instead (torchvision when w > h).
    // (A square target always takes the first branch when w <= h and the second when
    // w > h, as torchvision does.)
    let derived_h = ((width as f64 * hf) / wf) as u32;
    let (rw, rh) = if derived_h >= height {
        (width, derived_h)
    } else {
        (((height as f64 * wf) / hf) as u32, height)
    };
    // Defensive: never crop outside the resized image.
    let (rw, rh) = (rw.max(width), rh.max(height));
    let left = round_half_even((rw - width) as f64 / 2.0);
    let top = round_half_even((rh - height) as f64 / 2.0);
    (rw, rh, left, top)
}

/// Python 3 `round(x)` for non-negative `x`: ties go to the even integer.
fn round_half_even(x: f64) -> u32 {
    let r = x.round_ties_even();
    r as u32
}

fn resize_exact(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    let mut dst = RgbImage::new(width, height);
    if width == 0 || height == 0 || img.width() == 0 || img.height() == 0 {
        return dst;
    }
    if img.dimensions() == (width, height) {
        // torchvision returns the image untouched when the size already matches.
        return img.clone();
    }
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    let ok = RESIZER.with(|r| {
        r.try_borrow_mut()
            .map(|mut r| r.resize(img, &mut dst, &options).is_ok())
            .unwrap_or(false)
    });
    if !ok {
        // Only reachable if the resizer were re-entered on this thread; use a fresh one.
        let _ = Resizer::new().resize(img, &mut dst, &options);
    }
    dst
}

/// Copies the `width` x `height` window at `(left, top)`; the caller guarantees it fits.
fn crop(img: &RgbImage, left: u32, top: u32, width: u32, height: u32) -> RgbImage {
    let src_row = img.width() as usize * 3;
    let (l, n) = (left as usize * 3, width as usize * 3);
    let mut out = Vec::with_capacity(n * height as usize);
    for row in img
        .chunks_exact(src_row)
        .skip(top as usize)
        .take(height as usize)
    {
        if let Some(part) = row.get(l..l + n) {
            out.extend_from_slice(part);
        }
    }
    RgbImage::from_raw(width, height, out).unwrap_or_else(|| RgbImage::new(width, height))
}

/// Transcription of Pillow's `ImagingResample` for 8-bit images with the BILINEAR
/// filter (`src/libImaging/Resample.c`).
mod pillow {
    use image::RgbImage;

    /// `PRECISION_BITS` of the 8-bit path: 32 - 8 - 2.
    const PRECISION_BITS: u32 = 22;

    /// Per output sample: first input index, and the fixed-point weights.
    struct Coeffs {
        bounds: Vec<(usize, usize)>, // (xmin, count)
        ksize: usize,
        k: Vec<i32>, // ksize weights per output sample
    }

    /// `precompute_coeffs` + `normalize_coeffs_8bpc` for the triangle filter
    /// (support 1), over the whole input (no box).
    fn coeffs(in_size: usize, out_size: usize) -> Coeffs {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filterscale; // bilinear support 1.0 * filterscale
        let ksize = support.ceil() as usize * 2 + 1;
        let ss = 1.0 / filterscale;
        let mut bounds = Vec::with_capacity(out_size);
        let mut k = vec![0i32; out_size * ksize];
        let mut kf = vec![0f64; ksize];
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            // C `(int)` casts truncate toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let count = xmax.saturating_sub(xmin).min(ksize);
            let mut ww = 0.0f64;
            for (x, slot) in kf.iter_mut().enumerate().take(count) {
                let t = (((x + xmin) as f64 - center) + 0.5) * ss;
                let t = t.abs();
                let w = if t < 1.0 { 1.0 - t } else { 0.0 };
                *slot = w;
                ww += w;
            }
            let row = &mut k[xx * ksize..xx * ksize + ksize];
            for (x, slot) in row.iter_mut().enumerate().take(count) {
                let w = if ww != 0.0 { kf[x] / ww } else { kf[x] };
                let f = w * (1u32 << PRECISION_BITS) as f64;
                *slot = if w < 0.0 {
                    (f - 0.5) as i32
                } else {
                    (f + 0.5) as i32
                };
            }
            bounds.push((xmin, count));
        }
        Coeffs { bounds, ksize, k }
    }

    #[inline]
    fn clip8(v: i32) -> u8 {
        (v >> PRECISION_BITS).clamp(0, 255) as u8
    }

    fn horizontal(src: &[u8], w: usize, h: usize, out_w: usize) -> Vec<u8> {
        let c = coeffs(w, out_w);
        let mut out = vec![0u8; out_w * h * 3];
        let half = 1i32 << (PRECISION_BITS - 1);
        for (src_row, out_row) in src.chunks_exact(w * 3).zip(out.chunks_exact_mut(out_w * 3)) {
            for (xx, px) in out_row.chunks_exact_mut(3).enumerate() {
                let (xmin, count) = c.bounds[xx];
                let k = &c.k[xx * c.ksize..xx * c.ksize + count];
                let ins = &src_row[xmin * 3..(xmin + count) * 3];
                let (mut r, mut g, mut b) = (half, half, half);
                for (kw, p) in k.iter().zip(ins.chunks_exact(3)) {
                    r = r.wrapping_add(p[0] as i32 * kw);
                    g = g.wrapping_add(p[1] as i32 * kw);
                    b = b.wrapping_add(p[2] as i32 * kw);
                }
                px[0] = clip8(r);
                px[1] = clip8(g);
                px[2] = clip8(b);
            }
        }
        out
    }

    fn vertical(src: &[u8], w: usize, h: usize, out_h: usize) -> Vec<u8> {
        let c = coeffs(h, out_h);
        let row_len = w * 3;
        let mut out = vec![0u8; row_len * out_h];
        let half = 1i32 << (PRECISION_BITS - 1);
        let mut acc = vec![0i32; row_len];
        for (yy, out_row) in out.chunks_exact_mut(row_len).enumerate() {
            let (ymin, count) = c.bounds[yy];
            let k = &c.k[yy * c.ksize..yy * c.ksize + count];
            acc.fill(half);
            // Row-wise accumulation: same sums as Pillow's per-pixel loop (integer
            // addition is associative), in a cache-friendly order.
            for (j, kw) in k.iter().enumerate() {
                let in_row = &src[(ymin + j) * row_len..(ymin + j + 1) * row_len];
                for (a, &v) in acc.iter_mut().zip(in_row) {
                    *a = a.wrapping_add(v as i32 * kw);
                }
            }
            for (o, &a) in out_row.iter_mut().zip(&acc) {
                *o = clip8(a);
            }
        }
        out
    }

    pub(super) fn resize(img: &RgbImage, width: u32, height: u32) -> RgbImage {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let (ow, oh) = (width as usize, height as usize);
        if ow == 0 || oh == 0 || w == 0 || h == 0 {
            return RgbImage::new(width, height);
        }
        if (w, h) == (ow, oh) {
            return img.clone();
        }
        let mut buf: Option<Vec<u8>> = None;
        if ow != w {
            buf = Some(horizontal(img.as_raw(), w, h, ow));
        }
        if oh != h {
            let src = buf.as_deref().unwrap_or(img.as_raw());
            buf = Some(vertical(src, ow, h, oh));
        }
        let data = buf.unwrap_or_else(|| img.as_raw().clone());
        RgbImage::from_raw(width, height, data).unwrap_or_else(|| RgbImage::new(width, height))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_geometry_matches_torchvision_rounding() {
        // 640x480 -> Resize(224): short side h=480 -> 224, long = int(224*640/480) = 298
        // CenterCrop(224): left = round((298-224)/2) = 37, top = 0
        assert_eq!(
            shorter_side_crop_geometry(640, 480, 224, 224),
            (298, 224, 37, 0)
        );
        // portrait 480x640: w is short -> (224, 298), top = 37
        assert_eq!(
            shorter_side_crop_geometry(480, 640, 224, 224),
            (224, 298, 0, 37)
        );
        // 500x333 -> Resize(224): long = int(224*500/333) = int(336.336..) = 336,
        // left = round(112/2) = 56
        assert_eq!(
            shorter_side_crop_geometry(500, 333, 224, 224),
            (336, 224, 56, 0)
        );
        // ties to even: 225 wide: (225-224)/2 = 0.5 -> 0; 227: 1.5 -> 2; 229: 2.5 -> 2
        // (w=225,h=100 -> Resize(100) keeps 225: long = int(100*225/100) = 225)
        assert_eq!(shorter_side_crop_geometry(225, 100, 224, 100).2, 0);
        assert_eq!(
            shorter_side_crop_geometry(227, 100, 100, 100),
            (227, 100, 64, 0)
        );
        assert_eq!(round_half_even(0.5), 0);
        assert_eq!(round_half_even(1.5), 2);
        assert_eq!(round_half_even(2.5), 2);
        assert_eq!(round_half_even(3.5), 4);
        // square source
        assert_eq!(
            shorter_side_crop_geometry(300, 300, 224, 224),
            (224, 224, 0, 0)
        );
    }

    #[test]
    fn crop_geometry_non_square_target_covers() {
        for &(w, h, tw, th) in &[
            (640, 480, 300, 100),
            (640, 480, 100, 300),
            (10, 1000, 50, 60),
        ] {
            let (rw, rh, l, t) = shorter_side_crop_geometry(w, h, tw, th);
            assert!(rw >= tw && rh >= th, "{w}x{h} -> {tw}x{th}: {rw}x{rh}");
            assert!(l + tw <= rw && t + th <= rh);
            // one of the sides matches the target exactly
            assert!(rw == tw || rh == th);
        }
    }

    #[test]
    fn stretch_of_constant_image_is_constant() {
        let im = RgbImage::from_pixel(64, 48, image::Rgb([10, 200, 77]));
        let r = resize(&im, 17, 31, ResizeMode::Stretch);
        assert_eq!(r.dimensions(), (17, 31));
        assert!(r.pixels().all(|p| p.0 == [10, 200, 77]));
        let r = resize(&im, 20, 20, ResizeMode::ShorterSideCenterCrop);
        assert_eq!(r.dimensions(), (20, 20));
        assert!(r.pixels().all(|p| p.0 == [10, 200, 77]));
    }

    #[test]
    fn halving_averages_pairs() {
        // Pillow bilinear 4x1 -> 2x1: scale 2, support 2; centre of out pixel 0 is at 1.0,
        // weights over in pixels 0..3 at distance 0.5,0.5,1.5 -> (1-0.25)=0.75,0.75,0.25
        // normalised: 0.75/1.75, 0.75/1.75, 0.25/1.75 -> for [0, 70, 140, 210]:
        // (0*0.75 + 70*0.75 + 140*0.25)/1.75 = (52.5+35)/1.75 = 50.0
        let im = RgbImage::from_fn(4, 1, |x, _| image::Rgb([(70 * x) as u8; 3]));
        let r = resize(&im, 2, 1, ResizeMode::Stretch);
        assert_eq!(r.get_pixel(0, 0).0[0], 50);
        let exact = resize_pillow_exact(&im, 2, 1, ResizeMode::Stretch);
        assert_eq!(exact.get_pixel(0, 0).0[0], 50);
        assert_eq!(exact.get_pixel(1, 0).0[0], 160);
        // out pixel 1 centre 3.0: pixels 1,2,3 at distances 1.5,0.5,0.5:
        // (70*0.25 + 140*0.75 + 210*0.75)/1.75 = (17.5+105+157.5)/1.75 = 160
        assert_eq!(r.get_pixel(1, 0).0[0], 160);
    }

    #[test]
    fn degenerate_sizes() {
        let im = RgbImage::from_pixel(5, 5, image::Rgb([1, 2, 3]));
        assert_eq!(resize(&im, 0, 3, ResizeMode::Stretch).dimensions(), (0, 3));
        assert_eq!(
            resize(&im, 3, 0, ResizeMode::ShorterSideCenterCrop).dimensions(),
            (3, 0)
        );
        let empty = RgbImage::new(0, 0);
        let r = resize(&empty, 4, 4, ResizeMode::Stretch);
        assert_eq!(r.dimensions(), (4, 4));
        let one = RgbImage::from_pixel(1, 1, image::Rgb([9, 8, 7]));
        let r = resize(&one, 3, 2, ResizeMode::ShorterSideCenterCrop);
        assert!(r.pixels().all(|p| p.0 == [9, 8, 7]));
        assert_eq!(resize(&im, 5, 5, ResizeMode::Stretch), im);
    }
}
