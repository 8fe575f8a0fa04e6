//! The compactor function: on a schedule, the stored NDJSON objects into Parquet by event
//! date (see `o365-compact`), until the invocation's deadline; what is left is picked up by
//! the next invocation. Emits `CompactedRecords`, `CompactedObjects`,
//! `CompactionDuplicates`, `CompactionPendingObjects` and `CompactionFailures` (alarmed).

use std::time::Duration;

use lambda_runtime::LambdaEvent;
use o365_activity::bootstrap::settings::prefix_rule;
use o365_activity::bootstrap::{deadline, Env, EnvError};
use o365_activity::metrics::{MetricSet, MetricsSink};
use o365_activity::store::ObjectStore;
use o365_compact::{CompactOptions, CompactReport, Compactor};
use serde_json::Value;

/// Time kept back from the invocation's deadline for the last state write and the response.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// The compactor's settings, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompactorConfig {
    /// `BUCKET`: the collector's bucket. Required.
    pub bucket: String,
    /// `PREFIX`: the collector's key prefix (the functions' one rule).
    pub prefix: String,
    /// `AWS_ENDPOINT_URL`, for moto.
    pub endpoint_url: Option<String>,
    /// `BATCH_MIB` sets [`CompactOptions::batch_bytes`] (default 64, at most 1024).
    pub options: CompactOptions,
}

impl CompactorConfig {
    /// Reads and checks the settings.
    pub fn from_env(env: &Env<'_>) -> Result<CompactorConfig, EnvError> {
        let bucket = env.required("BUCKET", "set it to the name of the collector's bucket")?;
        let raw = env.raw("PREFIX");
        let prefix = prefix_rule(raw.as_deref()).map_err(|problem| EnvError::Invalid {
            var: "PREFIX",
            value: raw.unwrap_or_default(),
            problem,
        })?;
        let mib: usize = env.number("BATCH_MIB", 64, 1..=1024)?;
        Ok(CompactorConfig {
            bucket,
            prefix,
            endpoint_url: env.optional("AWS_ENDPOINT_URL"),
            options: CompactOptions {
                batch_bytes: mib << 20,
                ..CompactOptions::default()
            },
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

/// One scheduled invocation: compacts until the deadline, emits the metrics, answers the
/// report. Failed pairs and objects are counted in `CompactionFailures` (and logged), not
/// raised: the others' progress is saved and the next run retries.
pub async fn handle<S: ObjectStore>(
    compactor: &Compactor<S>,
    sink: &MetricsSink,
    event: LambdaEvent<Value>,
) -> Result<Value, InvocationError> {
    let until = deadline(&event.context, DEADLINE_MARGIN);
    let report = match compactor.run(Some(until)).await {
        Ok(r) => r,
        Err(e) => {
            emit(sink, &CompactReport::default(), 1);
            return Err(e.into());
        }
    };
    emit(sink, &report, report.failures());
    tracing::info!(report = ?report, "compaction run");
    Ok(serde_json::to_value(&report).unwrap_or(Value::Null))
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

    #[tokio::test]
    async fn a_scheduled_event_compacts_and_reports() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(dir.path()).await;
        let compactor = Compactor::new(
            store,
            KeyLayout::new("o365"),
            Clock::system(),
            CompactOptions::default(),
        );
        let sink = MetricsSink::memory();
        let event = LambdaEvent::new(
            serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
            context_with(Duration::from_secs(120)),
        );
        let answer = handle(&compactor, &sink, event).await.unwrap();
        assert_eq!(answer["rows_written"], 1);
        assert_eq!(answer["duplicates"], 1);
        let lines = sink.lines();
        assert_eq!(metric(&lines, "CompactedRecords"), 1.0);
        assert_eq!(metric(&lines, "CompactionFailures"), 0.0);
        assert_eq!(metric(&lines, "CompactedObjects"), 1.0);
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
            (c.prefix.as_str(), c.options.batch_bytes),
            ("audit", 8 << 20)
        );
        let bad = |k: &str| (k == "BATCH_MIB").then(|| "0".to_owned());
        assert!(CompactorConfig::from_env(&Env::new(&bad)).is_err());
    }
}
