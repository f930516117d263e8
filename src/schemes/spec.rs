//! Scheme declarations: a scheme is a list of image ops and caption ops, plus optional
//! masked-LM pseudo labels. Every built-in scheme is declared here as such a list.
//!
//! A leaf of the crate's module graph: `config` and the scheme runner both build on it,
//! and it imports neither.
//!
//! The three schemes of the original comparison (`aligned`, `cross_modal`,
//! `pseudo_label`) are op lists too, parameterized by their `[aligned]`-style config
//! sections, which stay the way to configure them (and what the config hash covers); they
//! can also be redeclared as `[scheme.aligned]` like any other scheme.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::error::{non_negative, probability, InvalidConfig, OpError, OpList, SchemeError};
use super::ops::{DeleteWords, FlipCaptions, ImageOp, ReplaceWord, Synonym, TextOp};
use super::ops::{Hedge, OneOf, Reorder};
use crate::kernels::tokens::MlmParams;

/// Every built-in scheme name: the original three, then the consistent ones.
pub const BUILTIN_SCHEMES: &[&str] = &[
    "aligned",
    "cross_modal",
    "pseudo_label",
    "consistent",
    "light",
    "sync",
    "mixgen",
];

/// A scheme declared as `[scheme.NAME]` in the config: image ops, text ops and optional
/// masked-LM pseudo labels.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemeSpec {
    pub image: Vec<ImageOp>,
    pub text: Vec<TextOp>,
    pub mlm: Option<PseudoLabelConfig>,
}

/// Where a bad op is: `(list, index)`, or `None` for the whole scheme.
pub type OpLocation = Option<(OpList, usize)>;

impl SchemeSpec {
    fn new(image: Vec<ImageOp>, text: Vec<TextOp>) -> SchemeSpec {
        SchemeSpec {
            image,
            text,
            mlm: None,
        }
    }

    /// Check every op; the error says which op is wrong.
    pub fn validate(&self) -> Result<(), SchemeError> {
        let mut seen = HashSet::new();
        for (index, o) in self.image.iter().enumerate() {
            let (list, op) = (OpList::Image, o.name());
            o.validate().map_err(|source| SchemeError::BadOp {
                list,
                index,
                op,
                source,
            })?;
            if !seen.insert(op) {
                return Err(SchemeError::Twice { list, index, op });
            }
        }
        let mut seen = HashSet::new();
        for (index, o) in self.text.iter().enumerate() {
            let list = OpList::Text;
            o.validate().map_err(|source| SchemeError::BadOp {
                list,
                index,
                op: o.name(),
                source,
            })?;
            // Each op records its own columns, so one op may appear once (incl. in one_of).
            for op in o.names() {
                if !seen.insert(op) {
                    return Err(SchemeError::Twice { list, index, op });
                }
            }
        }
        if let Some(m) = &self.mlm {
            m.validate().map_err(SchemeError::Mlm)?;
        }
        Ok(())
    }
}

/// The `[aligned]` section: scheme 1 of the original comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlignedConfig {
    pub hflip_prob: f64,
    /// Brightness factor drawn from [max(0, 1 - b), 1 + b].
    pub brightness: f32,
    /// Contrast factor drawn from [max(0, 1 - c), 1 + c].
    pub contrast: f32,
    /// Rotation angle drawn from [-d, d] degrees.
    pub rotate_degrees: f32,
    /// Probability that one word is replaced.
    pub replace_prob: f64,
    pub replace_token: String,
}

impl Default for AlignedConfig {
    fn default() -> Self {
        AlignedConfig {
            hflip_prob: 0.5,
            brightness: 0.2,
            contrast: 0.2,
            rotate_degrees: 15.0,
            replace_prob: 0.3,
            replace_token: "random_word".into(),
        }
    }
}

impl AlignedConfig {
    /// The scheme this section declares: a flip that leaves the caption alone, brightness
    /// and contrast drawn as the original scheme draws them, a rotation, a word replaced.
    pub fn spec(&self) -> SchemeSpec {
        SchemeSpec::new(
            vec![
                ImageOp::Hflip {
                    p: self.hflip_prob,
                    captions: FlipCaptions::Ignore,
                },
                ImageOp::ColorJitter {
                    brightness: self.brightness,
                    contrast: self.contrast,
                    saturation: 0.0,
                    hue: 0.0,
                    keep_named_colours: false,
                },
                ImageOp::Rotate {
                    degrees: self.rotate_degrees,
                },
            ],
            vec![TextOp::ReplaceWord(ReplaceWord {
                p: self.replace_prob,
                token: self.replace_token.clone(),
            })],
        )
    }

    /// Checks the section's values; errors name the field (`aligned.hflip_prob = ...`).
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let section = |source| InvalidConfig::Section {
            section: "aligned",
            source,
        };
        probability("hflip_prob", self.hflip_prob).map_err(section)?;
        probability("replace_prob", self.replace_prob).map_err(section)?;
        for (name, v) in [
            ("brightness", self.brightness),
            ("contrast", self.contrast),
            ("rotate_degrees", self.rotate_degrees),
        ] {
            non_negative(name, f64::from(v)).map_err(section)?;
        }
        Ok(())
    }
}

/// The `[cross_modal]` section: scheme 2 of the original comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CrossModalConfig {
    /// Patch side as a fraction of the shorter image side (floored to whole pixels).
    pub patch_fraction: f64,
    /// Words are deleted only from captions with more than this many words.
    pub delete_above_words: usize,
    /// floor(n / divisor) words are deleted.
    pub delete_divisor: usize,
}

impl Default for CrossModalConfig {
    fn default() -> Self {
        CrossModalConfig {
            patch_fraction: 0.2,
            delete_above_words: 5,
            delete_divisor: 3,
        }
    }
}

impl CrossModalConfig {
    /// The scheme this section declares: an erased patch, words deleted.
    pub fn spec(&self) -> SchemeSpec {
        SchemeSpec::new(
            vec![ImageOp::ErasePatch {
                fraction: self.patch_fraction,
                p: 1.0,
            }],
            vec![TextOp::DeleteWords(DeleteWords {
                above: self.delete_above_words,
                divisor: self.delete_divisor,
            })],
        )
    }

    /// Checks the section's values; errors name the field.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let section = |source| InvalidConfig::Section {
            section: "cross_modal",
            source,
        };
        probability("patch_fraction", self.patch_fraction).map_err(section)?;
        if self.delete_divisor == 0 {
            return Err(section(OpError::Op("delete_divisor must be at least 1")));
        }
        Ok(())
    }
}

/// The `[pseudo_label]` section (scheme 3 of the original comparison), and the `mlm`
/// table of a declared scheme: BERT masked-LM pseudo labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PseudoLabelConfig {
    pub select_prob: f64,
    pub mask_prob: f64,
    pub random_prob: f64,
}

impl Default for PseudoLabelConfig {
    fn default() -> Self {
        PseudoLabelConfig {
            select_prob: 0.15,
            mask_prob: 0.8,
            random_prob: 0.1,
        }
    }
}

impl PseudoLabelConfig {
    /// The scheme this section declares: no image or caption op, MLM labels only.
    pub fn spec(&self) -> SchemeSpec {
        SchemeSpec {
            mlm: Some(self.clone()),
            ..SchemeSpec::default()
        }
    }

    pub fn params(&self) -> MlmParams {
        MlmParams {
            select_prob: self.select_prob,
            mask_prob: self.mask_prob,
            random_prob: self.random_prob,
        }
    }

    /// Check the probabilities (errors name the field).
    pub fn validate(&self) -> Result<(), OpError> {
        probability("select_prob", self.select_prob)?;
        probability("mask_prob", self.mask_prob)?;
        probability("random_prob", self.random_prob)?;
        if self.mask_prob + self.random_prob > 1.0 {
            return Err(OpError::Op("mask_prob + random_prob must not exceed 1"));
        }
        Ok(())
    }
}

/// The built-in schemes that are declared like user schemes in the config's `scheme`
/// table (and can be redeclared there): `consistent`, `light`, `sync` and `mixgen`.
pub fn builtin_specs() -> BTreeMap<String, SchemeSpec> {
    let mut m = BTreeMap::new();
    // Flip with mirrored captions, mild photometric and geometric changes, and synonyms:
    // what `aligned` meant to do, without breaking the pairing.
    m.insert(
        "consistent".to_string(),
        SchemeSpec::new(
            vec![
                ImageOp::Hflip {
                    p: 0.5,
                    captions: FlipCaptions::Swap,
                },
                ImageOp::ColorJitter {
                    brightness: 0.2,
                    contrast: 0.2,
                    saturation: 0.0,
                    hue: 0.0,
                    keep_named_colours: true,
                },
                ImageOp::Rotate { degrees: 10.0 },
            ],
            vec![TextOp::Synonym(Synonym {
                p: 0.5,
                max_words: 1,
                also_edit: vec![],
            })],
        ),
    );
    // The reviewers' light defaults: a mild crop and colour jitter; a synonym or a
    // reordering.
    m.insert(
        "light".to_string(),
        SchemeSpec::new(
            vec![
                ImageOp::RandomResizedCrop {
                    scale: [0.8, 1.0],
                    ratio: [3.0 / 4.0, 4.0 / 3.0],
                },
                ImageOp::ColorJitter {
                    brightness: 0.1,
                    contrast: 0.1,
                    saturation: 0.1,
                    hue: 0.02,
                    keep_named_colours: true,
                },
            ],
            vec![TextOp::OneOf(OneOf {
                ops: vec![
                    TextOp::Synonym(Synonym {
                        p: 1.0,
                        max_words: 1,
                        also_edit: vec![],
                    }),
                    TextOp::Reorder(Reorder { p: 1.0 }),
                ],
            })],
        ),
    );
    // Degrade the image and say so in the caption.
    m.insert(
        "sync".to_string(),
        SchemeSpec::new(
            vec![
                ImageOp::GaussianBlur {
                    sigma: [1.0, 2.0],
                    kernel_size: 0,
                    p: 0.5,
                },
                ImageOp::ErasePatch {
                    fraction: 0.3,
                    p: 0.5,
                },
            ],
            vec![TextOp::Hedge(Hedge {
                blur_phrases: vec![],
                occlusion_phrases: vec![],
            })],
        ),
    );
    m.insert(
        "mixgen".to_string(),
        SchemeSpec::new(vec![ImageOp::Mixgen { lambda: 0.5 }], vec![]),
    );
    m
}
