//! MixGen's image blend (Hao et al., "MixGen: A New Multi-Modal Data Augmentation",
//! 2023): two images of a batch are mixed pixel-wise, `lambda * a + (1 - lambda) * b`,
//! and their captions concatenated (captions are not handled here).
//!
//! The reference implementation mixes normalised float tensors and never rounds; on
//! 8-bit images lakeaug rounds to nearest with halves up:
//!
//! ```text
//! out = floor(lambda * a + (1 - lambda) * b + 1/2)      (exact arithmetic)
//! ```
//!
//! with `lambda` the exact value of the given `f32`. The `f64` evaluation below gives
//! exactly this for every `f32` `lambda` in `[0, 1]`: for `lambda >= 2^-20` no step
//! rounds (`lambda * a` has at most 24 + 8 significant bits, `1 - lambda` and the sum fit
//! in 53); a smaller `lambda` keeps the value within `2^-12` of the integer `b`, far
//! from a rounding boundary. The fixtures in
//! `tests/fixtures/torchvision` (`mixgen_*`) are computed with Python fractions.

use image::RgbImage;

use super::ImageOpError;

/// MixGen blend of two same-size images: `round_half_up(lambda * a + (1 - lambda) * b)`
/// per channel value (see the module docs). `lambda = 1` gives `a`, `0` gives `b`.
///
/// Errors when the sizes differ or `lambda` is not in `[0, 1]` (NaN included).
pub fn mixgen_blend(a: &RgbImage, b: &RgbImage, lambda: f32) -> Result<RgbImage, ImageOpError> {
    if a.dimensions() != b.dimensions() {
        return Err(ImageOpError::SizeMismatch {
            first: a.dimensions(),
            second: b.dimensions(),
        });
    }
    if !(0.0..=1.0).contains(&lambda) {
        return Err(ImageOpError::InvalidParameter(format!(
            "MixGen lambda must be in [0, 1], got {lambda}"
        )));
    }
    let l = lambda as f64;
    let m = 1.0 - l;
    let mut out = a.clone();
    for (o, &vb) in out.iter_mut().zip(b.iter()) {
        // In [0, 255.5]: the cast truncates the floor of a non-negative value.
        *o = (l * *o as f64 + m * vb as f64 + 0.5) as u8;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(data: Vec<u8>) -> RgbImage {
        RgbImage::from_raw(data.len() as u32 / 3, 1, data).unwrap()
    }

    #[test]
    fn hand_computed_values() {
        let a = img(vec![0, 255, 100, 1, 2, 200]);
        let b = img(vec![255, 0, 101, 2, 2, 0]);
        // lambda 0.5: 127.5 -> 128, 127.5 -> 128, 100.5 -> 101, 1.5 -> 2, 2, 100
        assert_eq!(
            mixgen_blend(&a, &b, 0.5).unwrap().as_raw(),
            &[128, 128, 101, 2, 2, 100]
        );
        // lambda 0.25 (exact in binary): 0.25*0 + 0.75*255 = 191.25 -> 191;
        // 63.75 -> 64; 25 + 75.75 = 100.75 -> 101; 0.25 + 1.5 = 1.75 -> 2; 2; 50
        assert_eq!(
            mixgen_blend(&a, &b, 0.25).unwrap().as_raw(),
            &[191, 64, 101, 2, 2, 50]
        );
    }

    /// Every byte value against a falling and a rising ramp.
    fn ramps() -> (RgbImage, RgbImage) {
        let a = img((0..=255).chain(0..=255).chain(0..=255).collect());
        let b = img((0..=255)
            .rev()
            .chain(0..=255)
            .chain((0..=255).rev())
            .collect());
        (a, b)
    }

    #[test]
    fn lambda_one_is_a_and_zero_is_b() {
        let (a, b) = ramps();
        assert_eq!(mixgen_blend(&a, &b, 1.0).unwrap(), a);
        assert_eq!(mixgen_blend(&a, &b, 0.0).unwrap(), b);
    }

    #[test]
    fn symmetric_in_lambda() {
        // blend(a, b, l) == blend(b, a, 1 - l) whenever 1 - l is exact (here 0.375).
        let (a, b) = ramps();
        assert_eq!(
            mixgen_blend(&a, &b, 0.625).unwrap(),
            mixgen_blend(&b, &a, 0.375).unwrap()
        );
    }

    #[test]
    fn size_mismatch_and_bad_lambda_are_errors() {
        let a = RgbImage::new(4, 3);
        let b = RgbImage::new(3, 4);
        assert_eq!(
            mixgen_blend(&a, &b, 0.5),
            Err(ImageOpError::SizeMismatch {
                first: (4, 3),
                second: (3, 4)
            })
        );
        for l in [-0.1, 1.5, f32::NAN] {
            assert!(matches!(
                mixgen_blend(&a, &a, l),
                Err(ImageOpError::InvalidParameter(_))
            ));
        }
    }
}
