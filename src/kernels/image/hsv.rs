//! Hue shift as torchvision's `adjust_hue` does it on PIL images, with Pillow's 8-bit
//! HSV conversions (`src/libImaging/Convert.c`, `rgb2hsv_row` and `hsv2rgb`).
//!
//! torchvision (`_functional_pil.adjust_hue`): `img.convert("HSV")`, add
//! `np.int32(hue_factor * 255)` (float64 product truncated toward zero, e.g. -0.1 ->
//! -25) to the H byte with uint8 wraparound, `Image.merge("HSV", ...).convert("RGB")`.
//! There is no shortcut for a zero shift: the 8-bit round trip itself changes pixels
//! (H and S are quantised), so `adjust_hue(img, 0.0)` is not the identity, exactly as in
//! torchvision. (ColorJitter only calls it when its hue range is non-zero.) Grey pixels
//! (R = G = B) come back unchanged.
//!
//! The C code mixes `float` variables with `double` literals; the transcription keeps
//! every promotion (`f32` where C stores into a `float`, `f64` where a double literal
//! takes part), which the fixtures confirm bit for bit.

use image::RgbImage;

/// Pillow's RGB -> HSV of one pixel (all three bytes 0..=255; H 255 = 360 degrees).
#[inline]
pub fn rgb_to_hsv(r: u8, g: u8, b: u8) -> [u8; 3] {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    if maxc == minc {
        return [0, 0, maxc];
    }
    let cr = (maxc - minc) as f32;
    let s = cr / maxc as f32;
    let rc = (maxc - r) as f32 / cr;
    let gc = (maxc - g) as f32 / cr;
    let bc = (maxc - b) as f32 / cr;
    let h: f32 = if r == maxc {
        bc - gc
    } else if g == maxc {
        ((2.0 + rc as f64) - bc as f64) as f32
    } else {
        ((4.0 + gc as f64) - rc as f64) as f32
    };
    // C fmod of a value in (0, 2): the same as Rust's % on f64.
    let h = ((h as f64 / 6.0 + 1.0) % 1.0) as f32;
    // CLIP8((int)(x)): truncation, then clip (x is in [0, 255) here).
    let uh = (h as f64 * 255.0) as i32;
    let us = (s as f64 * 255.0) as i32;
    [uh.clamp(0, 255) as u8, us.clamp(0, 255) as u8, maxc]
}

/// Pillow's HSV -> RGB of one pixel.
#[inline]
pub fn hsv_to_rgb(h: u8, s: u8, v: u8) -> [u8; 3] {
    if s == 0 {
        return [v, v, v];
    }
    let h6 = h as f32 as f64 * 6.0 / 255.0;
    let i = h6.floor() as i32; // 0..=6
    let f = (h6 - i as f32 as f64) as f32;
    let fs = (s as f32 as f64 / 255.0) as f32;
    let vd = v as f32 as f64;
    // C round(): halves away from zero, which is f64::round.
    let clip = |x: f64| (x.round() as i32).clamp(0, 255) as u8;
    let p = clip(vd * (1.0 - fs as f64));
    let q = clip(vd * (1.0 - (fs * f) as f64)); // fs * f is a float product
    let t = clip(vd * (1.0 - fs as f64 * (1.0 - f as f64)));
    match i % 6 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// The H byte shift torchvision applies for `hue_factor`: `int(hue_factor * 255)`
/// computed in f64 and truncated toward zero, as a wrapping `u8` (-0.1 -> -25 -> 231).
/// Factors outside torchvision's `[-0.5, 0.5]` (which it refuses) simply wrap.
pub fn hue_shift_byte(hue_factor: f32) -> u8 {
    let shift = (hue_factor as f64 * 255.0) as i32; // saturating; NaN -> 0
    shift.rem_euclid(256) as u8
}

/// torchvision `adjust_hue(img, hue_factor)` on a PIL RGB image, in place: each pixel
/// goes through Pillow's [`rgb_to_hsv`], its H byte is shifted by
/// [`hue_shift_byte`] with wraparound, and [`hsv_to_rgb`] converts it back.
pub fn adjust_hue(img: &mut RgbImage, hue_factor: f32) {
    let shift = hue_shift_byte(hue_factor);
    for px in img.chunks_exact_mut(3) {
        if px[0] == px[1] && px[1] == px[2] {
            continue; // grey: S = 0, converts back to itself whatever the hue
        }
        let [h, s, v] = rgb_to_hsv(px[0], px[1], px[2]);
        px.copy_from_slice(&hsv_to_rgb(h.wrapping_add(shift), s, v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values below were produced by Pillow 13.0.0 / torchvision 0.29.2:
    // Image.new(mode, (1, 1), c).convert(...).getpixel((0, 0)) and F.adjust_hue.

    #[test]
    fn rgb_to_hsv_matches_pillow() {
        assert_eq!(rgb_to_hsv(255, 0, 0), [0, 255, 255]);
        assert_eq!(rgb_to_hsv(0, 255, 0), [85, 255, 255]);
        assert_eq!(rgb_to_hsv(0, 0, 255), [170, 255, 255]);
        assert_eq!(rgb_to_hsv(128, 128, 128), [0, 0, 128]);
        assert_eq!(rgb_to_hsv(255, 0, 255), [212, 255, 255]);
        assert_eq!(rgb_to_hsv(10, 200, 30), [89, 242, 200]);
        assert_eq!(rgb_to_hsv(200, 100, 50), [14, 191, 200]);
        assert_eq!(rgb_to_hsv(37, 90, 200), [156, 207, 200]);
        assert_eq!(rgb_to_hsv(250, 3, 100), [238, 251, 250]);
    }

    #[test]
    fn hsv_to_rgb_matches_pillow() {
        assert_eq!(hsv_to_rgb(0, 255, 255), [255, 0, 0]);
        assert_eq!(hsv_to_rgb(99, 0, 77), [77, 77, 77]);
        assert_eq!(hsv_to_rgb(84, 255, 255), [6, 255, 0]);
        // h = 255 lands on i = 6, which is sector 0 with f = 0.
        assert_eq!(hsv_to_rgb(255, 255, 200), [200, 0, 0]);
    }

    #[test]
    fn shift_truncates_toward_zero_and_wraps() {
        assert_eq!(hue_shift_byte(0.0), 0);
        assert_eq!(hue_shift_byte(0.05), 12); // 12.75 -> 12
        assert_eq!(hue_shift_byte(-0.1), 231); // -25.5 -> -25 -> 231
        assert_eq!(hue_shift_byte(0.5), 127);
        assert_eq!(hue_shift_byte(-0.5), 129);
        assert_eq!(hue_shift_byte(f32::NAN), 0);
    }

    #[test]
    fn grey_pixels_are_unchanged_and_zero_shift_is_the_round_trip() {
        let data = vec![0, 0, 0, 128, 128, 128, 255, 255, 255];
        let mut im = RgbImage::from_raw(3, 1, data.clone()).unwrap();
        adjust_hue(&mut im, 0.3);
        assert_eq!(im.as_raw(), &data);
        // No shift still quantises H and S to 8 bits: torchvision gives the same.
        let data = vec![10, 200, 30, 200, 100, 50, 37, 90, 200, 250, 3, 100];
        let mut im = RgbImage::from_raw(4, 1, data.clone()).unwrap();
        adjust_hue(&mut im, 0.0);
        assert_eq!(
            im.as_raw(),
            &[10, 200, 28, 200, 100, 50, 38, 91, 200, 250, 4, 102]
        );
        let mut im = RgbImage::from_raw(4, 1, data).unwrap();
        adjust_hue(&mut im, -0.1);
        assert_eq!(
            im.as_raw(),
            &[104, 200, 10, 200, 50, 85, 38, 187, 200, 250, 4, 247]
        );
    }

    #[test]
    fn half_turn_maps_red_towards_cyan() {
        let mut im = RgbImage::from_raw(1, 1, vec![255, 0, 0]).unwrap();
        adjust_hue(&mut im, 0.5);
        assert_eq!(im.as_raw(), &[0, 255, 252]);
    }
}
