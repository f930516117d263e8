//! Colour jitter with the four factors of torchvision's `ColorJitter`, applied in a given
//! order.
//!
//! `ColorJitter.forward` draws `torch.randperm(4)` and then applies, in that order,
//! brightness, contrast, saturation and hue — skipping a factor whose range is `None`
//! (configured as 0). The caller samples the order and the factors (e.g. by shuffling
//! [`ColorOp::ALL`] and drawing each factor uniformly, brightness/contrast/saturation in
//! `[max(0, 1 - x), 1 + x]`, hue in `[-x, x]`), records them, and applies them here.

use std::fmt;
use std::str::FromStr;

use image::RgbImage;

use super::{adjust_brightness, adjust_contrast, adjust_hue, adjust_saturation};

/// One of the four ColorJitter adjustments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColorOp {
    /// [`adjust_brightness`]: factor >= 0, 1 = identity.
    Brightness,
    /// [`adjust_contrast`]: factor >= 0, 1 = identity.
    Contrast,
    /// [`adjust_saturation`]: factor >= 0, 1 = identity.
    Saturation,
    /// [`adjust_hue`]: factor in [-0.5, 0.5] (not an identity at 0, see its docs).
    Hue,
}

impl ColorOp {
    /// All four, in torchvision's index order (`randperm` indices 0..4).
    pub const ALL: [ColorOp; 4] = [
        ColorOp::Brightness,
        ColorOp::Contrast,
        ColorOp::Saturation,
        ColorOp::Hue,
    ];

    /// The lower-case name used in lineage (`aug_jitter_order`) and fixtures.
    pub fn name(self) -> &'static str {
        match self {
            ColorOp::Brightness => "brightness",
            ColorOp::Contrast => "contrast",
            ColorOp::Saturation => "saturation",
            ColorOp::Hue => "hue",
        }
    }

    /// Applies this adjustment with `factor`, in place.
    pub fn apply(self, img: &mut RgbImage, factor: f32) {
        match self {
            ColorOp::Brightness => adjust_brightness(img, factor),
            ColorOp::Contrast => adjust_contrast(img, factor),
            ColorOp::Saturation => adjust_saturation(img, factor),
            ColorOp::Hue => adjust_hue(img, factor),
        }
    }
}

impl fmt::Display for ColorOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not one of `brightness`, `contrast`, `saturation`, `hue`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown colour operation {0:?} (expected brightness, contrast, saturation or hue)")]
pub struct UnknownColorOp(pub String);

impl FromStr for ColorOp {
    type Err = UnknownColorOp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ColorOp::ALL
            .into_iter()
            .find(|op| op.name() == s)
            .ok_or_else(|| UnknownColorOp(s.to_string()))
    }
}

/// Applies `(op, factor)` steps in the given order, in place (ColorJitter with that
/// permutation and those factors).
pub fn apply_color_ops(img: &mut RgbImage, ops: &[(ColorOp, f32)]) {
    for &(op, factor) in ops {
        op.apply(img, factor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for op in ColorOp::ALL {
            assert_eq!(op.name().parse::<ColorOp>(), Ok(op));
            assert_eq!(op.to_string(), op.name());
        }
        assert_eq!(
            "Hue".parse::<ColorOp>(),
            Err(UnknownColorOp("Hue".to_string()))
        );
    }

    #[test]
    fn order_matters_and_is_followed() {
        // One pixel (200, 100, 0); expected values from torchvision 0.29.2 on PIL.
        // Brightness 0.5 and contrast 0 commute here (both orders give grey 59) ...
        let px = || RgbImage::from_raw(1, 1, vec![200, 100, 0]).unwrap();
        let mut a = px();
        apply_color_ops(
            &mut a,
            &[(ColorOp::Brightness, 0.5), (ColorOp::Contrast, 0.0)],
        );
        assert_eq!(a.as_raw(), &[59, 59, 59]);
        let mut b = px();
        apply_color_ops(
            &mut b,
            &[(ColorOp::Contrast, 0.0), (ColorOp::Brightness, 0.5)],
        );
        assert_eq!(b.as_raw(), &[59, 59, 59]);
        // ... brightness 1.5 and saturation 2 do not, because of clipping.
        // b then s: (255, 150, 0), luma 164: 164 + 2*91 -> 255, 164 - 28 = 136, -> 0.
        let mut c = px();
        apply_color_ops(
            &mut c,
            &[(ColorOp::Brightness, 1.5), (ColorOp::Saturation, 2.0)],
        );
        assert_eq!(c.as_raw(), &[255, 136, 0]);
        // s then b: luma 118: 282 -> 255, 82, -> 0; then 1.5 x: 255, 123, 0.
        let mut d = px();
        apply_color_ops(
            &mut d,
            &[(ColorOp::Saturation, 2.0), (ColorOp::Brightness, 1.5)],
        );
        assert_eq!(d.as_raw(), &[255, 123, 0]);
    }

    #[test]
    fn empty_list_is_identity() {
        let mut im = RgbImage::from_raw(1, 1, vec![1, 2, 3]).unwrap();
        apply_color_ops(&mut im, &[]);
        assert_eq!(im.as_raw(), &[1, 2, 3]);
    }
}
