//! The settings the Lambda functions share, with their defaults defined (and documented) here
//! once: the bucket and its prefix, the tenants source, the publisher id, the AWS endpoint,
//! how often the tenants are reloaded and each tenant's request rate.

use std::time::Duration;

use super::env::{Either, Env, EnvError};
use crate::client::budget::{DEFAULT_RATE_PER_MINUTE, MAX_RATE_PER_MINUTE};
use crate::client::{BudgetOptions, ClientOptions};
use crate::tenant_id::is_guid;
use crate::tenants::TenantsSource;

/// Default key prefix of everything the collector writes (`PREFIX`, SAM `Prefix`,
/// `o365ctl --prefix`).
pub const DEFAULT_PREFIX: &str = "o365";

/// Default time after which a warm function reads its tenants source again
/// (`TENANTS_RELOAD_SECONDS`, SAM `TenantsReloadSeconds`): an onboarded tenant is picked up
/// within this time without a cold start.
pub const DEFAULT_TENANTS_RELOAD: Duration = Duration::from_secs(5 * 60);

/// Default shortest time between two reloads forced by a message naming an unknown tenant
/// (`TENANTS_RELOAD_COOLDOWN_SECONDS`), so a flood of such messages reads the secret at most
/// once per cooldown.
pub const DEFAULT_TENANTS_RELOAD_COOLDOWN: Duration = Duration::from_secs(30);

/// Longest accepted `TENANTS_RELOAD_SECONDS` (a day).
const MAX_TENANTS_RELOAD_SECS: u64 = 86_400;

/// When the tenants source is read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadPolicy {
    /// Age after which the next use reloads (`TENANTS_RELOAD_SECONDS`, default 300).
    pub ttl: Duration,
    /// Shortest time between two reloads asked for by an unknown tenant
    /// (`TENANTS_RELOAD_COOLDOWN_SECONDS`, default 30).
    pub cooldown: Duration,
}

impl Default for ReloadPolicy {
    fn default() -> Self {
        ReloadPolicy {
            ttl: DEFAULT_TENANTS_RELOAD,
            cooldown: DEFAULT_TENANTS_RELOAD_COOLDOWN,
        }
    }
}

/// Where a function's objects live: what every function reads (the compactor only this),
/// read by one function so that no two functions can disagree on `PREFIX` or the endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// `BUCKET`: the collector's bucket (data, checkpoints, reports). Required.
    pub bucket: String,
    /// `PREFIX`: key prefix, see [`prefix_rule`] (default [`DEFAULT_PREFIX`]).
    pub prefix: String,
    /// `AWS_ENDPOINT_URL`: the standard AWS endpoint override (moto, LocalStack), if set.
    pub endpoint_url: Option<String>,
}

/// What the functions that call the API (lister, fetcher, auditor) all read from their
/// environment, read by one function so that they cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonSettings {
    /// `BUCKET`, `PREFIX` and `AWS_ENDPOINT_URL`.
    pub store: StoreSettings,
    /// `TENANTS_SECRET_ARN` (AWS) or `TENANTS_JSON` (local): exactly one.
    pub tenants: TenantsSource,
    /// `PUBLISHER_ID`: `PublisherIdentifier` of every tenant that sets none (a GUID).
    pub publisher_id: Option<String>,
    /// `TENANTS_RELOAD_SECONDS` and `TENANTS_RELOAD_COOLDOWN_SECONDS`.
    pub reload: ReloadPolicy,
    /// `API_RATE_PER_MINUTE` (default [`DEFAULT_RATE_PER_MINUTE`]) and `API_BURST` (default
    /// one second's worth): each tenant's request budget, whole (a fetcher invocation spends
    /// its [`BudgetOptions::share_of`] it).
    pub budget: BudgetOptions,
}

/// The one `PREFIX` rule: spaces and slashes at either end are dropped; unset or empty means
/// [`DEFAULT_PREFIX`]; no empty, `.` or `..` segment and no backslash or control character.
pub fn prefix_rule(value: Option<&str>) -> Result<String, String> {
    let trimmed = value.unwrap_or("").trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(DEFAULT_PREFIX.to_owned());
    }
    let bad_segment = trimmed
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..");
    if bad_segment || trimmed.contains('\\') || trimmed.chars().any(char::is_control) {
        return Err(format!(
            "a key prefix such as {DEFAULT_PREFIX} or audit/o365: no empty, '.' or '..' segment, no backslash"
        ));
    }
    Ok(trimmed.to_owned())
}

impl StoreSettings {
    /// Reads and checks `BUCKET`, `PREFIX` and `AWS_ENDPOINT_URL`.
    pub fn from_env(env: &Env<'_>) -> Result<StoreSettings, EnvError> {
        let bucket = env.required(
            "BUCKET",
            "set it to the name of the collector's bucket (data, checkpoints and reports)",
        )?;
        let raw_prefix = env.raw("PREFIX");
        let prefix = prefix_rule(raw_prefix.as_deref()).map_err(|problem| EnvError::Invalid {
            var: "PREFIX",
            value: raw_prefix.unwrap_or_default(),
            problem,
        })?;
        let endpoint_url = env.optional("AWS_ENDPOINT_URL");
        if let Some(e) = &endpoint_url {
            if url::Url::parse(e).is_err() {
                return Err(EnvError::Invalid {
                    var: "AWS_ENDPOINT_URL",
                    value: e.clone(),
                    problem: "expected an absolute URL such as http://127.0.0.1:5000".into(),
                });
            }
        }
        Ok(StoreSettings {
            bucket,
            prefix,
            endpoint_url,
        })
    }
}

/// Reads and checks `API_RATE_PER_MINUTE` (default [`DEFAULT_RATE_PER_MINUTE`]) and
/// `API_BURST` (default one second's worth of the rate), both from 1 to
/// [`MAX_RATE_PER_MINUTE`]: a tenant's whole request budget, for every process that calls the
/// API (the functions through [`CommonSettings`], and `o365ctl`).
pub fn budget_from_env(env: &Env<'_>) -> Result<BudgetOptions, EnvError> {
    let rate = env.number(
        "API_RATE_PER_MINUTE",
        DEFAULT_RATE_PER_MINUTE,
        1..=MAX_RATE_PER_MINUTE,
    )?;
    let budget = BudgetOptions::per_minute(rate);
    let burst = env.number("API_BURST", budget.burst, 1..=MAX_RATE_PER_MINUTE)?;
    Ok(budget.with_burst(burst))
}

impl CommonSettings {
    /// Reads and checks the shared settings.
    pub fn from_env(env: &Env<'_>) -> Result<CommonSettings, EnvError> {
        let store = StoreSettings::from_env(env)?;
        let tenants = match env.one_of(
            "TENANTS_SECRET_ARN",
            "TENANTS_JSON",
            "set TENANTS_SECRET_ARN to the ARN of the Secrets Manager secret holding the tenants JSON (in AWS), or TENANTS_JSON to the JSON itself (locally), not both",
        )? {
            Either::First(arn) => TenantsSource::SecretArn(arn),
            Either::Second(json) => TenantsSource::Json(json),
        };
        let publisher_id = env.optional("PUBLISHER_ID");
        if let Some(p) = &publisher_id {
            if !is_guid(p) {
                return Err(EnvError::Invalid {
                    var: "PUBLISHER_ID",
                    value: p.clone(),
                    problem: "expected a GUID: your own (the vendor's) tenant id".into(),
                });
            }
        }
        let ttl = env.number(
            "TENANTS_RELOAD_SECONDS",
            DEFAULT_TENANTS_RELOAD.as_secs(),
            1..=MAX_TENANTS_RELOAD_SECS,
        )?;
        let cooldown = env.number(
            "TENANTS_RELOAD_COOLDOWN_SECONDS",
            DEFAULT_TENANTS_RELOAD_COOLDOWN.as_secs(),
            0..=MAX_TENANTS_RELOAD_SECS,
        )?;
        Ok(CommonSettings {
            budget: budget_from_env(env)?,
            store,
            tenants,
            publisher_id,
            reload: ReloadPolicy {
                ttl: Duration::from_secs(ttl),
                cooldown: Duration::from_secs(cooldown),
            },
        })
    }

    /// The API clients' options of a function that spends each tenant's rate whole (the
    /// lister, the auditor): [`CommonSettings::budget`], the rest the default.
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions::with_budget(self.budget.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// `read` over an environment holding only `pairs`.
    fn with_env<T>(pairs: &[(&str, &str)], read: impl FnOnce(&Env<'_>) -> T) -> T {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| map.get(k).cloned();
        read(&Env::new(&lookup))
    }

    fn read(pairs: &[(&str, &str)]) -> Result<CommonSettings, EnvError> {
        with_env(pairs, CommonSettings::from_env)
    }

    fn budget(pairs: &[(&str, &str)]) -> Result<BudgetOptions, EnvError> {
        with_env(pairs, budget_from_env)
    }

    #[test]
    fn defaults() {
        let s = read(&[("BUCKET", "b"), ("TENANTS_SECRET_ARN", "arn:x")]).unwrap();
        assert_eq!(s.store.prefix, DEFAULT_PREFIX);
        assert_eq!(s.tenants, TenantsSource::SecretArn("arn:x".into()));
        assert_eq!(s.reload, ReloadPolicy::default());
        assert_eq!(s.reload.ttl, Duration::from_secs(300));
        assert_eq!(s.store.endpoint_url, None);
        assert_eq!(s.publisher_id, None);
        assert_eq!(s.budget, BudgetOptions::per_minute(DEFAULT_RATE_PER_MINUTE));
        assert_eq!((s.budget.rate_per_minute, s.budget.burst), (1800, 30));
        let s = read(&[
            ("BUCKET", "b"),
            ("TENANTS_JSON", "{}"),
            ("API_RATE_PER_MINUTE", "1200"),
            ("API_BURST", "40"),
        ])
        .unwrap();
        assert_eq!((s.budget.rate_per_minute, s.budget.burst), (1200, 40));
        assert_eq!(s.client_options().budget, s.budget);
    }

    #[test]
    fn the_budget_alone() {
        let b = budget(&[]).unwrap();
        assert_eq!(b, BudgetOptions::per_minute(DEFAULT_RATE_PER_MINUTE));
        let b = budget(&[("API_RATE_PER_MINUTE", " 600 ")]).unwrap();
        assert_eq!((b.rate_per_minute, b.burst, b.starts_full), (600, 10, true));
        let b = budget(&[("API_RATE_PER_MINUTE", "30"), ("API_BURST", "")]).unwrap();
        assert_eq!((b.rate_per_minute, b.burst), (30, 1));
        let b = budget(&[("API_RATE_PER_MINUTE", "600"), ("API_BURST", "3")]).unwrap();
        assert_eq!((b.rate_per_minute, b.burst), (600, 3));
        let most = MAX_RATE_PER_MINUTE.to_string();
        assert!(budget(&[("API_RATE_PER_MINUTE", &most), ("API_BURST", &most)]).is_ok());
        let too_many = (u64::from(MAX_RATE_PER_MINUTE) + 1).to_string();
        for (var, value) in [
            ("API_RATE_PER_MINUTE", "0"),
            ("API_RATE_PER_MINUTE", "-5"),
            ("API_RATE_PER_MINUTE", "600/min"),
            ("API_RATE_PER_MINUTE", too_many.as_str()),
            ("API_BURST", "0"),
            ("API_BURST", "1.5"),
        ] {
            let e = budget(&[(var, value)]).unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains(var) && text.contains("whole number from 1 to 1000000"),
                "{var}={value}: {text}"
            );
        }
    }

    #[test]
    fn the_prefix_rule() {
        for (given, want) in [
            (None, "o365"),
            (Some(""), "o365"),
            (Some("  "), "o365"),
            (Some("/"), "o365"),
            (Some("logs"), "logs"),
            (Some(" /logs/ "), "logs"),
            (Some("audit/o365/"), "audit/o365"),
        ] {
            assert_eq!(prefix_rule(given).as_deref(), Ok(want), "{given:?}");
        }
        for bad in ["../x", "a/../b", "a//b", "a\\b", "./a", "a\tb"] {
            assert!(prefix_rule(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn mistakes_name_the_variable() {
        let base = [("BUCKET", "b"), ("TENANTS_JSON", "{}")];
        for (var, value) in [
            ("PREFIX", "../x"),
            ("PUBLISHER_ID", "acme"),
            ("AWS_ENDPOINT_URL", "moto"),
            ("TENANTS_RELOAD_SECONDS", "0"),
            ("TENANTS_RELOAD_SECONDS", "5m"),
            ("TENANTS_RELOAD_COOLDOWN_SECONDS", "-1"),
            ("API_RATE_PER_MINUTE", "0"),
            ("API_BURST", "x"),
            ("TENANTS_SECRET_ARN", "arn:x"),
        ] {
            let e = read(&[base[0], base[1], (var, value)]).unwrap_err();
            assert!(e.to_string().contains(var), "{var}={value}: {e}");
        }
        let e = read(&[("TENANTS_JSON", "{}")]).unwrap_err();
        assert!(e.to_string().contains("BUCKET is not set"), "{e}");
        let e = read(&[("BUCKET", "b")]).unwrap_err();
        assert!(
            e.to_string().contains("TENANTS_SECRET_ARN is not set"),
            "{e}"
        );
    }

    #[test]
    fn tenants_json_is_never_echoed() {
        let e = read(&[
            ("BUCKET", "b"),
            ("TENANTS_JSON", r#"{"client_secret":"hunter2"}"#),
            ("TENANTS_SECRET_ARN", "arn:x"),
        ])
        .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
