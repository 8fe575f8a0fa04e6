//! The fetcher's side of the tenants' request budgets: a batch is worked through tenant by
//! tenant in turn (so one busy or throttled tenant does not hold every slot), throttled
//! messages go back to the queue hidden for as long as their tenant's budget needs (instead of
//! being retried in place or waiting out the queue's whole visibility timeout, and without
//! counting towards the dead-letter queue's `maxReceiveCount`), or visible at once when the
//! queue is nearly drained and an idle invocation likely has the tenant's turn sooner
//! ([`pass_on`]).

use std::collections::HashMap;
use std::time::Duration;

use o365_activity::client::ActivityClient;
use o365_activity::in_turn::in_turn;
use o365_activity::message::QueueMessage;
use o365_activity::metrics::{MetricSet, MetricsSink};
use o365_activity::queue::SqsQueue;
use o365_activity::TenantId;

use crate::{ErrorKind, InboundMessage, MessageOutcome};

/// Shortest time a throttled message is kept hidden (doubled per earlier delivery): SQS
/// delays are whole seconds.
pub const MIN_THROTTLED_DELAY: Duration = Duration::from_secs(1);
/// Longest time a throttled message is kept hidden.
pub const MAX_THROTTLED_DELAY: Duration = Duration::from_secs(15 * 60);

/// The tenant a message body names, when it parses.
pub(crate) fn tenant_of(body: &str) -> Option<TenantId> {
    QueueMessage::parse(body).ok().map(|m| m.tenant_id)
}

/// Orders a batch round-robin by tenant (first tenant's first message, second tenant's first,
/// ..., then every tenant's second), keeping each tenant's own order; `body` gives an item's
/// message body (unparsable bodies form one group of their own).
pub fn interleave_by_tenant<T>(items: Vec<T>, body: impl Fn(&T) -> &str) -> Vec<T> {
    in_turn(items, |m| tenant_of(body(m)))
}

/// How long to hide a throttled message: the wait until the turn `booked` in its tenant's
/// budget, rounded up to whole seconds, at least [`MIN_THROTTLED_DELAY`] doubled per earlier
/// delivery, at most [`MAX_THROTTLED_DELAY`]; or no time at all when `pass_on` and the turn
/// is under [`MIN_THROTTLED_DELAY`] away on a first delivery ([`pass_on`]).
pub fn throttled_delay(booked: Duration, receive_count: Option<u32>, pass_on: bool) -> Duration {
    let earlier = receive_count.unwrap_or(1).saturating_sub(1).min(10);
    if pass_on && earlier == 0 && booked < MIN_THROTTLED_DELAY {
        return Duration::ZERO;
    }
    let floor = MIN_THROTTLED_DELAY.saturating_mul(1 << earlier);
    let whole = Duration::from_secs(
        booked
            .as_secs()
            .saturating_add(u64::from(booked.subsec_nanos() > 0)),
    );
    whole.max(floor).min(MAX_THROTTLED_DELAY)
}

/// Whether a throttled message of `client`'s tenant goes back to the queue visible at once
/// (when its turn here is under a second away, [`throttled_delay`]) rather than hidden for
/// at least [`MIN_THROTTLED_DELAY`]: the batch it came in was short (`short_batch`: the queue
/// held less than a batch, so the other invocations are likely idle, their shares of the
/// tenant unspent) and other invocations spend the tenant's rate too. Near the end of a
/// catch-up a tenant's last messages then reach an invocation whose share can serve them
/// within milliseconds, where a whole-second delay (SQS delays are whole seconds) kept them
/// from every share while the shares filled up unused. The passes stay few: each books a
/// turn a token's time of the tenant's rate after the one before ([`ActivityClient::book_later`]),
/// so an invocation passes on at most about a second of its tenant's rate before its turns
/// are a second away and its hand-backs hidden again.
pub fn pass_on(short_batch: bool, client: &ActivityClient) -> bool {
    short_batch && client.budget_shared()
}

/// Longest the hand-back of a batch's throttled messages may take (re-sends included).
const HAND_BACK_TIME: Duration = Duration::from_secs(10);

/// Hands every throttled message of `outcomes` back to `queue` as a new message hidden for
/// its [`throttled_delay`] (`SendMessageBatch` with `DelaySeconds`; `short_batch`: the batch
/// held fewer messages than the event source delivers at most, see [`pass_on`]), and returns the ids
/// handed back with their delays: the caller reports those as done, so the event source
/// deletes the originals (a caller that drains the queue itself waits for them to return).
/// A new message starts its receives again, so waiting out a tenant's quota never brings a
/// message closer to the dead-letter queue (a partial batch failure with
/// `ChangeMessageVisibility` would: every receive counts towards `maxReceiveCount`). A
/// message the queue does not accept stays reported failed: it comes back after the queue's
/// visibility timeout. When anything was throttled, counts both kinds to `sink`
/// (`MessagesHandedBack`, `HandBacksRefused`).
pub async fn hand_back_throttled(
    queue: &SqsQueue,
    clients: &HashMap<TenantId, ActivityClient>,
    messages: &[InboundMessage],
    outcomes: &[(String, MessageOutcome)],
    short_batch: bool,
    sink: &MetricsSink,
) -> Vec<(String, Duration)> {
    let mut ids = Vec::new();
    let mut items = Vec::new();
    for (id, outcome) in outcomes {
        let MessageOutcome::Retry {
            kind: ErrorKind::Throttled,
            ..
        } = outcome
        else {
            continue;
        };
        let Some(m) = messages.iter().find(|m| &m.message_id == id) else {
            continue;
        };
        let client = tenant_of(&m.body).and_then(|t| clients.get(&t));
        let booked = client.map_or(Duration::ZERO, ActivityClient::book_later);
        let pass = client.is_some_and(|c| pass_on(short_batch, c));
        ids.push(id.clone());
        items.push((
            m.body.clone(),
            throttled_delay(booked, m.receive_count, pass),
        ));
    }
    if items.is_empty() {
        return Vec::new();
    }
    let accepted = queue
        .send_delayed(&items, tokio::time::Instant::now() + HAND_BACK_TIME)
        .await;
    let mut handed_back = Vec::new();
    for ((id, (_, delay)), ok) in ids.into_iter().zip(&items).zip(accepted) {
        if ok {
            tracing::info!(message_id = %id, ?delay, "throttled message handed back as a new message with a delay");
            handed_back.push((id, *delay));
        } else {
            tracing::warn!(message_id = %id, "could not hand the throttled message back; it returns after the queue's visibility timeout");
        }
    }
    emit_hand_back_metrics(
        handed_back.len() as u64,
        items.len().saturating_sub(handed_back.len()) as u64,
        sink,
    );
    handed_back
}

/// One invocation's hand-backs, without dimensions like the batch's `Messages`:
/// `MessagesHandedBack` (throttled messages the queue accepted back with a delay) and
/// `HandBacksRefused` (throttled messages it did not accept: they return after the
/// visibility timeout, a receive nearer the dead-letter queue).
fn emit_hand_back_metrics(handed_back: u64, refused: u64, sink: &MetricsSink) {
    MetricSet::new()
        .count("MessagesHandedBack", handed_back)
        .count("HandBacksRefused", refused)
        .emit(sink);
}

/// One set of request metrics per tenant that made requests since the last call
/// ([`o365_activity::client::BudgetStats::emit`]).
pub fn emit_request_metrics(clients: &HashMap<TenantId, ActivityClient>, sink: &MetricsSink) {
    for (tenant, client) in clients {
        client.take_budget_interval().emit(tenant, sink);
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
        assert_eq!(throttled_delay(Duration::ZERO, None, false), s(1));
        assert_eq!(throttled_delay(Duration::ZERO, Some(1), false), s(1));
        assert_eq!(throttled_delay(Duration::ZERO, Some(3), false), s(4));
        assert_eq!(throttled_delay(s(42), Some(1), false), s(42));
        assert_eq!(
            throttled_delay(Duration::from_millis(2_100), Some(1), false),
            s(3)
        );
        assert_eq!(
            throttled_delay(s(4000), Some(1), false),
            MAX_THROTTLED_DELAY
        );
        assert_eq!(
            throttled_delay(Duration::ZERO, Some(u32::MAX), false),
            MAX_THROTTLED_DELAY
        );
    }

    #[test]
    fn a_turn_under_a_second_away_is_passed_on_at_once_only_on_a_first_delivery() {
        let ms = Duration::from_millis;
        assert_eq!(throttled_delay(ms(999), Some(1), true), Duration::ZERO);
        assert_eq!(throttled_delay(Duration::ZERO, None, true), Duration::ZERO);
        // A turn a second or more away is hidden until it, as without passing on.
        assert_eq!(
            throttled_delay(ms(1_000), Some(1), true),
            Duration::from_secs(1)
        );
        assert_eq!(
            throttled_delay(ms(1_500), Some(1), true),
            Duration::from_secs(2)
        );
        // A message delivered before (it failed once) keeps its growing floor.
        assert_eq!(
            throttled_delay(ms(10), Some(2), true),
            Duration::from_secs(2)
        );
    }
}
