//! `hedge`: a phrase saying what the image ops did ("a blurry photo of ...").

use serde::{Deserialize, Serialize};

use super::{CaptionOp, OpHelp, ParamColumn, ParamDoc};
use crate::kernels::text::{hedge, Joiner, ParamsError};
use crate::rng::RowRng;
use crate::schemes::context::TextContext;
use crate::schemes::error::OpError;
use crate::schemes::params::{AugParams, ParamKind};

/// A hedge matching the image's degradation: a blur phrase if the image was blurred,
/// else an occlusion phrase if a patch was erased; `{}` stands for the caption. An empty
/// list means the built-in phrases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hedge {
    #[serde(default)]
    pub blur_phrases: Vec<String>,
    #[serde(default)]
    pub occlusion_phrases: Vec<String>,
}

const COLUMNS: &[ParamColumn] = &[("hedge", ParamKind::Utf8, "hedge phrase template inserted")];

impl CaptionOp for Hedge {
    fn help() -> OpHelp {
        OpHelp {
            meaning: "inserts a hedge matching what the image ops did (after gaussian_blur / erase_patch in the same scheme)",
            params: vec![
                ParamDoc::described(
                    "blur_phrases",
                    "built-in list",
                    "templates for blurred images, `{}` = caption",
                ),
                ParamDoc::described(
                    "occlusion_phrases",
                    "built-in list",
                    "templates for images with an erased patch",
                ),
            ],
            columns: COLUMNS,
        }
    }

    fn validate(&self) -> Result<(), OpError> {
        for phrases in [&self.blur_phrases, &self.occlusion_phrases] {
            if !phrases.is_empty() {
                hedge::check_hedge_templates(phrases)?;
            }
        }
        Ok(())
    }

    fn run(&self, c: &str, ctx: &TextContext, rng: &mut RowRng, p: &mut AugParams) -> String {
        let blurred = p.blur_sigma.is_some();
        if !blurred && p.erase().is_none() {
            return c.to_string();
        }
        let configured = if blurred {
            &self.blur_phrases
        } else {
            &self.occlusion_phrases
        };
        let chinese = ctx.resources.segmenter.segment(c).joiner() == Joiner::Unspaced;
        let defaults = match (blurred, chinese) {
            (true, false) => hedge::BLUR_HEDGES_EN,
            (false, false) => hedge::OCCLUSION_HEDGES_EN,
            (true, true) => hedge::BLUR_HEDGES_ZH,
            (false, true) => hedge::OCCLUSION_HEDGES_ZH,
        };
        let sampled = if configured.is_empty() {
            hedge::sample_hedge(c, defaults, rng)
        } else {
            hedge::sample_hedge(c, configured, rng)
        }
        .expect("hedge templates are validated with the config");
        match sampled {
            Some(params) => {
                let out = hedge::apply_hedge(c, &params).expect("validated template");
                p.hedge = Some(params.template);
                out
            }
            None => c.to_string(),
        }
    }

    fn replay(&self, c: &str, _: &TextContext, p: &AugParams) -> Result<String, ParamsError> {
        match &p.hedge {
            Some(template) => hedge::apply_hedge(
                c,
                &hedge::HedgeParams {
                    template: template.clone(),
                },
            ),
            None => Ok(c.to_string()),
        }
    }
}
