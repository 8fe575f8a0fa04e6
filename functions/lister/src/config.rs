//! The lister's configuration from its environment, checked before the first event so a
//! mistake ends the cold start with a message that says what to fix. The settings both
//! functions share are read by [`CommonSettings::from_env`]; this adds the lister's own.

use std::time::Duration;

use o365_activity::bootstrap::{CommonSettings, Env, EnvError};
use o365_activity::ContentType;

use crate::settings::ListerSettings;

/// Highest accepted `OVERLAP_MINUTES` (a day; SAM `OverlapMinutes` allows the same).
pub const MAX_OVERLAP_MINUTES: u64 = 1440;
/// Highest accepted `MAX_CONCURRENCY` (tenant × content type pairs at once).
pub const MAX_PAIR_CONCURRENCY: usize = 64;

/// The lister's deployment settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListerConfig {
    /// What both functions read (`BUCKET`, `PREFIX`, tenants, `PUBLISHER_ID`, endpoint, reload).
    pub common: CommonSettings,
    /// Queue the messages go to (`QUEUE_URL`).
    pub queue_url: String,
    /// Handler settings (`PREFIX` from `common`, `OVERLAP_MINUTES`, `CONTENT_TYPES`,
    /// `MAX_CONCURRENCY`); every other field keeps its [`ListerSettings::default`].
    pub settings: ListerSettings,
}

impl ListerConfig {
    /// Reads and validates the configuration.
    pub fn from_env(env: &Env<'_>) -> Result<ListerConfig, EnvError> {
        let common = CommonSettings::from_env(env)?;
        let queue_url = env.required(
            "QUEUE_URL",
            "set it to the URL of the SQS queue the fetcher reads",
        )?;
        let defaults = ListerSettings::default();
        let overlap_minutes = env.number(
            "OVERLAP_MINUTES",
            defaults.overlap.as_secs() / 60,
            0..=MAX_OVERLAP_MINUTES,
        )?;
        let content_types = env.parsed::<ContentTypeList>("CONTENT_TYPES")?.map(|l| l.0);
        let settings = ListerSettings {
            prefix: common.store.prefix.clone(),
            overlap: Duration::from_secs(60 * overlap_minutes),
            concurrency: env.number(
                "MAX_CONCURRENCY",
                defaults.concurrency,
                1..=MAX_PAIR_CONCURRENCY,
            )?,
            content_types,
            ..defaults
        };
        settings.validate().map_err(|e| EnvError::Invalid {
            var: e.name,
            value: String::new(),
            problem: e.problem,
        })?;
        Ok(ListerConfig {
            common,
            queue_url,
            settings,
        })
    }
}

/// A comma-separated list of content types (`CONTENT_TYPES`).
struct ContentTypeList(Vec<ContentType>);

impl std::str::FromStr for ContentTypeList {
    type Err = o365_activity::content_type::UnknownContentType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ContentType::parse_list(s).map(ContentTypeList)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use o365_activity::testing::env::{queued_function_env, read_env};

    fn read(pairs: &[(&str, &str)]) -> Result<ListerConfig, EnvError> {
        read_env(pairs, ListerConfig::from_env)
    }

    #[test]
    fn defaults() {
        let c = read(&queued_function_env()).unwrap();
        assert_eq!(c.settings, ListerSettings::default());
        assert_eq!(c.common.store.prefix, c.settings.prefix);
    }

    #[test]
    fn overrides() {
        let mut vars = queued_function_env();
        vars.extend([
            ("PREFIX", " logs/ "),
            ("OVERLAP_MINUTES", "120"),
            ("CONTENT_TYPES", "DLP.All,Audit.Exchange"),
            ("MAX_CONCURRENCY", "3"),
        ]);
        let c = read(&vars).unwrap();
        assert_eq!(c.settings.prefix, "logs");
        assert_eq!(c.settings.overlap, Duration::from_secs(7200));
        assert_eq!(c.settings.concurrency, 3);
        assert_eq!(
            c.settings.content_types,
            Some(vec![ContentType::DlpAll, ContentType::Exchange])
        );
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
                [
                    queued_function_env(),
                    vec![("CONTENT_TYPES", "Audit.Teams")],
                ]
                .concat(),
                "unknown content type",
            ),
            (
                [queued_function_env(), vec![("OVERLAP_MINUTES", "an hour")]].concat(),
                "OVERLAP_MINUTES",
            ),
            (
                [queued_function_env(), vec![("OVERLAP_MINUTES", "20000")]].concat(),
                "from 0 to 1440",
            ),
            (
                [queued_function_env(), vec![("MAX_CONCURRENCY", "0")]].concat(),
                "from 1 to 64",
            ),
            (
                [queued_function_env(), vec![("PUBLISHER_ID", "acme")]].concat(),
                "GUID",
            ),
            (
                [queued_function_env(), vec![("TENANTS_JSON", "{}")]].concat(),
                "not both",
            ),
        ];
        for (vars, want) in cases {
            let e = read(&vars).unwrap_err();
            assert!(e.to_string().contains(want), "{vars:?}: {e}");
        }
    }
}
