//! Re-listing for `sweep`, `backfill`, `replay` and `audit`: what they open ([`Session`]),
//! windows listed through the lister's own `list_window` (no lease or progress is touched; it
//! starts a subscription never started, as a run would) into an in-process queue, then the
//! messages delivered: printed (`--dry-run`), sent to SQS, or fetched locally.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use o365_activity::queue::{MemoryQueue, SqsQueue};
use o365_activity::store::ObjectStore;
use o365_activity::{ContentType, QueueMessage, TenantId};
use o365_lister::ListerSettings;
use tokio::time::Instant;

use crate::args::StorageArgs;
use crate::commands::run::{fetcher, lister, lister_settings};
use crate::config::{client_budget, process_env, Tenants};
use crate::connect::Connected;
use crate::exit::Failure;
use crate::pipeline::{drain_memory, send, FetchTotals};
use crate::progress::Progress;
use crate::target::{Aws, StoreTarget};
use crate::window::Window;

/// What a re-listing subcommand works with, opened in the same order by each: the lister's
/// settings, the store, where the messages go, and the tenants connected.
#[derive(Debug)]
pub struct Session {
    /// The lister's settings (the storage's prefix, the default overlap).
    pub settings: ListerSettings,
    /// The directory or bucket.
    pub store: StoreTarget,
    /// Where listed messages go.
    pub delivery: Delivery,
    /// The tenants collected, with their clients.
    pub conn: Connected,
    storage: StorageArgs,
}

impl Session {
    /// Opens `sweep`'s, `backfill`'s or `replay`'s session; the queue, when messages will be
    /// sent to one (not with `dry_run`), must answer first.
    pub async fn open(
        tenants: Tenants,
        storage: &StorageArgs,
        dry_run: bool,
    ) -> Result<Session, Failure> {
        Session::connect(tenants, storage, dry_run, true).await
    }

    /// Opens `audit`'s session: nothing is printed instead of sent, and the queue is not
    /// checked up front (a report-only audit never sends).
    pub async fn open_unchecked(
        tenants: Tenants,
        storage: &StorageArgs,
    ) -> Result<Session, Failure> {
        Session::connect(tenants, storage, false, false).await
    }

    async fn connect(
        tenants: Tenants,
        storage: &StorageArgs,
        dry_run: bool,
        check_queue: bool,
    ) -> Result<Session, Failure> {
        let budget = client_budget(&process_env).map_err(Failure::usage)?;
        let settings = lister_settings(storage, None)?;
        let aws = storage.aws().await;
        let store = storage.store(aws.as_ref()).await?;
        if check_queue {
            storage.check_queue(aws.as_ref(), dry_run).await?;
        }
        let delivery = Delivery::choose(storage, aws.as_ref(), dry_run);
        let conn = Connected::open(tenants, budget).await?;
        Ok(Session {
            settings,
            store,
            delivery,
            conn,
            storage: storage.clone(),
        })
    }

    /// Delivers `messages` through [`deliver`] into `store` (this session's store, as
    /// `with_store!` makes it concrete), then closes the progress bars.
    pub async fn deliver<S: ObjectStore>(
        &self,
        store: S,
        messages: Vec<QueueMessage>,
        deadline: Instant,
        progress: &Progress,
    ) -> Result<Delivered, Failure> {
        let delivered = deliver(
            store,
            &self.storage,
            &self.conn,
            &self.delivery,
            messages,
            deadline,
            progress,
        )
        .await
        .map_err(Failure::unreachable)?;
        progress.finish();
        Ok(delivered)
    }

    /// The errors every re-listing summary counts besides its own: the local fetch's and the
    /// tenants that could not be reached.
    pub fn errors(&self, delivered: &Delivered) -> u64 {
        let fetch = delivered.fetch.as_ref().map_or(0, FetchTotals::errors);
        fetch.saturating_add(self.conn.unreachable.len() as u64)
    }

    /// Ends the session (stops the embedded simulator, if any).
    pub async fn close(self) {
        self.conn.shutdown().await;
    }
}

/// What a re-listing subcommand reports: its error count, its summary line and its JSON
/// summary (printed by [`crate::commands::report`]).
#[derive(Debug)]
pub struct Outcome {
    /// Errors of any kind; not zero makes the exit code 1.
    pub errors: u64,
    /// The one-line summary.
    pub line: String,
    /// The summary as JSON (`--json`).
    pub json: String,
}

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

impl Listed {
    /// Prints each job that failed on stderr.
    pub fn print_errors(&self) {
        for e in &self.errors {
            eprintln!("error: {e}");
        }
    }
}

/// Lists every job's window slice by slice into memory.
pub async fn list<S: ObjectStore>(
    store: S,
    session: &Session,
    jobs: &[Job],
    deadline: Instant,
    progress: &Progress,
) -> Listed {
    let queue = MemoryQueue::new();
    let lister = lister(store, queue.clone(), &session.conn, &session.settings);
    let mut out = Listed::default();
    let mut seen = std::collections::HashSet::new();
    progress.add_windows(jobs.iter().map(|j| j.window.slices().len() as u64).sum());
    for job in jobs {
        for slice in job.window.slices() {
            let what = format!("{} {} {}", job.tenant, job.content_type, slice);
            let result = lister
                .list_window(
                    &job.tenant,
                    job.content_type,
                    slice.start,
                    slice.end,
                    deadline,
                )
                .await;
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

/// What delivering the messages did.
#[derive(Debug, Default)]
pub struct Delivered {
    /// Messages sent to SQS (or printed with `--dry-run`).
    pub sent: usize,
    /// What the local fetcher did (local delivery only).
    pub fetch: Option<FetchTotals>,
}

impl Delivered {
    /// What the local fetch did, for a one-line summary (empty when nothing was fetched).
    pub fn describe(&self) -> String {
        self.fetch
            .as_ref()
            .map(FetchTotals::describe)
            .unwrap_or_default()
    }
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

impl Delivery {
    /// `--dry-run`, else `--queue-url`, else the local pipeline.
    pub fn choose(storage: &StorageArgs, aws: Option<&Aws>, dry_run: bool) -> Delivery {
        match (&storage.queue_url, aws) {
            _ if dry_run => Delivery::DryRun,
            (Some(url), Some(aws)) => Delivery::Sqs(aws.queue(url)),
            _ => Delivery::Local,
        }
    }
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
