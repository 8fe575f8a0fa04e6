//! The Lambda's configuration from its environment, checked up front so a mistake fails the
//! first invocation with a message that says what to fix.

use std::time::Duration;

use o365_activity::content_type::UnknownContentType;
use o365_activity::tenant_id::is_guid;
use o365_activity::tenants::{ConfigError, TenantConfig, TenantsFile};
use o365_activity::ContentType;

use crate::settings::{ListerSettings, SettingsError};

/// Where the tenants configuration comes from (shared with the other function).
pub use o365_activity::tenants::TenantsSource;

/// The lister's deployment settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListerConfig {
    /// Bucket holding checkpoints and gap reports (`BUCKET`).
    pub bucket: String,
    /// Queue the messages go to (`QUEUE_URL`).
    pub queue_url: String,
    /// Where the tenants come from (`TENANTS_SECRET_ARN` or `TENANTS_JSON`).
    pub tenants: TenantsSource,
    /// Default `PublisherIdentifier` for tenants that set none (`PUBLISHER_ID`).
    pub publisher_id: Option<String>,
    /// Handler settings (`PREFIX`, `OVERLAP_MINUTES`, `CONTENT_TYPES`, `MAX_CONCURRENCY`).
    pub settings: ListerSettings,
}

/// A configuration mistake; the message names the variable and what to set.
#[derive(Debug, thiserror::Error)]
pub enum ListerConfigError {
    /// A required variable is not set.
    #[error("{var} is not set: {hint}")]
    Missing {
        /// The variable.
        var: &'static str,
        /// What to put there.
        hint: &'static str,
    },
    /// A variable has an unusable value.
    #[error("{var}={value:?} is invalid: {problem}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong and what to use.
        problem: String,
    },
    /// `CONTENT_TYPES` names an unknown type.
    #[error("CONTENT_TYPES: {0}")]
    ContentType(#[from] UnknownContentType),
    /// The tenants configuration is unusable.
    #[error("tenants configuration: {0}")]
    Tenants(#[from] ConfigError),
    /// A handler setting is out of range.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

fn required(
    env: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    hint: &'static str,
) -> Result<String, ListerConfigError> {
    env(var)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or(ListerConfigError::Missing { var, hint })
}

fn optional(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    env(var)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn number(
    env: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    min: u64,
) -> Result<u64, ListerConfigError> {
    match optional(env, var) {
        None => Ok(default),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(ListerConfigError::Invalid {
                var,
                value: v,
                problem: format!("expected a whole number of at least {min} (default {default})"),
            }),
        },
    }
}

impl ListerConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<ListerConfig, ListerConfigError> {
        ListerConfig::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `env` (a variable lookup), validating every value.
    pub fn from_lookup(
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ListerConfig, ListerConfigError> {
        let bucket = required(
            env,
            "BUCKET",
            "set it to the name of the bucket that holds checkpoints (_state/) and gap reports (_gaps/)",
        )?;
        let queue_url = required(
            env,
            "QUEUE_URL",
            "set it to the URL of the SQS queue the fetcher reads",
        )?;
        let tenants = match (
            optional(env, "TENANTS_SECRET_ARN"),
            optional(env, "TENANTS_JSON"),
        ) {
            (Some(arn), None) => TenantsSource::SecretArn(arn),
            (None, Some(json)) => TenantsSource::Json(json),
            (Some(_), Some(_)) => {
                return Err(ListerConfigError::Invalid {
                    var: "TENANTS_JSON",
                    value: "(set)".into(),
                    problem: "set either TENANTS_SECRET_ARN or TENANTS_JSON, not both".into(),
                })
            }
            (None, None) => {
                return Err(ListerConfigError::Missing {
                    var: "TENANTS_SECRET_ARN",
                    hint: "set it to the ARN of the Secrets Manager secret holding the tenants JSON, or set TENANTS_JSON locally",
                })
            }
        };
        let publisher_id = optional(env, "PUBLISHER_ID");
        if let Some(p) = &publisher_id {
            if !is_guid(p) {
                return Err(ListerConfigError::Invalid {
                    var: "PUBLISHER_ID",
                    value: p.clone(),
                    problem: "expected a GUID: your own (the vendor's) tenant id".into(),
                });
            }
        }
        let defaults = ListerSettings::default();
        let settings = ListerSettings {
            prefix: optional(env, "PREFIX").unwrap_or(defaults.prefix.clone()),
            overlap: Duration::from_secs(
                60 * number(env, "OVERLAP_MINUTES", defaults.overlap.as_secs() / 60, 0)?,
            ),
            concurrency: usize::try_from(number(
                env,
                "MAX_CONCURRENCY",
                defaults.concurrency as u64,
                1,
            )?)
            .unwrap_or(defaults.concurrency),
            content_types: match optional(env, "CONTENT_TYPES") {
                None => None,
                Some(list) => Some(ContentType::parse_list(&list)?),
            },
            ..defaults
        };
        settings.validate()?;
        Ok(ListerConfig {
            bucket,
            queue_url,
            tenants,
            publisher_id,
            settings,
        })
    }

    /// Parses and resolves `TENANTS_JSON`; `env` resolves `client_secret_env` references.
    pub fn resolve_tenants(
        &self,
        json: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<TenantConfig>, ListerConfigError> {
        let mut tenants = TenantsFile::from_json(json)?.resolve(env)?;
        self.apply_publisher_default(&mut tenants);
        Ok(tenants)
    }

    /// Gives `PUBLISHER_ID` to every tenant left with the fallback publisher (its own tenant
    /// id), i.e. that set no `publisher_id` of its own and had no file-wide default.
    pub fn apply_publisher_default(&self, tenants: &mut [TenantConfig]) {
        o365_activity::tenants::apply_publisher_default(tenants, self.publisher_id.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const T: &str = "00000000-0000-0000-0000-000000000001";
    const C: &str = "00000000-0000-0000-0000-000000000c01";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![
            ("BUCKET", "b"),
            ("QUEUE_URL", "http://127.0.0.1:5000/q"),
            ("TENANTS_SECRET_ARN", "arn:aws:secretsmanager:x"),
        ]
    }

    #[test]
    fn defaults() {
        let c = ListerConfig::from_lookup(&env(&base())).unwrap();
        assert_eq!(c.settings, ListerSettings::default());
        assert_eq!(
            c.tenants,
            TenantsSource::SecretArn("arn:aws:secretsmanager:x".into())
        );
    }

    #[test]
    fn overrides() {
        let mut vars = base();
        vars.extend([
            ("PREFIX", "logs"),
            ("OVERLAP_MINUTES", "120"),
            ("CONTENT_TYPES", "DLP.All,Audit.Exchange"),
            ("MAX_CONCURRENCY", "3"),
            ("PUBLISHER_ID", C),
        ]);
        let c = ListerConfig::from_lookup(&env(&vars)).unwrap();
        assert_eq!(c.settings.prefix, "logs");
        assert_eq!(c.settings.overlap, Duration::from_secs(7200));
        assert_eq!(c.settings.concurrency, 3);
        assert_eq!(
            c.settings.content_types,
            Some(vec![ContentType::DlpAll, ContentType::Exchange])
        );
        let tenants = c
            .resolve_tenants(
                &format!(
                    r#"{{"tenants":[{{"tenant_id":"{T}","client_id":"{C}","client_secret":"x"}}]}}"#
                ),
                &|_| None,
            )
            .unwrap();
        assert_eq!(tenants[0].publisher_id, C);
    }

    #[test]
    fn mistakes_say_what_to_fix() {
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (
                vec![("QUEUE_URL", "q"), ("TENANTS_JSON", "{}")],
                "BUCKET is not set",
            ),
            (vec![("BUCKET", "b"), ("TENANTS_JSON", "{}")], "QUEUE_URL"),
            (
                vec![("BUCKET", "b"), ("QUEUE_URL", "q")],
                "TENANTS_SECRET_ARN is not set",
            ),
            (
                [base(), vec![("CONTENT_TYPES", "Audit.Teams")]].concat(),
                "unknown content type",
            ),
            (
                [base(), vec![("OVERLAP_MINUTES", "an hour")]].concat(),
                "whole number",
            ),
            (
                [base(), vec![("OVERLAP_MINUTES", "20000")]].concat(),
                "overlap",
            ),
            (
                [base(), vec![("MAX_CONCURRENCY", "0")]].concat(),
                "at least 1",
            ),
            ([base(), vec![("PUBLISHER_ID", "acme")]].concat(), "GUID"),
            ([base(), vec![("TENANTS_JSON", "{}")]].concat(), "not both"),
        ];
        for (vars, want) in cases {
            let e = ListerConfig::from_lookup(&env(&vars)).unwrap_err();
            assert!(e.to_string().contains(want), "{vars:?}: {e}");
        }
        // Tenant mistakes come from the tenants module, with its messages.
        let c = ListerConfig::from_lookup(&env(&base())).unwrap();
        let e = c
            .resolve_tenants(
                &format!(r#"{{"tenants":[{{"tenant_id":"contoso","client_id":"{C}","client_secret":"x"}}]}}"#),
                &|_| None,
            )
            .unwrap_err();
        assert!(e.to_string().contains("bad tenant id"), "{e}");
    }
}
