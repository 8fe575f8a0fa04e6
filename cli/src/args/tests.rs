use std::time::Duration;

use clap::CommandFactory;
use o365_activity::compression::Compression;

use super::values::{parse_duration, DEFAULT_OVERLAP_TEXT};
use super::*;

#[test]
fn the_command_is_well_formed() {
    Cli::command().debug_assert();
}

#[test]
fn run_flags_parse() {
    let cli = Cli::try_parse_from([
        "o365ctl",
        "run",
        "--every",
        "5m",
        "--out",
        "/tmp/x",
        "--compression",
        "zstd:3",
        "--content-types",
        "Audit.Exchange,DLP.All",
        "-vv",
    ])
    .unwrap();
    let Command::Run(run) = cli.command else {
        panic!("not run")
    };
    assert_eq!(run.every, Some(Duration::from_secs(300)));
    assert_eq!(
        run.collect.storage.compression,
        Compression::Zstd { level: 3 }
    );
    assert_eq!(run.collect.storage.prefix, "o365");
    assert_eq!(
        run.collect.tenants.content_types,
        vec!["Audit.Exchange".to_string(), "DLP.All".to_string()]
    );
    assert_eq!(cli.verbose, 2);
}

#[test]
fn bad_values_are_usage_errors() {
    for argv in [
        vec!["o365ctl", "run", "--once", "--every", "5m"],
        vec!["o365ctl", "run", "--every", "soon"],
        vec!["o365ctl", "run", "--compression", "brotli"],
        vec!["o365ctl", "run", "--cloud", "mars"],
        vec!["o365ctl", "replay", "--from-dlq", "http://127.0.0.1/q"],
        vec!["o365ctl", "normalize"],
        vec!["o365ctl", "backfill", "--last", "100000000000d"],
        vec!["o365ctl", "backfill", "--last", "8d"],
        vec!["o365ctl", "run", "--timeout", "500000000000y"],
        vec!["o365ctl", "run", "--every", "0s"],
        vec!["o365ctl", "run", "--prefix", "../x"],
        vec!["o365ctl", "status", "--prefix", "a//b"],
        vec!["o365ctl", "run", "--prefix", "a\\b"],
    ] {
        let e = Cli::try_parse_from(&argv).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{argv:?}");
    }
}

#[test]
fn prefix_follows_the_functions_rule() {
    for (given, want) in [
        (" /audit/o365/ ", "audit/o365"),
        ("", "o365"),
        ("  ", "o365"),
        ("custom", "custom"),
    ] {
        let cli = Cli::try_parse_from(["o365ctl", "run", "--prefix", given]).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.collect.storage.prefix, want, "{given:?}");
    }
}

#[test]
fn the_overlap_default_is_the_listers() {
    assert_eq!(
        parse_duration(DEFAULT_OVERLAP_TEXT),
        Ok(o365_lister::settings::DEFAULT_OVERLAP)
    );
    let cli = Cli::try_parse_from(["o365ctl", "run"]).unwrap();
    let Command::Run(run) = cli.command else {
        panic!("not run")
    };
    assert_eq!(run.overlap, o365_lister::settings::DEFAULT_OVERLAP);
}

/// The secret-bearing flags are named by id in one list: a renamed flag must not fall out of
/// it and show its environment value in `--help`.
#[test]
fn every_secret_bearing_flag_hides_its_environment_value() {
    let cli = Cli::command();
    let with_tenants: Vec<_> = cli
        .get_subcommands()
        .filter(|s| s.get_arguments().any(|a| a.get_id() == "client_id"))
        .collect();
    assert!(with_tenants.len() >= 5, "{}", with_tenants.len());
    for sub in with_tenants {
        for id in super::tenant::SECRET_BEARING {
            let arg = sub.get_arguments().find(|a| a.get_id() == id);
            let arg = arg.unwrap_or_else(|| panic!("{} has no {id}", sub.get_name()));
            assert!(arg.is_hide_env_values_set(), "{} {id}", sub.get_name());
        }
        let shown = sub.get_arguments().find(|a| a.get_id() == "tenant_id");
        assert!(shown.is_some_and(|a| !a.is_hide_env_values_set()));
    }
}
