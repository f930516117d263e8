//! The image ops: their parameters and defaults, checks, how each draws its parameters
//! for a row, documentation and the `aug_*` columns they record. They apply in
//! [`Scheme::apply_image`](crate::schemes::Scheme::apply_image), where flips and colour
//! tables are fused across ops.

use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{one, OpDoc, OpHelp, ParamColumn, ParamDoc};
use crate::kernels::image::{self as img, ColorOp};
use crate::schemes::context::TextContext;
use crate::schemes::error::{non_negative, probability, OpError};
use crate::schemes::params::{AugParams, Crop, Erase, JitterOrder, ParamKind};

/// What a horizontal flip does to the caption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlipCaptions {
    /// Mirror spatial words (left <-> right, leftmost <-> rightmost, ...).
    #[default]
    Swap,
    /// Do not flip images whose caption has spatial words.
    Skip,
    /// Flip without touching the caption (what the original `aligned` scheme does).
    Ignore,
}

fn half() -> f64 {
    0.5
}
fn default_scale() -> [f64; 2] {
    [0.08, 1.0]
}
fn default_ratio() -> [f64; 2] {
    [3.0 / 4.0, 4.0 / 3.0]
}
fn default_sigma() -> [f32; 2] {
    [0.1, 2.0]
}
fn default_lambda() -> f32 {
    0.5
}
fn yes() -> bool {
    true
}

/// One image operation with its sampling distribution. Ops run in the order listed,
/// except `random_resized_crop`, which crops the decoded source image before the resize,
/// and `mixgen`, which blends last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ImageOp {
    /// Horizontal flip with probability `p` (torchvision `RandomHorizontalFlip`).
    Hflip {
        #[serde(default = "half")]
        p: f64,
        #[serde(default)]
        captions: FlipCaptions,
    },
    /// torchvision `ColorJitter`: brightness, contrast and saturation factors uniform in
    /// [max(0, 1-x), 1+x], hue uniform in [-h, h], applied in a random order; 0 = off.
    ColorJitter {
        #[serde(default)]
        brightness: f32,
        #[serde(default)]
        contrast: f32,
        #[serde(default)]
        saturation: f32,
        #[serde(default)]
        hue: f32,
        /// Leave the hue alone when the caption names a colour.
        #[serde(default = "yes")]
        keep_named_colours: bool,
    },
    /// Rotation by an angle uniform in [-degrees, degrees] (torchvision `RandomRotation`).
    Rotate { degrees: f32 },
    /// torchvision `RandomResizedCrop` on the source image: area fraction in `scale`,
    /// aspect ratio log-uniform in `ratio`, 10 tries then a centre crop.
    RandomResizedCrop {
        #[serde(default = "default_scale")]
        scale: [f64; 2],
        #[serde(default = "default_ratio")]
        ratio: [f64; 2],
    },
    /// Gaussian blur with probability `p`, sigma uniform in `sigma` (torchvision
    /// `GaussianBlur`); `kernel_size` 0 derives it from sigma.
    GaussianBlur {
        #[serde(default = "default_sigma")]
        sigma: [f32; 2],
        #[serde(default)]
        kernel_size: u32,
        #[serde(default = "one")]
        p: f64,
    },
    /// With probability `p`, a square of side floor(fraction * min(h, w)) set to 0 at a
    /// uniform position inside the image.
    ErasePatch {
        fraction: f64,
        #[serde(default = "one")]
        p: f64,
    },
    /// MixGen: blend with the paired row's image (rows 2k and 2k+1 of a file), weight
    /// `lambda` for this row, and append the partner's caption.
    Mixgen {
        #[serde(default = "default_lambda")]
        lambda: f32,
    },
}

impl ImageOp {
    pub fn name(&self) -> &'static str {
        match self {
            ImageOp::Hflip { .. } => "hflip",
            ImageOp::ColorJitter { .. } => "color_jitter",
            ImageOp::Rotate { .. } => "rotate",
            ImageOp::RandomResizedCrop { .. } => "random_resized_crop",
            ImageOp::GaussianBlur { .. } => "gaussian_blur",
            ImageOp::ErasePatch { .. } => "erase_patch",
            ImageOp::Mixgen { .. } => "mixgen",
        }
    }

    /// Check parameter values that serde cannot.
    pub fn validate(&self) -> Result<(), OpError> {
        match self {
            ImageOp::Hflip { p, .. } => probability("p", *p),
            ImageOp::ColorJitter {
                brightness,
                contrast,
                saturation,
                hue,
                ..
            } => {
                for (name, v) in [
                    ("brightness", brightness),
                    ("contrast", contrast),
                    ("saturation", saturation),
                ] {
                    non_negative(name, f64::from(*v))?;
                }
                if !(0.0..=0.5).contains(hue) {
                    return Err(OpError::Rule {
                        param: "hue",
                        value: hue.to_string(),
                        rule: "be between 0 and 0.5",
                    });
                }
                Ok(())
            }
            ImageOp::Rotate { degrees } => non_negative("degrees", f64::from(*degrees)),
            ImageOp::RandomResizedCrop { scale, ratio } => {
                if !(scale[0] > 0.0 && scale[0] <= scale[1] && scale[1] <= 1.0) {
                    return Err(OpError::rule("scale", scale, "satisfy 0 < min <= max <= 1"));
                }
                if !(ratio[0] > 0.0 && ratio[0] <= ratio[1] && ratio[1].is_finite()) {
                    return Err(OpError::rule("ratio", ratio, "satisfy 0 < min <= max"));
                }
                Ok(())
            }
            ImageOp::GaussianBlur {
                sigma,
                kernel_size,
                p,
            } => {
                probability("p", *p)?;
                if !(sigma[0] > 0.0 && sigma[0] <= sigma[1] && sigma[1] <= 50.0) {
                    return Err(OpError::rule(
                        "sigma",
                        sigma,
                        "satisfy 0 < min <= max <= 50",
                    ));
                }
                if *kernel_size != 0 && kernel_size % 2 == 0 {
                    return Err(OpError::rule(
                        "kernel_size",
                        kernel_size,
                        "be odd (or 0 to derive it from sigma)",
                    ));
                }
                Ok(())
            }
            ImageOp::ErasePatch { fraction, p } => {
                probability("p", *p)?;
                probability("fraction", *fraction)
            }
            ImageOp::Mixgen { lambda } => probability("lambda", f64::from(*lambda)),
        }
    }
}

/// What [`Scheme::sample`](crate::schemes::Scheme::sample) needs to know about a row.
#[derive(Debug, Clone, Copy)]
pub struct RowInput<'a> {
    /// Size of the decoded source image (crops are drawn in its pixels).
    pub source_width: u32,
    pub source_height: u32,
    /// Size of the output image.
    pub width: u32,
    pub height: u32,
    /// The source caption; `None` for a null caption.
    pub caption: Option<&'a str>,
    /// MixGen partner: its source row and source caption, if this row has one.
    pub partner: Option<(i64, Option<&'a str>)>,
}

impl ImageOp {
    /// Draws this op's parameters for one row into `p` (the image stream of the row).
    pub(crate) fn sample(
        &self,
        rng: &mut impl Rng,
        row: &RowInput,
        text: &TextContext,
        p: &mut AugParams,
    ) {
        match *self {
            ImageOp::Hflip { p: prob, captions } => {
                let flip = rng.random_bool(prob);
                let skip = flip
                    && captions == FlipCaptions::Skip
                    && row.caption.is_some_and(|c| text.has_spatial_words(c));
                p.hflip = Some(flip && !skip);
                if captions == FlipCaptions::Skip {
                    p.hflip_skipped = Some(skip);
                }
            }
            ImageOp::ColorJitter {
                brightness,
                contrast,
                saturation,
                hue,
                keep_named_colours,
            } => {
                if saturation == 0.0 && hue == 0.0 {
                    // Brightness and contrast only, drawn exactly as the original `aligned`
                    // scheme does: the order first, then each factor.
                    let order = if rng.random_bool(0.5) {
                        [ColorOp::Brightness, ColorOp::Contrast]
                    } else {
                        [ColorOp::Contrast, ColorOp::Brightness]
                    };
                    p.jitter_order = Some(JitterOrder(order.to_vec()));
                    p.brightness = Some(uniform_factor(rng, brightness));
                    p.contrast = Some(uniform_factor(rng, contrast));
                    return;
                }
                // torchvision: a permutation of the components in use, then each factor.
                let spreads = [brightness, contrast, saturation, hue];
                let mut order: Vec<ColorOp> = ColorOp::ALL
                    .into_iter()
                    .zip(spreads)
                    .filter(|(_, s)| *s > 0.0)
                    .map(|(c, _)| c)
                    .collect();
                order.shuffle(rng);
                p.jitter_order = Some(JitterOrder(order));
                if brightness > 0.0 {
                    p.brightness = Some(uniform_factor(rng, brightness));
                }
                if contrast > 0.0 {
                    p.contrast = Some(uniform_factor(rng, contrast));
                }
                if saturation > 0.0 {
                    p.saturation = Some(uniform_factor(rng, saturation));
                }
                if hue > 0.0 {
                    let h = rng.random_range(-hue..=hue);
                    let named =
                        keep_named_colours && row.caption.is_some_and(|c| text.has_colour_words(c));
                    p.hue = (!named).then_some(h);
                    p.hue_skipped = Some(named);
                }
            }
            ImageOp::Rotate { degrees } => {
                p.rotate_deg = Some(if degrees > 0.0 {
                    rng.random_range(-degrees..=degrees)
                } else {
                    0.0
                })
            }
            ImageOp::RandomResizedCrop { scale, ratio } => {
                let c = img::sample_resized_crop(
                    rng,
                    row.source_width,
                    row.source_height,
                    (scale[0], scale[1]),
                    (ratio[0], ratio[1]),
                );
                p.set_crop(Crop {
                    x: c.x as i32,
                    y: c.y as i32,
                    width: c.width as i32,
                    height: c.height as i32,
                });
            }
            ImageOp::GaussianBlur {
                sigma,
                kernel_size,
                p: prob,
            } => {
                if prob >= 1.0 || rng.random_bool(prob) {
                    let s = if sigma[1] > sigma[0] {
                        rng.random_range(sigma[0]..=sigma[1])
                    } else {
                        sigma[0]
                    };
                    let k = if kernel_size == 0 {
                        img::gaussian_kernel_size(s)
                    } else {
                        kernel_size
                    };
                    p.blur_sigma = Some(s);
                    p.blur_kernel = Some(k as i32);
                }
            }
            ImageOp::ErasePatch { fraction, p: prob } => {
                if prob >= 1.0 || rng.random_bool(prob) {
                    let (width, height) = (row.width, row.height);
                    let size = (fraction * f64::from(width.min(height))).floor() as u32;
                    let size = size.min(width).min(height);
                    let x = rng.random_range(0..=width - size);
                    let y = rng.random_range(0..=height - size);
                    p.set_erase(Erase {
                        x: x as i32,
                        y: y as i32,
                        size: size as i32,
                    });
                }
            }
            ImageOp::Mixgen { lambda } => {
                if let Some((partner_row, _)) = row.partner {
                    p.mix_partner_row = Some(partner_row);
                    p.mix_lambda = Some(lambda);
                }
            }
        }
    }
}

fn uniform_factor(rng: &mut impl Rng, spread: f32) -> f32 {
    let lo = (1.0 - spread).max(0.0);
    let hi = 1.0 + spread;
    if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        1.0
    }
}

const HFLIP_COLUMNS: &[ParamColumn] = &[
    ("hflip", ParamKind::Bool, "image flipped horizontally"),
    (
        "hflip_skipped",
        ParamKind::Bool,
        "flip suppressed: caption has spatial words",
    ),
    (
        "hflip_caption_swaps",
        ParamKind::ListInt32,
        "word indices mirrored left<->right",
    ),
];

const CROP_COLUMNS: &[ParamColumn] = &[
    ("crop_x", ParamKind::Int32, "crop left edge, source pixels"),
    ("crop_y", ParamKind::Int32, "crop top edge, source pixels"),
    ("crop_width", ParamKind::Int32, "crop width, source pixels"),
    (
        "crop_height",
        ParamKind::Int32,
        "crop height, source pixels",
    ),
];

const JITTER_COLUMNS: &[ParamColumn] = &[
    ("brightness", ParamKind::Float32, "brightness factor"),
    ("contrast", ParamKind::Float32, "contrast factor"),
    ("saturation", ParamKind::Float32, "saturation factor"),
    ("hue", ParamKind::Float32, "hue shift, fraction of a turn"),
    (
        "hue_skipped",
        ParamKind::Bool,
        "hue left alone: caption names a colour",
    ),
    (
        "jitter_order",
        ParamKind::Utf8,
        "order of the colour adjustments",
    ),
];

const ROTATE_COLUMNS: &[ParamColumn] = &[(
    "rotate_deg",
    ParamKind::Float32,
    "rotation, degrees counter-clockwise",
)];

const BLUR_COLUMNS: &[ParamColumn] = &[
    (
        "blur_sigma",
        ParamKind::Float32,
        "Gaussian blur sigma, pixels",
    ),
    (
        "blur_kernel",
        ParamKind::Int32,
        "Gaussian blur kernel size, pixels",
    ),
];

const ERASE_COLUMNS: &[ParamColumn] = &[
    ("erase_x", ParamKind::Int32, "erased square left edge"),
    ("erase_y", ParamKind::Int32, "erased square top edge"),
    ("erase_size", ParamKind::Int32, "erased square side"),
];

const MIXGEN_COLUMNS: &[ParamColumn] = &[
    (
        "mix_partner_row",
        ParamKind::Int64,
        "MixGen: source row blended in",
    ),
    (
        "mix_lambda",
        ParamKind::Float32,
        "MixGen: weight of this row's image",
    ),
];

fn doc(
    name: &'static str,
    meaning: &'static str,
    params: Vec<ParamDoc>,
    columns: &'static [ParamColumn],
) -> OpDoc {
    OpDoc {
        name,
        kind: "image",
        help: OpHelp {
            meaning,
            params,
            columns,
        },
    }
}

/// Every image op's documentation, in the order of their lineage columns.
pub(super) fn image_op_docs() -> Vec<OpDoc> {
    vec![
        doc(
            "hflip",
            "horizontal flip (torchvision RandomHorizontalFlip), with the caption kept true to the image",
            vec![
                ParamDoc::default("p", half(), "probability of flipping"),
                ParamDoc::default(
                    "captions",
                    FlipCaptions::default(),
                    "swap: mirror left/right words; skip: do not flip captions with spatial words; ignore",
                ),
            ],
            HFLIP_COLUMNS,
        ),
        doc(
            "random_resized_crop",
            "torchvision RandomResizedCrop, cropped from the decoded source image and resized to the output size",
            vec![
                ParamDoc::default("scale", default_scale(), "crop area as a fraction of the source image"),
                ParamDoc::default("ratio", default_ratio(), "crop aspect ratio, log-uniform"),
            ],
            CROP_COLUMNS,
        ),
        doc(
            "color_jitter",
            "torchvision ColorJitter on PIL images, in a random order drawn per row",
            vec![
                ParamDoc::default("brightness", f32::default(), "factor uniform in [max(0,1-x), 1+x]; 0 = off"),
                ParamDoc::default("contrast", f32::default(), "factor uniform in [max(0,1-x), 1+x]; 0 = off"),
                ParamDoc::default("saturation", f32::default(), "factor uniform in [max(0,1-x), 1+x]; 0 = off"),
                ParamDoc::default("hue", f32::default(), "shift uniform in [-h, h] of a turn, h <= 0.5; 0 = off"),
                ParamDoc::default("keep_named_colours", yes(), "no hue shift when the caption names a colour"),
            ],
            JITTER_COLUMNS,
        ),
        doc(
            "rotate",
            "torchvision RandomRotation: nearest, same size, fill 0",
            vec![ParamDoc::required("degrees", "angle uniform in [-d, d], counter-clockwise")],
            ROTATE_COLUMNS,
        ),
        doc(
            "gaussian_blur",
            "torchvision GaussianBlur",
            vec![
                ParamDoc::default("sigma", default_sigma(), "sigma uniform in this range, pixels"),
                ParamDoc::default("kernel_size", u32::default(), "odd kernel size; 0 derives it from sigma"),
                ParamDoc::default("p", one(), "probability of blurring"),
            ],
            BLUR_COLUMNS,
        ),
        doc(
            "erase_patch",
            "a square set to 0 at a uniform position inside the image",
            vec![
                ParamDoc::required("fraction", "square side as a fraction of the shorter side"),
                ParamDoc::default("p", one(), "probability of erasing"),
            ],
            ERASE_COLUMNS,
        ),
        doc(
            "mixgen",
            "MixGen: rows 2k and 2k+1 of a file are paired; the image becomes lambda*own + (1-lambda)*partner and the partner's caption is appended (the last row of a file with an odd row count is left unmixed)",
            vec![ParamDoc::default("lambda", default_lambda(), "weight of this row's image")],
            MIXGEN_COLUMNS,
        ),
    ]
}
