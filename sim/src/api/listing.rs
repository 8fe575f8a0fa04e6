//! Listing calls (§4.3, §5.4, §5.5): the `startTime`/`endTime` window, `NextPageUri` paging with
//! tamper-checked tokens, the page faults, and `subscriptions/notifications`.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration as CDuration, Timelike, Utc};

use super::subscriptions::subscription_gate;
use super::{parse_content_type, Reply};
use crate::api_error::{ApiError, AF20030_TEXT, AF20055_TEXT};
use crate::content_type::ContentType;
use crate::ledger::RequestRecord;
use crate::scenario::ScenarioKind;
use crate::sim::Sim;
use crate::timefmt;

fn window_error(sim: &Sim) -> ApiError {
    if sim.switch(ScenarioKind::Af20030) {
        ApiError::af(400, "AF20030", AF20030_TEXT)
    } else {
        ApiError::af(400, "AF20055", AF20055_TEXT)
    }
}

/// Validates `startTime`/`endTime` (§4.3); returns the window and whether the caller gave it.
fn window(
    sim: &Sim,
    q: &HashMap<String, String>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>, bool), ApiError> {
    let get = |name: &str| q.get(name).filter(|s| !s.is_empty());
    let (start, end) = match (get("starttime"), get("endtime")) {
        (None, None) => {
            // The substituted default: the 24 hours before the request, to the whole second.
            let end = now.with_nanosecond(0).unwrap_or(now);
            return Ok((end - CDuration::hours(24), end, false));
        }
        (Some(s), Some(e)) => (s, e),
        _ => return Err(window_error(sim)),
    };
    let start = timefmt::parse_query_time(start).ok_or_else(|| {
        ApiError::af(
            400,
            "AF20002",
            "Invalid parameter type: startTime. Expected type: datetime",
        )
    })?;
    let end = timefmt::parse_query_time(end).ok_or_else(|| {
        ApiError::af(
            400,
            "AF20002",
            "Invalid parameter type: endTime. Expected type: datetime",
        )
    })?;
    let span = end - start;
    let grace = CDuration::from_std(sim.config.lookback_grace).unwrap_or(CDuration::zero());
    let too_long = span > CDuration::hours(24)
        || (span == CDuration::hours(24) && sim.switch(ScenarioKind::RejectExact24h));
    if start >= end || too_long || start < now - CDuration::days(7) - grace {
        return Err(window_error(sim));
    }
    Ok((start, end, true))
}

/// `contentType` and the window of a listing call, recorded in the ledger once validated.
fn listing_params(
    sim: &Sim,
    q: &HashMap<String, String>,
    now: DateTime<Utc>,
    rec: &mut RequestRecord,
) -> Result<(ContentType, DateTime<Utc>, DateTime<Utc>), ApiError> {
    let ct = parse_content_type(q)?;
    let (start, end, given) = window(sim, q, now)?;
    rec.start_time = Some(start);
    rec.end_time = Some(end);
    rec.window_given = given;
    Ok((ct, start, end))
}

/// The paging of one listing (tenant, content type, window): its `nextPage` tokens carry the
/// offset and a check derived from the run's seed, so a tampered or foreign token is refused.
struct Paging<'a> {
    sim: &'a Sim,
    tenant: &'a str,
    ct: ContentType,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Paging<'_> {
    fn check(&self, offset: usize) -> u32 {
        let h = crate::store::mix(&[
            &self.sim.config.seed.to_le_bytes(),
            self.tenant.to_ascii_lowercase().as_bytes(),
            self.ct.as_str().as_bytes(),
            &self.start.timestamp_micros().to_le_bytes(),
            &self.end.timestamp_micros().to_le_bytes(),
            &(offset as u64).to_le_bytes(),
        ]);
        (h >> 32) as u32
    }

    /// The `nextPage` token of the page starting at `offset`.
    fn token(&self, offset: usize) -> String {
        format!(
            "{}R{:06}{:08x}",
            self.start.format("%Y%m%d%H%M%S"),
            offset,
            self.check(offset)
        )
    }

    /// The offset a `nextPage` token stands for (AF20031 when it is not one of ours).
    fn offset(&self, token: &str) -> Result<usize, ApiError> {
        let bad = || ApiError::af(400, "AF20031", format!("Invalid nextPage Input: {token}."));
        let (_, tail) = token.split_once('R').ok_or_else(bad)?;
        if tail.len() < 14 || !tail.is_ascii() {
            return Err(bad());
        }
        let (off, check) = tail.split_at(tail.len() - 8);
        let offset: usize = off.parse().map_err(|_| bad())?;
        let check = u32::from_str_radix(check, 16).map_err(|_| bad())?;
        if check != self.check(offset) {
            return Err(bad());
        }
        Ok(offset)
    }
}

fn query_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
}

pub(super) async fn content(
    sim: &Arc<Sim>,
    ti: usize,
    tenant: &str,
    q: &HashMap<String, String>,
    now: DateTime<Utc>,
    rec: &mut RequestRecord,
) -> Result<Reply, ApiError> {
    let (ct, start, end) = listing_params(sim, q, now, rec)?;
    let paging = Paging {
        sim,
        tenant,
        ct,
        start,
        end,
    };
    let offset = match q.get("nextpage").filter(|s| !s.is_empty()) {
        Some(token) => paging.offset(token)?,
        None => 0,
    };
    subscription_gate(sim, ti, ct)?;
    sim.ensure_generated().await;
    let entries = sim.read().list(ti, ct, start, end, now);
    let page_end = (offset + sim.page_size).min(entries.len());
    let mut page: Vec<&crate::store::Listing> = entries
        .get(offset..page_end)
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    // Duplicates inside a page, and pages out of availability order.
    let mut i = 0;
    while i < page.len() {
        if sim.fires(ScenarioKind::DuplicateInPage) {
            let pos = (i + 1 + sim.roll(0..(page.len() - i) as u64) as usize).min(page.len());
            page.insert(pos, page[i]);
            i += 1;
        }
        i += 1;
    }
    if page.len() > 1 && sim.fires(ScenarioKind::ShufflePages) {
        for k in (1..page.len()).rev() {
            let j = sim.roll(0..(k as u64 + 1)) as usize;
            page.swap(k, j);
        }
    }
    let tenant_id = sim.read().tenants[ti].spec.tenant_id.clone();
    let mut body = String::with_capacity(page.len() * 420 + 2);
    body.push('[');
    for (n, l) in page.iter().enumerate() {
        if n > 0 {
            body.push(',');
        }
        let id = &l.blob.content_id;
        body.push_str(&crate::listing_faults::render_entry(
            crate::listing_faults::entry_fault(sim.config.seed, &sim.config.scenarios, id),
            ct,
            id,
            sim.generator.content_uri(&tenant_id, id),
            l.content_created,
            l.blob.content_expiration,
        ));
    }
    body.push(']');
    let mut reply = Reply::json(body);
    if page_end < entries.len() {
        let token = paging.token(page_end);
        let lower = sim.fires(ScenarioKind::LowercaseNextPage);
        let name = |n: &'static str| {
            if lower {
                n.to_ascii_lowercase()
            } else {
                n.to_string()
            }
        };
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .append_pair(&name("contentType"), ct.as_str())
            .append_pair(&name("startTime"), &query_time(start))
            .append_pair(&name("endTime"), &query_time(end))
            .append_pair(&name("nextPage"), &token)
            .finish();
        let version = if sim.switch(ScenarioKind::NextPageV1Path) {
            "v1"
        } else {
            "v1.0"
        };
        let uri = format!(
            "{}/api/{}/{}/activity/feed/subscriptions/content?{}",
            sim.base_url, version, tenant, qs
        );
        let header = if sim.switch(ScenarioKind::NextPageUrlHeader) {
            "NextPageUrl"
        } else {
            "NextPageUri"
        };
        reply.headers.push((header, uri));
    }
    Ok(reply)
}

pub(super) fn notifications(
    sim: &Sim,
    ti: usize,
    q: &HashMap<String, String>,
    now: DateTime<Utc>,
    rec: &mut RequestRecord,
) -> Result<Reply, ApiError> {
    let (ct, _, _) = listing_params(sim, q, now, rec)?;
    subscription_gate(sim, ti, ct)?;
    // No webhook deliveries are simulated, so there are no attempts to report.
    Ok(Reply::json("[]"))
}
