//! The fetcher's configuration from its environment, checked before the first event so a
//! mistake ends the cold start with a message that says what to fix. The settings both
//! functions share are read by [`CommonSettings::from_env`]; this adds the fetcher's own.

use std::time::Duration;

use o365_activity::bootstrap::{CommonSettings, Env, EnvError};
use o365_activity::client::ClientOptions;
use o365_activity::compression::Compression;
use o365_activity::normalize::{Limits, DEFAULT_MAX_RECORD_BYTES};

use crate::memory::DEFAULT_MEMORY_MB;

/// Default number of blobs fetched at once within one batch (`MAX_CONCURRENCY`, SAM
/// `FetcherParallelDownloads`).
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;
/// Default most messages per fetcher invocation (`FETCHER_BATCH_SIZE`, SAM
/// `FetcherBatchSize`): the most one SQS receive returns.
pub const DEFAULT_BATCH_SIZE: usize = 10;
/// Highest accepted `MAX_CONCURRENCY`.
pub const MAX_MAX_CONCURRENCY: usize = 64;
/// Default time kept free before the Lambda deadline (`DEADLINE_MARGIN_MS`), for handing
/// unfinished messages back and aborting uploads.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Everything the fetcher needs to know from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetcherConfig {
    /// What both functions read (`BUCKET`, `PREFIX`, tenants, `PUBLISHER_ID`, endpoint, reload).
    pub common: CommonSettings,
    /// `COMPRESSION`: `gzip`, `gzip:1..9`, `zstd`, `zstd:1..19` (default `gzip`).
    pub compression: Compression,
    /// `MAX_CONCURRENCY`: blobs fetched at once per batch (default 4, 1..=64).
    pub max_concurrency: usize,
    /// `MAX_RECORD_BYTES`: largest record accepted (default 32 MiB).
    pub limits: Limits,
    /// `DEADLINE_MARGIN_MS`: time kept free before the Lambda deadline (default 5000).
    pub deadline_margin: Duration,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (set by Lambda): the function's memory in MB, which
    /// sizes the budget of bytes in flight (default 512, 128..=10240; see `memory.rs`).
    pub memory_mb: u32,
    /// `QUEUE_URL`, optional: the event source's queue, where throttled messages are handed
    /// back with a delay instead of failing (unset: they fail and SQS redelivers them).
    pub requeue_url: Option<String>,
    /// `FETCHER_MAX_CONCURRENCY`: how many invocations may spend each tenant's rate at once
    /// (SAM sets it to the event source's maximum concurrency; default 1, 1..=10000).
    pub invocations: u32,
    /// `FETCHER_BATCH_SIZE`: the most messages the event source delivers per invocation (SAM
    /// sets it to the event source's batch size; default 10, 1..=10): a batch with fewer
    /// tells that the queue is nearly drained (see `quota::pass_on`).
    pub batch_size: usize,
}

impl FetcherConfig {
    /// Reads and validates the configuration.
    pub fn from_env(env: &Env<'_>) -> Result<FetcherConfig, EnvError> {
        let common = CommonSettings::from_env(env)?;
        let compression = env
            .parsed::<Compression>("COMPRESSION")?
            .unwrap_or_default();
        let max_concurrency = env.number(
            "MAX_CONCURRENCY",
            DEFAULT_MAX_CONCURRENCY,
            1..=MAX_MAX_CONCURRENCY,
        )?;
        let max_record_bytes =
            env.number("MAX_RECORD_BYTES", DEFAULT_MAX_RECORD_BYTES, 1024..=1 << 30)?;
        let margin_ms = env.number(
            "DEADLINE_MARGIN_MS",
            u64::try_from(DEFAULT_DEADLINE_MARGIN.as_millis()).unwrap_or(u64::MAX),
            0..=600_000,
        )?;
        let memory_mb = env.number(
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            DEFAULT_MEMORY_MB,
            128..=10_240,
        )?;
        let invocations = env.number("FETCHER_MAX_CONCURRENCY", 1, 1..=10_000)?;
        let batch_size = env.number("FETCHER_BATCH_SIZE", DEFAULT_BATCH_SIZE, 1..=10)?;
        Ok(FetcherConfig {
            requeue_url: env.optional("QUEUE_URL"),
            invocations,
            batch_size,
            common,
            compression,
            max_concurrency,
            limits: Limits { max_record_bytes },
            deadline_margin: Duration::from_millis(margin_ms),
            memory_mb,
        })
    }

    /// The API client's options: each invocation spends its share of every tenant's rate
    /// (`API_RATE_PER_MINUTE / FETCHER_MAX_CONCURRENCY`, see infra/README.md).
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions::with_budget(self.common.budget.clone().share_of(self.invocations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use o365_activity::testing::env::read_env;

    fn cfg(vars: &[(&str, &str)]) -> Result<FetcherConfig, EnvError> {
        read_env(vars, FetcherConfig::from_env)
    }

    #[test]
    fn defaults() {
        let c = cfg(&[("BUCKET", "b"), ("TENANTS_SECRET_ARN", "arn:x")]).unwrap();
        assert_eq!(c.common.store.prefix, "o365");
        assert_eq!(c.compression, Compression::Gzip { level: 6 });
        assert_eq!(c.max_concurrency, 4);
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.deadline_margin, Duration::from_secs(5));
        assert_eq!(c.memory_mb, 512);
        assert_eq!(c.invocations, 1);
        assert_eq!(c.batch_size, 10);
        assert_eq!(c.client_options().budget.rate_per_minute, 1800);
    }

    #[test]
    fn explicit_values() {
        let c = cfg(&[
            ("BUCKET", "b"),
            ("TENANTS_JSON", "{}"),
            ("COMPRESSION", "zstd:3"),
            ("MAX_CONCURRENCY", "8"),
            ("MAX_RECORD_BYTES", "4096"),
            ("DEADLINE_MARGIN_MS", "1500"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
            ("API_RATE_PER_MINUTE", "1200"),
            ("API_BURST", "40"),
            ("FETCHER_MAX_CONCURRENCY", "4"),
            ("FETCHER_BATCH_SIZE", "5"),
        ])
        .unwrap();
        assert_eq!(c.batch_size, 5);
        let budget = c.client_options().budget;
        assert_eq!((budget.rate_per_minute, budget.burst), (300, 10));
        assert_eq!(c.compression, Compression::Zstd { level: 3 });
        assert_eq!(c.max_concurrency, 8);
        assert_eq!(c.limits.max_record_bytes, 4096);
        assert_eq!(c.deadline_margin, Duration::from_millis(1500));
        assert_eq!(c.memory_mb, 1024);
    }

    #[test]
    fn errors_name_the_variable() {
        for (var, bad) in [
            ("MAX_CONCURRENCY", "0"),
            ("MAX_CONCURRENCY", "x"),
            ("MAX_CONCURRENCY", "65"),
            ("COMPRESSION", "brotli"),
            ("PREFIX", "../x"),
            ("MAX_RECORD_BYTES", "1"),
            ("DEADLINE_MARGIN_MS", "-1"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "64"),
            ("FETCHER_MAX_CONCURRENCY", "0"),
            ("FETCHER_BATCH_SIZE", "0"),
            ("FETCHER_BATCH_SIZE", "11"),
            ("API_RATE_PER_MINUTE", "-1"),
        ] {
            let e = cfg(&[("BUCKET", "b"), ("TENANTS_JSON", "{}"), (var, bad)]).unwrap_err();
            assert!(e.to_string().contains(var), "{e}");
        }
    }
}
