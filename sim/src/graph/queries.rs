//! Audit log queries: their lifecycle over simulated time (`notStarted` → `running` →
//! `succeeded`), the per-tenant limit on queries in flight, the record-count limit, and the
//! pages of a completed query (with the `unstable-paging` first read).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration as CDuration, Utc};
use serde_json::{json, Value};

use super::GraphConfig;
use crate::store::mixed_guid;

/// A query's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Accepted, not yet picked up.
    NotStarted,
    /// Being searched.
    Running,
    /// Done; its records can be read.
    Succeeded,
    /// Done without records (`graph-query-failures`).
    Failed,
}

impl Status {
    /// Graph's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotStarted => "notStarted",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
        }
    }

    /// Whether the query still counts against the tenant's queries in flight.
    pub fn in_flight(self) -> bool {
        matches!(self, Status::NotStarted | Status::Running)
    }
}

/// How the first read of a query misbehaves (`unstable-paging`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unstable {
    /// The page at this index is never served: the link before it jumps over it.
    Skip(usize),
    /// The page at this index is served twice (once in place of the next one, then again).
    Repeat(usize),
}

/// One submitted query.
#[derive(Debug)]
pub struct Query {
    /// `id`.
    pub id: String,
    /// Index of the tenant that submitted it (from the token's `tid`).
    pub tenant: usize,
    /// Simulated submission time (for the daily submission limit).
    pub submitted: DateTime<Utc>,
    /// When it leaves `notStarted`.
    pub started: DateTime<Utc>,
    /// When it `succeeded`.
    pub finished: DateTime<Utc>,
    /// The query object as created (filters echoed), without `status` and the counts.
    pub resource: serde_json::Map<String, Value>,
    /// The records it returns as Graph JSON texts (after duplicates and the record-count limit).
    pub records: Arc<Vec<String>>,
    /// Whether the result was cut at the record-count limit.
    pub limit_exceeded: bool,
    /// Records found before the cut.
    pub found: usize,
    /// Fault of the first read, if any.
    pub unstable: Option<Unstable>,
    /// How many reads (first pages) have been served.
    pub reads: u32,
    /// Whether it ends `failed` instead of `succeeded`.
    pub fails: bool,
}

impl Query {
    /// Status at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> Status {
        if now < self.started {
            Status::NotStarted
        } else if now < self.finished {
            Status::Running
        } else if self.fails {
            Status::Failed
        } else {
            Status::Succeeded
        }
    }

    /// The query as `GET …/queries/{id}` shows it at `now`.
    pub fn json(&self, now: DateTime<Utc>, context: &str) -> Value {
        let mut m = self.resource.clone();
        m.insert("@odata.context".into(), json!(context));
        m.insert("id".into(), json!(self.id));
        let status = self.status(now);
        m.insert("status".into(), json!(status.as_str()));
        let done = status == Status::Succeeded;
        m.insert(
            "isRecordCountLimitExceeded".into(),
            json!(done && self.limit_exceeded),
        );
        m.insert(
            "approximateReturnedRecordCount".into(),
            if done { json!(self.found) } else { Value::Null },
        );
        Value::Object(m)
    }
}

/// Every query of the run.
#[derive(Debug, Default)]
pub struct QueryBook {
    queries: Mutex<Vec<Query>>,
}

/// Why a submission was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooMany {
    /// What limit was reached, for the error message.
    pub reason: String,
    /// Seconds until a submission can succeed again.
    pub retry_after: u64,
}

/// The per-tenant submission limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Queries not yet done.
    pub concurrent: usize,
    /// Submissions in any 24 simulated hours (`None`: unlimited).
    pub daily: Option<usize>,
}

/// A page of records: the records, and the `$skiptoken` of the next page if any.
#[derive(Debug)]
pub struct Page {
    /// Records of the page (Graph JSON texts).
    pub records: Vec<String>,
    /// Token of the next page.
    pub next: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl QueryBook {
    /// Admits a query unless one of the tenant's limits is reached; gives it its id (from the
    /// seed and the submission number) and returns that id.
    pub fn admit(
        &self,
        mut query: Query,
        limits: Limits,
        seed: u64,
        now: DateTime<Utc>,
    ) -> Result<String, TooMany> {
        let mut all = lock(&self.queries);
        let seconds_until =
            |t: DateTime<Utc>| u64::try_from((t - now).num_seconds()).unwrap_or(0).max(1);
        let in_flight: Vec<&Query> = all
            .iter()
            .filter(|q| q.tenant == query.tenant && q.status(now).in_flight())
            .collect();
        if in_flight.len() >= limits.concurrent {
            let soonest = in_flight.iter().map(|q| q.finished).min().unwrap_or(now);
            return Err(TooMany {
                reason: format!(
                    "Too many concurrent audit log queries: {} of this tenant have not completed yet.",
                    in_flight.len()
                ),
                retry_after: seconds_until(soonest),
            });
        }
        if let Some(daily) = limits.daily {
            let day_ago = now - CDuration::days(1);
            let today: Vec<DateTime<Utc>> = all
                .iter()
                .filter(|q| q.tenant == query.tenant && q.submitted > day_ago)
                .map(|q| q.submitted)
                .collect();
            if today.len() >= daily {
                let oldest = today.iter().min().copied().unwrap_or(now);
                return Err(TooMany {
                    reason: format!(
                        "The tenant has submitted {} audit log queries in the last 24 hours, its daily limit.",
                        today.len()
                    ),
                    retry_after: seconds_until(oldest + CDuration::days(1)),
                });
            }
        }
        query.id = query_id(seed, all.len());
        let id = query.id.clone();
        all.push(query);
        Ok(id)
    }

    /// Runs `f` on a query of the tenant, if it exists.
    pub fn with<R>(&self, tenant: usize, id: &str, f: impl FnOnce(&mut Query) -> R) -> Option<R> {
        let mut all = lock(&self.queries);
        all.iter_mut()
            .find(|q| q.tenant == tenant && q.id.eq_ignore_ascii_case(id))
            .map(f)
    }

    /// The tenant's queries as `GET …/queries` lists them.
    pub fn list(&self, tenant: usize, now: DateTime<Utc>, context: &str) -> Vec<Value> {
        lock(&self.queries)
            .iter()
            .filter(|q| q.tenant == tenant)
            .map(|q| {
                let mut v = q.json(now, context);
                if let Some(m) = v.as_object_mut() {
                    m.remove("@odata.context");
                }
                v
            })
            .collect()
    }

    /// How many queries were submitted (all tenants).
    pub fn count(&self) -> usize {
        lock(&self.queries).len()
    }
}

/// The query timings, the record-count limit and page size in force.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// From submission to `running`.
    pub queued: CDuration,
    /// From `running` to `succeeded`.
    pub running: CDuration,
}

impl Timing {
    /// From the configuration, or `graph-query-seconds=N` (a fifth of it `notStarted`).
    pub fn new(config: &GraphConfig, total_seconds: Option<u64>) -> Timing {
        match total_seconds {
            Some(n) => {
                let total = i64::try_from(n).unwrap_or(i64::MAX).min(365 * 86_400);
                Timing {
                    queued: CDuration::seconds(total / 5),
                    running: CDuration::seconds(total - total / 5),
                }
            }
            None => Timing {
                queued: CDuration::from_std(config.queued).unwrap_or(CDuration::zero()),
                running: CDuration::from_std(config.running).unwrap_or(CDuration::zero()),
            },
        }
    }
}

/// A deterministic query id: a GUID from the seed and the submission number.
pub fn query_id(seed: u64, n: usize) -> String {
    mixed_guid(
        &[
            &seed.to_le_bytes(),
            &(n as u64).to_le_bytes(),
            b"audit query",
        ],
        b"audit query, low half",
    )
}

/// Where the unstable first read goes wrong, for a query of `len` records in pages of `size`:
/// nowhere when everything fits one page.
pub fn unstable_plan(len: usize, size: usize, roll: u64) -> Option<Unstable> {
    let pages = len.div_ceil(size.max(1));
    if pages < 2 {
        return None;
    }
    // A page after the first, so the first page always comes back.
    let page = 1 + (roll as usize / 2) % (pages - 1);
    Some(if roll.is_multiple_of(2) {
        Unstable::Skip(page)
    } else {
        Unstable::Repeat(page)
    })
}

/// `$skiptoken`: read number, offset, and whether a repeat was already served.
fn token(read: u32, offset: usize, repeated: bool) -> String {
    format!("{read:x}.{offset:x}.{}", u8::from(repeated))
}

fn parse_token(s: &str) -> Option<(u32, usize, bool)> {
    let mut parts = s.split('.');
    let read = u32::from_str_radix(parts.next()?, 16).ok()?;
    let offset = usize::from_str_radix(parts.next()?, 16).ok()?;
    let repeated = match parts.next()? {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    parts.next().is_none().then_some((read, offset, repeated))
}

/// Serves one page of a completed query; `skiptoken` is `None` for a new read. `None` when the
/// token is not one this query handed out.
pub fn page(query: &mut Query, skiptoken: Option<&str>, size: usize) -> Option<Page> {
    let size = size.max(1);
    let (read, offset, repeated) = match skiptoken {
        None => {
            query.reads = query.reads.saturating_add(1);
            (query.reads, 0, false)
        }
        Some(t) => {
            let parsed = parse_token(t)?;
            (parsed.0 <= query.reads && parsed.1 <= query.records.len()).then_some(parsed)?
        }
    };
    let len = query.records.len();
    let unstable = if read == 1 { query.unstable } else { None };
    let slice = |from: usize| {
        query
            .records
            .get(from..from.saturating_add(size).min(len))
            .map(<[String]>::to_vec)
            .unwrap_or_default()
    };
    let this_page = offset / size;
    let (records, next_offset, next_repeated) = match unstable {
        Some(Unstable::Skip(p)) if this_page + 1 == p => (
            slice(offset),
            offset.saturating_add(size.saturating_mul(2)),
            repeated,
        ),
        Some(Unstable::Repeat(p)) if this_page == p && !repeated => {
            (slice(offset.saturating_sub(size)), offset, true)
        }
        _ => (slice(offset), offset.saturating_add(size), repeated),
    };
    let next = (next_offset < len).then(|| token(read, next_offset, next_repeated));
    Some(Page { records, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(n: usize, unstable: Option<Unstable>) -> Query {
        let t = DateTime::<Utc>::from_timestamp(1_772_366_400, 0).unwrap_or_default();
        Query {
            id: query_id(1, 0),
            tenant: 0,
            submitted: t,
            started: t + CDuration::seconds(10),
            finished: t + CDuration::seconds(60),
            resource: serde_json::Map::new(),
            records: Arc::new((0..n).map(|i| i.to_string()).collect()),
            limit_exceeded: false,
            found: n,
            unstable,
            reads: 0,
            fails: false,
        }
    }

    fn read_all(q: &mut Query, size: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let p = page(q, token.as_deref(), size).unwrap();
            out.extend(p.records);
            match p.next {
                Some(t) => token = Some(t),
                None => return out,
            }
        }
    }

    #[test]
    fn status_moves_with_simulated_time() {
        let q = query(0, None);
        assert_eq!(
            q.status(q.started - CDuration::seconds(1)),
            Status::NotStarted
        );
        assert_eq!(q.status(q.started), Status::Running);
        assert_eq!(q.status(q.finished), Status::Succeeded);
        assert_eq!(q.json(q.finished, "c")["status"], "succeeded");
    }

    #[test]
    fn stable_reads_return_every_record_once() {
        let mut q = query(25, None);
        let all = read_all(&mut q, 10);
        assert_eq!(all, (0..25).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn an_unstable_first_read_skips_or_repeats_a_page_then_reads_are_stable() {
        let mut skip = query(25, Some(Unstable::Skip(1)));
        let first = read_all(&mut skip, 10);
        assert_eq!(first.len(), 15);
        assert!(!first.contains(&"10".to_string()));
        assert_eq!(read_all(&mut skip, 10).len(), 25);
        let mut repeat = query(25, Some(Unstable::Repeat(2)));
        let first = read_all(&mut repeat, 10);
        assert_eq!(first.len(), 35);
        assert_eq!(first[10..20], first[20..30]);
        assert_eq!(read_all(&mut repeat, 10).len(), 25);
        assert_eq!(read_all(&mut repeat, 10).len(), 25);
    }

    #[test]
    fn plans_need_two_pages_and_tokens_are_checked() {
        assert_eq!(unstable_plan(10, 10, 3), None);
        assert!(matches!(
            unstable_plan(30, 10, 4),
            Some(Unstable::Skip(1..=2))
        ));
        assert!(matches!(
            unstable_plan(30, 10, 5),
            Some(Unstable::Repeat(1..=2))
        ));
        let mut q = query(5, None);
        assert!(page(&mut q, Some("nonsense"), 2).is_none());
        assert!(
            page(&mut q, Some("9.0.0"), 2).is_none(),
            "a read never started"
        );
    }

    #[test]
    fn admission_counts_queries_in_flight_and_submissions_a_day() {
        let book = QueryBook::default();
        let limits = Limits {
            concurrent: 1,
            daily: Some(2),
        };
        let q = query(0, None);
        let now = q.submitted;
        let first = book.admit(q, limits, 1, now).unwrap();
        assert_eq!(first, query_id(1, 0));
        let refused = book.admit(query(0, None), limits, 1, now).unwrap_err();
        assert!(refused.reason.contains("concurrent"), "{refused:?}");
        assert_eq!(refused.retry_after, 60);
        let later = now + CDuration::seconds(60);
        let mut second = query(0, None);
        second.submitted = later;
        second.started = later;
        second.finished = later;
        assert_ne!(book.admit(second, limits, 1, later).unwrap(), first);
        let mut third = query(0, None);
        third.submitted = later;
        let refused = book.admit(third, limits, 1, later).unwrap_err();
        assert!(refused.reason.contains("24 hours"), "{refused:?}");
        assert_eq!(refused.retry_after, 86_400 - 60);
        assert_eq!(book.count(), 2);
    }

    #[test]
    fn a_failing_query_ends_failed() {
        let mut q = query(0, None);
        q.fails = true;
        assert_eq!(q.status(q.finished), Status::Failed);
        assert!(!Status::Failed.in_flight() && Status::Running.in_flight());
    }
}
