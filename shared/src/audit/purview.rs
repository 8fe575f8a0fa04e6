//! The Purview side of the audit: one Graph query per hour (split while truncated), its
//! records reduced to distinct `auditData.Id`s, re-read when the first read's answer matters.

use std::collections::{BTreeSet, HashSet};
use std::future::Future;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::time::Instant;

use crate::client::ClientError;
use crate::graph::{
    AuditLogQuery, AuditLogRecord, CreatedQuery, GraphClient, GraphVersion, NewAuditQuery,
    PollPolicy, QueryStatus,
};

/// A query that has ended (succeeded, failed or cancelled).
#[derive(Debug, Clone)]
pub struct FinishedQuery {
    /// The query as last polled.
    pub query: AuditLogQuery,
    /// The version that serves it.
    pub version: GraphVersion,
}

/// Where Purview's records come from: the Graph client, or a stand-in in unit tests.
pub trait PurviewSource: Send + Sync {
    /// Creates a query and polls it until it ends or `deadline`.
    fn run_query(
        &self,
        query: &NewAuditQuery,
        deadline: Instant,
    ) -> impl Future<Output = Result<FinishedQuery, ClientError>> + Send;

    /// Reads every record of a succeeded query once (all pages).
    fn read_records(
        &self,
        query: &FinishedQuery,
        deadline: Instant,
    ) -> impl Future<Output = Result<(Vec<AuditLogRecord>, u32), ClientError>> + Send;
}

/// The Graph client as the audit's source, polling with `poll`.
#[derive(Debug, Clone)]
pub struct GraphSource {
    /// The client.
    pub client: GraphClient,
    /// How queries are polled.
    pub poll: PollPolicy,
}

impl PurviewSource for GraphSource {
    async fn run_query(
        &self,
        query: &NewAuditQuery,
        deadline: Instant,
    ) -> Result<FinishedQuery, ClientError> {
        let created: CreatedQuery = self.client.create_query(query, deadline).await?;
        let query = self
            .client
            .wait_for_query(&created, &self.poll, deadline)
            .await?;
        Ok(FinishedQuery {
            query,
            version: created.version,
        })
    }

    async fn read_records(
        &self,
        query: &FinishedQuery,
        deadline: Instant,
    ) -> Result<(Vec<AuditLogRecord>, u32), ClientError> {
        let read = self
            .client
            .list_records(query.version, &query.query.id, deadline)
            .await?;
        Ok((read.records, read.pages))
    }
}

/// One read of the hour's records, reduced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadIds {
    /// Distinct `auditData.Id`s of accepted types.
    pub ids: HashSet<String>,
    /// Accepted records seen again (same `auditData.Id`).
    pub duplicates: u64,
    /// Records of types not asked for, or without `auditData.Id`.
    pub excluded: u64,
}

/// Reduces records to distinct Ids, keeping only the `accepted` record types.
pub fn reduce(records: &[AuditLogRecord], accepted: &HashSet<String>) -> ReadIds {
    let mut out = ReadIds::default();
    for r in records {
        let type_ok = r
            .audit_log_record_type
            .as_deref()
            .is_some_and(|t| accepted.contains(t));
        match r.management_id() {
            Some(id) if type_ok => {
                if !out.ids.insert(id.to_owned()) {
                    out.duplicates += 1;
                }
            }
            _ => out.excluded += 1,
        }
    }
    out
}

/// Purview's view of one hour.
#[derive(Debug, Clone, Default)]
pub struct PurviewHour {
    /// The queries that cover the hour (succeeded, not truncated).
    pub queries: Vec<FinishedQuery>,
    /// Every query id created for the hour (truncated ones included).
    pub query_ids: Vec<String>,
    /// The union of the reads so far.
    pub read: ReadIds,
    /// Whether a query hit the record-count limit.
    pub limit_hit: bool,
    /// Reads made (per query, summed).
    pub reads: u32,
    /// Pages read.
    pub pages: u64,
    /// Why the hour cannot be concluded, if so.
    pub inconclusive: Option<String>,
}

/// How the hour's queries are made.
#[derive(Debug, Clone)]
pub struct QueryPlan {
    /// `recordTypeFilters`.
    pub filters: Vec<String>,
    /// Smallest window a truncated query is split down to.
    pub min_window: TimeDelta,
    /// Most queries for one hour (splits and retries included).
    pub max_queries: u32,
    /// Times a window whose query ended `failed` or `cancelled` (by an admin, say) is
    /// submitted again before the hour is `inconclusive` (and left for the next run).
    pub max_retries: u32,
}

/// Queries `[start, end)`, splitting any truncated window in halves and submitting a window
/// whose query ended `failed` or `cancelled` again (at most `max_retries` times each), and
/// reads each covering query once.
pub async fn query_hour<P: PurviewSource>(
    source: &P,
    plan: &QueryPlan,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    deadline: Instant,
) -> Result<PurviewHour, ClientError> {
    let accepted: HashSet<String> = plan.filters.iter().cloned().collect();
    let mut out = PurviewHour::default();
    // Windows to query, with the times each was submitted already.
    let mut windows = vec![(start, end, 0u32)];
    while let Some((s, e, retries)) = windows.pop() {
        if out.query_ids.len() as u32 >= plan.max_queries {
            out.inconclusive = Some(format!(
                "more than {} queries needed for the hour (record-count limit)",
                plan.max_queries
            ));
            return Ok(out);
        }
        let new = NewAuditQuery {
            display_name: format!("o365-collector audit {}", crate::time::format_rfc3339_z(s)),
            filter_start_date_time: s,
            filter_end_date_time: e,
            record_type_filters: plan.filters.clone(),
        };
        let done = source.run_query(&new, deadline).await?;
        out.query_ids.push(done.query.id.clone());
        if done.query.status != QueryStatus::Succeeded {
            if retries < plan.max_retries {
                tracing::warn!(query_id = %done.query.id, status = ?done.query.status, retries, "audit: query did not succeed; submitting it again");
                windows.push((s, e, retries + 1));
                continue;
            }
            out.inconclusive = Some(format!(
                "query {} ended {:?} (after {retries} retries; the next run audits the hour again)",
                done.query.id, done.query.status
            ));
            return Ok(out);
        }
        if done.query.is_record_count_limit_exceeded == Some(true) {
            out.limit_hit = true;
            let half = (e - s) / 2;
            if half < plan.min_window {
                out.inconclusive = Some(format!(
                    "query {} is truncated even for a {}-second window",
                    done.query.id,
                    (e - s).num_seconds()
                ));
                return Ok(out);
            }
            let mid = s + half;
            windows.push((mid, e, 0));
            windows.push((s, mid, 0));
            continue;
        }
        let (records, pages) = source.read_records(&done, deadline).await?;
        out.reads += 1;
        out.pages = out.pages.saturating_add(u64::from(pages));
        let read = reduce(&records, &accepted);
        merge(&mut out.read, read);
        out.queries.push(done);
    }
    Ok(out)
}

/// Adds a read into the union; true when it brought nothing new.
fn merge(into: &mut ReadIds, read: ReadIds) -> bool {
    let before = into.ids.len();
    into.duplicates = into.duplicates.max(read.duplicates);
    into.excluded = into.excluded.max(read.excluded);
    into.ids.extend(read.ids);
    into.ids.len() == before
}

/// Re-reads the hour's queries (paging has been seen to disagree with itself) until one full
/// re-read brings no Id the earlier reads lacked, at most `max_rereads` times; on failure the
/// hour is marked inconclusive.
pub async fn confirm<P: PurviewSource>(
    source: &P,
    plan: &QueryPlan,
    hour: &mut PurviewHour,
    max_rereads: u32,
    deadline: Instant,
) -> Result<(), ClientError> {
    let accepted: HashSet<String> = plan.filters.iter().cloned().collect();
    for _ in 0..max_rereads {
        let mut again = ReadIds::default();
        for q in &hour.queries {
            let (records, pages) = source.read_records(q, deadline).await?;
            hour.reads += 1;
            hour.pages = hour.pages.saturating_add(u64::from(pages));
            let r = reduce(&records, &accepted);
            again.duplicates += r.duplicates;
            again.excluded += r.excluded;
            again.ids.extend(r.ids);
        }
        if merge(&mut hour.read, again) {
            return Ok(());
        }
    }
    hour.inconclusive = Some(format!(
        "the query's pages gave different records on each of {} reads",
        max_rereads + 1
    ));
    Ok(())
}

/// Ids in `purview` not in `stored`, sorted.
pub fn missing(purview: &HashSet<String>, stored: &HashSet<String>) -> BTreeSet<String> {
    purview.difference(stored).cloned().collect()
}
