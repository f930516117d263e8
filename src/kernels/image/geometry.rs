//! Horizontal flip, nearest-neighbour rotation (Pillow's exact arithmetic) and erasing.

use std::borrow::Cow;

use image::RgbImage;

use super::color::apply_lut;

/// Mirrors the image left-right in place (`Image.transpose(FLIP_LEFT_RIGHT)`).
pub fn hflip(img: &mut RgbImage) {
    let row_len = img.width() as usize * 3;
    if row_len == 0 {
        return;
    }
    let half = img.width() as usize / 2 * 3;
    for row in img.chunks_exact_mut(row_len) {
        // Swap pixel i with pixel w-1-i; a middle pixel (odd width) stays put.
        let (left, right) = row.split_at_mut(half);
        for (l, r) in left.chunks_exact_mut(3).zip(right.rchunks_exact_mut(3)) {
            let t = [l[0], l[1], l[2]];
            l.copy_from_slice(r);
            r.copy_from_slice(&t);
        }
    }
}

/// Sets the square of side `size` with top-left corner `(x, y)` to black, clipped to the
/// image. `size == 0`, or a corner outside the image, changes nothing.
pub fn erase(img: &mut RgbImage, x: u32, y: u32, size: u32) {
    let (w, h) = img.dimensions();
    if size == 0 || x >= w || y >= h {
        return;
    }
    let x_end = x.saturating_add(size).min(w) as usize;
    let y_end = y.saturating_add(size).min(h) as usize;
    let row_len = w as usize * 3;
    let (x0, x1) = (x as usize * 3, x_end * 3);
    for row in img
        .chunks_exact_mut(row_len)
        .skip(y as usize)
        .take(y_end - y as usize)
    {
        row[x0..x1].fill(0);
    }
}

/// Python's `round(x, 15)`: the double nearest to `x` rounded to 15 decimal places.
/// Rust's `{:.15}` formats the exact binary value correctly rounded, and parsing is
/// correctly rounded too, which is what CPython's dtoa-based `round` does.
fn round15(x: f64) -> f64 {
    format!("{x:.15}").parse().unwrap_or(x)
}

/// Pillow's `COORD(v)`: -1 for negative values, else truncation.
#[inline]
fn coord(v: f64) -> i64 {
    if v < 0.0 {
        -1
    } else {
        v as i64
    }
}

/// Rotates counter-clockwise by `angle_deg` around the image centre, same output size,
/// nearest neighbour, black fill: `Image.rotate(angle, NEAREST, expand=False,
/// fillcolor=0)`, which is what torchvision's `RandomRotation` does on PIL images.
///
/// Exactly Pillow's arithmetic (`Image.rotate` in `Image.py`, `ImagingTransformAffine`
/// in `Geometry.c`): the fast paths for 0/180 degrees (and 90/270 on square images), the
/// inverse matrix with `round(cos, 15)`, then the 16.16 fixed-point nearest loop
/// (`affine_fixed`) or, where Pillow uses them, the scale-only and float loops.
pub fn rotate_nearest(img: &RgbImage, angle_deg: f32) -> RgbImage {
    rotate_nearest_f64(img, angle_deg as f64)
}

/// [`rotate_nearest`] with the angle as a Python float (`f64`), for angles that are not
/// exactly representable as `f32`.
pub fn rotate_nearest_f64(img: &RgbImage, angle_deg: f64) -> RgbImage {
    rotate_nearest_mapped(img, angle_deg, false, None)
}

/// [`rotate_nearest_f64`] of `img` mirrored left-right first if `flip_x`, with every
/// channel value mapped through `lut` first if given, in one pass over the output (the
/// flip and the table are applied to the pixels the rotation reads). Equal, byte for
/// byte, to [`hflip`], then the table, then [`rotate_nearest_f64`].
pub fn rotate_nearest_mapped(
    img: &RgbImage,
    angle_deg: f64,
    flip_x: bool,
    lut: Option<&[u8; 256]>,
) -> RgbImage {
    let (w, h) = img.dimensions();
    // Python's float `%` with a positive divisor equals rem_euclid (result in [0, 360]).
    let angle = angle_deg.rem_euclid(360.0);
    let moves_nothing = w == 0 || h == 0 || !angle_deg.is_finite() || angle == 0.0;
    let square_quarter_turn = (angle == 90.0 || angle == 270.0) && w == h;
    if moves_nothing || angle == 180.0 || square_quarter_turn {
        // Pillow's exact fast paths move whole pixels: map first (if anything is pending),
        // then move.
        let mapped = if flip_x || lut.is_some() {
            let mut m = img.clone();
            if flip_x {
                hflip(&mut m);
            }
            if let Some(lut) = lut {
                apply_lut(&mut m, lut);
            }
            Cow::Owned(m)
        } else {
            Cow::Borrowed(img)
        };
        return if moves_nothing {
            // A non-finite angle has no rotation (Pillow would raise).
            mapped.into_owned()
        } else if angle == 180.0 {
            image::imageops::rotate180(mapped.as_ref())
        } else if angle == 90.0 {
            // Transpose.ROTATE_90 is counter-clockwise; image's rotate270 is clockwise 270.
            image::imageops::rotate270(mapped.as_ref())
        } else {
            image::imageops::rotate90(mapped.as_ref())
        };
    }
    let sampler = Sampler {
        src: img.as_raw(),
        w: w as usize,
        flip_x,
        lut,
    };

    // Inverse (output -> input) matrix, as Image.rotate builds it.
    let (cx, cy) = (w as f64 / 2.0, h as f64 / 2.0);
    let rad = -angle.to_radians();
    let mut a = [
        round15(rad.cos()),
        round15(rad.sin()),
        0.0,
        round15(-rad.sin()),
        round15(rad.cos()),
        0.0,
    ];
    // matrix[2], matrix[5] = transform(-cx, -cy, matrix); then += centre.
    // Python evaluates `a * x + b * y + c` left to right; no FMA contraction in Rust.
    let t2 = a[0] * -cx + a[1] * -cy + a[2];
    let t5 = a[3] * -cx + a[4] * -cy + a[5];
    a[2] = t2 + cx;
    a[5] = t5 + cy;

    let mut out = RgbImage::new(w, h); // fillcolor 0
    if a[1] == 0.0 && a[3] == 0.0 {
        scale_affine(&sampler, &mut out, &a);
    } else if check_fixed(&a, 0, 0)
        && check_fixed(&a, w, h)
        && check_fixed(&a, 0, h)
        && check_fixed(&a, w, 0)
    {
        affine_fixed(&sampler, &mut out, &a);
    } else {
        affine_float(&sampler, &mut out, &a);
    }
    out
}

/// Pillow's `check_fixed`: the corner maps into the range 16.16 fixed point can hold.
fn check_fixed(a: &[f64; 6], x: u32, y: u32) -> bool {
    let (x, y) = (x as f64, y as f64);
    (x * a[0] + y * a[1] + a[2]).abs() < 32768.0 && (x * a[3] + y * a[4] + a[5]).abs() < 32768.0
}

/// Pillow's `FIX(v) = FLOOR(v * 65536.0 + 0.5)`.
#[inline]
fn fix(v: f64) -> i32 {
    let t = v * 65536.0 + 0.5;
    // FLOOR: floor for negatives, truncation (equal to floor) otherwise.
    t.floor() as i32
}

/// Reads source pixels for the nearest-neighbour loops, optionally through a pending
/// horizontal flip and lookup table (see [`super::PointMap`]): mapping the pixel that is
/// read gives exactly what mapping the whole image first would.
struct Sampler<'a> {
    src: &'a [u8],
    w: usize,
    flip_x: bool,
    lut: Option<&'a [u8; 256]>,
}

impl Sampler<'_> {
    /// Writes the source pixel `(xin, yin)` (both in range) to output pixel `x`.
    #[inline]
    fn copy_px(&self, out_row: &mut [u8], x: usize, xin: usize, yin: usize) {
        let xin = if self.flip_x { self.w - 1 - xin } else { xin };
        let s = (yin * self.w + xin) * 3;
        if let (Some(sp), Some(dp)) = (self.src.get(s..s + 3), out_row.get_mut(x * 3..x * 3 + 3)) {
            match self.lut {
                Some(lut) => {
                    dp[0] = lut[sp[0] as usize];
                    dp[1] = lut[sp[1] as usize];
                    dp[2] = lut[sp[2] as usize];
                }
                None => dp.copy_from_slice(sp),
            }
        }
    }
}

/// `affine_fixed` from Pillow's Geometry.c: nearest neighbour in 16.16 fixed point,
/// sampling at pixel centres, with the per-row/per-column increments accumulated in
/// 32-bit integers exactly as the C loop does. (Computing each row's run of inside
/// pixels up front, instead of testing every pixel, measured slower: the test is
/// well predicted and the cost is in the scattered reads.)
fn affine_fixed(src: &Sampler, out: &mut RgbImage, a: &[f64; 6]) {
    // One copy of the loop per (flip, table) combination, so the per-pixel read has no
    // branches on them.
    let last = src.w - 1;
    match (src.flip_x, src.lut) {
        (false, None) => affine_fixed_loop(src, out, a, |x| x, |px| px),
        (true, None) => affine_fixed_loop(src, out, a, |x| last - x, |px| px),
        (false, Some(t)) => affine_fixed_loop(src, out, a, |x| x, |px| map3(t, px)),
        (true, Some(t)) => affine_fixed_loop(src, out, a, |x| last - x, |px| map3(t, px)),
    }
}

#[inline(always)]
fn map3(t: &[u8; 256], px: [u8; 3]) -> [u8; 3] {
    [t[px[0] as usize], t[px[1] as usize], t[px[2] as usize]]
}

/// The loop of [`affine_fixed`]; `column` maps a source column (the pending flip) and
/// `map` a source pixel (the pending table).
#[inline(always)]
fn affine_fixed_loop(
    src: &Sampler,
    out: &mut RgbImage,
    a: &[f64; 6],
    column: impl Fn(usize) -> usize,
    map: impl Fn([u8; 3]) -> [u8; 3],
) {
    let (w, h) = out.dimensions();
    let (wi, hi) = (w as i32, h as i32);
    let a0 = fix(a[0]);
    let a1 = fix(a[1]);
    let a3 = fix(a[3]);
    let a4 = fix(a[4]);
    let mut a2 = fix(a[2] + a[0] * 0.5 + a[1] * 0.5);
    let mut a5 = fix(a[5] + a[3] * 0.5 + a[4] * 0.5);
    let row_len = w as usize * 3;
    for out_row in out.chunks_exact_mut(row_len) {
        let mut xx = a2;
        let mut yy = a5;
        for dp in out_row.chunks_exact_mut(3) {
            let xin = xx >> 16;
            let yin = yy >> 16;
            if xin >= 0 && xin < wi && yin >= 0 && yin < hi {
                let s = (yin as usize * src.w + column(xin as usize)) * 3;
                if let Some(sp) = src.src.get(s..s + 3) {
                    dp.copy_from_slice(&map([sp[0], sp[1], sp[2]]));
                }
            }
            xx = xx.wrapping_add(a0);
            yy = yy.wrapping_add(a3);
        }
        a2 = a2.wrapping_add(a1);
        a5 = a5.wrapping_add(a4);
    }
}

/// `ImagingScaleAffine`: the path Pillow takes when the matrix has no shear terms
/// (angles so close to a multiple of 180 degrees that `round(sin, 15) == 0`).
fn scale_affine(src: &Sampler, out: &mut RgbImage, a: &[f64; 6]) {
    let (w, h) = out.dimensions();
    let mut xo = a[2] + a[0] * 0.5;
    let mut yo = a[5] + a[4] * 0.5;
    let mut xintab: Vec<Option<usize>> = Vec::with_capacity(w as usize);
    for _ in 0..w {
        let xin = coord(xo);
        xintab.push((xin >= 0 && xin < w as i64).then_some(xin as usize));
        xo += a[0];
    }
    let row_len = w as usize * 3;
    for out_row in out.chunks_exact_mut(row_len) {
        let yi = coord(yo);
        if yi >= 0 && yi < h as i64 {
            for (x, xin) in xintab.iter().enumerate() {
                if let Some(xin) = *xin {
                    src.copy_px(out_row, x, xin, yi as usize);
                }
            }
        }
        yo += a[4];
    }
}

/// The floating-point loop of `ImagingTransformAffine`, used by Pillow when a corner
/// falls outside the fixed-point range (images wider or taller than about 32k pixels).
fn affine_float(src: &Sampler, out: &mut RgbImage, a: &[f64; 6]) {
    let (w, h) = out.dimensions();
    let mut xo = a[2] + a[1] * 0.5 + a[0] * 0.5;
    let mut yo = a[5] + a[4] * 0.5 + a[3] * 0.5;
    let row_len = w as usize * 3;
    for out_row in out.chunks_exact_mut(row_len) {
        let mut xx = xo;
        let mut yy = yo;
        for x in 0..w as usize {
            let xin = coord(xx);
            let yin = coord(yy);
            if xin >= 0 && xin < w as i64 && yin >= 0 && yin < h as i64 {
                src.copy_px(out_row, x, xin as usize, yin as usize);
            }
            xx += a[0];
            yy += a[3];
        }
        xo += a[1];
        yo += a[4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Image whose pixel (x, y) is (x, y, 100 + x + 10*y) so every pixel is distinct.
    fn coords(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([x as u8, y as u8, (100 + x + 10 * y) as u8])
        })
    }

    fn px(im: &RgbImage, x: u32, y: u32) -> [u8; 3] {
        im.get_pixel(x, y).0
    }

    #[test]
    fn hflip_3x2() {
        let mut im = RgbImage::from_raw(3, 2, (0u8..18).collect()).expect("size");
        hflip(&mut im);
        assert_eq!(
            im.as_raw(),
            &[6, 7, 8, 3, 4, 5, 0, 1, 2, 15, 16, 17, 12, 13, 14, 9, 10, 11]
        );
        // twice is the identity; 1x1 and empty images survive
        hflip(&mut im);
        assert_eq!(im.as_raw(), &(0u8..18).collect::<Vec<_>>());
        let mut one = RgbImage::from_raw(1, 1, vec![1, 2, 3]).expect("size");
        hflip(&mut one);
        assert_eq!(one.as_raw(), &[1, 2, 3]);
        let mut empty = RgbImage::new(0, 3);
        hflip(&mut empty);
    }

    #[test]
    fn erase_clips_to_image() {
        let mut im = RgbImage::from_pixel(4, 3, image::Rgb([9, 9, 9]));
        erase(&mut im, 2, 1, 5); // covers x 2..4, y 1..3
        for y in 0..3 {
            for x in 0..4 {
                let expect = if x >= 2 && y >= 1 { [0; 3] } else { [9; 3] };
                assert_eq!(px(&im, x, y), expect, "({x},{y})");
            }
        }
        let before = RgbImage::from_pixel(4, 3, image::Rgb([9, 9, 9]));
        let mut im = before.clone();
        erase(&mut im, 0, 0, 0);
        erase(&mut im, 4, 0, 3);
        erase(&mut im, 0, 3, 3);
        erase(&mut im, u32::MAX, u32::MAX, u32::MAX);
        assert_eq!(im, before);
        erase(&mut im, 1, 1, 1);
        assert_eq!(px(&im, 1, 1), [0; 3]);
        assert_eq!(im.pixels().filter(|p| p.0 == [0; 3]).count(), 1);
        erase(&mut im, 0, 0, u32::MAX);
        assert!(im.pixels().all(|p| p.0 == [0; 3]));
    }

    #[test]
    fn round15_matches_python() {
        // math.cos(-math.pi/2) = 6.123233995736766e-17; round(.., 15) == 0.0
        assert_eq!(round15((-std::f64::consts::FRAC_PI_2).cos()), 0.0);
        // round(0.9659258262890683, 15) == 0.965925826289068
        assert_eq!(round15(0.9659258262890683), 0.965925826289068);
        assert_eq!(round15(-1.0), -1.0);
    }

    #[test]
    fn rotate_zero_and_full_turns_copy() {
        let im = coords(5, 3);
        assert_eq!(rotate_nearest(&im, 0.0), im);
        assert_eq!(rotate_nearest(&im, 360.0), im);
        assert_eq!(rotate_nearest(&im, -720.0), im);
    }

    #[test]
    fn rotate_180_reverses_both_axes() {
        let im = coords(3, 2);
        let r = rotate_nearest(&im, 180.0);
        for y in 0..2 {
            for x in 0..3 {
                assert_eq!(px(&r, x, y), px(&im, 2 - x, 1 - y));
            }
        }
        assert_eq!(rotate_nearest(&im, -180.0), r);
    }

    #[test]
    fn rotate_90_square_is_counter_clockwise_transpose() {
        // Transpose.ROTATE_90 (counter-clockwise): out(x, y) = in(N-1-y, x)
        let im = coords(3, 3);
        let r = rotate_nearest(&im, 90.0);
        for y in 0..3 {
            for x in 0..3 {
                assert_eq!(px(&r, x, y), px(&im, 2 - y, x), "({x},{y})");
            }
        }
        // the top-right corner moves to the top-left
        assert_eq!(px(&r, 0, 0), px(&im, 2, 0));
        let r270 = rotate_nearest(&im, -90.0);
        for y in 0..3 {
            for x in 0..3 {
                assert_eq!(px(&r270, x, y), px(&im, y, 2 - x), "({x},{y})");
            }
        }
    }

    #[test]
    fn rotate_90_non_square_uses_affine_path() {
        // Hand-computed through Image.rotate + affine_fixed for w=3, h=2, angle 90:
        // matrix = [0, -1, 2.5, 1, 0, -0.5]; fixed a2 = FIX(2.0) = 2<<16, a5 = 0,
        // a0 = 0, a1 = -1<<16, a3 = 1<<16, a4 = 0.
        // row 0: (x=0) in(2,0), (x=1) in(2,1), (x=2) yin=2 -> fill
        // row 1: (x=0) in(1,0), (x=1) in(1,1), (x=2) fill
        let im = coords(3, 2);
        let r = rotate_nearest(&im, 90.0);
        assert_eq!(px(&r, 0, 0), px(&im, 2, 0));
        assert_eq!(px(&r, 1, 0), px(&im, 2, 1));
        assert_eq!(px(&r, 2, 0), [0; 3]);
        assert_eq!(px(&r, 0, 1), px(&im, 1, 0));
        assert_eq!(px(&r, 1, 1), px(&im, 1, 1));
        assert_eq!(px(&r, 2, 1), [0; 3]);
    }

    #[test]
    fn rotate_keeps_size_and_handles_degenerate_images() {
        let im = coords(7, 4);
        assert_eq!(rotate_nearest(&im, 13.5).dimensions(), (7, 4));
        let one = coords(1, 1);
        // the single centre pixel maps onto itself at any angle
        assert_eq!(rotate_nearest(&one, 33.0), one);
        let empty = RgbImage::new(0, 4);
        assert_eq!(rotate_nearest(&empty, 10.0).dimensions(), (0, 4));
        assert_eq!(rotate_nearest(&im, f32::NAN), im);
    }
}
