//! How a [`ChunkExec`] travels between driver, scheduler and executors: as JSON behind a
//! marker, with the lakeaug version of the process that encoded it. Every other node is
//! Ballista's own, handed to [`BallistaPhysicalExtensionCodec`].
//!
//! The version check lives here because every plan passes through it: the scheduler
//! decodes what the driver encoded, and the executor what the scheduler re-encoded, so a
//! role running another lakeaug version refuses the plan with an error naming both.

use std::sync::Arc;

use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};

use super::exec::ChunkExec;
use crate::pipeline::ChunkTask;

/// What starts an encoded [`ChunkExec`] (Ballista's own nodes are protobuf messages,
/// which never start with these bytes).
const MARKER: &[u8] = b"\0lakeaug-chunk\0";

#[derive(Serialize, Deserialize)]
struct Envelope {
    lakeaug_version: String,
    task: ChunkTask,
}

/// lakeaug's physical codec, for the client, the scheduler and the executors alike.
#[derive(Debug, Default)]
pub struct LakeaugCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl LakeaugCodec {
    pub fn shared() -> Arc<LakeaugCodec> {
        Arc::new(LakeaugCodec::default())
    }
}

/// Refuse a node encoded by another lakeaug version.
pub fn check_version(theirs: &str) -> Result<()> {
    if theirs == crate::VERSION {
        return Ok(());
    }
    Err(DataFusionError::Configuration(format!(
        "lakeaug version mismatch: this process runs lakeaug {}, the plan comes from lakeaug {theirs}; run the same lakeaug version as driver, scheduler and executors (restart the cluster with the new binary)",
        crate::VERSION
    )))
}

impl PhysicalExtensionCodec for LakeaugCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(json) = buf.strip_prefix(MARKER) else {
            return self.ballista.try_decode(buf, inputs, ctx, converter);
        };
        let envelope: Envelope = serde_json::from_slice(json).map_err(|e| {
            // The version is read alone first: a newer version's task may not parse.
            let version = serde_json::from_slice::<serde_json::Value>(json)
                .ok()
                .and_then(|v| v["lakeaug_version"].as_str().map(str::to_string));
            match version.map(|v| check_version(&v)) {
                Some(Err(mismatch)) => mismatch,
                _ => DataFusionError::Internal(format!("cannot decode a lakeaug chunk task: {e}")),
            }
        })?;
        check_version(&envelope.lakeaug_version)?;
        Ok(Arc::new(ChunkExec::new(envelope.task)))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some(exec) = node.downcast_ref::<ChunkExec>() else {
            return self.ballista.try_encode(node, buf, converter);
        };
        let envelope = Envelope {
            lakeaug_version: crate::VERSION.to_string(),
            task: exec.task.clone(),
        };
        buf.extend_from_slice(MARKER);
        serde_json::to_writer(buf, &envelope)
            .map_err(|e| DataFusionError::Internal(format!("cannot encode a chunk task: {e}")))
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.ballista.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.ballista.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.ballista.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode_udwf(node, buf)
    }
}
