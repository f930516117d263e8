//! Deferred per-pixel work: a pending horizontal flip and a pending lookup table on
//! channel values.
//!
//! A flip moves pixels and a table maps values, so they commute and compose exactly:
//! brightness and contrast are tables (contrast's depends on the mean grey level of the
//! image it sees, which a flip does not change), and a nearest-neighbour rotation only
//! copies pixels. A chain flip -> brightness -> contrast -> rotation therefore needs one
//! read of the image (the contrast mean) and one pass that writes the result, instead of
//! five passes, with byte-identical output.

use std::borrow::Cow;

use image::RgbImage;

use super::color::{apply_lut, blend_lut, grayscale_mean_rounded_mapped};
use super::geometry::{hflip, rotate_nearest_mapped};
use super::ColorOp;

/// A flip and a value table not applied yet; the identity when new.
#[derive(Debug, Clone, Default)]
pub struct PointMap {
    flip_x: bool,
    lut: Option<[u8; 256]>,
}

impl PointMap {
    /// Nothing pending.
    pub fn new() -> PointMap {
        PointMap::default()
    }

    /// Whether nothing is pending.
    pub fn is_identity(&self) -> bool {
        !self.flip_x && self.lut.is_none()
    }

    /// Adds a left-right mirror ([`hflip`]).
    pub fn flip_x(&mut self) {
        self.flip_x = !self.flip_x;
    }

    /// Adds a table applied after what is pending.
    pub fn then_lut(&mut self, next: &[u8; 256]) {
        self.lut = Some(match &self.lut {
            Some(first) => std::array::from_fn(|v| next[first[v] as usize]),
            None => *next,
        });
    }

    /// Adds one colour adjustment of [`ColorOp`] to `img` as it will be once the pending
    /// work is applied. Brightness and contrast are deferred (contrast reads `img` once
    /// for its mean); saturation and hue are not tables, so the pending work is applied
    /// to `img` first and they run on it directly (a borrowed `img` is copied then).
    pub fn then_color_op(&mut self, img: &mut Cow<'_, RgbImage>, op: ColorOp, factor: f32) {
        match op {
            // Factor 1 is Pillow's identity shortcut for both.
            ColorOp::Brightness | ColorOp::Contrast if factor == 1.0 => {}
            ColorOp::Brightness => self.then_lut(&blend_lut(0, factor)),
            ColorOp::Contrast => {
                let mean = grayscale_mean_rounded_mapped(img, self.lut.as_ref());
                self.then_lut(&blend_lut(mean, factor));
            }
            ColorOp::Saturation | ColorOp::Hue => {
                self.apply(img);
                op.apply(img.to_mut(), factor);
            }
        }
    }

    /// Applies the pending work to `img` in place; nothing is pending afterwards. With
    /// nothing pending, a borrowed `img` stays borrowed (no copy).
    pub fn apply(&mut self, img: &mut Cow<'_, RgbImage>) {
        if self.is_identity() {
            return;
        }
        let img = img.to_mut();
        if self.flip_x {
            hflip(img);
        }
        if let Some(lut) = &self.lut {
            apply_lut(img, lut);
        }
        *self = PointMap::new();
    }

    /// The pending work, then [`super::rotate_nearest_f64`], in one pass; nothing is
    /// pending afterwards.
    pub fn rotate_nearest(&mut self, img: &RgbImage, angle_deg: f64) -> RgbImage {
        let out = rotate_nearest_mapped(img, angle_deg, self.flip_x, self.lut.as_ref());
        *self = PointMap::new();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{adjust_brightness, adjust_contrast, apply_color_ops, rotate_nearest_f64};
    use super::*;

    /// A 37x23 image (odd sizes: a middle column, no symmetry) with varied values.
    fn varied() -> RgbImage {
        RgbImage::from_fn(37, 23, |x, y| {
            image::Rgb([
                (x * 7 + y * 3) as u8,
                (200 + x * 11 - y * 5) as u8,
                ((x * y) % 251) as u8,
            ])
        })
    }

    /// Every chain of flip / colour ops / rotation, deferred, equals the kernels applied
    /// one after another.
    #[test]
    fn deferred_chains_equal_the_kernels_in_sequence() {
        let ops = [
            (ColorOp::Brightness, 1.17f32),
            (ColorOp::Contrast, 0.83),
            (ColorOp::Saturation, 1.3),
            (ColorOp::Hue, 0.05),
            (ColorOp::Brightness, 0.6),
            (ColorOp::Contrast, 1.0),
            (ColorOp::Brightness, 1.0),
        ];
        let mut cases = 0;
        for flip in [false, true] {
            for start in 0..ops.len() {
                for len in 0..=3 {
                    let chain: Vec<_> = ops.iter().cycle().skip(start).take(len).copied().collect();
                    for angle in [0.0, 12.5, -7.25, 90.0, 180.0] {
                        let mut expected = varied();
                        if flip {
                            hflip(&mut expected);
                        }
                        apply_color_ops(&mut expected, &chain);
                        let expected = rotate_nearest_f64(&expected, angle);

                        let source = varied();
                        let mut img = Cow::Borrowed(&source);
                        let mut map = PointMap::new();
                        if flip {
                            map.flip_x();
                        }
                        for &(op, f) in &chain {
                            map.then_color_op(&mut img, op, f);
                        }
                        // Only saturation and hue write to the image before the rotation.
                        let writes = chain
                            .iter()
                            .any(|(op, _)| matches!(op, ColorOp::Saturation | ColorOp::Hue));
                        assert_eq!(matches!(img, Cow::Owned(_)), writes, "chain {chain:?}");
                        let got = map.rotate_nearest(&img, angle);
                        assert_eq!(got, expected, "flip {flip} chain {chain:?} angle {angle}");
                        assert!(map.is_identity());
                        cases += 1;
                    }
                }
            }
        }
        assert_eq!(cases, 2 * 7 * 4 * 5);
    }

    #[test]
    fn apply_equals_the_kernels_and_resets() {
        let mut expected = varied();
        hflip(&mut expected);
        adjust_brightness(&mut expected, 1.3);
        adjust_contrast(&mut expected, 0.7);

        let source = varied();
        let mut img = Cow::Borrowed(&source);
        let mut map = PointMap::new();
        map.flip_x();
        map.then_color_op(&mut img, ColorOp::Brightness, 1.3);
        map.then_color_op(&mut img, ColorOp::Contrast, 0.7);
        assert!(!map.is_identity());
        map.apply(&mut img);
        assert_eq!(*img, expected);
        assert_eq!(source, varied(), "the borrowed source is not written");
        assert!(map.is_identity());
        // Two flips cancel; an identity map changes nothing and copies nothing.
        let mut twice = PointMap::new();
        twice.flip_x();
        twice.flip_x();
        assert!(twice.is_identity());
        let mut same = Cow::Borrowed(&source);
        twice.apply(&mut same);
        assert!(matches!(same, Cow::Borrowed(_)));
        assert_eq!(*same, varied());
    }
}
