//! The fetcher's side of the tenants' request budgets: a batch is worked through tenant by
//! tenant in turn (so one busy or throttled tenant does not hold every slot), throttled
//! messages go back to the queue hidden for as long as their tenant's budget needs (instead of
//! being retried in place or waiting out the queue's whole visibility timeout), and each batch
//! ends with one line of request metrics per tenant.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use o365_activity::client::ActivityClient;
use o365_activity::message::QueueMessage;
use o365_activity::metrics::{MetricSet, MetricsSink};
use o365_activity::queue::SqsQueue;
use o365_activity::TenantId;

use crate::{ErrorKind, InboundMessage, MessageOutcome};

/// Shortest time a throttled message is kept hidden (doubled per earlier delivery).
pub const MIN_THROTTLED_DELAY: Duration = Duration::from_secs(5);
/// Longest time a throttled message is kept hidden.
pub const MAX_THROTTLED_DELAY: Duration = Duration::from_secs(15 * 60);

/// The tenant a message body names, when it parses.
fn tenant_of(body: &str) -> Option<TenantId> {
    QueueMessage::parse(body).ok().map(|m| m.tenant_id)
}

/// Orders a batch round-robin by tenant (first tenant's first message, second tenant's first,
/// ..., then every tenant's second), keeping each tenant's own order; `body` gives an item's
/// message body.
pub fn interleave_by_tenant<T>(items: Vec<T>, body: impl Fn(&T) -> &str) -> Vec<T> {
    let mut order: Vec<Option<TenantId>> = Vec::new();
    let mut by_tenant: HashMap<Option<TenantId>, VecDeque<T>> = HashMap::new();
    for m in items {
        let t = tenant_of(body(&m));
        if !by_tenant.contains_key(&t) {
            order.push(t.clone());
        }
        by_tenant.entry(t).or_default().push_back(m);
    }
    let mut out = Vec::new();
    loop {
        let before = out.len();
        for t in &order {
            if let Some(m) = by_tenant.get_mut(t).and_then(VecDeque::pop_front) {
                out.push(m);
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// How long to hide a throttled message: its tenant's budget wait, at least
/// [`MIN_THROTTLED_DELAY`] doubled per earlier delivery, at most [`MAX_THROTTLED_DELAY`].
pub fn throttled_delay(budget_wait: Duration, receive_count: Option<u32>) -> Duration {
    let earlier = receive_count.unwrap_or(1).saturating_sub(1).min(10);
    let floor = MIN_THROTTLED_DELAY.saturating_mul(1 << earlier);
    budget_wait.max(floor).min(MAX_THROTTLED_DELAY)
}

/// Hides every throttled message of `outcomes` for its [`throttled_delay`]; `receipts` maps
/// message ids to receipt handles. A failed change is logged: the message still comes back
/// after the queue's visibility timeout.
pub async fn delay_throttled(
    queue: &SqsQueue,
    clients: &HashMap<TenantId, ActivityClient>,
    messages: &[InboundMessage],
    receipts: &HashMap<String, String>,
    outcomes: &[(String, MessageOutcome)],
) {
    for (id, outcome) in outcomes {
        let MessageOutcome::Retry {
            kind: ErrorKind::Throttled,
            ..
        } = outcome
        else {
            continue;
        };
        let (Some(receipt), Some(m)) = (
            receipts.get(id),
            messages.iter().find(|m| &m.message_id == id),
        ) else {
            continue;
        };
        let wait = tenant_of(&m.body)
            .and_then(|t| clients.get(&t))
            .map_or(Duration::ZERO, ActivityClient::budget_wait);
        let delay = throttled_delay(wait, m.receive_count);
        match queue.change_visibility(receipt, delay).await {
            Ok(()) => {
                tracing::info!(message_id = %id, ?delay, "throttled message handed back with a visibility delay")
            }
            Err(e) => {
                tracing::warn!(message_id = %id, error = %e, "could not delay the throttled message; it returns after the queue's visibility timeout")
            }
        }
    }
}

/// One metrics line per tenant that made requests since the last call: `ApiRequests` by
/// `Outcome` (`Ok`, `Throttled`, `Failed`), `ApiThrottledPercent` and `ApiRequestsPerMinute`
/// (the effective rate, when the span is long enough to say).
pub fn emit_request_metrics(clients: &HashMap<TenantId, ActivityClient>, sink: &MetricsSink) {
    for (tenant, client) in clients {
        let s = client.take_budget_interval();
        if s.requests() == 0 {
            continue;
        }
        for (outcome, n) in [
            ("Ok", s.ok),
            ("Throttled", s.throttled),
            ("Failed", s.failed),
        ] {
            MetricSet::new()
                .dimension("TenantId", tenant.as_str())
                .dimension("Outcome", outcome)
                .count("ApiRequests", n)
                .emit(sink);
        }
        let mut m = MetricSet::new().dimension("TenantId", tenant.as_str());
        m.add(
            "ApiThrottledPercent",
            s.throttled_share() * 100.0,
            o365_activity::metrics::Unit::Count,
        );
        if let Some(rate) = s.effective_per_minute() {
            m.add(
                "ApiRequestsPerMinute",
                rate,
                o365_activity::metrics::Unit::Count,
            );
        }
        m.emit(sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, tenant: &str) -> InboundMessage {
        let body = serde_json::json!({
            "format_version": 1,
            "tenant_id": tenant,
            "content_type": "Audit.General",
            "content_id": id,
            "content_uri": format!("https://manage.office.com/api/v1.0/{tenant}/activity/feed/audit/{id}"),
            "content_created": "2026-03-01T10:00:00.000Z",
            "content_expiration": "2026-03-08T10:00:00.000Z",
        });
        InboundMessage::new(id, body.to_string())
    }

    #[test]
    fn batches_alternate_between_tenants() {
        let a = "00000000-0000-0000-0000-00000000000a";
        let b = "00000000-0000-0000-0000-00000000000b";
        let batch = vec![
            msg("a1", a),
            msg("a2", a),
            msg("a3", a),
            msg("b1", b),
            InboundMessage::new("x", "not json"),
            msg("b2", b),
        ];
        let ids: Vec<String> = interleave_by_tenant(batch, |m| m.body.as_str())
            .into_iter()
            .map(|m| m.message_id)
            .collect();
        assert_eq!(ids, ["a1", "b1", "x", "a2", "b2", "a3"]);
    }

    #[test]
    fn throttled_delays_grow_with_deliveries_and_follow_the_budget() {
        let s = Duration::from_secs;
        assert_eq!(throttled_delay(Duration::ZERO, None), s(5));
        assert_eq!(throttled_delay(Duration::ZERO, Some(1)), s(5));
        assert_eq!(throttled_delay(Duration::ZERO, Some(3)), s(20));
        assert_eq!(throttled_delay(s(42), Some(1)), s(42));
        assert_eq!(throttled_delay(s(4000), Some(1)), MAX_THROTTLED_DELAY);
        assert_eq!(
            throttled_delay(Duration::ZERO, Some(u32::MAX)),
            MAX_THROTTLED_DELAY
        );
    }
}
