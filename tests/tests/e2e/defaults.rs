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
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{parameter} /")))
            .unwrap_or_else(|| panic!("make help does not list {parameter}:\n{text}"));
        let shown = line
            .split_whitespace()
            .rev()
            .find(|w| !w.starts_with('(') && !w.ends_with(')'));
        assert_eq!(shown, Some(value.as_str()), "{line}");
    }
}

#[tokio::test]
async fn o365ctl_help_says_the_codes_defaults() {
    let path = binary("o365ctl", "o365ctl").await.unwrap();
    let out = tokio::process::Command::new(path)
        .args(["run", "--help"])
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!("[default: {DEFAULT_PREFIX}]")),
        "{text}"
    );
    assert!(flat.contains("[default: gzip]"), "{text}");
    let overlap = ListerSettings::default().overlap.as_secs();
    assert_eq!(overlap % 3600, 0, "write the overlap in whole hours here");
    let (_, flag) = flat
        .split_once("--overlap <DURATION>")
        .unwrap_or_else(|| panic!("run --help has no --overlap:\n{text}"));
    let flag = flag.split(" --").next().unwrap_or_default();
    assert!(
        flag.contains(&format!("[default: {}h]", overlap / 3600)),
        "{flag}"
    );
}
