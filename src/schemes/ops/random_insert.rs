//! `random_insert`: EDA random insertion (a synonym of a content word, inserted).

use serde::{Deserialize, Serialize};

use super::{
    also_edit_doc, editable, gated_edit, indices, one, to_u32, CaptionOp, OpHelp, ParamColumn,
    ParamDoc, WordClass,
};
use crate::kernels::text::{eda, ParamsError};
use crate::rng::RowRng;
use crate::schemes::context::TextContext;
use crate::schemes::error::{probability, OpError};
use crate::schemes::params::{AugParams, ParamKind};

/// EDA random insertion: `n` times, a synonym of a random content word is inserted at a
/// random position (with probability `p`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomInsert {
    #[serde(default = "one")]
    pub p: f64,
    pub n: usize,
    /// Protected word classes this op may edit anyway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_edit: Vec<WordClass>,
}

const COLUMNS: &[ParamColumn] = &[
    (
        "insert_positions",
        ParamKind::ListInt32,
        "positions of inserted words",
    ),
    ("insert_words", ParamKind::ListUtf8, "inserted words"),
];

impl CaptionOp for RandomInsert {
    fn help() -> OpHelp {
        OpHelp {
            meaning: "EDA random insertion: a synonym of a random content word inserted at a random position",
            params: vec![
                ParamDoc::default("p", one(), "probability"),
                ParamDoc::required("n", "number of insertions"),
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
            |rng| eda::sample_random_insertion(c, self.n, editable, res, rng),
            |params| eda::apply_random_insertion(c, params, &res.segmenter),
        );
        p.insert_positions = Some(indices(&params.positions));
        p.insert_words = Some(params.words);
        out
    }

    fn replay(&self, c: &str, ctx: &TextContext, p: &AugParams) -> Result<String, ParamsError> {
        match (&p.insert_positions, &p.insert_words) {
            (Some(pos), Some(words)) => eda::apply_random_insertion(
                c,
                &eda::InsertParams {
                    positions: to_u32(pos),
                    words: words.clone(),
                },
                &ctx.resources.segmenter,
            ),
            _ => Ok(c.to_string()),
        }
    }
}
