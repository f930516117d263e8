//! `synonym`: content words become a synonym from the dictionary.

use serde::{Deserialize, Serialize};

use super::{
    also_edit_doc, editable, gated_edit, indices, one, to_u32, CaptionOp, OpHelp, ParamColumn,
    ParamDoc, WordClass,
};
use crate::kernels::text::{synonyms, ParamsError};
use crate::rng::RowRng;
use crate::schemes::context::TextContext;
use crate::schemes::error::{probability, OpError};
use crate::schemes::params::{AugParams, ParamKind};

/// With probability `p`, up to `max_words` content words become a synonym.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Synonym {
    #[serde(default = "one")]
    pub p: f64,
    pub max_words: usize,
    /// Protected word classes this op may edit anyway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_edit: Vec<WordClass>,
}

const COLUMNS: &[ParamColumn] = &[
    (
        "synonym_words",
        ParamKind::ListInt32,
        "word indices replaced by synonyms",
    ),
    (
        "synonym_replacements",
        ParamKind::ListUtf8,
        "the synonyms, in the same order",
    ),
];

impl CaptionOp for Synonym {
    fn help() -> OpHelp {
        OpHelp {
            meaning: "content words (not stop words, numbers, colours or spatial words unless also_edit says so) become a synonym from the dictionary ([text] synonyms), keeping their case and punctuation",
            params: vec![
                ParamDoc::default("p", one(), "probability of replacing anything"),
                ParamDoc::required("max_words", "at most this many content words are replaced"),
                also_edit_doc(),
            ],
            columns: COLUMNS,
        }
    }

    fn validate(&self) -> Result<(), OpError> {
        probability("p", self.p)
    }

    fn run(&self, c: &str, ctx: &TextContext, rng: &mut RowRng, p: &mut AugParams) -> String {
        let res = &ctx.resources;
        let editable = editable(&self.also_edit);
        let (out, params) = gated_edit(
            self.p,
            rng,
            |rng| synonyms::sample_synonyms(c, self.max_words, editable, res, rng),
            |params| synonyms::apply_synonyms(c, params, &res.segmenter),
        );
        p.synonym_words = Some(indices(&params.word_indices));
        p.synonym_replacements = Some(params.replacements);
        out
    }

    fn replay(&self, c: &str, ctx: &TextContext, p: &AugParams) -> Result<String, ParamsError> {
        match (&p.synonym_words, &p.synonym_replacements) {
            (Some(w), Some(r)) => synonyms::apply_synonyms(
                c,
                &synonyms::SynonymParams {
                    word_indices: to_u32(w),
                    replacements: r.clone(),
                },
                &ctx.resources.segmenter,
            ),
            _ => Ok(c.to_string()),
        }
    }
}
