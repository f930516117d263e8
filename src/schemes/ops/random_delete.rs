//! `random_delete`: EDA random deletion (each content word with probability `p`).

use serde::{Deserialize, Serialize};

use super::{
    also_edit_doc, editable, indices, to_u32, CaptionOp, OpHelp, ParamColumn, ParamDoc, WordClass,
};
use crate::kernels::text::{eda, ParamsError};
use crate::rng::RowRng;
use crate::schemes::context::TextContext;
use crate::schemes::error::{probability, OpError};
use crate::schemes::params::{AugParams, ParamKind};

/// EDA random deletion: each content word is deleted with probability `p`; never all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomDelete {
    pub p: f64,
    /// Protected word classes this op may edit anyway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_edit: Vec<WordClass>,
}

const COLUMNS: &[ParamColumn] = &[(
    "random_deleted",
    ParamKind::ListInt32,
    "word indices deleted (EDA)",
)];

impl CaptionOp for RandomDelete {
    fn help() -> OpHelp {
        OpHelp {
            meaning: "EDA random deletion, stop words kept; never deletes every word",
            params: vec![
                ParamDoc::required("p", "probability of deleting each content word"),
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
        let params = eda::sample_random_deletion(c, self.p, editable(&self.also_edit), res, rng)
            .expect("p is validated with the config");
        let out = eda::apply_random_deletion(c, &params, &res.segmenter)
            .expect("sampled parameters fit their caption");
        p.random_deleted = Some(indices(&params.word_indices));
        out
    }

    fn replay(&self, c: &str, ctx: &TextContext, p: &AugParams) -> Result<String, ParamsError> {
        match &p.random_deleted {
            Some(d) => eda::apply_random_deletion(
                c,
                &eda::DeleteParams {
                    word_indices: to_u32(d),
                },
                &ctx.resources.segmenter,
            ),
            None => Ok(c.to_string()),
        }
    }
}
