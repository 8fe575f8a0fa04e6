//! `make help`, `o365ctl --help` and the SAM template's parameters say the same default values
//! as the code that defines them.

use std::path::PathBuf;

use o365_activity::audit::AuditSettings;
use o365_activity::bootstrap::settings::DEFAULT_TENANTS_RELOAD;
use o365_activity::bootstrap::DEFAULT_PREFIX;
use o365_activity::client::budget::DEFAULT_RATE_PER_MINUTE;
use o365_activity::compression::Compression;
use o365_e2e::lambda_process::binary;
use o365_fetcher::config::DEFAULT_MAX_CONCURRENCY;
use o365_lister::ListerSettings;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `Default:` of a top-level parameter of `infra/template.yaml`, unquoted.
fn sam_default(template: &str, parameter: &str) -> String {
    let header = format!("  {parameter}:");
    let mut lines = template.lines().skip_while(|l| *l != header).skip(1);
    lines
        .by_ref()
        .take_while(|l| l.starts_with("    "))
        .find_map(|l| l.trim().strip_prefix("Default:"))
        .map(|v| v.trim().trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("parameter {parameter} has no Default in the template"))
}

/// The code's defaults: (SAM parameter, value as the template and `make help` write it).
fn code_defaults() -> Vec<(&'static str, String)> {
    let lister = ListerSettings::default();
    assert_eq!(
        Compression::default(),
        "gzip".parse::<Compression>().unwrap()
    );
    vec![
        ("Prefix", DEFAULT_PREFIX.to_string()),
        (
            "OverlapMinutes",
            (lister.overlap.as_secs() / 60).to_string(),
        ),
        (
            "FetcherParallelDownloads",
            DEFAULT_MAX_CONCURRENCY.to_string(),
        ),
        ("Compression", "gzip".to_string()),
        (
            "TenantsReloadSeconds",
            DEFAULT_TENANTS_RELOAD.as_secs().to_string(),
        ),
        ("ApiRatePerMinute", DEFAULT_RATE_PER_MINUTE.to_string()),
        (
            "AuditSettleHours",
            AuditSettings::default().settle.num_hours().to_string(),
        ),
    ]
}

#[test]
fn the_sam_template_says_the_codes_defaults() {
    let template = std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap();
    for (parameter, value) in code_defaults() {
        assert_eq!(sam_default(&template, parameter), value, "{parameter}");
    }
}

#[test]
fn make_help_says_the_codes_defaults() {
    let out = std::process::Command::new("make")
        .args(["-s", "help"])
        .current_dir(repo())
        .output();
    let Ok(out) = out else {
        println!("make is not installed: make help not checked");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for (parameter, value) in code_defaults() {
        assert_eq!(shown(&text, parameter), value, "make help");
    }
}

/// The value `make help` (and `o365ctl run --help`) show for `parameter`: the last word not in
/// parentheses of the line `<parameter> / <variable> … <value> (<unit>)`.
fn shown(text: &str, parameter: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{parameter} /")))
        .unwrap_or_else(|| panic!("{parameter} is not listed:\n{text}"));
    let value = line
        .split_whitespace()
        .rev()
        .find(|w| !w.starts_with('(') && !w.ends_with(')'));
    value.unwrap_or_default().to_string()
}

/// `o365ctl <sub> --help`.
async fn help_of(sub: &str) -> String {
    let path = binary("o365ctl", "o365ctl").await.unwrap();
    let out = tokio::process::Command::new(path)
        .args([sub, "--help"])
        .output()
        .await
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What the help of `flag` (e.g. `--overlap <DURATION>`) says, on one line.
fn flag_help(text: &str, flag: &str) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let (_, after) = flat
        .split_once(flag)
        .unwrap_or_else(|| panic!("no {flag} in:\n{text}"));
    after.split(" --").next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn o365ctl_help_says_the_codes_defaults() {
    let text = help_of("run").await;
    let prefix = flag_help(&text, "--prefix <PREFIX>");
    assert!(
        prefix.contains(&format!("[default: {DEFAULT_PREFIX}]")),
        "{prefix}"
    );
    let compression = flag_help(&text, "--compression <CODEC>");
    assert!(compression.contains("[default: gzip]"), "{compression}");
    let overlap = ListerSettings::default().overlap.as_secs();
    assert_eq!(overlap % 3600, 0, "write the overlap in whole hours here");
    let flag = flag_help(&text, "--overlap <DURATION>");
    assert!(
        flag.contains(&format!("[default: {}h]", overlap / 3600)),
        "{flag}"
    );
    // The defaults without a flag, listed as `make help` lists them.
    let without_flag = [
        "FetcherParallelDownloads",
        "TenantsReloadSeconds",
        "ApiRatePerMinute",
    ];
    for (parameter, value) in code_defaults() {
        if without_flag.contains(&parameter) {
            assert_eq!(shown(&text, parameter), value, "run --help");
        }
    }
}

/// `o365ctl audit --settle` defaults to the engine's settle time (`AuditSettleHours`).
#[tokio::test]
async fn o365ctl_audit_help_says_the_engines_settle() {
    let flag = flag_help(&help_of("audit").await, "--settle <DURATION>");
    let hours = AuditSettings::default().settle.num_hours();
    assert!(flag.contains(&format!("[default: {hours}h]")), "{flag}");
}
