//! `o365ctl replay`: send blobs again, by content id or URI, by window, or by moving the
//! dead-letter queue back to the main queue. The fetcher writes each blob create-only under a
//! key that depends only on the message, so replaying is idempotent by construction.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use o365_activity::store::ObjectStore;
use o365_activity::{ContentType, TenantId};
use tokio::time::Instant;

use crate::args::ReplayArgs;
use crate::commands::Ui;
use crate::config::process_env;
use crate::connect::Connected;
use crate::exit::{CmdResult, Code, Failure};
use crate::progress::Progress;
use crate::relist::{id_hints, list, parse_content_uri, Delivery, Job, Session};
use crate::target::{with_store, Aws};
use crate::window::Window;

/// Runs `o365ctl replay`.
pub async fn run(args: ReplayArgs, ui: Ui) -> CmdResult {
    if let Some(dlq) = &args.from_dlq {
        return from_dlq(&args, dlq).await;
    }
    let tenants = args.tenants.resolve(&process_env).map_err(Failure::usage)?;
    let now = Utc::now();
    let explicit = args
        .window
        .clipped(now)
        .transpose()
        .map_err(Failure::usage)?;
    let wanted = wanted_ids(&args)?;
    if wanted.is_empty() && explicit.is_none() {
        return Err(Failure::usage(anyhow::anyhow!(
            "nothing to replay: give --content-id, --content-uri, --window START..END, --last DURATION or --from-dlq DLQ_URL"
        )));
    }
    let session = Session::open(tenants, &args.storage, args.dry_run).await?;
    let result = with_store!(session.store.clone(), |s| {
        replay(s, &args, &session, &wanted, explicit, ui).await
    });
    session.close().await;
    result
}

/// A blob asked for by id (and, from a URI, its tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    tenant: Option<TenantId>,
    content_id: String,
}

fn wanted_ids(args: &ReplayArgs) -> Result<Vec<Wanted>, Failure> {
    let mut out: Vec<Wanted> = args
        .content_id
        .iter()
        .map(|id| Wanted {
            tenant: None,
            content_id: id.trim().to_owned(),
        })
        .collect();
    for uri in &args.content_uri {
        let (tenant, content_id) = parse_content_uri(uri).ok_or_else(|| {
            Failure::usage(anyhow::anyhow!(
                "--content-uri {uri:?} is not a content URI of the form https://<api root>/api/v1.0/<tenant guid>/activity/feed/audit/<content id>"
            ))
        })?;
        out.push(Wanted {
            tenant: Some(tenant),
            content_id,
        });
    }
    for w in &out {
        if !o365_activity::message::is_valid_content_id(&w.content_id) {
            return Err(Failure::usage(anyhow::anyhow!(
                "{:?} is not a content id (letters, digits and $ _ . - only)",
                w.content_id
            )));
        }
    }
    Ok(out)
}

/// The listing jobs that find the wanted ids (or cover the explicit window).
fn jobs_for(
    conn: &Connected,
    wanted: &[Wanted],
    explicit: Option<Window>,
) -> Result<Vec<Job>, Failure> {
    let now = Utc::now();
    let mut jobs: Vec<Job> = Vec::new();
    let mut push = |job: Job| {
        if !jobs.contains(&job) {
            jobs.push(job);
        }
    };
    let pairs = |tenant: Option<&TenantId>, ct: Option<ContentType>| {
        conn.tenants
            .iter()
            .filter(move |(t, _)| tenant.is_none_or(|x| *x == t.tenant_id))
            .flat_map(move |(t, _)| {
                t.content_types
                    .iter()
                    .copied()
                    .filter(move |c| ct.is_none_or(|x| x == *c))
                    .map(move |c| (t.tenant_id.clone(), c))
            })
            .collect::<Vec<_>>()
    };
    if wanted.is_empty() {
        if let Some(window) = explicit {
            for (tenant, content_type) in pairs(None, None) {
                push(Job {
                    tenant,
                    content_type,
                    window,
                });
            }
        }
        return Ok(jobs);
    }
    for w in wanted {
        let hints = id_hints(&w.content_id);
        let window = match explicit.or(hints.window) {
            Some(window) => window.clip_to_reach(now).map_err(|e| {
                Failure::usage(anyhow::anyhow!(
                    "content id {}: {e}",
                    w.content_id
                ))
            })?,
            None => {
                return Err(Failure::usage(anyhow::anyhow!(
                    "content id {} has no timestamps this tool can read: add --window START..END (or --last DURATION) covering its contentCreated",
                    w.content_id
                )))
            }
        };
        let found = pairs(w.tenant.as_ref(), hints.content_type);
        if found.is_empty() {
            return Err(Failure::usage(anyhow::anyhow!(
                "content id {}: no configured tenant collects {}",
                w.content_id,
                hints
                    .content_type
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "its content type".into())
            )));
        }
        for (tenant, content_type) in found {
            push(Job {
                tenant,
                content_type,
                window,
            });
        }
    }
    Ok(jobs)
}

async fn replay<S: ObjectStore>(
    store: S,
    args: &ReplayArgs,
    session: &Session,
    wanted: &[Wanted],
    explicit: Option<Window>,
    ui: Ui,
) -> CmdResult {
    let deadline = Instant::now() + args.timeout;
    let jobs = jobs_for(&session.conn, wanted, explicit)?;
    let progress = Progress::new(ui.quiet, true);
    let mut listed = list(store.clone(), session, &jobs, deadline, &progress).await;
    let mut messages = std::mem::take(&mut listed.messages);
    let mut missing = Vec::new();
    if !wanted.is_empty() {
        let ids: HashSet<&str> = wanted.iter().map(|w| w.content_id.as_str()).collect();
        messages.retain(|m| ids.contains(m.content_id.as_str()));
        let found: HashSet<&str> = messages.iter().map(|m| m.content_id.as_str()).collect();
        missing = wanted
            .iter()
            .filter(|w| !found.contains(w.content_id.as_str()))
            .map(|w| w.content_id.clone())
            .collect();
    }
    let n = messages.len();
    let delivered = session
        .deliver(store, messages, deadline, &progress)
        .await?;
    listed.print_errors();
    for id in &missing {
        eprintln!(
            "error: content id {id} was not listed in the window searched; give --window START..END around its contentCreated (blobs older than 7 days cannot be listed)"
        );
    }
    let line = match &session.delivery {
        Delivery::DryRun => format!("replay: {n} message(s) would be sent (dry run)"),
        Delivery::Sqs(q) => format!("replay: {} message(s) sent to {}", delivered.sent, q.url()),
        Delivery::Local => format!(
            "replay: {} message(s) through the local pipeline",
            delivered.sent
        ),
    };
    eprintln!("{line}{}", delivered.describe());
    let errors = (listed.errors.len() + missing.len()) as u64 + session.errors(&delivered);
    Ok(if errors == 0 { Code::Ok } else { Code::Partial })
}

/// Moves messages from the dead-letter queue back to `--queue-url` (receive, send, delete
/// only what the main queue accepted); `--dry-run` prints them and leaves them in place.
async fn from_dlq(args: &ReplayArgs, dlq_url: &str) -> CmdResult {
    let Some(main_url) = &args.storage.queue_url else {
        return Err(Failure::usage(anyhow::anyhow!(
            "--from-dlq needs --queue-url: the queue to move the messages back to"
        )));
    };
    let aws = Aws::load(&args.storage).await;
    let dlq = aws.queue(dlq_url);
    let main = aws.queue(main_url);
    // Both queues must answer before anything moves.
    for q in [&dlq, &main] {
        q.approximate_depth().await.map_err(|e| {
            Failure::unreachable(anyhow::anyhow!(
                "{e}; check the queue URL, --endpoint-url and your AWS credentials"
            ))
        })?;
    }
    let max = args.max_messages.unwrap_or(usize::MAX);
    let deadline = Instant::now() + args.timeout;
    if args.dry_run {
        let mut seen = HashSet::new();
        let mut handles = Vec::new();
        while seen.len() < max && Instant::now() < deadline {
            let got = dlq
                .receive(10, Duration::from_secs(1), Some(Duration::from_secs(60)))
                .await
                .map_err(Failure::unreachable)?;
            if got.is_empty() {
                break;
            }
            for m in got {
                if seen.len() < max && seen.insert(m.message_id.clone()) {
                    crate::commands::out(m.body.trim());
                }
                handles.push(m.receipt_handle);
            }
        }
        for h in &handles {
            // Visible again at once: a dry run leaves the DLQ as it found it.
            let _ = dlq.change_visibility(h, Duration::ZERO).await;
        }
        eprintln!(
            "replay: {} message(s) in {dlq_url} would be moved to {main_url} (dry run)",
            seen.len()
        );
        return Ok(Code::Ok);
    }
    let report = dlq
        .move_messages(&main, max, deadline)
        .await
        .map_err(Failure::unreachable)?;
    eprintln!(
        "replay: moved {} message(s) from {dlq_url} to {main_url}; {} not accepted (left in the DLQ){}",
        report.moved,
        report.failed,
        if report.not_deleted > 0 {
            format!(
                "; {} could not be deleted from the DLQ and may be moved again (harmless: replays are no-ops)",
                report.not_deleted
            )
        } else {
            String::new()
        }
    );
    if let Some(e) = &report.last_error {
        tracing::warn!(error = %e, "last error while moving");
    }
    Ok(if report.failed == 0 {
        Code::Ok
    } else {
        Code::Partial
    })
}
