//! `one_of`: one of a list of caption ops, chosen uniformly (albumentations' `OneOf`).

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{CaptionOp, OpHelp, ParamDoc, TextOp};
use crate::kernels::text::ParamsError;
use crate::rng::RowRng;
use crate::schemes::context::TextContext;
use crate::schemes::error::OpError;
use crate::schemes::params::AugParams;

/// One of `ops`, chosen uniformly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneOf {
    pub ops: Vec<TextOp>,
}

impl CaptionOp for OneOf {
    fn help() -> OpHelp {
        OpHelp {
            meaning: "runs one of the ops, chosen uniformly",
            params: vec![ParamDoc::required("ops", "a list of text ops")],
            columns: &[],
        }
    }

    fn validate(&self) -> Result<(), OpError> {
        if self.ops.is_empty() {
            return Err(OpError::Op("one_of needs at least one op"));
        }
        for op in &self.ops {
            if let TextOp::OneOf(_) = op {
                return Err(OpError::Op("one_of cannot contain another one_of"));
            }
            op.validate().map_err(|e| OpError::InOneOf {
                op: op.name(),
                source: Box::new(e),
            })?;
        }
        Ok(())
    }

    fn run(&self, c: &str, ctx: &TextContext, rng: &mut RowRng, p: &mut AugParams) -> String {
        let k = rng.random_range(0..self.ops.len());
        self.ops[k].run(c, ctx, rng, p)
    }

    fn replay(&self, c: &str, ctx: &TextContext, p: &AugParams) -> Result<String, ParamsError> {
        // Only the op that ran recorded parameters; the others leave the caption alone.
        let mut out = c.to_string();
        for op in &self.ops {
            out = op.replay(&out, ctx, p)?;
        }
        Ok(out)
    }
}
