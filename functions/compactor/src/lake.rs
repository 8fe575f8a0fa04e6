//! The OCSF export into Amazon Security Lake that the compactor runs after compacting, when
//! `SECURITY_LAKE_BUCKET` is set (see `o365-ocsf` and docs/ocsf.md). Emits
//! `OcsfEventsExported`, `OcsfObjectsExported`, `OcsfExportPendingObjects` and
//! `OcsfExportFailures` (alarmed); a failed export never undoes the compaction.

use o365_activity::bootstrap::{Env, EnvError};
use o365_activity::keys::KeyLayout;
use o365_activity::metrics::{MetricSet, MetricsSink};
use o365_activity::store::ObjectStore;
use o365_ocsf::{export, LakeTarget, LakeTargetError};
use serde_json::Value;
use tokio::time::Instant;

/// Default custom source name prefix, as the template's `SecurityLakeSourcePrefix`.
pub const DEFAULT_SOURCE_PREFIX: &str = "o365";

/// Where the export writes, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LakeConfig {
    /// `SECURITY_LAKE_BUCKET`: the Security Lake bucket (`aws-security-data-lake-<region>-…`).
    /// Unset or empty: no export.
    pub bucket: String,
    /// `SECURITY_LAKE_SOURCE_PREFIX` (default `o365`), `SECURITY_LAKE_REGION` (default
    /// `AWS_REGION`) and `SECURITY_LAKE_ACCOUNT_ID` (required): the custom sources' names
    /// and partitions.
    pub target: LakeTarget,
}

impl LakeConfig {
    /// Reads and checks the export's settings; `None` when `SECURITY_LAKE_BUCKET` is unset.
    pub fn from_env(env: &Env<'_>) -> Result<Option<LakeConfig>, EnvError> {
        let Some(bucket) = env.optional("SECURITY_LAKE_BUCKET") else {
            return Ok(None);
        };
        let prefix = env
            .optional("SECURITY_LAKE_SOURCE_PREFIX")
            .unwrap_or_else(|| DEFAULT_SOURCE_PREFIX.to_owned());
        let region = match env.optional("SECURITY_LAKE_REGION") {
            Some(r) => r,
            None => env.required(
                "AWS_REGION",
                "set SECURITY_LAKE_REGION to the Security Lake's Region (Lambda sets AWS_REGION)",
            )?,
        };
        let account = env.required(
            "SECURITY_LAKE_ACCOUNT_ID",
            "set it to the 12-digit account id of the custom sources' accountId= partition",
        )?;
        let target = LakeTarget::new(&prefix, &region, &account).map_err(|e| {
            let (var, value) = match &e {
                LakeTargetError::SourcePrefix(v) => ("SECURITY_LAKE_SOURCE_PREFIX", v),
                LakeTargetError::Region(v) => ("SECURITY_LAKE_REGION", v),
                LakeTargetError::Account(v) => ("SECURITY_LAKE_ACCOUNT_ID", v),
            };
            EnvError::Invalid {
                var,
                value: value.clone(),
                problem: e.to_string(),
            }
        })?;
        Ok(Some(LakeConfig { bucket, target }))
    }
}

/// The export as the compactor runs it: the collector's store (data objects and the
/// `_ocsf/` ledger) and the lake's.
#[derive(Debug)]
pub struct LakeExport<I, O> {
    /// The collector's store.
    pub input: I,
    /// The collector's key layout.
    pub layout: KeyLayout,
    /// The Security Lake bucket.
    pub lake: O,
    /// Custom source names and partitions.
    pub target: LakeTarget,
}

impl<I: ObjectStore, O: ObjectStore> LakeExport<I, O> {
    /// Exports until `deadline`, emits the export's metrics and answers its report (or the
    /// error, which is logged and counted in `OcsfExportFailures`, never raised).
    pub async fn run(&self, sink: &MetricsSink, deadline: Instant) -> Value {
        let result = export(
            &self.input,
            &self.layout,
            &self.lake,
            &self.target,
            Some(deadline.into_std()),
        )
        .await;
        let mut m = MetricSet::new();
        let answer = match result {
            Ok(r) => {
                tracing::info!(report = ?r, "OCSF export run");
                m.count("OcsfEventsExported", r.events.values().sum())
                    .count("OcsfObjectsExported", r.objects_exported)
                    .count("OcsfExportPendingObjects", r.objects_pending)
                    .count("OcsfExportFailures", 0);
                serde_json::to_value(&r).unwrap_or(Value::Null)
            }
            Err(e) => {
                tracing::error!(error = %e, "OCSF export failed; the next run carries on from its ledger");
                m.count("OcsfExportFailures", 1);
                serde_json::json!({ "error": e.to_string() })
            }
        };
        m.emit(sink);
        answer
    }
}
