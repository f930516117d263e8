//! How lakeaug's own plan nodes and functions travel between client, scheduler and
//! executors: as JSON behind a marker, with the lakeaug version of the process that
//! encoded it.
//!
//! - nodes: [`ChunkExec`] (`run --cluster`) and [`SourceScanExec`] (the `source` table of
//!   `query --cluster`); every other node is DataFusion's or Ballista's own, handed to
//!   [`BallistaPhysicalExtensionCodec`] (DataFusion's protobuf covers the Parquet scans
//!   of `augmented`/`rejects` and the in-memory `runs`/`run_schemes` tables);
//! - scalar functions: lakeaug's UDFs ([`crate::sql::udfs::lakeaug_udfs`]) are encoded
//!   by name, so a plan using them decodes in any role without a registry lookup.
//!
//! The version check lives here because every plan passes through it: the scheduler
//! decodes what the client encoded, and the executor what the scheduler re-encoded, so a
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
use crate::sql::source::{SourceScanExec, SourceScanSpec};
use crate::sql::udfs::lakeaug_udf;

/// What starts an encoded lakeaug node (Ballista's own nodes are protobuf messages,
/// which never start with these bytes). The name dates from when chunk tasks were the
/// only such node; it is kept, and a task's JSON is unchanged (`{"lakeaug_version", "task"}`),
/// so an older lakeaug still recognizes the envelope and reports the version mismatch.
const MARKER: &[u8] = b"\0lakeaug-chunk\0";
/// What starts an encoded lakeaug UDF (other UDFs encode to nothing: found by name).
const UDF_MARKER: &[u8] = b"\0lakeaug-udf\0";

/// A lakeaug node or function, with the version of the process that encoded it.
#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    lakeaug_version: String,
    #[serde(flatten)]
    content: T,
}

/// lakeaug's plan nodes.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Node {
    /// A chunk task of `run --cluster`.
    Task(ChunkTask),
    /// The `source` table's scan.
    SourceScan(SourceScanSpec),
}

/// A lakeaug UDF: its name is all there is to it.
#[derive(Serialize, Deserialize)]
struct Udf {
    udf: String,
}

/// Writes `content` behind `marker` with this process's version.
fn seal<T: Serialize>(marker: &[u8], content: T, buf: &mut Vec<u8>) -> Result<()> {
    let envelope = Envelope {
        lakeaug_version: crate::VERSION.to_string(),
        content,
    };
    buf.extend_from_slice(marker);
    serde_json::to_writer(buf, &envelope)
        .map_err(|e| DataFusionError::Internal(format!("cannot encode a lakeaug plan part: {e}")))
}

/// Reads what [`seal`] wrote (without the marker), refusing another version's.
fn open<T: for<'de> Deserialize<'de>>(json: &[u8], what: &str) -> Result<T> {
    let envelope: Envelope<T> = serde_json::from_slice(json).map_err(|e| {
        // The version is read alone first: a newer version's content may not parse.
        let version = serde_json::from_slice::<serde_json::Value>(json)
            .ok()
            .and_then(|v| v["lakeaug_version"].as_str().map(str::to_string));
        match version.map(|v| check_version(&v)) {
            Some(Err(mismatch)) => mismatch,
            _ => DataFusionError::Internal(format!("cannot decode a lakeaug {what}: {e}")),
        }
    })?;
    check_version(&envelope.lakeaug_version)?;
    Ok(envelope.content)
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
        Ok(match open::<Node>(json, "plan node")? {
            Node::Task(task) => Arc::new(ChunkExec::new(task)),
            Node::SourceScan(spec) => {
                let [work_list] = inputs else {
                    return Err(DataFusionError::Internal(format!(
                        "a source scan has one input (its work list), got {}",
                        inputs.len()
                    )));
                };
                Arc::new(SourceScanExec::with_input(spec, Arc::clone(work_list))?)
            }
        })
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(exec) = node.downcast_ref::<ChunkExec>() {
            return seal(MARKER, Node::Task(exec.task.clone()), buf);
        }
        if let Some(scan) = node.downcast_ref::<SourceScanExec>() {
            return seal(MARKER, Node::SourceScan(scan.spec().clone()), buf);
        }
        self.ballista.try_encode(node, buf, converter)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        let Some(json) = buf.strip_prefix(UDF_MARKER) else {
            return self.ballista.try_decode_udf(name, buf);
        };
        let udf = open::<Udf>(json, "function")?.udf;
        lakeaug_udf(&udf)
            .map(Arc::new)
            .ok_or_else(|| DataFusionError::Internal(format!("{udf:?} is not a lakeaug function")))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        match lakeaug_udf(node.name()) {
            Some(ours) if &ours == node => seal(
                UDF_MARKER,
                Udf {
                    udf: node.name().to_string(),
                },
                buf,
            ),
            _ => self.ballista.try_encode_udf(node, buf),
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::physical_plan::collect;
    use datafusion::prelude::SessionContext;
    use datafusion_proto::physical_plan::{AsExecutionPlan, DefaultPhysicalProtoConverter};
    use datafusion_proto::protobuf::PhysicalPlanNode;

    use super::*;
    use crate::sql::udfs::lakeaug_udfs;

    fn scan_of(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
        if plan.downcast_ref::<SourceScanExec>().is_some() {
            return Some(Arc::clone(plan));
        }
        plan.children().into_iter().find_map(scan_of)
    }

    fn other_version(encoded: &[u8]) -> Vec<u8> {
        let needle = format!("\"lakeaug_version\":\"{}\"", crate::VERSION);
        let text = String::from_utf8_lossy(encoded).into_owned();
        assert!(text.contains(&needle), "{text}");
        text.replace(&needle, "\"lakeaug_version\":\"0.0.0-other\"")
            .into_bytes()
    }

    #[test]
    fn lakeaug_udfs_travel_by_name_and_another_versions_are_refused() {
        let codec = LakeaugCodec::default();
        for udf in lakeaug_udfs() {
            let mut buf = Vec::new();
            codec.try_encode_udf(&udf, &mut buf).unwrap();
            assert!(buf.starts_with(UDF_MARKER), "{}", udf.name());
            let back = codec.try_decode_udf(udf.name(), &buf).unwrap();
            assert!(*back == udf, "{}", udf.name());

            let e = codec
                .try_decode_udf(udf.name(), &other_version(&buf))
                .unwrap_err()
                .to_string();
            assert!(e.contains("lakeaug version mismatch"), "{e}");
            assert!(e.contains("0.0.0-other"), "{e}");
        }
        // DataFusion's own functions are left to the registry: nothing encoded.
        let upper = datafusion::functions::string::upper();
        let mut buf = Vec::new();
        codec.try_encode_udf(&upper, &mut buf).unwrap();
        assert!(buf.is_empty());
        // A name that is not ours behind our marker is an error, not some other function.
        let mut forged = UDF_MARKER.to_vec();
        forged.extend_from_slice(
            format!(
                r#"{{"lakeaug_version":"{}","udf":"upper"}}"#,
                crate::VERSION
            )
            .as_bytes(),
        );
        assert!(codec.try_decode_udf("upper", &forged).is_err());
    }

    /// A `source` scan with a lakeaug UDF over it, sent through the codec and decoded by a
    /// session that has neither the table nor the UDFs, runs to the same rows; the same
    /// plan from another lakeaug version is refused.
    #[test]
    fn a_source_scan_with_udfs_round_trips_and_another_versions_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.parquet");
        let schema = Arc::new(Schema::new(vec![Field::new(
            "caption",
            DataType::Utf8,
            true,
        )]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from(vec![
                Some("a dog on grass"),
                None,
                Some("two cats"),
            ]))],
        )
        .unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            schema,
            None,
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();

        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let ctx = SessionContext::new();
            crate::sql::register_udfs(&ctx);
            let files =
                crate::sql::source::discover_sources(&[path.display().to_string()]).unwrap();
            ctx.register_table(
                "source",
                Arc::new(crate::sql::source::SourceTable::try_new(files).unwrap()),
            )
            .unwrap();
            let df = ctx
                .sql("SELECT source_row, word_count(caption) AS w FROM source")
                .await
                .unwrap();
            let plan = df.create_physical_plan().await.unwrap();
            let codec = LakeaugCodec::default();
            let node = PhysicalPlanNode::try_from_physical_plan(plan.clone(), &codec).unwrap();

            let elsewhere = SessionContext::new();
            let decoded = node
                .try_into_physical_plan(elsewhere.task_ctx().as_ref(), &codec)
                .unwrap();
            let got = collect(decoded, elsewhere.task_ctx()).await.unwrap();
            let want = collect(plan.clone(), ctx.task_ctx()).await.unwrap();
            assert_eq!(got, want);
            let rows = arrow::compute::concat_batches(&got[0].schema(), &got).unwrap();
            let words = rows
                .column(1)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap();
            assert_eq!(words.len(), 3);
            assert_eq!(
                (words.value(0), words.is_null(1), words.value(2)),
                (4, true, 2)
            );

            // The scan node alone, as another version would have encoded it.
            let scan = scan_of(&plan).expect("a source scan in the plan");
            let converter = DefaultPhysicalProtoConverter {};
            let mut buf = Vec::new();
            codec
                .try_encode(scan.clone(), &mut buf, &converter)
                .unwrap();
            assert!(buf.starts_with(MARKER));
            let task_ctx = elsewhere.task_ctx();
            let work_list = scan.children()[0].clone();
            let e = codec
                .try_decode(&other_version(&buf), &[work_list], &task_ctx, &converter)
                .unwrap_err()
                .to_string();
            assert!(e.contains("lakeaug version mismatch"), "{e}");
        });
    }
}
