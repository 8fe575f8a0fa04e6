//! `o365ctl verify`: checks the stored objects against the manifest of writes (`_manifest/`)
//! and reports every object missing, altered (size or SHA-256 differ) or extra (stored, never
//! recorded). Exit 0 when there is nothing to report, 1 otherwise.

use chrono::Utc;
use o365_activity::keys::KeyLayout;
use o365_activity::manifest::{verify, HourRange, VerifyReport};
use serde::Serialize;

use crate::args::VerifyArgs;
use crate::commands::out;
use crate::exit::{CmdResult, Code, Failure};
use crate::target::with_store;
use crate::window::Window;

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct Output<'a> {
    /// Where the objects are.
    output: String,
    /// The checked window (`START..END`), or `all`.
    window: String,
    /// The findings.
    #[serde(flatten)]
    report: &'a VerifyReport,
}

/// Runs `o365ctl verify`.
pub async fn run(args: VerifyArgs) -> CmdResult {
    if args.storage.bucket.is_none() && !args.storage.out.is_dir() {
        return Err(Failure::usage(anyhow::anyhow!(
            "no output directory {}: point --out (or --bucket) at what `o365ctl run` wrote",
            args.storage.out.display()
        )));
    }
    let (range, window) = match (args.window.window, args.window.last) {
        (None, None) => (HourRange::default(), "all".to_owned()),
        (w, last) => {
            let w = Window::from_args(w, last, Utc::now()).map_err(Failure::usage)?;
            let range = HourRange {
                start: Some(w.start),
                end: Some(w.end),
            };
            (range, w.to_string())
        }
    };
    let aws = args.storage.aws().await;
    let store = args.storage.store(aws.as_ref()).await?;
    let output = store.describe(&args.storage.prefix);
    let layout = KeyLayout::new(&args.storage.prefix);
    let report = with_store!(store, |s| verify(&s, &layout, range).await).map_err(|e| {
        Failure::unreachable(anyhow::anyhow!(
            "cannot read the objects and manifest of {output}: {e}"
        ))
    })?;
    if args.json {
        let doc = Output {
            output,
            window,
            report: &report,
        };
        out(&serde_json::to_string_pretty(&doc).map_err(anyhow::Error::from)?);
    } else {
        for p in &report.problems {
            out(&format!("{:<9} {}  ({})", p.kind.as_str(), p.key, p.detail));
        }
        out(&format!(
            "{output} ({window}): {} manifest entries, {} objects, {} problem(s)",
            report.entries,
            report.objects,
            report.problems.len()
        ));
    }
    Ok(if report.problems.is_empty() {
        Code::Ok
    } else {
        Code::Partial
    })
}
