//! The built-in schemes, and the `[scheme.NAME]` declaration they share with user schemes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ops::{FlipCaptions, ImageOp, TextOp};
use super::Scheme;
use crate::config::{AlignedConfig, CrossModalConfig, PseudoLabelConfig};
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

/// Where a bad op is: `("image" | "text", index)`, or `None` for the whole scheme.
pub type OpLocation = Option<(&'static str, usize)>;

impl SchemeSpec {
    fn new(image: Vec<ImageOp>, text: Vec<TextOp>) -> SchemeSpec {
        SchemeSpec {
            image,
            text,
            mlm: None,
        }
    }

    /// Check every op; the error says which op is wrong.
    pub fn validate(&self) -> Result<(), (String, OpLocation)> {
        let mut seen = std::collections::HashSet::new();
        for (i, o) in self.image.iter().enumerate() {
            let at = Some(("image", i));
            o.validate()
                .map_err(|e| (format!("image op `{}`: {e}", o.name()), at))?;
            if !seen.insert(o.name()) {
                return Err((format!("image op `{}` is listed twice", o.name()), at));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, o) in self.text.iter().enumerate() {
            let at = Some(("text", i));
            o.validate()
                .map_err(|e| (format!("text op `{}`: {e}", o.name()), at))?;
            // Each op records its own columns, so one op may appear once (incl. in one_of).
            let names: Vec<&str> = match o {
                TextOp::OneOf { ops } => ops.iter().map(TextOp::name).collect(),
                other => vec![other.name()],
            };
            for name in names {
                if !seen.insert(name) {
                    return Err((format!("text op `{name}` is listed twice"), at));
                }
            }
        }
        if let Some(m) = &self.mlm {
            m.validate().map_err(|e| (format!("mlm: {e}"), None))?;
        }
        Ok(())
    }
}

impl PseudoLabelConfig {
    pub fn params(&self) -> MlmParams {
        MlmParams {
            select_prob: self.select_prob,
            mask_prob: self.mask_prob,
            random_prob: self.random_prob,
        }
    }
}

/// Scheme 1 of the original comparison.
pub fn aligned(c: &AlignedConfig) -> Scheme {
    Scheme {
        name: "aligned".into(),
        image_ops: vec![
            ImageOp::Hflip {
                p: c.hflip_prob,
                captions: FlipCaptions::Ignore,
            },
            ImageOp::ColorJitter {
                brightness: c.brightness,
                contrast: c.contrast,
                saturation: 0.0,
                hue: 0.0,
                keep_named_colours: false,
            },
            ImageOp::Rotate {
                degrees: c.rotate_degrees,
            },
        ],
        text_ops: vec![TextOp::ReplaceWord {
            p: c.replace_prob,
            token: c.replace_token.clone(),
        }],
        mlm: None,
    }
}

/// Scheme 2 of the original comparison.
pub fn cross_modal(c: &CrossModalConfig) -> Scheme {
    Scheme {
        name: "cross_modal".into(),
        image_ops: vec![ImageOp::ErasePatch {
            fraction: c.patch_fraction,
            p: 1.0,
        }],
        text_ops: vec![TextOp::DeleteWords {
            above: c.delete_above_words,
            divisor: c.delete_divisor,
        }],
        mlm: None,
    }
}

/// Scheme 3 of the original comparison.
pub fn pseudo_label(c: &PseudoLabelConfig) -> Scheme {
    Scheme {
        name: "pseudo_label".into(),
        image_ops: vec![],
        text_ops: vec![],
        mlm: Some(c.params()),
    }
}

/// The built-in schemes that are declared like user schemes (and can be redeclared in
/// the config): `consistent`, `light`, `sync` and `mixgen`.
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
            vec![TextOp::Synonym {
                p: 0.5,
                max_words: 1,
                also_edit: vec![],
            }],
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
            vec![TextOp::OneOf {
                ops: vec![
                    TextOp::Synonym {
                        p: 1.0,
                        max_words: 1,
                        also_edit: vec![],
                    },
                    TextOp::Reorder { p: 1.0 },
                ],
            }],
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
            vec![TextOp::Hedge {
                blur_phrases: vec![],
                occlusion_phrases: vec![],
            }],
        ),
    );
    m.insert(
        "mixgen".to_string(),
        SchemeSpec::new(vec![ImageOp::Mixgen { lambda: 0.5 }], vec![]),
    );
    m
}
