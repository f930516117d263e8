//! The operations a scheme is made of, as declared in the TOML config:
//!
//! ```toml
//! [scheme.my_scheme]
//! image = [
//!   { op = "hflip", p = 0.5, captions = "swap" },
//!   { op = "color_jitter", brightness = 0.2, contrast = 0.2 },
//! ]
//! text = [{ op = "synonym", max_words = 1, p = 0.5 }]
//! ```
//!
//! Each variant holds its sampling distribution; what one row drew is recorded in
//! [`AugParams`](super::AugParams). [`OP_DOCS`] documents every op for `lakeaug schemes`.

use serde::{Deserialize, Serialize};

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

fn one() -> f64 {
    1.0
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

/// A protected word class that an op may be allowed to edit (`also_edit = [...]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordClass {
    StopWords,
    Numbers,
    ColourWords,
    SpatialWords,
}

/// The word classes an op edits besides content words.
pub fn editable(also_edit: &[WordClass]) -> crate::kernels::text::EditableWords {
    crate::kernels::text::EditableWords {
        stop_words: also_edit.contains(&WordClass::StopWords),
        numbers: also_edit.contains(&WordClass::Numbers),
        colour_words: also_edit.contains(&WordClass::ColourWords),
        spatial_words: also_edit.contains(&WordClass::SpatialWords),
    }
}

/// One caption operation with its sampling distribution. Ops run in the order listed,
/// each on the caption the previous one produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum TextOp {
    /// With probability `p`, one uniformly chosen word becomes `token` (`aligned`).
    ReplaceWord { p: f64, token: String },
    /// If the caption has more than `above` words, floor(n / divisor) distinct words are
    /// deleted (`cross_modal`).
    DeleteWords { above: usize, divisor: usize },
    /// With probability `p`, up to `max_words` content words become a synonym.
    Synonym {
        #[serde(default = "one")]
        p: f64,
        max_words: usize,
        /// Protected word classes this op may edit anyway.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also_edit: Vec<WordClass>,
    },
    /// EDA random swap: `n` times, two random words trade places (with probability `p`).
    RandomSwap {
        #[serde(default = "one")]
        p: f64,
        n: usize,
        /// Protected word classes this op may edit anyway.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also_edit: Vec<WordClass>,
    },
    /// EDA random insertion: `n` times, a synonym of a random content word is inserted at
    /// a random position (with probability `p`).
    RandomInsert {
        #[serde(default = "one")]
        p: f64,
        n: usize,
        /// Protected word classes this op may edit anyway.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also_edit: Vec<WordClass>,
    },
    /// EDA random deletion: each content word is deleted with probability `p`; never all.
    RandomDelete {
        p: f64,
        /// Protected word classes this op may edit anyway.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also_edit: Vec<WordClass>,
    },
    /// With probability `p`, two adjacent prepositional phrases trade places where that
    /// keeps the caption grammatical.
    Reorder {
        #[serde(default = "one")]
        p: f64,
    },
    /// A hedge matching the image's degradation: a blur phrase if the image was blurred,
    /// else an occlusion phrase if a patch was erased; `{}` stands for the caption.
    Hedge {
        #[serde(default)]
        blur_phrases: Vec<String>,
        #[serde(default)]
        occlusion_phrases: Vec<String>,
    },
    /// One of `ops`, chosen uniformly (like albumentations' `OneOf`).
    OneOf { ops: Vec<TextOp> },
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
    pub fn validate(&self) -> Result<(), String> {
        match self {
            ImageOp::Hflip { p, .. } => prob("p", *p),
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
                    return Err(format!("hue = {hue} must be between 0 and 0.5"));
                }
                Ok(())
            }
            ImageOp::Rotate { degrees } => non_negative("degrees", f64::from(*degrees)),
            ImageOp::RandomResizedCrop { scale, ratio } => {
                if !(scale[0] > 0.0 && scale[0] <= scale[1] && scale[1] <= 1.0) {
                    return Err(format!(
                        "scale = {scale:?} must satisfy 0 < min <= max <= 1"
                    ));
                }
                if !(ratio[0] > 0.0 && ratio[0] <= ratio[1] && ratio[1].is_finite()) {
                    return Err(format!("ratio = {ratio:?} must satisfy 0 < min <= max"));
                }
                Ok(())
            }
            ImageOp::GaussianBlur {
                sigma,
                kernel_size,
                p,
            } => {
                prob("p", *p)?;
                if !(sigma[0] > 0.0 && sigma[0] <= sigma[1] && sigma[1] <= 50.0) {
                    return Err(format!(
                        "sigma = {sigma:?} must satisfy 0 < min <= max <= 50"
                    ));
                }
                if *kernel_size != 0 && kernel_size % 2 == 0 {
                    return Err(format!(
                        "kernel_size = {kernel_size} must be odd (or 0 to derive it from sigma)"
                    ));
                }
                Ok(())
            }
            ImageOp::ErasePatch { fraction, p } => {
                prob("p", *p)?;
                prob("fraction", *fraction)
            }
            ImageOp::Mixgen { lambda } => prob("lambda", f64::from(*lambda)),
        }
    }
}

impl TextOp {
    pub fn name(&self) -> &'static str {
        match self {
            TextOp::ReplaceWord { .. } => "replace_word",
            TextOp::DeleteWords { .. } => "delete_words",
            TextOp::Synonym { .. } => "synonym",
            TextOp::RandomSwap { .. } => "random_swap",
            TextOp::RandomInsert { .. } => "random_insert",
            TextOp::RandomDelete { .. } => "random_delete",
            TextOp::Reorder { .. } => "reorder",
            TextOp::Hedge { .. } => "hedge",
            TextOp::OneOf { .. } => "one_of",
        }
    }

    /// Check parameter values that serde cannot.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            TextOp::ReplaceWord { p, token } => {
                prob("p", *p)?;
                if token.trim().is_empty() || token.split_whitespace().count() != 1 {
                    return Err(format!("token = {token:?} must be one word"));
                }
                Ok(())
            }
            TextOp::DeleteWords { divisor, .. } => {
                if *divisor == 0 {
                    return Err("divisor must be at least 1".into());
                }
                Ok(())
            }
            TextOp::Synonym { p, .. }
            | TextOp::RandomSwap { p, .. }
            | TextOp::RandomInsert { p, .. }
            | TextOp::RandomDelete { p, .. }
            | TextOp::Reorder { p } => prob("p", *p),
            TextOp::Hedge {
                blur_phrases,
                occlusion_phrases,
            } => {
                // An empty list means the built-in phrases.
                for phrases in [blur_phrases, occlusion_phrases] {
                    if !phrases.is_empty() {
                        crate::kernels::text::hedge::check_hedge_templates(phrases)
                            .map_err(|e| e.to_string())?;
                    }
                }
                Ok(())
            }
            TextOp::OneOf { ops } => {
                if ops.is_empty() {
                    return Err("one_of needs at least one op".into());
                }
                for op in ops {
                    if let TextOp::OneOf { .. } = op {
                        return Err("one_of cannot contain another one_of".into());
                    }
                    op.validate().map_err(|e| format!("{}: {e}", op.name()))?;
                }
                Ok(())
            }
        }
    }
}

fn prob(name: &str, p: f64) -> Result<(), String> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(format!("{name} = {p} must be between 0 and 1"))
    }
}

fn non_negative(name: &str, v: f64) -> Result<(), String> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(format!("{name} = {v} must be a finite number >= 0"))
    }
}

/// Documentation of one op for `lakeaug schemes`.
pub struct OpDoc {
    pub name: &'static str,
    pub kind: &'static str,
    /// `(parameter, default, meaning)`.
    pub params: &'static [(&'static str, &'static str, &'static str)],
    pub meaning: &'static str,
    pub columns: &'static str,
}

const ALSO_EDIT: (&str, &str, &str) = (
    "also_edit",
    "[]",
    "protected classes to edit anyway: stop_words, numbers, colour_words, spatial_words",
);

/// Every op a scheme can use.
pub const OP_DOCS: &[OpDoc] = &[
    OpDoc {
        name: "hflip",
        kind: "image",
        params: &[
            ("p", "0.5", "probability of flipping"),
            ("captions", "\"swap\"", "swap: mirror left/right words; skip: do not flip captions with spatial words; ignore"),
        ],
        meaning: "horizontal flip (torchvision RandomHorizontalFlip), with the caption kept true to the image",
        columns: "aug_hflip, aug_hflip_skipped, aug_hflip_caption_swaps",
    },
    OpDoc {
        name: "color_jitter",
        kind: "image",
        params: &[
            ("brightness", "0", "factor uniform in [max(0,1-x), 1+x]; 0 = off"),
            ("contrast", "0", "factor uniform in [max(0,1-x), 1+x]; 0 = off"),
            ("saturation", "0", "factor uniform in [max(0,1-x), 1+x]; 0 = off"),
            ("hue", "0", "shift uniform in [-h, h] of a turn, h <= 0.5; 0 = off"),
            ("keep_named_colours", "true", "no hue shift when the caption names a colour"),
        ],
        meaning: "torchvision ColorJitter on PIL images, in a random order drawn per row",
        columns: "aug_brightness, aug_contrast, aug_saturation, aug_hue, aug_hue_skipped, aug_jitter_order",
    },
    OpDoc {
        name: "rotate",
        kind: "image",
        params: &[("degrees", "(required)", "angle uniform in [-d, d], counter-clockwise")],
        meaning: "torchvision RandomRotation: nearest, same size, fill 0",
        columns: "aug_rotate_deg",
    },
    OpDoc {
        name: "random_resized_crop",
        kind: "image",
        params: &[
            ("scale", "[0.08, 1.0]", "crop area as a fraction of the source image"),
            ("ratio", "[0.75, 1.333]", "crop aspect ratio, log-uniform"),
        ],
        meaning: "torchvision RandomResizedCrop, cropped from the decoded source image and resized to the output size",
        columns: "aug_crop_x, aug_crop_y, aug_crop_width, aug_crop_height (source pixels)",
    },
    OpDoc {
        name: "gaussian_blur",
        kind: "image",
        params: &[
            ("sigma", "[0.1, 2.0]", "sigma uniform in this range, pixels"),
            ("kernel_size", "0", "odd kernel size; 0 derives it from sigma"),
            ("p", "1.0", "probability of blurring"),
        ],
        meaning: "torchvision GaussianBlur",
        columns: "aug_blur_sigma, aug_blur_kernel",
    },
    OpDoc {
        name: "erase_patch",
        kind: "image",
        params: &[
            ("fraction", "(required)", "square side as a fraction of the shorter side"),
            ("p", "1.0", "probability of erasing"),
        ],
        meaning: "a square set to 0 at a uniform position inside the image",
        columns: "aug_erase_x, aug_erase_y, aug_erase_size",
    },
    OpDoc {
        name: "mixgen",
        kind: "image",
        params: &[("lambda", "0.5", "weight of this row's image")],
        meaning: "MixGen: rows 2k and 2k+1 of a file are paired; the image becomes lambda*own + (1-lambda)*partner and the partner's caption is appended (the last row of a file with an odd row count is left unmixed)",
        columns: "aug_mix_partner_row, aug_mix_lambda",
    },
    OpDoc {
        name: "replace_word",
        kind: "text",
        params: &[
            ("p", "(required)", "probability that one word is replaced"),
            ("token", "(required)", "the replacement"),
        ],
        meaning: "one uniformly chosen whitespace word becomes `token`",
        columns: "aug_words_replaced",
    },
    OpDoc {
        name: "delete_words",
        kind: "text",
        params: &[
            ("above", "(required)", "only captions with more words than this"),
            ("divisor", "(required)", "floor(n / divisor) distinct words are deleted"),
        ],
        meaning: "deletes uniformly chosen whitespace words",
        columns: "aug_words_deleted",
    },
    OpDoc {
        name: "synonym",
        kind: "text",
        params: &[
            ("p", "1.0", "probability of replacing anything"),
            ("max_words", "(required)", "at most this many content words are replaced"),
            ALSO_EDIT,
        ],
        meaning: "content words (not stop words, numbers, colours or spatial words unless also_edit says so) become a synonym from the dictionary ([text] synonyms), keeping their case and punctuation",
        columns: "aug_synonym_words, aug_synonym_replacements",
    },
    OpDoc {
        name: "random_swap",
        kind: "text",
        params: &[("p", "1.0", "probability"), ("n", "(required)", "number of swaps"), ALSO_EDIT],
        meaning: "EDA random swap: two random words trade places, n times",
        columns: "aug_swap_pairs",
    },
    OpDoc {
        name: "random_insert",
        kind: "text",
        params: &[("p", "1.0", "probability"), ("n", "(required)", "number of insertions"), ALSO_EDIT],
        meaning: "EDA random insertion: a synonym of a random content word inserted at a random position",
        columns: "aug_insert_positions, aug_insert_words",
    },
    OpDoc {
        name: "random_delete",
        kind: "text",
        params: &[("p", "(required)", "probability of deleting each content word"), ALSO_EDIT],
        meaning: "EDA random deletion, stop words kept; never deletes every word",
        columns: "aug_random_deleted",
    },
    OpDoc {
        name: "reorder",
        kind: "text",
        params: &[("p", "1.0", "probability")],
        meaning: "two adjacent prepositional phrases trade places (\"a dog on a sofa next to a lamp\" -> \"a dog next to a lamp on a sofa\"); captions without a safe swap are kept",
        columns: "aug_reorder_spans",
    },
    OpDoc {
        name: "hedge",
        kind: "text",
        params: &[
            ("blur_phrases", "built-in list", "templates for blurred images, `{}` = caption"),
            ("occlusion_phrases", "built-in list", "templates for images with an erased patch"),
        ],
        meaning: "inserts a hedge matching what the image ops did (after gaussian_blur / erase_patch in the same scheme)",
        columns: "aug_hedge",
    },
    OpDoc {
        name: "one_of",
        kind: "text",
        params: &[("ops", "(required)", "a list of text ops")],
        meaning: "runs one of the ops, chosen uniformly",
        columns: "those of the op chosen",
    },
];
