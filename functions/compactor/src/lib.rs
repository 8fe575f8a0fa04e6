//! The compactor function: on a schedule, the stored NDJSON objects into Parquet by event
//! date (see `o365-compact`), until the invocation's deadline; what is left is picked up by
//! the next invocation. Emits `CompactedRecords`, `CompactedObjects`,
//! `CompactionDuplicates`, `CompactionPendingObjects` and `CompactionFailures` (alarmed).
//! With `SECURITY_LAKE_BUCKET` set, each run then exports OCSF into Security Lake ([`lake`]).

pub mod lake;

use std::time::Duration;

use lambda_runtime::LambdaEvent;
use o365_activity::bootstrap::{deadline, Env, EnvError, StoreSettings};
use o365_activity::metrics::{MetricSet, MetricsSink};
use o365_activity::store::ObjectStore;
use o365_compact::{CompactOptions, CompactReport, Compactor};
use serde_json::Value;

pub use lake::{LakeConfig, LakeExport};

/// Time kept back from the invocation's deadline for the last state write and the response.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// The compactor's settings, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactorConfig {
    /// `BUCKET`, `PREFIX` and `AWS_ENDPOINT_URL`, read as every function reads them.
    pub store: StoreSettings,
    /// `BATCH_MIB` sets [`CompactOptions::batch_bytes`] (default 64, at most 1024).
    pub options: CompactOptions,
    /// The OCSF export into Security Lake; `None` (no `SECURITY_LAKE_BUCKET`): no export.
    pub lake: Option<LakeConfig>,
}

impl CompactorConfig {
    /// Reads and checks the settings.
    pub fn from_env(env: &Env<'_>) -> Result<CompactorConfig, EnvError> {
        let store = StoreSettings::from_env(env)?;
        let mib: usize = env.number("BATCH_MIB", 64, 1..=1024)?;
        Ok(CompactorConfig {
            store,
            options: CompactOptions {
                batch_bytes: mib << 20,
                ..CompactOptions::default()
            },
            lake: LakeConfig::from_env(env)?,
        })
    }
}

/// An invocation that could not compact at all (the pairs could not even be listed).
#[derive(Debug, thiserror::Error)]
#[error("compaction failed: {0}")]
pub struct InvocationError(#[from] o365_compact::CompactError);

impl From<InvocationError> for lambda_runtime::Diagnostic {
    /// The error as the Runtime API reports it: a short kind and the readable message.
    fn from(e: InvocationError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "CompactionFailed".to_owned(),
            error_message: e.to_string(),
        }
    }
}

/// One scheduled invocation: compacts until the deadline, then (when configured) exports
/// OCSF into Security Lake until the same deadline, emits the metrics, answers the report
/// (the export's under `ocsf`). Failed pairs and objects are counted in `CompactionFailures`
/// (and logged), not raised: the others' progress is saved and the next run retries. A failed
/// export is counted in `OcsfExportFailures` and leaves the compaction as it is.
pub async fn handle<S: ObjectStore, I: ObjectStore, O: ObjectStore>(
    compactor: &Compactor<S>,
    lake: Option<&LakeExport<I, O>>,
    sink: &MetricsSink,
    event: LambdaEvent<Value>,
) -> Result<Value, InvocationError> {
    let until = deadline(&event.context, DEADLINE_MARGIN);
    let compacted = compactor.run(Some(until)).await;
    match &compacted {
        Ok(r) => {
            emit(sink, r, r.failures());
            tracing::info!(report = ?r, "compaction run");
        }
        Err(_) => emit(sink, &CompactReport::default(), 1),
    }
    let exported = match lake {
        Some(l) => Some(l.run(sink, until).await),
        None => None,
    };
    let mut answer = serde_json::to_value(&compacted?).unwrap_or(Value::Null);
    if let (Value::Object(fields), Some(ocsf)) = (&mut answer, exported) {
        fields.insert("ocsf".to_owned(), ocsf);
    }
    Ok(answer)
}

fn emit(sink: &MetricsSink, r: &CompactReport, failures: u64) {
    let mut m = MetricSet::new();
    m.count("CompactedRecords", r.rows_written)
        .count("CompactedObjects", r.objects)
        .count("CompactionDuplicates", r.duplicates)
        .count("CompactionPendingObjects", r.pending_objects)
        .count("CompactionFailures", failures)
        .bytes("CompactedNdjsonBytes", r.ndjson_bytes)
        .bytes("CompactedParquetBytes", r.parquet_bytes);
    m.emit(sink);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use o365_activity::bootstrap::deadline::context_with;
    use o365_activity::clock::Clock;
    use o365_activity::compression::Compression;
    use o365_activity::keys::KeyLayout;
    use o365_activity::store::{LocalStore, ObjectMeta, PutCondition};
    use o365_activity::ContentType;

    const TENANT: &str = "11111111-2222-3333-4444-555555555555";

    fn meta() -> ObjectMeta {
        ObjectMeta {
            content_type: "application/json".into(),
            content_encoding: None,
        }
    }

    /// A checkpoint and one stored (uncompressed-body zstd) blob of two lines, one Id twice.
    async fn seeded(dir: &std::path::Path) -> LocalStore {
        let store = LocalStore::new(dir);
        let layout = KeyLayout::new("o365");
        let tenant = TENANT.parse().unwrap();
        let checkpoint = layout.checkpoint_key(&tenant, ContentType::General);
        store
            .put(
                &checkpoint,
                Bytes::from_static(b"{}"),
                &meta(),
                PutCondition::Overwrite,
            )
            .await
            .unwrap();
        let created = "2026-03-02T10:00:00Z".parse().unwrap();
        let zstd = Compression::Zstd { level: 1 };
        let key = layout.data_key_for(&tenant, ContentType::General, created, "blob1", zstd);
        let line = r#"{"Id":"r1","_o365":{"event_time":"2026-03-02T09:00:00Z"}}"#;
        let body = format!("{line}\n{line}\n");
        let body = zstd::encode_all(body.as_bytes(), 1).unwrap();
        store
            .put(&key, Bytes::from(body), &meta(), PutCondition::IfNoneMatch)
            .await
            .unwrap();
        store
    }

    fn metric(lines: &[String], name: &str) -> f64 {
        lines
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find_map(|v| v.get(name).and_then(Value::as_f64))
            .unwrap_or(f64::NAN)
    }

    fn compactor(dir: &std::path::Path) -> Compactor<LocalStore> {
        Compactor::new(
            LocalStore::new(dir),
            KeyLayout::new("o365"),
            Clock::system(),
            CompactOptions::default(),
        )
    }

    fn scheduled(left: Duration) -> LambdaEvent<Value> {
        LambdaEvent::new(
            serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
            context_with(left),
        )
    }

    fn lake_export(
        data: &std::path::Path,
        lake: &std::path::Path,
    ) -> LakeExport<LocalStore, LocalStore> {
        LakeExport {
            input: LocalStore::new(data),
            layout: KeyLayout::new("o365"),
            lake: LocalStore::new(lake),
            target: o365_ocsf::LakeTarget::new("o365", "eu-west-1", "123456789012").unwrap(),
        }
    }

    /// One scheduled invocation over the data in `data` with `left` before its deadline: the
    /// answer and the metric lines it emitted.
    async fn invoke(
        data: &std::path::Path,
        lake: Option<&LakeExport<LocalStore, LocalStore>>,
        left: Duration,
    ) -> (Value, Vec<String>) {
        let sink = MetricsSink::memory();
        let answer = handle(&compactor(data), lake, &sink, scheduled(left))
            .await
            .unwrap();
        (answer, sink.lines())
    }

    #[tokio::test]
    async fn a_scheduled_event_compacts_and_reports() {
        let dir = tempfile::tempdir().unwrap();
        seeded(dir.path()).await;
        let (answer, lines) = invoke(dir.path(), None, Duration::from_secs(120)).await;
        assert_eq!(answer["rows_written"], 1);
        assert_eq!(answer["duplicates"], 1);
        assert!(answer.get("ocsf").is_none());
        assert_eq!(metric(&lines, "CompactedRecords"), 1.0);
        assert_eq!(metric(&lines, "CompactionFailures"), 0.0);
        assert_eq!(metric(&lines, "CompactedObjects"), 1.0);
        // No export configured: no export metrics, nothing under the ledger.
        assert!(metric(&lines, "OcsfExportFailures").is_nan());
        let ledger = LocalStore::new(dir.path())
            .list("o365/_ocsf/")
            .await
            .unwrap();
        assert!(ledger.is_empty());
    }

    #[tokio::test]
    async fn with_a_lake_the_run_exports_ocsf_after_compacting() {
        let (data, lake_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        seeded(data.path()).await;
        let lake = lake_export(data.path(), lake_dir.path());
        let (answer, lines) = invoke(data.path(), Some(&lake), Duration::from_secs(120)).await;
        assert_eq!(answer["rows_written"], 1);
        assert_eq!(answer["ocsf"]["objects_exported"], 1);
        assert_eq!(metric(&lines, "CompactedRecords"), 1.0);
        assert_eq!(metric(&lines, "OcsfEventsExported"), 2.0);
        assert_eq!(metric(&lines, "OcsfObjectsExported"), 1.0);
        assert_eq!(metric(&lines, "OcsfExportFailures"), 0.0);
        let files = lake.lake.list("ext/").await.unwrap();
        assert_eq!(files.len(), 1);
        assert!(
            files[0].starts_with(
                "ext/o365-api-activity/region=eu-west-1/accountId=123456789012/eventDay=20260302/"
            ),
            "{files:?}"
        );
        // The next run finds the object in the ledger: nothing more is written.
        let (_, lines) = invoke(data.path(), Some(&lake), Duration::from_secs(120)).await;
        assert_eq!(metric(&lines, "OcsfObjectsExported"), 0.0);
        assert_eq!(lake.lake.list("ext/").await.unwrap(), files);
    }

    #[tokio::test]
    async fn a_failed_export_is_counted_and_keeps_the_compaction() {
        let data = tempfile::tempdir().unwrap();
        seeded(data.path()).await;
        // The lake "directory" is a file: every write to it fails.
        let blocker = data.path().join("not-a-dir");
        std::fs::write(&blocker, b"x").unwrap();
        let lake = lake_export(data.path(), &blocker);
        let (answer, lines) = invoke(data.path(), Some(&lake), Duration::from_secs(120)).await;
        assert_eq!(answer["rows_written"], 1);
        assert!(answer["ocsf"]["error"].is_string(), "{answer}");
        assert_eq!(metric(&lines, "OcsfExportFailures"), 1.0);
        assert_eq!(metric(&lines, "CompactionFailures"), 0.0);
        let parquet = LocalStore::new(data.path())
            .list("o365/parquet/")
            .await
            .unwrap();
        assert_eq!(parquet.len(), 1);
    }

    #[tokio::test]
    async fn a_deadline_already_past_leaves_the_export_pending() {
        let (data, lake_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        seeded(data.path()).await;
        let lake = lake_export(data.path(), lake_dir.path());
        // Less time left than the margin: the deadline is now.
        let (_, lines) = invoke(data.path(), Some(&lake), Duration::from_secs(1)).await;
        assert_eq!(metric(&lines, "OcsfExportPendingObjects"), 1.0);
        assert!(lake.lake.list("").await.unwrap().is_empty());
    }

    #[test]
    fn settings_are_checked() {
        let vars = |k: &str| match k {
            "BUCKET" => Some("b".to_owned()),
            "PREFIX" => Some("/audit/".to_owned()),
            "BATCH_MIB" => Some("8".to_owned()),
            _ => None,
        };
        let c = CompactorConfig::from_env(&Env::new(&vars)).unwrap();
        assert_eq!(
            (c.store.prefix.as_str(), c.options.batch_bytes),
            ("audit", 8 << 20)
        );
        assert_eq!(c.lake, None);
        let bad = |k: &str| (k == "BATCH_MIB").then(|| "0".to_owned());
        assert!(CompactorConfig::from_env(&Env::new(&bad)).is_err());
    }

    #[test]
    fn lake_settings_are_checked() {
        let with = |extra: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                let base = [
                    ("BUCKET", "b"),
                    ("AWS_REGION", "eu-west-1"),
                    (
                        "SECURITY_LAKE_BUCKET",
                        "aws-security-data-lake-eu-west-1-abc",
                    ),
                    ("SECURITY_LAKE_ACCOUNT_ID", "123456789012"),
                ];
                extra
                    .iter()
                    .chain(base.iter())
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let ok = with(&[]);
        let lake = CompactorConfig::from_env(&Env::new(&ok))
            .unwrap()
            .lake
            .unwrap();
        assert_eq!(lake.bucket, "aws-security-data-lake-eu-west-1-abc");
        let want = o365_ocsf::LakeTarget::new("o365", "eu-west-1", "123456789012").unwrap();
        assert_eq!(lake.target, want);
        let other = with(&[
            ("SECURITY_LAKE_REGION", "us-east-2"),
            ("SECURITY_LAKE_SOURCE_PREFIX", "m365"),
        ]);
        let lake = CompactorConfig::from_env(&Env::new(&other))
            .unwrap()
            .lake
            .unwrap();
        assert_eq!(
            lake.target
                .source_name(o365_ocsf::OcsfClass::Authentication),
            "m365-authentication"
        );
        let bad_account = with(&[("SECURITY_LAKE_ACCOUNT_ID", "12")]);
        let e = CompactorConfig::from_env(&Env::new(&bad_account)).unwrap_err();
        assert!(e.to_string().contains("SECURITY_LAKE_ACCOUNT_ID"), "{e}");
        let bad_prefix = with(&[("SECURITY_LAKE_SOURCE_PREFIX", "o 365")]);
        assert!(CompactorConfig::from_env(&Env::new(&bad_prefix)).is_err());
        let no_account = with(&[("SECURITY_LAKE_ACCOUNT_ID", "")]);
        assert!(CompactorConfig::from_env(&Env::new(&no_account)).is_err());
        let off = with(&[("SECURITY_LAKE_BUCKET", " ")]);
        assert_eq!(
            CompactorConfig::from_env(&Env::new(&off)).unwrap().lake,
            None
        );
    }
}
