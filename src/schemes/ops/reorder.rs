//! `reorder`: two adjacent prepositional phrases trade places.

use serde::{Deserialize, Serialize};

use super::{gated_edit, one, CaptionOp, OpHelp, ParamColumn, ParamDoc};
use crate::kernels::text::{reorder, ParamsError};
use crate::rng::RowRng;
use crate::schemes::context::TextContext;
use crate::schemes::error::{probability, OpError};
use crate::schemes::params::{AugParams, ParamKind};

/// With probability `p`, two adjacent prepositional phrases trade places where that
/// keeps the caption grammatical.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reorder {
    #[serde(default = "one")]
    pub p: f64,
}

const COLUMNS: &[ParamColumn] = &[(
    "reorder_spans",
    ParamKind::ListInt32,
    "[start, split, end]: words start..split and split..end swapped",
)];

impl CaptionOp for Reorder {
    fn help() -> OpHelp {
        OpHelp {
            meaning: "two adjacent prepositional phrases trade places (\"a dog on a sofa next to a lamp\" -> \"a dog next to a lamp on a sofa\"); captions without a safe swap are kept",
            params: vec![ParamDoc::default("p", one(), "probability")],
            columns: COLUMNS,
        }
    }

    fn validate(&self) -> Result<(), OpError> {
        probability("p", self.p)
    }

    fn run(&self, c: &str, ctx: &TextContext, rng: &mut RowRng, p: &mut AugParams) -> String {
        let seg = &ctx.resources.segmenter;
        let (out, params) = gated_edit(
            self.p,
            rng,
            |rng| reorder::sample_reorder(c, seg, rng),
            |params| reorder::apply_reorder(c, params.as_ref(), seg),
        );
        p.reorder_spans = Some(
            params
                .map(|r| vec![r.start as i32, r.split as i32, r.end as i32])
                .unwrap_or_default(),
        );
        out
    }

    fn replay(&self, c: &str, ctx: &TextContext, p: &AugParams) -> Result<String, ParamsError> {
        match p.reorder_spans.as_deref() {
            Some([start, split, end]) => reorder::apply_reorder(
                c,
                Some(&reorder::ReorderParams {
                    start: *start as u32,
                    split: *split as u32,
                    end: *end as u32,
                }),
                &ctx.resources.segmenter,
            ),
            Some([]) | None => Ok(c.to_string()),
            Some(other) => Err(ParamsError::new(
                "reorder",
                format!("aug_reorder_spans {other:?} is not [start, split, end]"),
            )),
        }
    }
}
