//! `o365ctl ocsf`: exports the stored records as OCSF 1.1.0 Parquet in Amazon Security Lake's
//! custom-source layout (`ext/<source>/region=…/accountId=…/eventDay=…/`), each stored object
//! once (a ledger under `<prefix>/_ocsf/` remembers what was exported).

use std::path::PathBuf;

use clap::Args;
use o365_activity::keys::KeyLayout;
use o365_activity::store::LocalStore;
use o365_ocsf::{export, LakeTarget};

use crate::args::StorageArgs;
use crate::commands::out;
use crate::exit::{CmdResult, Code, Failure};
use crate::target::with_store;

/// `o365ctl ocsf`.
#[derive(Debug, Clone, Args)]
pub struct OcsfArgs {
    /// Directory the Security Lake objects (`ext/…`) are written to
    /// (default: `<--out>/security-lake`); sync it to the lake's bucket.
    #[arg(long, value_name = "DIR")]
    pub lake_dir: Option<PathBuf>,
    /// Custom source name prefix: one source per class, `<prefix>-authentication`, ….
    #[arg(long, default_value = "o365", value_name = "PREFIX")]
    pub source_prefix: String,
    /// The `region=` partition: the Security Lake's AWS Region.
    #[arg(long, env = "AWS_REGION", value_name = "REGION")]
    pub region: String,
    /// The `accountId=` partition: the 12-digit AWS account id of the source.
    #[arg(long, env = "O365_OCSF_ACCOUNT_ID", value_name = "ID")]
    pub account_id: String,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}

/// Runs `o365ctl ocsf`.
pub async fn run(args: OcsfArgs) -> CmdResult {
    let target = LakeTarget::new(&args.source_prefix, &args.region, &args.account_id)
        .map_err(|e| Failure::usage(anyhow::anyhow!("{e}")))?;
    if args.storage.bucket.is_none() && !args.storage.out.is_dir() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no output directory {}: point --out (or --bucket) at what `o365ctl run` wrote",
            args.storage.out.display()
        )));
    }
    let lake_dir = args
        .lake_dir
        .clone()
        .unwrap_or_else(|| args.storage.out.join("security-lake"));
    std::fs::create_dir_all(&lake_dir).map_err(|e| {
        Failure::usage(anyhow::anyhow!(
            "cannot create {}: {e}; pick another with --lake-dir",
            lake_dir.display()
        ))
    })?;
    let lake = LocalStore::new(lake_dir.clone());
    let aws = args.storage.aws().await;
    let store = args.storage.store(aws.as_ref()).await?;
    let layout = KeyLayout::new(&args.storage.prefix);
    let report = with_store!(store, |s| export(&s, &layout, &lake, &target, None).await)
        .map_err(|e| Failure::unreachable(anyhow::anyhow!("OCSF export stopped: {e}")))?;
    if args.json {
        out(&serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?);
    } else {
        out(&format!(
            "{}: {} object(s) exported, {} already done, {} event(s) in {} file(s), {} line(s) left out",
            lake_dir.display(),
            report.objects_exported,
            report.objects_skipped,
            report.events.values().sum::<u64>(),
            report.files_written,
            report.lines_rejected
        ));
    }
    Ok(if report.lines_rejected == 0 {
        Code::Ok
    } else {
        Code::Partial
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn parse(extra: &[&str]) -> OcsfArgs {
        let mut argv = vec!["o365ctl", "ocsf", "--region", "eu-west-1"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Command::Ocsf(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn exports_an_empty_store_and_refuses_a_bad_account() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_string_lossy().into_owned();
        let a = parse(&["--account-id", "123456789012", "--out", &out]);
        assert_eq!(a.source_prefix, "o365");
        assert_eq!(
            run(a).await.map_err(|f| f.error.to_string()).unwrap(),
            Code::Ok
        );
        assert!(dir.path().join("security-lake").is_dir());
        let bad = parse(&["--account-id", "12", "--out", &out]);
        let err = run(bad).await.err().unwrap();
        assert_eq!(err.code, Code::Usage);
        assert!(err.error.to_string().contains("12-digit"));
    }
}
