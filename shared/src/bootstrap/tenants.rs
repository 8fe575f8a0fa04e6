//! The one tenant-source loader: reads the tenants from `TENANTS_JSON` or the Secrets Manager
//! secret, resolves credentials and applies `PUBLISHER_ID`, the same way for both functions.

use std::sync::Arc;

use crate::aws::{load_tenants_from_secret, SecretConfigError};
use crate::tenants::{apply_publisher_default, ConfigError, TenantConfig, TenantsFile};

/// Why the tenants could not be loaded. Never carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum TenantLoadError {
    /// `TENANTS_JSON` is unusable.
    #[error("TENANTS_JSON: {0}")]
    Json(#[source] ConfigError),
    /// The Secrets Manager secret could not be read or is unusable.
    #[error(transparent)]
    Secret(#[from] SecretConfigError),
    /// A custom source failed.
    #[error("tenants source: {0}")]
    Custom(String),
}

impl TenantLoadError {
    /// Whether trying again later can succeed (throttling, a network failure).
    pub fn is_retryable(&self) -> bool {
        matches!(self, TenantLoadError::Secret(e) if e.is_retryable())
    }
}

type LoadFn = dyn Fn() -> Result<Vec<TenantConfig>, TenantLoadError> + Send + Sync;

enum Source {
    Json(String),
    Secret {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
    Custom(Arc<LoadFn>),
}

/// Reads a function's tenants; called at cold start and on every reload.
pub struct TenantLoader {
    source: Source,
    publisher_id: Option<String>,
}

impl std::fmt::Debug for TenantLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.source {
            Source::Json(_) => "TENANTS_JSON".to_owned(),
            Source::Secret { secret_id, .. } => format!("secret {secret_id}"),
            Source::Custom(_) => "custom".to_owned(),
        };
        f.debug_struct("TenantLoader")
            .field("source", &source)
            .finish_non_exhaustive()
    }
}

fn process_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl TenantLoader {
    /// A loader of `TENANTS_JSON` (no AWS call), giving `publisher_id` to every tenant that
    /// sets none of its own.
    pub fn json(json: &str, publisher_id: Option<String>) -> TenantLoader {
        TenantLoader {
            source: Source::Json(json.to_owned()),
            publisher_id,
        }
    }

    /// A loader of the Secrets Manager secret `secret_id`, read with `client`, giving
    /// `publisher_id` to every tenant that sets none of its own.
    pub fn secret(
        client: aws_sdk_secretsmanager::Client,
        secret_id: &str,
        publisher_id: Option<String>,
    ) -> TenantLoader {
        TenantLoader {
            source: Source::Secret {
                client,
                secret_id: secret_id.to_owned(),
            },
            publisher_id,
        }
    }

    /// A loader calling `load` each time (tests, embedders with their own source).
    pub fn custom(
        load: impl Fn() -> Result<Vec<TenantConfig>, TenantLoadError> + Send + Sync + 'static,
    ) -> TenantLoader {
        TenantLoader {
            source: Source::Custom(Arc::new(load)),
            publisher_id: None,
        }
    }

    /// Where the tenants come from, for logs.
    pub fn describe(&self) -> String {
        format!("{self:?}")
    }

    /// Reads and resolves the tenants; `client_secret_env` references are looked up in the
    /// process environment.
    pub async fn load(&self) -> Result<Vec<TenantConfig>, TenantLoadError> {
        let mut tenants = match &self.source {
            Source::Json(json) => TenantsFile::from_json(json)
                .and_then(|f| f.resolve(&process_var))
                .map_err(TenantLoadError::Json)?,
            Source::Secret { client, secret_id } => {
                load_tenants_from_secret(client, secret_id, &process_var).await?
            }
            Source::Custom(load) => load()?,
        };
        apply_publisher_default(&mut tenants, self.publisher_id.as_deref());
        Ok(tenants)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "00000000-0000-0000-0000-000000000001";
    const C: &str = "00000000-0000-0000-0000-000000000c01";
    const P: &str = "00000000-0000-0000-0000-0000000000a1";

    #[tokio::test]
    async fn json_source_applies_the_publisher_default() {
        let json = format!(
            r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}","client_secret":"hunter2"}}]}}"#
        );
        let loader = TenantLoader::json(&json, Some(P.to_owned()));
        let tenants = loader.load().await.unwrap();
        assert_eq!(tenants[0].publisher_id, P);
        assert!(!loader.describe().contains("hunter2"));
    }

    #[tokio::test]
    async fn json_mistakes_name_the_variable_and_hide_values() {
        let loader = TenantLoader::json(r#"{"tenants":[{"client_secret":987654}]}"#, None);
        let e = loader.load().await.unwrap_err().to_string();
        assert!(
            e.starts_with("TENANTS_JSON") && !e.contains("987654"),
            "{e}"
        );
    }
}
