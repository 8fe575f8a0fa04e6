//! Re-listing for `backfill` and `replay`: list windows through the lister's own
//! `list_window` (no checkpoint is touched) into an in-process queue, then deliver the
//! messages: print them (`--dry-run`), send them to SQS, or fetch them locally.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use o365_activity::api_error::AfCode;
use o365_activity::clock::Clock;
use o365_activity::metrics::MetricsSink;
use o365_activity::queue::{MemoryQueue, SqsQueue};
use o365_activity::store::ObjectStore;
use o365_activity::{ContentType, QueueMessage, TenantId};
use o365_lister::{ListWindowError, Lister, ListerSettings};
use tokio::time::Instant;

use crate::args::StorageArgs;
use crate::commands::run::fetcher;
use crate::connect::Connected;
use crate::pipeline::{drain_memory, send, FetchTotals};
use crate::progress::Progress;
use crate::window::Window;

/// One listing job: a tenant, a content type and a window (sliced to ≤ 24 h).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The tenant.
    pub tenant: TenantId,
    /// The content type.
    pub content_type: ContentType,
    /// The window.
    pub window: Window,
}

/// What listing produced.
#[derive(Debug, Default)]
pub struct Listed {
    /// Every message, in listing order, without repeats.
    pub messages: Vec<QueueMessage>,
    /// Jobs that failed, with the reason.
    pub errors: Vec<String>,
}

/// Lists every job's window slice by slice into memory.
pub async fn list<S: ObjectStore>(
    store: S,
    conn: &Connected,
    settings: &ListerSettings,
    jobs: &[Job],
    deadline: Instant,
    progress: &Progress,
) -> Listed {
    let queue = MemoryQueue::new();
    let lister = Lister::new(
        store,
        queue.clone(),
        conn.tenants.clone(),
        settings.clone(),
        Clock::system(),
        MetricsSink::Discard,
    );
    let mut out = Listed::default();
    let mut seen = std::collections::HashSet::new();
    progress.add_windows(jobs.iter().map(|j| j.window.slices().len() as u64).sum());
    for job in jobs {
        for slice in job.window.slices() {
            let what = format!("{} {} {}", job.tenant, job.content_type, slice);
            let list_slice = || {
                lister.list_window(
                    &job.tenant,
                    job.content_type,
                    slice.start,
                    slice.end,
                    deadline,
                )
            };
            let mut result = list_slice().await;
            if needs_subscription(&result) && start_subscription(conn, job, deadline).await {
                result = list_slice().await;
            }
            match result {
                Ok(n) => tracing::info!(%what, listed = n, "window listed"),
                Err(e) => {
                    tracing::error!(%what, error = %e, "window not listed");
                    out.errors.push(format!("{what}: {e}"));
                }
            }
            progress.window_done(&what);
        }
    }
    for m in queue.drain() {
        if seen.insert(m.dedup_key()) {
            out.messages.push(m);
        }
    }
    out
}

/// Whether listing failed because the subscription is missing or disabled (a tenant that
/// was never collected from): starting it once and listing again can help.
fn needs_subscription(result: &Result<usize, ListWindowError>) -> bool {
    matches!(
        result,
        Err(ListWindowError::Api { source, .. })
            if matches!(
                source.af_code(),
                Some(AfCode::SubscriptionNotFound | AfCode::SubscriptionDisabled)
            )
    )
}

/// Starts the subscription of a job's tenant and content type; whether that worked.
async fn start_subscription(conn: &Connected, job: &Job, deadline: Instant) -> bool {
    let Some((_, client)) = conn.tenants.iter().find(|(t, _)| t.tenant_id == job.tenant) else {
        return false;
    };
    match client.start_subscription(job.content_type, deadline).await {
        Ok(_) => {
            tracing::info!(tenant_id = %job.tenant, content_type = %job.content_type, "subscription started");
            true
        }
        Err(e) => {
            tracing::error!(tenant_id = %job.tenant, content_type = %job.content_type, error = %e, "cannot start the subscription");
            false
        }
    }
}

/// What delivering the messages did.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Messages sent to SQS (or printed with `--dry-run`).
    pub sent: usize,
    /// What the local fetcher did (local delivery only).
    pub fetch: Option<FetchTotals>,
}

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// Printed as JSON lines on stdout; nothing sent.
    DryRun,
    /// Sent to an SQS queue.
    Sqs(SqsQueue),
    /// Through the local fetcher into the store.
    Local,
}

/// Delivers messages: print, send, or fetch into `store`.
pub async fn deliver<S: ObjectStore>(
    store: S,
    storage: &StorageArgs,
    conn: &Connected,
    delivery: &Delivery,
    messages: Vec<QueueMessage>,
    deadline: Instant,
    progress: &Progress,
) -> anyhow::Result<Delivered> {
    match delivery {
        Delivery::DryRun => {
            for m in &messages {
                crate::commands::out(&m.to_json());
            }
            Ok(Delivered {
                sent: messages.len(),
                fetch: None,
            })
        }
        Delivery::Sqs(q) => Ok(Delivered {
            sent: send(q, &messages, deadline).await?,
            fetch: None,
        }),
        Delivery::Local => {
            let queue = MemoryQueue::new();
            let sent = send(&queue, &messages, deadline).await?;
            let fetcher = fetcher(store, storage, conn);
            let totals = drain_memory(&fetcher, &queue, deadline, progress).await;
            Ok(Delivered {
                sent,
                fetch: Some(totals),
            })
        }
    }
}

/// What a content id tells about its blob: the content type from its spelling, and the
/// window around its timestamps to re-list. Observed ids look like
/// `{T1}${T2}$audit_exchange$Audit_Exchange$na0001`, where `T1` starts the aggregation
/// window and `T2` is `contentCreated` (`yyyyMMddHHmmss` and more digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdHints {
    /// The content type, when the id spells one.
    pub content_type: Option<ContentType>,
    /// The window to re-list, when a timestamp could be read.
    pub window: Option<Window>,
}

fn id_time(token: &str) -> Option<DateTime<Utc>> {
    let digits = token.get(..14)?;
    NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S")
        .ok()
        .map(|n| n.and_utc())
}

/// Reads the hints of a content id (see [`IdHints`]).
pub fn id_hints(content_id: &str) -> IdHints {
    let parts: Vec<&str> = content_id.split('$').collect();
    let content_type = [
        (
            "audit_azureactivedirectory",
            ContentType::AzureActiveDirectory,
        ),
        ("audit_exchange", ContentType::Exchange),
        ("audit_sharepoint", ContentType::SharePoint),
        ("audit_general", ContentType::General),
        ("dlp_all", ContentType::DlpAll),
    ]
    .into_iter()
    .find(|(spelling, _)| parts.iter().any(|p| p.eq_ignore_ascii_case(spelling)))
    .map(|(_, ct)| ct);
    let margin = TimeDelta::hours(1);
    let window = match (
        parts.get(1).and_then(|t| id_time(t)),
        parts.first().and_then(|t| id_time(t)),
    ) {
        (Some(created), _) => Some(Window {
            start: created - margin,
            end: created + margin,
        }),
        (None, Some(t1)) => Some(Window {
            start: t1,
            end: t1 + TimeDelta::hours(24),
        }),
        _ => None,
    };
    IdHints {
        content_type,
        window,
    }
}

/// Splits a content URI into its tenant and content id
/// (`{root}/api/v1.0/{tenant}/activity/feed/audit/{contentId}`).
pub fn parse_content_uri(uri: &str) -> Option<(TenantId, String)> {
    let url = url::Url::parse(uri).ok()?;
    let segs: Vec<&str> = url.path_segments()?.collect();
    let api = segs.iter().position(|s| s.starts_with("v1"))?;
    let tenant: TenantId = segs.get(api + 1)?.parse().ok()?;
    let id = segs.last()?.to_string();
    if segs.len() < api + 4 || id.is_empty() {
        return None;
    }
    Some((tenant, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hints_from_real_looking_ids() {
        let h = id_hints(
            "20260301101500120000001$20260301103318440000002$audit_exchange$Audit_Exchange$na0001",
        );
        assert_eq!(h.content_type, Some(ContentType::Exchange));
        let created = Utc.with_ymd_and_hms(2026, 3, 1, 10, 33, 18).unwrap();
        let w = h.window.unwrap();
        assert!(w.start < created && created < w.end);
        let h = id_hints("20260301101500120000001$x$dlp_all$DLP_All$na0001");
        assert_eq!(h.content_type, Some(ContentType::DlpAll));
        assert_eq!(
            h.window.unwrap().start,
            Utc.with_ymd_and_hms(2026, 3, 1, 10, 15, 0).unwrap()
        );
        let h = id_hints("492638008028$492638008028$abc$04");
        assert_eq!(
            h,
            IdHints {
                content_type: None,
                window: None
            }
        );
    }

    #[test]
    fn content_uris() {
        let (t, id) = parse_content_uri("https://manage.office.com/api/v1.0/00000000-0000-0000-0000-000000000001/activity/feed/audit/a$b$audit_general$Audit_General$na0001").unwrap();
        assert_eq!(t.as_str(), "00000000-0000-0000-0000-000000000001");
        assert_eq!(id, "a$b$audit_general$Audit_General$na0001");
        assert!(parse_content_uri(
            "https://manage.office.com/api/v1.0/contoso/activity/feed/audit/x"
        )
        .is_none());
        assert!(parse_content_uri("not a uri").is_none());
        assert!(parse_content_uri("https://manage.office.com/").is_none());
    }
}
