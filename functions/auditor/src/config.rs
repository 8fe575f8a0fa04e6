//! The auditor's configuration from its environment, checked before the first event so a
//! mistake ends the cold start with a message that says what to fix. The settings every
//! function shares are read by [`CommonSettings::from_env`]; this adds the auditor's own.

use chrono::TimeDelta;
use o365_activity::audit::AuditSettings;
use o365_activity::bootstrap::{CommonSettings, Env, EnvError};
use o365_activity::ContentType;

/// Highest accepted `AUDIT_SETTLE_HOURS`: an hour must still be inside the Management
/// Activity API's 7-day reach when it is audited, or nothing it finds could be recovered
/// (SAM `AuditSettleHours` allows the same).
pub const MAX_SETTLE_HOURS: i64 = 167;

/// The auditor's deployment settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditorConfig {
    /// What every function reads (`BUCKET`, `PREFIX`, tenants, `PUBLISHER_ID`, endpoint, reload).
    pub common: CommonSettings,
    /// Queue recovered blobs go to (`QUEUE_URL`, the fetcher's queue).
    pub queue_url: String,
    /// Audit only the record types of these content types (`CONTENT_TYPES`, intersected with
    /// each tenant's own list); `None` is every type.
    pub content_types: Option<Vec<ContentType>>,
    /// Engine settings: `PREFIX` from `common`, `AUDIT_SETTLE_HOURS` (default
    /// [`AuditSettings::default`]'s 48 h); every other field keeps its default.
    pub settings: AuditSettings,
}

impl AuditorConfig {
    /// Reads and validates the configuration.
    pub fn from_env(env: &Env<'_>) -> Result<AuditorConfig, EnvError> {
        let common = CommonSettings::from_env(env)?;
        let queue_url = env.required(
            "QUEUE_URL",
            "set it to the URL of the SQS queue the fetcher reads (recovered blobs go there)",
        )?;
        let content_types = match env.optional("CONTENT_TYPES") {
            None => None,
            Some(v) => Some(ContentType::parse_list(&v).map_err(|e| EnvError::Invalid {
                var: "CONTENT_TYPES",
                value: v.clone(),
                problem: e.to_string(),
            })?),
        };
        let defaults = AuditSettings::default();
        let settle_hours = env.number(
            "AUDIT_SETTLE_HOURS",
            defaults.settle.num_hours(),
            1..=MAX_SETTLE_HOURS,
        )?;
        let settings = AuditSettings {
            prefix: common.store.prefix.clone(),
            settle: TimeDelta::hours(settle_hours),
            ..defaults
        };
        Ok(AuditorConfig {
            common,
            queue_url,
            content_types,
            settings,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use o365_activity::testing::env::{queued_function_env, read_env};

    fn read(pairs: &[(&str, &str)]) -> Result<AuditorConfig, EnvError> {
        read_env(pairs, AuditorConfig::from_env)
    }

    #[test]
    fn defaults() {
        let c = read(&queued_function_env()).unwrap();
        assert_eq!(c.settings.settle, AuditSettings::default().settle);
        assert_eq!(c.settings.settle, TimeDelta::hours(48));
        assert_eq!(c.settings.prefix, c.common.store.prefix);
        assert_eq!(c.content_types, None);
        assert_eq!(c.queue_url, "http://127.0.0.1:5000/q");
    }

    #[test]
    fn overrides() {
        let mut vars = queued_function_env();
        vars.extend([
            ("AUDIT_SETTLE_HOURS", "24"),
            ("CONTENT_TYPES", "Audit.Exchange, DLP.All"),
        ]);
        let c = read(&vars).unwrap();
        assert_eq!(c.settings.settle, TimeDelta::hours(24));
        assert_eq!(
            c.content_types,
            Some(vec![ContentType::Exchange, ContentType::DlpAll])
        );
    }

    #[test]
    fn mistakes_say_what_to_fix() {
        let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
            (vec![("BUCKET", "b"), ("TENANTS_JSON", "{}")], "QUEUE_URL"),
            (
                [queued_function_env(), vec![("AUDIT_SETTLE_HOURS", "0")]].concat(),
                "from 1 to 167",
            ),
            (
                [queued_function_env(), vec![("AUDIT_SETTLE_HOURS", "168")]].concat(),
                "AUDIT_SETTLE_HOURS",
            ),
            (
                [queued_function_env(), vec![("AUDIT_SETTLE_HOURS", "2d")]].concat(),
                "AUDIT_SETTLE_HOURS",
            ),
            (
                [
                    queued_function_env(),
                    vec![("CONTENT_TYPES", "Audit.Teams")],
                ]
                .concat(),
                "CONTENT_TYPES",
            ),
        ];
        for (vars, want) in cases {
            let e = read(&vars).unwrap_err();
            assert!(e.to_string().contains(want), "{vars:?}: {e}");
        }
    }
}
