//! Tenant configuration: which tenants to collect, how each authenticates, which cloud and
//! content types. One shape, read from JSON (the Secrets Manager secret in AWS) or TOML
//! (`o365ctl --config`), with credentials inline, from an environment variable or a file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cloud::{Cloud, Endpoints};
use crate::content_type::ContentType;
use crate::secret::Secret;
use crate::tenant_id::{is_guid, TenantId};

/// How a tenant's app authenticates to the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A client secret.
    Secret(Secret),
    /// A certificate (PEM) and its RSA private key (PEM, PKCS#1 or PKCS#8).
    Certificate {
        /// The public certificate, PEM; its SHA-1 thumbprint becomes the assertion's `x5t`.
        certificate_pem: String,
        /// The private key, PEM.
        private_key_pem: Secret,
    },
}

/// Which token endpoint generation to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenEndpoint {
    /// `/{tenant}/oauth2/v2.0/token` with `scope={resource}/.default` (default).
    #[default]
    V2,
    /// `/{tenant}/oauth2/token` with `resource={resource}`.
    V1,
}

/// Everything needed to collect from one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantConfig {
    /// The customer tenant.
    pub tenant_id: TenantId,
    /// The app (client) id registered in that tenant.
    pub client_id: String,
    /// The app's credential.
    pub credential: Credential,
    /// API root, login root and token audience.
    pub endpoints: Endpoints,
    /// Content types to collect (default: all five).
    pub content_types: Vec<ContentType>,
    /// `PublisherIdentifier` sent on every request (default: the tenant id).
    pub publisher_id: String,
    /// Token endpoint generation.
    pub token_endpoint: TokenEndpoint,
}

/// Where a Lambda function's tenants configuration (the JSON of [`TenantsFile`]) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantsSource {
    /// A Secrets Manager secret (its ARN or name) holding the JSON (`TENANTS_SECRET_ARN`, AWS).
    SecretArn(String),
    /// The JSON itself (`TENANTS_JSON`: local runs and tests).
    Json(String),
}

/// Gives a deployment-wide `PUBLISHER_ID` to every tenant left with the fallback publisher
/// (its own tenant id), i.e. that set no `publisher_id` of its own and had no file-wide
/// default; the lister and the fetcher share this rule so both send the same identifier.
pub fn apply_publisher_default(tenants: &mut [TenantConfig], publisher_id: Option<&str>) {
    if let Some(p) = publisher_id {
        for t in tenants
            .iter_mut()
            .filter(|t| t.publisher_id == t.tenant_id.as_str())
        {
            t.publisher_id = p.to_ascii_lowercase();
        }
    }
}

/// A configuration that cannot be used; each message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or secret is not valid JSON/TOML of the expected shape.
    #[error("tenant configuration is malformed: {0}")]
    Malformed(String),
    /// No tenant at all.
    #[error("no tenant configured: add at least one entry under `tenants`")]
    NoTenants,
    /// A bad field of one tenant.
    #[error("tenant #{index} ({tenant}): {problem}")]
    Tenant {
        /// Position in the list, from 1.
        index: usize,
        /// The tenant id as given.
        tenant: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The same tenant twice.
    #[error("tenant {0} is configured twice: merge the entries")]
    Duplicate(String),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The on-disk / in-secret shape of the configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantsFile {
    /// Default `PublisherIdentifier` for tenants that do not set one.
    #[serde(default)]
    pub publisher_id: Option<String>,
    /// The tenants.
    #[serde(default)]
    pub tenants: Vec<TenantEntry>,
}

/// One tenant as written in the file; resolved into a [`TenantConfig`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantEntry {
    /// Tenant GUID.
    pub tenant_id: String,
    /// App (client) id.
    pub client_id: String,
    /// Client secret inline (Secrets Manager).
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Name of an environment variable holding the client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// File holding the client secret.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Certificate PEM inline.
    #[serde(default)]
    pub certificate_pem: Option<String>,
    /// Certificate PEM file.
    #[serde(default)]
    pub certificate_file: Option<PathBuf>,
    /// Private key PEM inline.
    #[serde(default)]
    pub private_key_pem: Option<String>,
    /// Private key PEM file.
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// `enterprise` (default), `gcc`, `gcc-high` or `dod`.
    #[serde(default)]
    pub cloud: Option<String>,
    /// Explicit API root (overrides `cloud`; needs `login_root`).
    #[serde(default)]
    pub api_root: Option<String>,
    /// Explicit login root (overrides `cloud`; needs `api_root`).
    #[serde(default)]
    pub login_root: Option<String>,
    /// Content types (default all five).
    #[serde(default)]
    pub content_types: Option<Vec<String>>,
    /// `PublisherIdentifier` for this tenant.
    #[serde(default)]
    pub publisher_id: Option<String>,
    /// `v2` (default) or `v1` token endpoint.
    #[serde(default)]
    pub token_endpoint: Option<TokenEndpoint>,
}

impl TenantsFile {
    /// Reads the JSON form (the Secrets Manager secret).
    pub fn from_json(text: &str) -> Result<TenantsFile, ConfigError> {
        serde_json::from_str(text).map_err(|e| ConfigError::Malformed(describe_json_error(&e)))
    }

    /// Reads the TOML form (`o365ctl --config FILE`).
    pub fn from_toml(text: &str) -> Result<TenantsFile, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Malformed(describe_toml_error(&e, text)))
    }

    /// Reads a file, TOML or JSON by its extension (`.json` is JSON, anything else TOML).
    pub fn from_path(path: &Path) -> Result<TenantsFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let parsed = if path.extension().and_then(|e| e.to_str()) == Some("json") {
            TenantsFile::from_json(&text)
        } else {
            TenantsFile::from_toml(&text)
        };
        parsed.map_err(|e| match e {
            ConfigError::Malformed(why) => {
                ConfigError::Malformed(format!("{}: {why}", path.display()))
            }
            other => other,
        })
    }

    /// Validates every entry and resolves credentials; `env` looks up environment variables.
    pub fn resolve(
        self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<TenantConfig>, ConfigError> {
        if self.tenants.is_empty() {
            return Err(ConfigError::NoTenants);
        }
        let mut out: Vec<TenantConfig> = Vec::with_capacity(self.tenants.len());
        for (i, entry) in self.tenants.into_iter().enumerate() {
            let cfg = entry.resolve(i + 1, self.publisher_id.as_deref(), env)?;
            if out.iter().any(|c| c.tenant_id == cfg.tenant_id) {
                return Err(ConfigError::Duplicate(cfg.tenant_id.to_string()));
            }
            out.push(cfg);
        }
        Ok(out)
    }
}

/// Describes a JSON error without quoting values from the text (it may hold client secrets).
fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Io => "unreadable input",
        Category::Syntax => "not valid JSON",
        Category::Eof => "JSON ends too early",
        Category::Data => "a member is missing, unknown or of the wrong type (expected {\"tenants\":[{\"tenant_id\",\"client_id\",\"client_secret\"|\"certificate_pem\"+\"private_key_pem\",...}]})",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

/// Describes a TOML error by line, column and key, never quoting the text (the line may hold
/// a client secret, and serde's messages quote the offending value).
fn describe_toml_error(e: &toml::de::Error, text: &str) -> String {
    let message = e.message();
    let (what, expected) = match message.find(", expected") {
        Some(i) => message.split_at(i),
        None => (message, ""),
    };
    let names_keys_only = ["unknown field", "missing field", "duplicate key"]
        .iter()
        .any(|p| what.starts_with(p));
    let what = if names_keys_only || !(what.contains('"') || what.contains('`')) {
        what
    } else if what.starts_with("invalid type") {
        "a value of the wrong type"
    } else {
        "a value that is not allowed"
    };
    let Some(at) = e.span().map(|s| s.start).filter(|s| *s <= text.len()) else {
        return format!("not valid TOML: {what}{expected}");
    };
    let before = text.get(..at).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let key = text
        .lines()
        .nth(line.saturating_sub(1))
        .and_then(|l| l.split_once('='))
        .map(|(k, _)| k.trim())
        .filter(|k| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        });
    match key {
        Some(k) => format!("line {line}, column {column} (key {k}): {what}{expected}"),
        None => format!("line {line}, column {column}: {what}{expected}"),
    }
}

fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })
}

impl TenantEntry {
    /// Validates and resolves one entry (`index` counts from 1, for messages).
    pub fn resolve(
        self,
        index: usize,
        default_publisher: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TenantConfig, ConfigError> {
        let tenant = self.tenant_id.clone();
        let err = |problem: String| ConfigError::Tenant {
            index,
            tenant: tenant.clone(),
            problem,
        };
        let tenant_id: TenantId = self.tenant_id.parse().map_err(|e| err(format!("{e}")))?;
        if !is_guid(self.client_id.trim()) {
            return Err(err(format!(
                "client_id {:?} is not a GUID: use the Application (client) ID of the app registration",
                self.client_id
            )));
        }
        let credential = self.credential(env).map_err(|p| match p {
            Ok(problem) => err(problem),
            Err(io) => io,
        })?;
        let endpoints = match (&self.api_root, &self.login_root) {
            (Some(api), Some(login)) => {
                Endpoints::custom(api, login).map_err(|e| err(e.to_string()))?
            }
            (None, None) => {
                let cloud: Cloud = match &self.cloud {
                    Some(c) => c
                        .parse()
                        .map_err(|e: crate::cloud::UnknownCloud| err(e.to_string()))?,
                    None => Cloud::Enterprise,
                };
                cloud.endpoints()
            }
            _ => {
                return Err(err(
                    "give both api_root and login_root, or neither (and a cloud)".into(),
                ))
            }
        };
        let content_types = match self.content_types {
            None => ContentType::ALL.to_vec(),
            Some(list) if list.is_empty() => ContentType::ALL.to_vec(),
            Some(list) => {
                ContentType::parse_list(&list.join(",")).map_err(|e| err(e.to_string()))?
            }
        };
        let publisher_id = self
            .publisher_id
            .or_else(|| default_publisher.map(str::to_owned))
            .unwrap_or_else(|| tenant_id.to_string());
        if !is_guid(publisher_id.trim()) {
            return Err(err(format!(
                "publisher_id {publisher_id:?} is not a GUID: use your own (the vendor's) tenant id"
            )));
        }
        Ok(TenantConfig {
            tenant_id,
            client_id: self.client_id.trim().to_ascii_lowercase(),
            credential,
            endpoints,
            content_types,
            publisher_id: publisher_id.trim().to_ascii_lowercase(),
            token_endpoint: self.token_endpoint.unwrap_or_default(),
        })
    }

    /// Picks exactly one credential source. `Err(Ok(problem))` is a config problem,
    /// `Err(Err(e))` an unreadable file.
    fn credential(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Credential, Result<String, ConfigError>> {
        let secret_sources = [
            self.client_secret.is_some(),
            self.client_secret_env.is_some(),
            self.client_secret_file.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        let has_cert = self.certificate_pem.is_some() || self.certificate_file.is_some();
        let has_key = self.private_key_pem.is_some() || self.private_key_file.is_some();
        if secret_sources > 1 {
            return Err(Ok(
                "give only one of client_secret, client_secret_env, client_secret_file".into(),
            ));
        }
        if secret_sources == 1 && (has_cert || has_key) {
            return Err(Ok("give a client secret or a certificate, not both".into()));
        }
        if secret_sources == 1 {
            let value = if let Some(s) = &self.client_secret {
                s.clone()
            } else if let Some(var) = &self.client_secret_env {
                env(var).ok_or_else(|| {
                    Ok(format!(
                        "environment variable {var} (client_secret_env) is not set"
                    ))
                })?
            } else if let Some(path) = &self.client_secret_file {
                read_file(path).map_err(Err)?.trim().to_owned()
            } else {
                String::new()
            };
            let secret = Secret::new(value);
            if secret.is_empty() {
                return Err(Ok("the client secret is empty".into()));
            }
            return Ok(Credential::Secret(secret));
        }
        if has_cert != has_key {
            return Err(Ok("a certificate needs both the certificate (certificate_pem/certificate_file) and its private key (private_key_pem/private_key_file)".into()));
        }
        if has_cert {
            let cert = match (&self.certificate_pem, &self.certificate_file) {
                (Some(p), None) => p.clone(),
                (None, Some(f)) => read_file(f).map_err(Err)?,
                _ => {
                    return Err(Ok(
                        "give only one of certificate_pem and certificate_file".into()
                    ))
                }
            };
            let key = match (&self.private_key_pem, &self.private_key_file) {
                (Some(p), None) => p.clone(),
                (None, Some(f)) => read_file(f).map_err(Err)?,
                _ => {
                    return Err(Ok(
                        "give only one of private_key_pem and private_key_file".into()
                    ))
                }
            };
            if !cert.contains("-----BEGIN CERTIFICATE-----") {
                return Err(Ok(
                    "the certificate is not a PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
                ));
            }
            if !key.contains("PRIVATE KEY-----") {
                return Err(Ok("the private key is not a PEM private key".into()));
            }
            return Ok(Credential::Certificate {
                certificate_pem: cert,
                private_key_pem: Secret::new(key),
            });
        }
        Err(Ok("no credential: set client_secret (or client_secret_env / client_secret_file, e.g. O365_CLIENT_SECRET), or a certificate and private key".into()))
    }
}

#[cfg(test)]
mod tests;
