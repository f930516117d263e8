//! The sampled parameters of one output row; each field is one `aug_<field>` lineage column.
//!
//! [`AugParams`] is flat on purpose: it maps one to one onto the lineage columns through
//! serde. Each op declares its columns' names, types and meanings next to its code (see
//! [`PARAM_COLUMNS`](super::PARAM_COLUMNS)); adding a parameter is adding a field here.

use serde::{Deserialize, Serialize};

use crate::kernels::image::ColorOp;

/// Order in which colour jitter applied its factors, written to `aug_jitter_order` as
/// e.g. `"contrast,brightness"` (torchvision draws a fresh permutation for every image).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitterOrder(pub Vec<ColorOp>);

impl JitterOrder {
    pub fn as_string(&self) -> String {
        let names: Vec<&str> = self.0.iter().map(|c| c.name()).collect();
        names.join(",")
    }

    pub fn parse(s: &str) -> Option<JitterOrder> {
        s.split(',')
            .map(|name| name.parse().ok())
            .collect::<Option<Vec<_>>>()
            .map(JitterOrder)
    }
}

impl Serialize for JitterOrder {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_string())
    }
}

impl<'de> Deserialize<'de> for JitterOrder {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        JitterOrder::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("bad jitter order `{s}`")))
    }
}

/// The erased square, in pixels of the output image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erase {
    pub x: i32,
    pub y: i32,
    pub size: i32,
}

/// The crop of a random resized crop, in pixels of the decoded source image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crop {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
}

/// Everything a scheme sampled for one row; `None` where the scheme does not sample it.
/// Word indices refer to the caption's words as the op received them (after the ops
/// before it), segmented as `aug_segmentation` says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AugParams {
    // Geometry and colour.
    pub hflip: Option<bool>,
    /// The flip was not done because the caption has spatial words (policy `skip`).
    pub hflip_skipped: Option<bool>,
    /// Word indices whose spatial meaning was mirrored (left <-> right) by the flip.
    pub hflip_caption_swaps: Option<Vec<i32>>,
    pub crop_x: Option<i32>,
    pub crop_y: Option<i32>,
    pub crop_width: Option<i32>,
    pub crop_height: Option<i32>,
    pub brightness: Option<f32>,
    pub contrast: Option<f32>,
    pub saturation: Option<f32>,
    pub hue: Option<f32>,
    /// The hue was left alone because the caption names a colour.
    pub hue_skipped: Option<bool>,
    pub jitter_order: Option<JitterOrder>,
    pub rotate_deg: Option<f32>,
    pub blur_sigma: Option<f32>,
    pub blur_kernel: Option<i32>,
    pub erase_x: Option<i32>,
    pub erase_y: Option<i32>,
    pub erase_size: Option<i32>,
    /// MixGen: the source row blended in, and the weight of this row's image.
    pub mix_partner_row: Option<i64>,
    pub mix_lambda: Option<f32>,
    // Caption.
    /// How captions were split into words: `whitespace` or `jieba`.
    pub segmentation: Option<String>,
    /// Word indices replaced by the replacement token (`aligned`).
    pub words_replaced: Option<Vec<i32>>,
    /// Word indices deleted (`cross_modal`).
    pub words_deleted: Option<Vec<i32>>,
    pub synonym_words: Option<Vec<i32>>,
    pub synonym_replacements: Option<Vec<String>>,
    /// Word indices swapped, as pairs (i0, j0, i1, j1, ...).
    pub swap_pairs: Option<Vec<i32>>,
    /// Positions (in the caption after each insertion) and the inserted words.
    pub insert_positions: Option<Vec<i32>>,
    pub insert_words: Option<Vec<String>>,
    /// Word indices removed by EDA random deletion.
    pub random_deleted: Option<Vec<i32>>,
    /// Reordering: words start..split and split..end traded places, as [start, split, end]
    /// (empty when the caption had no safe swap).
    pub reorder_spans: Option<Vec<i32>>,
    /// The hedge phrase template inserted (`{}` stands for the caption).
    pub hedge: Option<String>,
    /// Typo noise: `[word, char]` pairs, characters char and char+1 of the word swapped.
    pub char_swaps: Option<Vec<i32>>,
}

impl AugParams {
    pub fn erase(&self) -> Option<Erase> {
        Some(Erase {
            x: self.erase_x?,
            y: self.erase_y?,
            size: self.erase_size?,
        })
    }

    pub fn set_erase(&mut self, e: Erase) {
        self.erase_x = Some(e.x);
        self.erase_y = Some(e.y);
        self.erase_size = Some(e.size);
    }

    pub fn crop(&self) -> Option<Crop> {
        Some(Crop {
            x: self.crop_x?,
            y: self.crop_y?,
            width: self.crop_width?,
            height: self.crop_height?,
        })
    }

    pub fn set_crop(&mut self, c: Crop) {
        self.crop_x = Some(c.x);
        self.crop_y = Some(c.y);
        self.crop_width = Some(c.width);
        self.crop_height = Some(c.height);
    }
}

/// The Arrow type of a parameter column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Bool,
    Int32,
    Int64,
    Float32,
    Utf8,
    ListInt32,
    ListUtf8,
}
