//! The fetcher's settings, from the Lambda environment, with defaults and errors that say
//! what to fix.

use o365_activity::compression::Compression;
use o365_activity::normalize::{Limits, DEFAULT_MAX_RECORD_BYTES};
use o365_activity::tenants::{ConfigError, TenantConfig, TenantsFile};

/// Default bucket prefix of every object the collector writes.
pub const DEFAULT_PREFIX: &str = "o365";
/// Default number of blobs fetched at once within one batch.
pub const DEFAULT_MAX_CONCURRENCY: usize = 4;
/// Highest accepted `MAX_CONCURRENCY`.
pub const MAX_MAX_CONCURRENCY: usize = 64;
/// Default time kept free before the Lambda deadline, in milliseconds.
pub const DEFAULT_DEADLINE_MARGIN_MS: u64 = 5_000;

/// Where the tenants configuration comes from (shared with the other function).
pub use o365_activity::tenants::TenantsSource;

/// Everything the fetcher needs to know from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetcherConfig {
    /// `BUCKET`: where objects are written (required).
    pub bucket: String,
    /// `PREFIX`: key prefix (default `o365`).
    pub prefix: String,
    /// `COMPRESSION`: `gzip`, `gzip:1..9`, `zstd`, `zstd:1..19` (default `gzip`).
    pub compression: Compression,
    /// `MAX_CONCURRENCY`: blobs fetched at once per batch (default 4, 1..=64).
    pub max_concurrency: usize,
    /// `TENANTS_SECRET_ARN` or `TENANTS_JSON` (exactly one).
    pub tenants: TenantsSource,
    /// `PUBLISHER_ID`: `PublisherIdentifier` of every tenant that sets none of its own (and
    /// has no file-wide default), whichever source the tenants come from.
    pub publisher_id: Option<String>,
    /// `MAX_RECORD_BYTES`: largest record accepted (default 32 MiB).
    pub limits: Limits,
    /// `DEADLINE_MARGIN_MS`: time kept free before the Lambda deadline (default 5000).
    pub deadline_margin_ms: u64,
    /// `AWS_ENDPOINT_URL`: the standard AWS endpoint override (moto, LocalStack), if set.
    pub endpoint_url: Option<String>,
}

/// A setting that is missing or unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetcherConfigError {
    /// A required variable is not set.
    #[error("environment variable {var} is not set: {hint}")]
    Missing {
        /// The variable.
        var: &'static str,
        /// What to set it to.
        hint: &'static str,
    },
    /// A variable has a value that cannot be used.
    #[error("environment variable {var}={value:?} is invalid: {hint}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What a good value looks like.
        hint: String,
    },
    /// Both tenant sources are set.
    #[error("both TENANTS_SECRET_ARN and TENANTS_JSON are set: set only one (the secret in AWS, the JSON locally)")]
    BothTenantSources,
}

fn non_empty(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    env(var)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr + PartialOrd + Copy>(
    env: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
    hint: &str,
) -> Result<T, FetcherConfigError> {
    match non_empty(env, var) {
        None => Ok(default),
        Some(v) => {
            v.parse::<T>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or(FetcherConfigError::Invalid {
                    var,
                    value: v,
                    hint: hint.to_owned(),
                })
        }
    }
}

impl FetcherConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<FetcherConfig, FetcherConfigError> {
        FetcherConfig::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Reads settings through `env` (tests pass a map).
    pub fn from_lookup(
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<FetcherConfig, FetcherConfigError> {
        let bucket = non_empty(env, "BUCKET").ok_or(FetcherConfigError::Missing {
            var: "BUCKET",
            hint: "set it to the name of the bucket the fetcher writes to",
        })?;
        let prefix = env("PREFIX").unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        if prefix.contains("..") || prefix.contains('\\') {
            return Err(FetcherConfigError::Invalid {
                var: "PREFIX",
                value: prefix,
                hint: "a key prefix such as o365 (no '..' or backslashes)".to_owned(),
            });
        }
        let compression = match non_empty(env, "COMPRESSION") {
            None => Compression::default(),
            Some(v) => v
                .parse::<Compression>()
                .map_err(|e| FetcherConfigError::Invalid {
                    var: "COMPRESSION",
                    value: v,
                    hint: e.to_string(),
                })?,
        };
        let max_concurrency = number(
            env,
            "MAX_CONCURRENCY",
            DEFAULT_MAX_CONCURRENCY,
            1..=MAX_MAX_CONCURRENCY,
            "a whole number from 1 to 64",
        )?;
        let max_record_bytes = number(
            env,
            "MAX_RECORD_BYTES",
            DEFAULT_MAX_RECORD_BYTES,
            1024..=1 << 30,
            "a size in bytes from 1024 to 1073741824",
        )?;
        let deadline_margin_ms = number(
            env,
            "DEADLINE_MARGIN_MS",
            DEFAULT_DEADLINE_MARGIN_MS,
            0..=600_000,
            "milliseconds from 0 to 600000",
        )?;
        let tenants = match (
            non_empty(env, "TENANTS_SECRET_ARN"),
            non_empty(env, "TENANTS_JSON"),
        ) {
            (Some(_), Some(_)) => return Err(FetcherConfigError::BothTenantSources),
            (Some(arn), None) => TenantsSource::SecretArn(arn),
            (None, Some(json)) => TenantsSource::Json(json),
            (None, None) => {
                return Err(FetcherConfigError::Missing {
                    var: "TENANTS_SECRET_ARN",
                    hint: "set TENANTS_SECRET_ARN to the Secrets Manager secret holding the tenants configuration (or TENANTS_JSON to the configuration itself, locally)",
                })
            }
        };
        let publisher_id = non_empty(env, "PUBLISHER_ID");
        if let Some(p) = &publisher_id {
            if !o365_activity::tenant_id::is_guid(p) {
                return Err(FetcherConfigError::Invalid {
                    var: "PUBLISHER_ID",
                    value: p.clone(),
                    hint: "a GUID: your own (the vendor's) tenant id".to_owned(),
                });
            }
        }
        Ok(FetcherConfig {
            bucket,
            prefix,
            compression,
            max_concurrency,
            tenants,
            publisher_id,
            limits: Limits { max_record_bytes },
            deadline_margin_ms,
            endpoint_url: non_empty(env, "AWS_ENDPOINT_URL"),
        })
    }
}

impl FetcherConfig {
    /// Gives `PUBLISHER_ID` to every tenant left with the fallback publisher (its own tenant
    /// id): the same rule as the lister's, so both send the same `PublisherIdentifier`.
    pub fn apply_publisher_default(&self, tenants: &mut [TenantConfig]) {
        o365_activity::tenants::apply_publisher_default(tenants, self.publisher_id.as_deref());
    }
}

/// Resolves a JSON tenants configuration (`TENANTS_JSON`).
pub fn tenants_from_json(
    json: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<TenantConfig>, ConfigError> {
    TenantsFile::from_json(json)?.resolve(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<FetcherConfig, FetcherConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FetcherConfig::from_lookup(&move |k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[("BUCKET", "b"), ("TENANTS_SECRET_ARN", "arn:x")]).unwrap();
        assert_eq!(c.prefix, "o365");
        assert_eq!(c.compression, Compression::Gzip { level: 6 });
        assert_eq!(c.max_concurrency, 4);
        assert_eq!(c.tenants, TenantsSource::SecretArn("arn:x".into()));
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.endpoint_url, None);
    }

    #[test]
    fn explicit_values() {
        let c = cfg(&[
            ("BUCKET", "b"),
            ("PREFIX", ""),
            ("COMPRESSION", "zstd:3"),
            ("MAX_CONCURRENCY", "8"),
            ("TENANTS_JSON", "{}"),
            ("PUBLISHER_ID", "00000000-0000-0000-0000-0000000000a1"),
            ("MAX_RECORD_BYTES", "4096"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ])
        .unwrap();
        assert_eq!(c.prefix, "");
        assert_eq!(c.compression, Compression::Zstd { level: 3 });
        assert_eq!(c.max_concurrency, 8);
        assert_eq!(c.tenants, TenantsSource::Json("{}".into()));
        assert_eq!(c.limits.max_record_bytes, 4096);
        assert_eq!(
            c.publisher_id.as_deref(),
            Some("00000000-0000-0000-0000-0000000000a1")
        );
    }

    #[test]
    fn errors_say_what_to_fix() {
        let e = cfg(&[("TENANTS_JSON", "{}")]).unwrap_err();
        assert!(e.to_string().contains("BUCKET"), "{e}");
        let e = cfg(&[("BUCKET", "b")]).unwrap_err();
        assert!(e.to_string().contains("TENANTS_SECRET_ARN"), "{e}");
        assert_eq!(
            cfg(&[
                ("BUCKET", "b"),
                ("TENANTS_JSON", "{}"),
                ("TENANTS_SECRET_ARN", "a")
            ]),
            Err(FetcherConfigError::BothTenantSources)
        );
        for (var, bad) in [
            ("MAX_CONCURRENCY", "0"),
            ("MAX_CONCURRENCY", "x"),
            ("MAX_CONCURRENCY", "65"),
            ("COMPRESSION", "brotli"),
            ("PREFIX", "../x"),
            ("MAX_RECORD_BYTES", "1"),
        ] {
            let e = cfg(&[("BUCKET", "b"), ("TENANTS_JSON", "{}"), (var, bad)]).unwrap_err();
            assert!(e.to_string().contains(var), "{e}");
        }
    }

    #[test]
    fn publisher_default_applies_to_tenants_without_their_own() {
        let json = r#"{"tenants":[
            {"tenant_id":"00000000-0000-0000-0000-000000000001","client_id":"00000000-0000-0000-0000-000000000c01","client_secret":"s"},
            {"tenant_id":"00000000-0000-0000-0000-000000000002","client_id":"00000000-0000-0000-0000-000000000c01","client_secret":"s","publisher_id":"00000000-0000-0000-0000-0000000000b2"}]}"#;
        let mut t = tenants_from_json(json, &|_| None).unwrap();
        let c = cfg(&[
            ("BUCKET", "b"),
            ("TENANTS_JSON", json),
            ("PUBLISHER_ID", "00000000-0000-0000-0000-0000000000A1"),
        ])
        .unwrap();
        c.apply_publisher_default(&mut t);
        assert_eq!(t[0].publisher_id, "00000000-0000-0000-0000-0000000000a1");
        assert_eq!(t[1].publisher_id, "00000000-0000-0000-0000-0000000000b2");
        assert!(tenants_from_json("[]", &|_| None).is_err());
        let e = cfg(&[
            ("BUCKET", "b"),
            ("TENANTS_JSON", json),
            ("PUBLISHER_ID", "acme"),
        ]);
        assert!(e.unwrap_err().to_string().contains("GUID"));
    }
}
