//! `o365ctl status`: per tenant × content type, the checkpoint, lag, last run, gap reports and
//! error reports, plus the dead-letter queue's depth; a table or `--json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use o365_activity::checkpoint::{Checkpoint, CheckpointPolicy, CheckpointStore, LastRunOutcome};
use o365_activity::keys::KeyLayout;
use o365_activity::store::ObjectStore;
use o365_activity::tenants::TenantsFile;
use o365_activity::{ContentType, TenantId};
use serde::Serialize;

use crate::args::{StatusArgs, TenantArgs};
use crate::exit::{CmdResult, Code, Failure};
use crate::summary::human;
use crate::target::{with_store, Aws};

/// One tenant × content type.
#[derive(Debug, Clone, Serialize)]
pub struct PairStatus {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The content type.
    pub content_type: ContentType,
    /// Everything before this was listed and queued (`None`: never listed).
    pub checkpoint: Option<DateTime<Utc>>,
    /// How far the checkpoint trails now, in seconds.
    pub lag_seconds: Option<u64>,
    /// `ok`, `partial`, `failed`, or `never`.
    pub last_run: String,
    /// When the last run ended.
    pub last_run_at: Option<DateTime<Utc>>,
    /// What went wrong in the last run.
    pub last_error: Option<String>,
    /// Gap reports: windows that could no longer be listed.
    pub gaps: Vec<String>,
    /// Error reports of blobs that failed permanently.
    pub blob_errors: usize,
    /// While a run works on the pair: when its lease expires.
    pub leased_until: Option<DateTime<Utc>>,
}

/// The whole status.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Where the data is.
    pub output: String,
    /// Per tenant × content type.
    pub pairs: Vec<PairStatus>,
    /// The dead-letter queue, with `--dlq-url`.
    pub dlq: Option<DlqStatus>,
}

/// Depth of the dead-letter queue.
#[derive(Debug, Clone, Serialize)]
pub struct DlqStatus {
    /// The queue.
    pub url: String,
    /// Messages waiting (approximate).
    pub visible: u64,
    /// Messages being handled (approximate).
    pub in_flight: u64,
}

/// Which pairs to show: those of the configuration (also when never run), filtered.
#[derive(Debug, Default)]
struct Filter {
    tenant: Option<TenantId>,
    types: Vec<ContentType>,
    configured: Vec<(TenantId, Vec<ContentType>)>,
}

impl Filter {
    /// Reads `--tenant-id`, `--content-types` and `--config` without needing credentials.
    fn from_args(args: &TenantArgs) -> Result<Filter, Failure> {
        let tenant = args
            .tenant_id
            .as_deref()
            .map(str::parse::<TenantId>)
            .transpose()
            .map_err(Failure::usage)?;
        let types = if args.content_types.is_empty() {
            Vec::new()
        } else {
            ContentType::parse_list(&args.content_types.join(",")).map_err(Failure::usage)?
        };
        let mut configured = Vec::new();
        if let Some(path) = &args.config {
            for e in TenantsFile::from_path(path)
                .map_err(Failure::usage)?
                .tenants
            {
                let t: TenantId = e.tenant_id.parse().map_err(Failure::usage)?;
                let cts = match e.content_types {
                    Some(list) if !list.is_empty() => {
                        ContentType::parse_list(&list.join(",")).map_err(Failure::usage)?
                    }
                    _ => ContentType::ALL.to_vec(),
                };
                configured.push((t, cts));
            }
        }
        Ok(Filter {
            tenant,
            types,
            configured,
        })
    }

    fn keeps(&self, t: &TenantId, ct: ContentType) -> bool {
        self.tenant.as_ref().is_none_or(|x| x == t)
            && (self.types.is_empty() || self.types.contains(&ct))
    }
}

/// Runs `o365ctl status`.
pub async fn run(args: StatusArgs) -> CmdResult {
    let filter = Filter::from_args(&args.tenants)?;
    if args.storage.bucket.is_none() && !args.storage.out.is_dir() {
        return Err(Failure::usage(anyhow::anyhow!(
            "nothing collected in {} yet: run `o365ctl run --once --out {}` first, or point --out (or --bucket) at the output",
            args.storage.out.display(),
            args.storage.out.display()
        )));
    }
    let aws = if args.storage.bucket.is_some() || args.dlq_url.is_some() {
        Some(Aws::load(&args.storage).await)
    } else {
        None
    };
    let store = args.storage.store(aws.as_ref()).await?;
    let output = store.describe(&args.storage.prefix);
    let layout = KeyLayout::new(&args.storage.prefix);
    let pairs = with_store!(store, |s| pairs(s, &layout, &filter).await)?;
    let dlq = match (&args.dlq_url, &aws) {
        (Some(url), Some(aws)) => {
            let (visible, in_flight) = aws
                .queue(url)
                .approximate_depth()
                .await
                .map_err(Failure::unreachable)?;
            Some(DlqStatus {
                url: url.clone(),
                visible,
                in_flight,
            })
        }
        _ => None,
    };
    let status = Status { output, pairs, dlq };
    if args.json {
        crate::commands::out(&serde_json::to_string_pretty(&status).unwrap_or_default());
    } else {
        crate::commands::out(table(&status).trim_end());
    }
    let failed = status.pairs.iter().any(|p| p.last_run == "failed");
    Ok(if failed { Code::Partial } else { Code::Ok })
}

async fn pairs<S: ObjectStore>(
    store: S,
    layout: &KeyLayout,
    filter: &Filter,
) -> Result<Vec<PairStatus>, Failure> {
    let checkpoints =
        CheckpointStore::new(store.clone(), layout.clone(), CheckpointPolicy::default());
    let unreadable = |e: o365_activity::checkpoint::CheckpointError| {
        if e.is_retryable() {
            Failure::unreachable(e)
        } else {
            Failure::from(anyhow::Error::new(e))
        }
    };
    let mut found: BTreeMap<(TenantId, ContentType), Option<Checkpoint>> = BTreeMap::new();
    for (t, cts) in &filter.configured {
        for ct in cts {
            found.insert((t.clone(), *ct), None);
        }
    }
    for c in checkpoints.list().await.map_err(unreadable)? {
        found.insert((c.tenant_id.clone(), c.content_type), Some(c));
    }
    let gaps = checkpoints.list_gaps().await.map_err(unreadable)?;
    let now = Utc::now();
    let mut out = Vec::new();
    for ((tenant, ct), cp) in found {
        if !filter.keeps(&tenant, ct) {
            continue;
        }
        let errors_prefix = layout.errors_pair_prefix(&tenant, ct);
        let blob_errors = store
            .list(&errors_prefix)
            .await
            .map_err(|e| unreadable(e.into()))?
            .len();
        let last = cp.as_ref().and_then(|c| c.last_run.clone());
        out.push(PairStatus {
            checkpoint: cp.as_ref().and_then(|c| c.watermark),
            lag_seconds: cp
                .as_ref()
                .and_then(|c| c.lag(now))
                .and_then(|d| d.to_std().ok())
                .map(|d| d.as_secs()),
            last_run: match last.as_ref().map(|l| l.outcome) {
                None => "never",
                Some(LastRunOutcome::Ok) => "ok",
                Some(LastRunOutcome::Partial) => "partial",
                Some(LastRunOutcome::Failed) => "failed",
            }
            .to_owned(),
            last_run_at: last.as_ref().map(|l| l.at),
            last_error: last.and_then(|l| l.error),
            gaps: gaps
                .iter()
                .filter(|g| g.tenant_id == tenant && g.content_type == ct)
                .map(|g| format!("{}..{}", g.lost_from, g.lost_to))
                .collect(),
            blob_errors,
            leased_until: cp
                .as_ref()
                .and_then(|c| c.live_lease(now))
                .map(|l| l.expires_at),
            tenant_id: tenant,
            content_type: ct,
        });
    }
    Ok(out)
}

fn table(s: &Status) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "output: {}", s.output);
    if let Some(d) = &s.dlq {
        let _ = writeln!(
            out,
            "dead-letter queue: {} waiting, {} in flight ({}){}",
            d.visible,
            d.in_flight,
            d.url,
            if d.visible > 0 {
                "; move them back with o365ctl replay --from-dlq"
            } else {
                ""
            }
        );
    }
    if s.pairs.is_empty() {
        let _ = writeln!(out, "no checkpoints yet: run `o365ctl run --once` first");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<36}  {:<27}  {:<24}  {:>8}  {:<8}  {:>4}  {:>6}",
        "tenant", "content type", "checkpoint", "lag", "last run", "gaps", "errors"
    );
    for p in &s.pairs {
        let _ = writeln!(
            out,
            "{:<36}  {:<27}  {:<24}  {:>8}  {:<8}  {:>4}  {:>6}",
            p.tenant_id.as_str(),
            p.content_type.as_str(),
            p.checkpoint
                .map(o365_activity::time::format_listing_time)
                .unwrap_or_else(|| "-".into()),
            p.lag_seconds.map(human).unwrap_or_else(|| "-".into()),
            p.last_run,
            p.gaps.len(),
            p.blob_errors
        );
        if let Some(until) = p.leased_until {
            let _ = writeln!(
                out,
                "    a run holds this pair until {} (running now, or stopped without releasing it)",
                o365_activity::time::format_listing_time(until)
            );
        }
        if let Some(e) = &p.last_error {
            let _ = writeln!(out, "    last error: {e}");
        }
        for g in &p.gaps {
            let _ = writeln!(out, "    gap: {g} could no longer be listed");
        }
    }
    out
}
