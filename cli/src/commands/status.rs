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
use crate::health::TenantHealth;
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
    #[serde(serialize_with = "millis")]
    pub checkpoint: Option<DateTime<Utc>>,
    /// How far the checkpoint trails now, in seconds.
    pub lag_seconds: Option<u64>,
    /// `ok`, `partial`, `failed`, or `never`.
    pub last_run: String,
    /// When the last run ended.
    #[serde(serialize_with = "millis")]
    pub last_run_at: Option<DateTime<Utc>>,
    /// What went wrong in the last run: one line.
    pub last_error: Option<String>,
    /// The kind of that error: `configuration`, `credentials`, `permission`, `unreachable`
    /// (the tenant was skipped before listing) or `listing`.
    pub last_error_kind: Option<String>,
    /// No progress for several runs, or no window completed long after the first attempt.
    pub stalled: bool,
    /// How far the watermark was ahead of the last run's clock, beyond the tolerance.
    pub watermark_ahead_seconds: Option<i64>,
    /// The last reach sweep of the pair, if any.
    pub last_sweep: Option<o365_activity::checkpoint::LastSweep>,
    /// Gap reports: windows that could no longer be listed.
    pub gaps: Vec<String>,
    /// Error reports of blobs that failed permanently.
    pub blob_errors: usize,
    /// While a run works on the pair: when its lease expires.
    #[serde(serialize_with = "millis")]
    pub leased_until: Option<DateTime<Utc>>,
}

/// Serializes an optional instant to the millisecond, like every other time the product
/// writes (chrono's default would print nanoseconds).
fn millis<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&o365_activity::time::format_listing_time(*t)),
        None => s.serialize_none(),
    }
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
    /// Error reports under `<prefix>/_errors/` by kind (blobs that failed permanently,
    /// rejected queue messages, ...).
    pub error_reports: BTreeMap<String, u64>,
}

impl Status {
    /// Whether anything needs attention: a failing pair, a gap, an error report or messages
    /// in the dead-letter queue (`o365ctl status` then exits 1).
    pub fn needs_attention(&self) -> bool {
        self.pairs
            .iter()
            .any(|p| p.last_run == "failed" || !p.gaps.is_empty())
            || !self.error_reports.is_empty()
            || self.dlq.as_ref().is_some_and(|d| d.visible > 0)
    }
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
    let (pairs, error_reports) = with_store!(store, |s| {
        let pairs = pairs(s.clone(), &layout, &filter).await?;
        let reports = error_reports(&s, &layout).await?;
        Ok::<_, Failure>((pairs, reports))
    })?;
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
    let status = Status {
        output,
        pairs,
        dlq,
        error_reports,
    };
    if args.json {
        crate::commands::out(&serde_json::to_string_pretty(&status).unwrap_or_default());
    } else {
        crate::commands::out(table(&status).trim_end());
    }
    Ok(if status.needs_attention() {
        Code::Partial
    } else {
        Code::Ok
    })
}

/// Turns a storage error into the command's failure (exit 3 when retrying may help).
fn unreadable(e: o365_activity::checkpoint::CheckpointError) -> Failure {
    if e.is_retryable() {
        Failure::unreachable(e)
    } else {
        Failure::from(anyhow::Error::new(e))
    }
}

/// Counts the error reports under `_errors/` by their `kind` (a report without one counts
/// under the folder it is in, e.g. `rejected`).
async fn error_reports<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
) -> Result<BTreeMap<String, u64>, Failure> {
    let prefix = layout.errors_prefix();
    let mut counts = BTreeMap::new();
    for key in store
        .list(&prefix)
        .await
        .map_err(|e| unreadable(e.into()))?
    {
        let body = store.get(&key).await.map_err(|e| unreadable(e.into()))?;
        let kind = body
            .and_then(|o| o365_activity::error_report::ErrorReport::parse(&key, &o.body).ok())
            .map(|r| r.kind)
            .unwrap_or_else(|| {
                key.get(prefix.len()..)
                    .and_then(|rest| rest.split('/').next())
                    .unwrap_or("unknown")
                    .to_owned()
            });
        *counts.entry(kind).or_insert(0) += 1;
    }
    Ok(counts)
}

async fn pairs<S: ObjectStore>(
    store: S,
    layout: &KeyLayout,
    filter: &Filter,
) -> Result<Vec<PairStatus>, Failure> {
    let checkpoints =
        CheckpointStore::new(store.clone(), layout.clone(), CheckpointPolicy::default());
    let health: BTreeMap<TenantId, TenantHealth> = crate::health::load_all(&store, layout)
        .await
        .map_err(|e| unreadable(e.into()))?
        .into_iter()
        .map(|h| (h.tenant_id.clone(), h))
        .collect();
    let mut found: BTreeMap<(TenantId, ContentType), Option<Checkpoint>> = BTreeMap::new();
    for (t, cts) in &filter.configured {
        for ct in cts {
            found.insert((t.clone(), *ct), None);
        }
    }
    for h in health.values() {
        for ct in &h.content_types {
            found.entry((h.tenant_id.clone(), *ct)).or_insert(None);
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
        // A tenant skipped before listing, more recently than its last listing run.
        let skipped = health
            .get(&tenant)
            .filter(|h| h.content_types.contains(&ct))
            .and_then(|h| h.problem.as_ref().map(|p| (h.at, p)))
            .filter(|(at, _)| last.as_ref().is_none_or(|l| l.at <= *at));
        let lastrun_flags = last
            .as_ref()
            .map(|l| (l.stalled, l.watermark_ahead_seconds))
            .unwrap_or_default();
        let (last_run, last_run_at, last_error, last_error_kind) = match (skipped, last) {
            (Some((at, p)), _) => (
                "failed",
                Some(at),
                Some(p.reason.clone()),
                Some(p.kind.as_str().to_owned()),
            ),
            (None, None) => ("never", None, None, None),
            (None, Some(l)) => (
                match l.outcome {
                    LastRunOutcome::Ok => "ok",
                    LastRunOutcome::Partial => "partial",
                    LastRunOutcome::Failed => "failed",
                },
                Some(l.at),
                l.error.clone(),
                l.error.as_ref().map(|_| {
                    l.error_kind
                        .as_deref()
                        .map_or_else(|| "listing".to_owned(), str::to_lowercase)
                }),
            ),
        };
        out.push(PairStatus {
            checkpoint: cp.as_ref().and_then(|c| c.watermark),
            lag_seconds: cp
                .as_ref()
                .and_then(|c| c.lag(now))
                .and_then(|d| d.to_std().ok())
                .map(|d| d.as_secs()),
            last_run: last_run.to_owned(),
            last_run_at,
            last_error,
            last_error_kind,
            stalled: lastrun_flags.0,
            watermark_ahead_seconds: lastrun_flags.1,
            last_sweep: cp.as_ref().and_then(|c| c.last_sweep.clone()),
            gaps: gaps
                .iter()
                .filter(|g| g.tenant_id == tenant && g.content_type == ct)
                .map(|g| {
                    format!(
                        "{}..{}",
                        o365_activity::time::format_listing_time(g.lost_from),
                        o365_activity::time::format_listing_time(g.lost_to)
                    )
                })
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
    if !s.error_reports.is_empty() {
        let kinds: Vec<String> = s
            .error_reports
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "error reports: {} (under {}/_errors/)",
            kinds.join(", "),
            s.output
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
        if p.stalled {
            let _ = writeln!(
                out,
                "    STALLED: no progress for several runs (or no window completed since the first attempt)"
            );
        }
        if let Some(e) = &p.last_error {
            let when = p
                .last_run_at
                .map(o365_activity::time::format_listing_time)
                .unwrap_or_default();
            let kind = p.last_error_kind.as_deref().unwrap_or("error");
            let _ = writeln!(out, "    last error ({kind}, {when}): {e}");
        }
        if let Some(ahead) = p.watermark_ahead_seconds {
            let _ = writeln!(
                out,
                "    clock: the checkpoint was {ahead} s ahead of the last run's clock (listing went on from now)"
            );
        }
        if let Some(s) = &p.last_sweep {
            let _ = writeln!(
                out,
                "    last sweep: {} listed {}, recovered {} ({} near expiry){}",
                o365_activity::time::format_listing_time(s.at),
                s.listed,
                s.recovered,
                s.near_expiry,
                s.error
                    .as_deref()
                    .map(|e| format!(", did not finish: {e}"))
                    .unwrap_or_default()
            );
        }
        for g in &p.gaps {
            let _ = writeln!(out, "    gap: {g} could no longer be listed");
        }
    }
    out
}
