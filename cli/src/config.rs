//! Which tenants a command works on: one tenant from flags and environment, many from a TOML
//! `--config`, or none (then `run` collects from the embedded simulator). Every case goes
//! through `o365_activity::tenants::TenantEntry::resolve`, the one validation path.

use std::path::PathBuf;

use o365_activity::tenants::{TenantConfig, TenantEntry, TenantsFile, TokenEndpoint};
use o365_activity::{ContentType, TenantId};

use crate::args::TenantArgs;

/// The environment variable holding a single tenant's client secret.
pub const SECRET_ENV: &str = "O365_CLIENT_SECRET";

/// Reads the process environment (the lookup tenant resolution uses outside tests).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
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
    Configured(Vec<TenantConfig>),
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
        Ok(Tenants::Configured(vec![entry.resolve(1, None, env)?]))
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

    /// The tenants of `--config`, narrowed by `--tenant-id` and `--content-types`.
    fn resolve_file(
        &self,
        path: &std::path::Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<TenantConfig>, CliConfigError> {
        let mut tenants = TenantsFile::from_path(path)?.resolve(env)?;
        if let Some(t) = &self.tenant_id {
            let want: TenantId = t.parse()?;
            tenants.retain(|c| c.tenant_id == want);
            if tenants.is_empty() {
                return Err(CliConfigError::NotInFile {
                    tenant: want.to_string(),
                    file: path.to_owned(),
                });
            }
        }
        if !self.content_types.is_empty() {
            let keep = self.parsed_content_types()?;
            for t in &mut tenants {
                t.content_types.retain(|ct| keep.contains(ct));
            }
            tenants.retain(|t| !t.content_types.is_empty());
            if tenants.is_empty() {
                return Err(CliConfigError::NoTypesLeft(self.content_types.join(",")));
            }
        }
        Ok(tenants)
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
mod tests {
    use super::*;
    use o365_activity::tenants::Credential;
    use std::io::Write;

    const T: &str = "00000000-0000-0000-0000-000000000001";
    const C: &str = "00000000-0000-0000-0000-000000000c01";

    fn env_with(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn args() -> TenantArgs {
        TenantArgs::default()
    }

    #[test]
    fn nothing_configured_means_the_embedded_simulator() {
        let t = args().resolve(&env_with(&[])).unwrap();
        assert_eq!(
            t,
            Tenants::Embedded {
                content_types: ContentType::ALL.to_vec()
            }
        );
        let mut a = args();
        a.content_types = vec!["DLP.All".into()];
        assert_eq!(
            a.resolve(&env_with(&[])).unwrap(),
            Tenants::Embedded {
                content_types: vec![ContentType::DlpAll]
            }
        );
    }

    #[test]
    fn one_tenant_from_flags_and_environment() {
        let mut a = args();
        a.tenant_id = Some(T.to_uppercase());
        a.client_id = Some(C.into());
        a.cloud = Some("gcc".into());
        a.content_types = vec!["Audit.Exchange".into()];
        let Tenants::Configured(t) = a
            .resolve(&env_with(&[("O365_CLIENT_SECRET", "s3cr3t")]))
            .unwrap()
        else {
            panic!("not configured")
        };
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].tenant_id.as_str(), T);
        assert_eq!(t[0].content_types, vec![ContentType::Exchange]);
        assert_eq!(
            t[0].endpoints.api_root.host_str(),
            Some("manage-gcc.office.com")
        );
        assert!(matches!(&t[0].credential, Credential::Secret(s) if s.expose() == "s3cr3t"));
    }

    #[test]
    fn the_secret_alone_names_a_tenant_and_asks_for_the_rest() {
        let e = args()
            .resolve(&env_with(&[("O365_CLIENT_SECRET", "x")]))
            .unwrap_err();
        assert!(e.to_string().contains("O365_TENANT_ID"), "{e}");
        let mut a = args();
        a.tenant_id = Some(T.into());
        let e = a.resolve(&env_with(&[])).unwrap_err();
        assert!(e.to_string().contains("O365_CLIENT_ID"), "{e}");
        a.client_id = Some(C.into());
        let e = a.resolve(&env_with(&[])).unwrap_err();
        assert!(e.to_string().contains("O365_CLIENT_SECRET"), "{e}");
        a.tenant_id = Some("contoso.onmicrosoft.com".into());
        let e = a
            .resolve(&env_with(&[("O365_CLIENT_SECRET", "x")]))
            .unwrap_err();
        assert!(e.to_string().contains("bad tenant id"), "{e}");
    }

    #[test]
    fn endpoints_without_a_tenant_are_refused() {
        let mut a = args();
        a.api_root = Some("http://127.0.0.1:9".into());
        let e = a.resolve(&env_with(&[])).unwrap_err();
        assert!(e.to_string().contains("--api-root"), "{e}");
        a.sim = true;
        assert!(matches!(
            a.resolve(&env_with(&[])).unwrap(),
            Tenants::Embedded { .. }
        ));
    }

    #[test]
    fn certificate_needs_its_key_and_reads_files() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        std::fs::write(
            &cert,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        std::fs::write(
            &key,
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let mut a = args();
        a.tenant_id = Some(T.into());
        a.client_id = Some(C.into());
        a.client_certificate = Some(cert.clone());
        let e = a.resolve(&env_with(&[])).unwrap_err();
        assert!(e.to_string().contains("--key-file"), "{e}");
        a.key_file = Some(key);
        // A secret in the environment does not conflict with an explicit certificate.
        let Tenants::Configured(t) = a
            .resolve(&env_with(&[("O365_CLIENT_SECRET", "x")]))
            .unwrap()
        else {
            panic!("not configured")
        };
        assert!(matches!(&t[0].credential, Credential::Certificate { .. }));
        // PEM text in the variables instead of paths.
        a.client_certificate = Some(std::fs::read_to_string(&cert).unwrap().into());
        a.key_file = Some("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----".into());
        assert!(a.resolve(&env_with(&[])).is_ok());
    }

    #[test]
    fn many_tenants_from_toml_narrowed_by_flags() {
        let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        write!(
            f,
            "[[tenants]]\ntenant_id = \"{T}\"\nclient_id = \"{C}\"\nclient_secret_env = \"A_SECRET\"\n\
             [[tenants]]\ntenant_id = \"00000000-0000-0000-0000-000000000002\"\nclient_id = \"{C}\"\nclient_secret = \"b\"\ncontent_types = [\"Audit.General\"]\n"
        )
        .unwrap();
        let env = env_with(&[("A_SECRET", "a")]);
        let mut a = args();
        a.config = Some(f.path().to_owned());
        // One-tenant environment settings do not interfere with --config.
        a.client_id = Some("ignored".into());
        let Tenants::Configured(t) = a.resolve(&env).unwrap() else {
            panic!("not configured")
        };
        assert_eq!(t.len(), 2);
        a.content_types = vec!["Audit.Exchange".into()];
        let Tenants::Configured(t) = a.resolve(&env).unwrap() else {
            panic!("not configured")
        };
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].content_types, vec![ContentType::Exchange]);
        a.content_types.clear();
        a.tenant_id = Some("00000000-0000-0000-0000-000000000002".into());
        let Tenants::Configured(t) = a.resolve(&env).unwrap() else {
            panic!("not configured")
        };
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].content_types, vec![ContentType::General]);
        a.tenant_id = Some("00000000-0000-0000-0000-000000000009".into());
        assert!(matches!(
            a.resolve(&env),
            Err(CliConfigError::NotInFile { .. })
        ));
        a.tenant_id = None;
        assert!(a
            .resolve(&env_with(&[]))
            .unwrap_err()
            .to_string()
            .contains("A_SECRET"));
    }

    #[test]
    fn simulator_entry_resolves() {
        let e = simulator_entry("http://127.0.0.1:4567", T, C, "pw", &[ContentType::General]);
        let c = e.resolve(1, None, &|_| None).unwrap();
        assert_eq!(c.endpoints.api_root.as_str(), "http://127.0.0.1:4567/");
        assert_eq!(c.endpoints.login_root.as_str(), "http://127.0.0.1:4567/");
        assert_eq!(c.content_types, vec![ContentType::General]);
    }
}
