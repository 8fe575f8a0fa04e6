//! Which tenants a command works on: one tenant from flags and environment, many from a TOML
//! `--config`, or none (then `run` collects from the embedded simulator). Every case goes
//! through `o365_activity::tenants::TenantEntry::resolve`, the one validation path.

use std::path::PathBuf;

use o365_activity::bootstrap::settings::budget_from_env;
use o365_activity::bootstrap::{Env, EnvError};
use o365_activity::client::BudgetOptions;
use o365_activity::tenants::{TenantConfig, TenantEntry, TenantsFile, TokenEndpoint};
use o365_activity::{ContentType, TenantId};

use crate::args::TenantArgs;

/// The environment variable holding a single tenant's client secret.
pub const SECRET_ENV: &str = "O365_CLIENT_SECRET";

/// Reads the process environment (the lookup tenant resolution uses outside tests).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Each tenant's request budget for `o365ctl`'s API clients: `API_RATE_PER_MINUTE` and
/// `API_BURST`, with the defaults and ranges of the Lambda functions (one reader for both,
/// [`budget_from_env`]). `env` looks up environment variables (tests pass their own).
pub fn client_budget(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BudgetOptions, CliConfigError> {
    Ok(budget_from_env(&Env::new(env))?)
}

/// Where the tenants come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tenants {
    /// Nothing configured: use the embedded simulator (with these content types, if given).
    Embedded {
        /// `--content-types`, validated (empty: all five).
        content_types: Vec<ContentType>,
    },
    /// Real (or explicitly addressed) tenants.
    Configured(Configured),
}

/// The configured tenants: those ready to connect, and those whose own entry cannot be used
/// (each fails alone; the others are collected).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Configured {
    /// Tenants whose configuration resolved.
    pub tenants: Vec<Tenant>,
    /// Tenants whose entry could not be resolved (a missing variable, an unreadable file...).
    pub rejected: Vec<TenantProblem>,
}

/// One resolved tenant, with where its credential came from (for hints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The resolved configuration.
    pub config: TenantConfig,
    /// Where the credential was read from, e.g. `the variable X (client_secret_env in tenants.toml)`.
    pub credential_source: String,
}

/// Why one tenant cannot be collected, by kind, for the run's summary and `o365ctl status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Its configuration cannot be used: a missing variable, an unreadable or malformed
    /// secret, certificate or key.
    Configuration,
    /// The token endpoint refused its credentials (wrong secret, certificate not registered,
    /// app not consented).
    Credentials,
    /// The API refused the app (permission not granted or not consented).
    Permission,
    /// The token endpoint or the API could not be reached.
    Unreachable,
}

impl ProblemKind {
    /// The snake_case name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Configuration => "configuration",
            ProblemKind::Credentials => "credentials",
            ProblemKind::Permission => "permission",
            ProblemKind::Unreachable => "unreachable",
        }
    }
}

/// One tenant that cannot be collected now, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantProblem {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The content types it was configured for.
    pub content_types: Vec<ContentType>,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// One line: what failed and what to do.
    pub reason: String,
}

impl std::fmt::Display for TenantProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tenant {}: {}", self.tenant_id, self.reason)
    }
}

/// A configuration that cannot be used; the message says what to set.
#[derive(Debug, thiserror::Error)]
pub enum CliConfigError {
    /// Something is missing from a one-tenant configuration.
    #[error("{0}")]
    Missing(String),
    /// The tenant file or an entry is invalid.
    #[error(transparent)]
    Tenant(#[from] o365_activity::tenants::ConfigError),
    /// `--config` was given with `--tenant-id` that is not in it.
    #[error("tenant {tenant} is not in {file}: check --tenant-id / O365_TENANT_ID, or drop it to use every tenant of the file")]
    NotInFile {
        /// The requested tenant.
        tenant: String,
        /// The file.
        file: PathBuf,
    },
    /// `--content-types` selected nothing any tenant of the file collects.
    #[error("--content-types {0} selects no content type that the configured tenants collect")]
    NoTypesLeft(String),
    /// A bad `--content-types` value.
    #[error(transparent)]
    ContentType(#[from] o365_activity::content_type::UnknownContentType),
    /// A bad `--tenant-id`.
    #[error(transparent)]
    TenantId(#[from] o365_activity::tenant_id::BadTenantId),
    /// A bad variable shared with the Lambda functions (`API_RATE_PER_MINUTE`, `API_BURST`).
    #[error(transparent)]
    Env(#[from] EnvError),
}

impl TenantArgs {
    /// Whether any one-tenant credential setting is present (flags or environment).
    fn names_a_tenant(&self, env: &dyn Fn(&str) -> Option<String>) -> bool {
        self.tenant_id.is_some()
            || self.client_id.is_some()
            || self.client_secret_file.is_some()
            || self.client_certificate.is_some()
            || self.key_file.is_some()
            || env(SECRET_ENV).is_some_and(|s| !s.trim().is_empty())
    }

    fn parsed_content_types(&self) -> Result<Vec<ContentType>, CliConfigError> {
        Ok(ContentType::parse_list(&self.content_types.join(","))?)
    }

    /// Resolves the tenants. `env` looks up environment variables (tests pass their own).
    pub fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Tenants, CliConfigError> {
        if self.sim {
            return Ok(Tenants::Embedded {
                content_types: self.parsed_content_types()?,
            });
        }
        if let Some(path) = &self.config {
            return self.resolve_file(path, env).map(Tenants::Configured);
        }
        if !self.names_a_tenant(env) {
            if let Some(flag) = [
                ("--api-root / O365_API_ROOT", self.api_root.is_some()),
                ("--login-root / O365_LOGIN_ROOT", self.login_root.is_some()),
                ("--cloud / O365_CLOUD", self.cloud.is_some()),
                (
                    "--publisher-id / O365_PUBLISHER_ID",
                    self.publisher_id.is_some(),
                ),
            ]
            .iter()
            .find(|(_, set)| *set)
            {
                return Err(CliConfigError::Missing(format!(
                    "{} is set but no tenant is: set --tenant-id, --client-id and O365_CLIENT_SECRET (or a certificate), or use --config FILE; --sim collects from the embedded simulator",
                    flag.0
                )));
            }
            return Ok(Tenants::Embedded {
                content_types: self.parsed_content_types()?,
            });
        }
        let entry = self.single_entry(env)?;
        let credential_source = self.single_credential_source();
        Ok(Tenants::Configured(Configured {
            tenants: vec![Tenant {
                config: entry.resolve(1, None, env)?,
                credential_source,
            }],
            rejected: Vec::new(),
        }))
    }

    /// Where a one-tenant credential comes from, for hints.
    fn single_credential_source(&self) -> String {
        if self.client_certificate.is_some() {
            "the certificate and key (--client-certificate / O365_CLIENT_CERTIFICATE, --key-file / O365_CLIENT_KEY)".into()
        } else if self.client_secret_file.is_some() {
            "the secret file (--client-secret-file / O365_CLIENT_SECRET_FILE)".into()
        } else {
            format!("the secret ({SECRET_ENV})")
        }
    }

    /// The one tenant of the flags and environment as a file entry.
    fn single_entry(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TenantEntry, CliConfigError> {
        let tenant_id = self.tenant_id.clone().ok_or_else(|| {
            CliConfigError::Missing(
                "no tenant id: set --tenant-id or O365_TENANT_ID to the directory GUID (Entra ID > Overview > Tenant ID)".into(),
            )
        })?;
        let client_id = self.client_id.clone().ok_or_else(|| {
            CliConfigError::Missing(
                "no client id: set --client-id or O365_CLIENT_ID to the Application (client) ID of the app registration".into(),
            )
        })?;
        let mut entry = TenantEntry {
            tenant_id,
            client_id,
            cloud: self.cloud.clone(),
            api_root: self.api_root.clone(),
            login_root: self.login_root.clone(),
            content_types: (!self.content_types.is_empty()).then(|| self.content_types.clone()),
            publisher_id: self.publisher_id.clone(),
            token_endpoint: self.token_endpoint.as_deref().map(|v| match v {
                "v1" => TokenEndpoint::V1,
                _ => TokenEndpoint::V2,
            }),
            ..TenantEntry::default()
        };
        match (&self.client_certificate, &self.key_file) {
            (Some(cert), Some(key)) => {
                // The environment variables may hold the PEM itself rather than a path.
                let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
                if cert.contains("-----BEGIN") {
                    entry.certificate_pem = Some(cert.into_owned());
                } else {
                    entry.certificate_file = self.client_certificate.clone();
                }
                if key.contains("-----BEGIN") {
                    entry.private_key_pem = Some(key.into_owned());
                } else {
                    entry.private_key_file = self.key_file.clone();
                }
            }
            (Some(_), None) => {
                return Err(CliConfigError::Missing(
                    "--client-certificate needs its private key: add --key-file FILE (or O365_CLIENT_KEY)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(CliConfigError::Missing(
                    "--key-file needs its certificate: add --client-certificate FILE (or O365_CLIENT_CERTIFICATE)".into(),
                ))
            }
            (None, None) => {
                if self.client_secret_file.is_some() {
                    entry.client_secret_file = self.client_secret_file.clone();
                } else if env(SECRET_ENV).is_some() {
                    entry.client_secret_env = Some(SECRET_ENV.into());
                } else {
                    return Err(CliConfigError::Missing(format!(
                        "no credential for tenant {}: set {SECRET_ENV} (client secret), or --client-secret-file FILE, or --client-certificate FILE with --key-file FILE",
                        entry.tenant_id
                    )));
                }
            }
        }
        Ok(entry)
    }

    /// The tenants of `--config`, narrowed by `--tenant-id` (before anything else, so another
    /// tenant's entry never matters) and `--content-types`. An entry that cannot be resolved
    /// fails alone, as a [`TenantProblem`]; only a file that cannot be read or parsed, an
    /// unreadable tenant id or a duplicate tenant is an error for the whole file.
    fn resolve_file(
        &self,
        path: &std::path::Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Configured, CliConfigError> {
        let file = TenantsFile::from_path(path)?;
        if file.tenants.is_empty() {
            return Err(o365_activity::tenants::ConfigError::NoTenants.into());
        }
        let want: Option<TenantId> = self.tenant_id.as_deref().map(str::parse).transpose()?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut out = Configured::default();
        let mut seen: Vec<TenantId> = Vec::new();
        for (i, entry) in file.tenants.into_iter().enumerate() {
            let parsed = entry.tenant_id.parse::<TenantId>();
            if let Some(w) = &want {
                if parsed.as_ref().ok() != Some(w) {
                    continue;
                }
            }
            if let Ok(t) = &parsed {
                if seen.contains(t) {
                    return Err(
                        o365_activity::tenants::ConfigError::Duplicate(t.to_string()).into(),
                    );
                }
                seen.push(t.clone());
            }
            let credential_source = entry_credential_source(&entry, &name);
            let types = entry_content_types(&entry);
            match (
                entry.resolve(i + 1, file.publisher_id.as_deref(), env),
                parsed,
            ) {
                (Ok(config), _) => out.tenants.push(Tenant {
                    config,
                    credential_source,
                }),
                (Err(e), Ok(tenant_id)) => out.rejected.push(TenantProblem {
                    tenant_id,
                    content_types: types,
                    kind: ProblemKind::Configuration,
                    reason: format!("{e} (in {})", path.display()),
                }),
                (Err(e), Err(_)) => return Err(e.into()),
            }
        }
        if let (Some(w), true) = (&want, out.tenants.is_empty() && out.rejected.is_empty()) {
            return Err(CliConfigError::NotInFile {
                tenant: w.to_string(),
                file: path.to_owned(),
            });
        }
        if !self.content_types.is_empty() {
            let keep = self.parsed_content_types()?;
            for t in &mut out.tenants {
                t.config.content_types.retain(|ct| keep.contains(ct));
            }
            for t in &mut out.rejected {
                t.content_types.retain(|ct| keep.contains(ct));
            }
            out.tenants.retain(|t| !t.config.content_types.is_empty());
            out.rejected.retain(|t| !t.content_types.is_empty());
            if out.tenants.is_empty() && out.rejected.is_empty() {
                return Err(CliConfigError::NoTypesLeft(self.content_types.join(",")));
            }
        }
        Ok(out)
    }
}

/// Where a file entry's credential comes from, for hints (never the value).
fn entry_credential_source(entry: &TenantEntry, file: &str) -> String {
    if let Some(var) = &entry.client_secret_env {
        format!("the variable {var} (client_secret_env in {file})")
    } else if let Some(path) = &entry.client_secret_file {
        format!("the file {} (client_secret_file in {file})", path.display())
    } else if entry.client_secret.is_some() {
        format!("client_secret in {file}")
    } else {
        format!("the certificate and private key in {file}")
    }
}

/// The content types an entry asks for, as far as they parse (all five by default).
fn entry_content_types(entry: &TenantEntry) -> Vec<ContentType> {
    match &entry.content_types {
        Some(list) if !list.is_empty() => {
            ContentType::parse_list(&list.join(",")).unwrap_or_else(|_| ContentType::ALL.to_vec())
        }
        _ => ContentType::ALL.to_vec(),
    }
}

/// The entry for a simulator (embedded or on a known URL) with its well-known app credentials.
pub fn simulator_entry(
    base_url: &str,
    tenant_id: &str,
    client_id: &str,
    client_secret: &str,
    content_types: &[ContentType],
) -> TenantEntry {
    TenantEntry {
        tenant_id: tenant_id.to_owned(),
        client_id: client_id.to_owned(),
        client_secret: Some(client_secret.to_owned()),
        api_root: Some(base_url.to_owned()),
        login_root: Some(base_url.to_owned()),
        content_types: Some(content_types.iter().map(|c| c.to_string()).collect()),
        ..TenantEntry::default()
    }
}

#[cfg(test)]
mod tests;
