//! Augmentation schemes: named lists of image and caption operations.
//!
//! A [`Scheme`] is a list of [`ImageOp`]s and [`TextOp`]s (and optionally masked-LM
//! pseudo labels). Running a scheme on a row happens in two steps, which is what makes
//! every output row reproducible:
//!
//! 1. [`Scheme::sample`] draws the row's parameters ([`AugParams`]) from the row's seed
//!    and computes the new caption (caption ops depend on the words they see, so drawing
//!    and editing go together);
//! 2. [`Scheme::apply_image`] applies the recorded image parameters with the kernels.
//!
//! [`Scheme::replay_caption`] recomputes a caption from the source caption and the
//! recorded parameters alone, so any output row can be recomputed from its source and its
//! `aug_*` lineage columns.
//!
//! Built-in schemes: the three of the original comparison (`aligned`, `cross_modal`,
//! `pseudo_label`, unchanged) and four that keep image and caption consistent
//! (`consistent`, `light`, `sync`, `mixgen`), all declared as op lists in [`spec`]. Users
//! declare more in the config.
//!
//! Modules, leaves first (none imports `config` except this file and `describe`):
//! `error` (typed errors), `params` (the lineage record), `context` (the run's text
//! resources), `ops` (one file per caption op, the image ops), `spec` (declarations,
//! including the original schemes' config sections), `caption` (a scheme's caption run),
//! `describe` (`lakeaug schemes`).

mod caption;
mod context;
mod describe;
pub mod error;
mod ops;
mod params;
pub mod spec;

pub use context::TextContext;
pub use describe::op_table_markdown;
pub(crate) use describe::records;
pub use error::{ConfigError, InvalidConfig, OpError, OpList, SchemeError};
pub use ops::{
    editable, inline_toml, op_docs, CaptionOp, FlipCaptions, ImageOp, OpDoc, OpHelp, ParamColumn,
    ParamDoc, RowInput, TextOp, WordClass, PARAM_COLUMNS,
};
pub use ops::{
    DeleteWords, Hedge, OneOf, RandomDelete, RandomInsert, RandomSwap, Reorder, ReplaceWord,
    Synonym,
};
pub use params::{AugParams, Crop, Erase, JitterOrder, ParamKind};
pub use spec::{
    builtin_specs, AlignedConfig, CrossModalConfig, OpLocation, PseudoLabelConfig, SchemeSpec,
    BUILTIN_SCHEMES,
};

use std::borrow::Cow;

use image::RgbImage;

use crate::kernels::image::{self as img, ColorOp};
use crate::kernels::text::ParamsError;
use crate::kernels::tokens::MlmParams;
use crate::rng::{stream_rng, Stream};

/// A named scheme: what it does to images and captions, and whether it adds MLM labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheme {
    pub name: String,
    pub image_ops: Vec<ImageOp>,
    pub text_ops: Vec<TextOp>,
    /// Masked-language-model pseudo labels (`mlm_input_ids`, `mlm_labels`).
    pub mlm: Option<MlmParams>,
}

/// One sampled output row: its parameters and its caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampled {
    pub params: AugParams,
    /// The output caption; `None` for a null source caption.
    pub caption: Option<String>,
}

/// Where scheme declarations come from: the config (`crate::config::Config` implements
/// this). [`Scheme::from_config`] and [`Scheme::named`] read only this, so that the schemes
/// need not know the config type, which is built from them.
pub trait SchemeCatalog {
    /// The names of the schemes selected, in order.
    fn selected(&self) -> &[String];
    /// The declaration of the scheme called `name`, if there is one.
    fn scheme_spec(&self, name: &str) -> Option<SchemeSpec>;
    /// Every scheme name there is a declaration for.
    fn known_schemes(&self) -> Vec<String>;
}

impl<T: SchemeCatalog + ?Sized> SchemeCatalog for &T {
    fn selected(&self) -> &[String] {
        (**self).selected()
    }

    fn scheme_spec(&self, name: &str) -> Option<SchemeSpec> {
        (**self).scheme_spec(name)
    }

    fn known_schemes(&self) -> Vec<String> {
        (**self).known_schemes()
    }
}

impl Scheme {
    /// The schemes a config selects, in its order.
    pub fn from_config<C: SchemeCatalog + ?Sized>(
        config: &C,
    ) -> Result<Vec<Scheme>, InvalidConfig> {
        config
            .selected()
            .iter()
            .map(|name| Scheme::named(config, name))
            .collect()
    }

    /// The scheme called `name` in `config`: declared as `[scheme.NAME]`, one of the
    /// original three configured by its section, or built in.
    pub fn named<C: SchemeCatalog + ?Sized>(
        config: &C,
        name: &str,
    ) -> Result<Scheme, InvalidConfig> {
        let spec = config
            .scheme_spec(name)
            .ok_or_else(|| InvalidConfig::UnknownScheme {
                name: name.to_string(),
                known: config.known_schemes().join(", "),
            })?;
        Ok(Scheme::from_spec(name, &spec))
    }

    /// The scheme a declaration describes.
    pub fn from_spec(name: &str, spec: &SchemeSpec) -> Scheme {
        Scheme {
            name: name.to_string(),
            image_ops: spec.image.clone(),
            text_ops: spec.text.clone(),
            mlm: spec.mlm.as_ref().map(PseudoLabelConfig::params),
        }
    }

    /// Whether a random resized crop takes this scheme's image from the source image.
    pub fn crops_source(&self) -> bool {
        self.image_ops
            .iter()
            .any(|op| matches!(op, ImageOp::RandomResizedCrop { .. }))
    }

    /// Whether this scheme blends paired rows (MixGen).
    pub fn mixes(&self) -> bool {
        self.image_ops
            .iter()
            .any(|op| matches!(op, ImageOp::Mixgen { .. }))
    }

    /// Draw the parameters of one output row and compute its caption.
    pub fn sample(&self, row_seed: u64, row: &RowInput, text: &TextContext) -> Sampled {
        let mut p = AugParams::default();
        let mut rng = stream_rng(row_seed, Stream::Image);
        for op in &self.image_ops {
            op.sample(&mut rng, row, text, &mut p);
        }
        let mut rng = stream_rng(row_seed, Stream::Text);
        let caption = row
            .caption
            .map(|c| caption::run_text(self, c, row.partner, text, &mut rng, &mut p));
        Sampled { params: p, caption }
    }

    /// Recompute the caption of a row from its source caption and recorded parameters.
    pub fn replay_caption(
        &self,
        caption: Option<&str>,
        partner_caption: Option<&str>,
        p: &AugParams,
        text: &TextContext,
    ) -> Result<Option<String>, ParamsError> {
        caption
            .map(|c| caption::replay_text(self, c, partner_caption, p, text))
            .transpose()
    }

    /// Apply recorded image parameters to an image of the output size, in the order of the
    /// scheme's ops (a random resized crop has already happened; MixGen blends with
    /// `partner`, the paired row's resized source image, last). A pure function of its
    /// arguments.
    ///
    /// A borrowed `image` is copied only if an op writes in place; ops that make a new
    /// image (a rotation, a blur) read it where it is, and a row whose ops all drew
    /// identities comes back still borrowed.
    pub fn apply_image<'a>(
        &self,
        image: Cow<'a, RgbImage>,
        p: &AugParams,
        partner: Option<&RgbImage>,
    ) -> Result<Cow<'a, RgbImage>, String> {
        let mut image = image;
        // Flips, brightness and contrast are deferred and applied together with the next
        // rotation (or before any other op): fewer passes, the same bytes.
        let mut pending = img::PointMap::new();
        for op in &self.image_ops {
            match op {
                ImageOp::Hflip { .. } => {
                    if p.hflip == Some(true) {
                        pending.flip_x();
                    }
                }
                ImageOp::ColorJitter { .. } => {
                    for (color_op, factor) in jitter_ops(p) {
                        pending.then_color_op(&mut image, color_op, factor);
                    }
                }
                ImageOp::Rotate { .. } => {
                    if let Some(angle) = p.rotate_deg.filter(|a| *a != 0.0) {
                        image = Cow::Owned(pending.rotate_nearest(&image, angle as f64));
                    }
                }
                ImageOp::RandomResizedCrop { .. } => {}
                ImageOp::GaussianBlur { .. } => {
                    if let (Some(sigma), Some(kernel)) = (p.blur_sigma, p.blur_kernel) {
                        pending.apply(&mut image);
                        image = Cow::Owned(
                            img::gaussian_blur(&image, kernel as u32, sigma)
                                .map_err(|e| format!("gaussian_blur: {e}"))?,
                        );
                    }
                }
                ImageOp::ErasePatch { .. } => {
                    if let Some(e) = p.erase() {
                        // Erasing to black commutes with neither a flip nor a table.
                        pending.apply(&mut image);
                        img::erase(
                            image.to_mut(),
                            e.x.max(0) as u32,
                            e.y.max(0) as u32,
                            e.size.max(0) as u32,
                        );
                    }
                }
                ImageOp::Mixgen { .. } => {
                    if let (Some(lambda), Some(other)) = (p.mix_lambda, partner) {
                        pending.apply(&mut image);
                        image = Cow::Owned(
                            img::mixgen_blend(&image, other, lambda)
                                .map_err(|e| format!("mixgen: {e}"))?,
                        );
                    }
                }
            }
        }
        pending.apply(&mut image);
        Ok(image)
    }

    /// Cut this row's random resized crop out of the decoded source image and resize it
    /// to the output size; `None` if the row has no crop.
    pub fn crop_source(
        &self,
        source: &RgbImage,
        p: &AugParams,
        width: u32,
        height: u32,
    ) -> Result<Option<RgbImage>, String> {
        let Some(c) = p.crop() else {
            return Ok(None);
        };
        let crop = img::CropBox {
            x: c.x.max(0) as u32,
            y: c.y.max(0) as u32,
            width: c.width.max(0) as u32,
            height: c.height.max(0) as u32,
        };
        img::resized_crop(source, crop, width, height)
            .map(Some)
            .map_err(|e| format!("random_resized_crop: {e}"))
    }
}

/// The row's colour adjustments in their recorded order. A hue left alone for a colour
/// word has no factor and is skipped; a drawn hue is applied even if 0 (Pillow's HSV round
/// trip is not the identity, and torchvision applies it whenever hue jitter is on).
fn jitter_ops(p: &AugParams) -> impl Iterator<Item = (ColorOp, f32)> + '_ {
    p.jitter_order
        .iter()
        .flat_map(|order| order.0.iter())
        .filter_map(|&op| {
            let factor = match op {
                ColorOp::Brightness => p.brightness,
                ColorOp::Contrast => p.contrast,
                ColorOp::Saturation => p.saturation,
                ColorOp::Hue => p.hue,
            };
            factor.map(|f| (op, f))
        })
}

#[cfg(test)]
mod tests;
