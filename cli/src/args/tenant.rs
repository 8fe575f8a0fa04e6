//! Which tenants a subcommand works on, and how it authenticates.

use std::path::PathBuf;

use clap::{Arg, Args};

/// The flags whose environment value is a secret or leads to one: `--help` never shows it.
pub(super) const SECRET_BEARING: [&str; 3] =
    ["client_secret_file", "client_certificate", "key_file"];

/// Hides the environment value of a [`SECRET_BEARING`] flag (the other flags are unchanged).
fn hide_secret_env(arg: Arg) -> Arg {
    if SECRET_BEARING.contains(&arg.get_id().as_str()) {
        arg.hide_env_values(true)
    } else {
        arg
    }
}

/// Which tenants to collect and how to authenticate: one tenant by flags/environment, many
/// with `--config`, or none (the embedded simulator).
// Each flag is one declaration of the same shape (doc, `#[arg]`, field), as in `StorageArgs`:
// `duplicates` pairs them as boilerplate, deliberately (a flag table, no logic).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Tenant", mut_args = hide_secret_env)]
pub struct TenantArgs {
    /// TOML file of tenants (`[[tenants]]` tables); takes precedence over the one-tenant flags,
    /// except that --tenant-id and --content-types then narrow the selection.
    #[arg(long, env = "O365_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Tenant (directory) GUID.
    #[arg(long, env = "O365_TENANT_ID", value_name = "GUID")]
    pub tenant_id: Option<String>,
    /// Application (client) id of the app registration.
    #[arg(long, env = "O365_CLIENT_ID", value_name = "GUID")]
    pub client_id: Option<String>,
    /// File holding the client secret (or set O365_CLIENT_SECRET).
    #[arg(long, env = "O365_CLIENT_SECRET_FILE", value_name = "FILE")]
    pub client_secret_file: Option<PathBuf>,
    /// Certificate (PEM file, or the PEM itself) for certificate authentication; needs --key-file.
    #[arg(long, env = "O365_CLIENT_CERTIFICATE", value_name = "FILE")]
    pub client_certificate: Option<PathBuf>,
    /// The certificate's private key (PEM file, or the PEM itself; its value is never shown).
    #[arg(long, env = "O365_CLIENT_KEY", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// Microsoft 365 cloud.
    #[arg(long, env = "O365_CLOUD", value_name = "CLOUD",
          value_parser = ["enterprise", "gcc", "gcc-high", "dod"])]
    pub cloud: Option<String>,
    /// Explicit API root (another cloud, or a simulator); needs --login-root.
    #[arg(long, env = "O365_API_ROOT", value_name = "URL")]
    pub api_root: Option<String>,
    /// Explicit token authority root; needs --api-root.
    #[arg(long, env = "O365_LOGIN_ROOT", value_name = "URL")]
    pub login_root: Option<String>,
    /// Content types, comma-separated (default: all five).
    #[arg(
        long,
        env = "O365_CONTENT_TYPES",
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub content_types: Vec<String>,
    /// PublisherIdentifier sent with every request (default: the tenant id).
    #[arg(long, env = "O365_PUBLISHER_ID", value_name = "GUID")]
    pub publisher_id: Option<String>,
    /// Token endpoint generation: v2 (default) or v1.
    #[arg(long, env = "O365_TOKEN_ENDPOINT", value_name = "V",
          value_parser = ["v1", "v2"])]
    pub token_endpoint: Option<String>,
    /// Use the embedded simulator even when a tenant is configured in the environment.
    #[arg(long)]
    pub sim: bool,
}
