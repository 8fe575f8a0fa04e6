//! Subscriptions: listed once per tenant and run, started before a pair is listed when not
//! enabled, and restarted when a listing answers AF20022/AF20023 ([`crate::window`] asks);
//! a start at most once per 15-minute cooldown, recorded in the checkpoint.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use o365_activity::checkpoint::HeldCheckpoint;
use o365_activity::client::{ActivityClient, ClientError};
use o365_activity::queue::Queue;
use o365_activity::store::ObjectStore;
use o365_activity::tenants::TenantConfig;
use o365_activity::ContentType;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::error::{describe, PairError, PairErrorKind};
use crate::run::{Lister, Stop};

/// A tenant's subscriptions as listed once per run.
pub(crate) enum Subscriptions {
    /// Content type → status (`enabled`, `disabled`).
    Listed(HashMap<String, String>),
    /// The listing failed; every pair of the tenant fails with this error.
    Failed(PairError),
    /// The run's time ran out before the listing succeeded.
    OutOfTime,
}

impl<S: ObjectStore, Q: Queue> Lister<S, Q> {
    pub(crate) async fn list_subscriptions(
        &self,
        tenant: &TenantConfig,
        client: &ActivityClient,
        deadline: Instant,
    ) -> Subscriptions {
        if self.out_of_time(deadline) {
            return Subscriptions::OutOfTime;
        }
        match client
            .list_subscriptions(self.call_deadline(deadline))
            .await
        {
            Ok(list) => Subscriptions::Listed(
                list.into_iter()
                    .map(|s| (s.content_type, s.status))
                    .collect(),
            ),
            Err(_) if self.out_of_time(deadline) => Subscriptions::OutOfTime,
            Err(e) => {
                let error = PairError::api(
                    format_args!(
                        "listing the subscriptions of tenant {} failed",
                        tenant.tenant_id
                    ),
                    &e,
                );
                warn!(tenant_id = %tenant.tenant_id, error = %error, "tenant cannot be collected this run");
                Subscriptions::Failed(error)
            }
        }
    }

    /// Starts the subscription when the run's listing says it is not enabled, unless this
    /// collector started it successfully within the cooldown (the run's listing, taken at
    /// its start, may predate that); a listing that then finds no subscription restarts it.
    pub(crate) async fn ensure_subscription(
        &self,
        client: &ActivityClient,
        ct: ContentType,
        subs: &Subscriptions,
        held: &mut HeldCheckpoint,
        deadline: Instant,
    ) -> Result<(), Stop> {
        match subs {
            Subscriptions::Listed(map)
                if map.get(ct.as_str()).map(String::as_str) == Some("enabled") =>
            {
                Ok(())
            }
            Subscriptions::Listed(_) => {
                let cp = held.checkpoint();
                let now = self.now();
                let started_recently = cp
                    .subscription_started_at
                    .and_then(|at| self.cooldown_end(at, now))
                    .is_some_and(|ready| now < ready);
                if started_recently && cp.subscription_error.is_none() {
                    return Ok(());
                }
                self.start_subscription(client, ct, Some(held), deadline)
                    .await
            }
            Subscriptions::Failed(error) => Err(Stop::Failed(error.clone())),
            Subscriptions::OutOfTime => Err(Stop::Paused),
        }
    }

    /// When the next start is allowed after one at `at`: a start recorded in the future
    /// (another writer's fast clock) counts from `now`. `None` when out of range.
    fn cooldown_end(&self, at: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        at.min(now)
            .checked_add_signed(self.settings.start_cooldown_delta())
    }

    /// `subscriptions/start`, at most once per cooldown (recorded in the checkpoint: through
    /// the held lease in a run, or by a plain conditional write for an explicit window, when
    /// the pair has a checkpoint; without one the API's own 15-minute answer applies).
    pub(crate) async fn start_subscription(
        &self,
        client: &ActivityClient,
        ct: ContentType,
        held: Option<&mut HeldCheckpoint>,
        deadline: Instant,
    ) -> Result<(), Stop> {
        let tenant = client.tenant_id();
        let now = self.now();
        let last_start = match held.as_deref() {
            Some(h) => h.checkpoint().subscription_started_at.map(|at| {
                let error = h.checkpoint().subscription_error.clone();
                (at, error)
            }),
            None => self
                .checkpoints
                .load(tenant, ct)
                .await
                .map_err(|e| Stop::Failed(PairError::checkpoint("reading the checkpoint", &e)))?
                .and_then(|l| {
                    let cp = l.checkpoint;
                    cp.subscription_started_at
                        .map(|at| (at, cp.subscription_error))
                }),
        };
        if let Some((at, error)) = last_start {
            let ready = self.cooldown_end(at, now).ok_or_else(|| {
                Stop::Failed(PairError::new(
                    PairErrorKind::Time,
                    format!("the {ct} subscription start recorded at {at} plus the start cooldown is out of the representable time range; fix start_cooldown"),
                ))
            })?;
            if now < ready {
                let why = error
                    .as_deref()
                    .map(|e| format!(" and failed: {e}"))
                    .unwrap_or_default();
                return Err(Stop::Failed(PairError::new(
                    PairErrorKind::Subscription,
                    format!("the {ct} subscription of tenant {tenant} is not enabled; it was last started at {at}{why}; the API allows the next start after {ready} (15-minute rule), a later run retries"),
                )));
            }
        }
        let result = client
            .start_subscription(ct, self.call_deadline(deadline))
            .await;
        if matches!(result, Err(ClientError::DeadlineExceeded { .. })) && self.out_of_time(deadline)
        {
            return Err(Stop::Paused);
        }
        let error = result.as_ref().err().map(|e| {
            format!(
                "starting the {ct} subscription of tenant {tenant} failed: {}",
                describe(e)
            )
        });
        let recorded = match held {
            Some(h) => self
                .checkpoints
                .note_subscription_start(h, now, error.clone())
                .await
                .map(|_| ()),
            None => self
                .checkpoints
                .record_subscription_start(tenant, ct, now, error.clone())
                .await
                .map(|_| ()),
        };
        recorded.map_err(|e| {
            Stop::Failed(PairError::checkpoint(
                "recording the subscription start",
                &e,
            ))
        })?;
        match result {
            Ok(outcome) => {
                info!(tenant_id = %tenant, content_type = %ct, ?outcome, "subscription started");
                Ok(())
            }
            Err(e) => Err(Stop::Failed(PairError::api(
                format_args!("starting the {ct} subscription of tenant {tenant} failed"),
                &e,
            ))),
        }
    }

    /// After a listing answered AF20022/AF20023: whether the subscription is enabled again
    /// and the listing may be tried once more. In a run (`held`), the run's own listing of
    /// the subscriptions said it was enabled, so it is restarted; for an explicit window the
    /// subscriptions are listed first and only a missing or disabled one is started. Either
    /// way at most once per cooldown, recorded in the checkpoint.
    pub(crate) async fn restore_subscription(
        &self,
        client: &ActivityClient,
        ct: ContentType,
        held: Option<&mut HeldCheckpoint>,
        deadline: Instant,
    ) -> Result<bool, ClientError> {
        if held.is_none() && self.subscription_enabled(client, ct, deadline).await? {
            // Enabled since the listing failed: just list again.
            return Ok(true);
        }
        match self.start_subscription(client, ct, held, deadline).await {
            Ok(()) => Ok(true),
            Err(stop) => {
                if let Stop::Failed(error) = stop {
                    warn!(content_type = %ct, error = %error, "could not restart the subscription");
                }
                Ok(false)
            }
        }
    }

    /// Whether the tenant's subscription to `ct` is enabled now (`subscriptions/list`).
    pub(crate) async fn subscription_enabled(
        &self,
        client: &ActivityClient,
        ct: ContentType,
        deadline: Instant,
    ) -> Result<bool, ClientError> {
        let list = client
            .list_subscriptions(self.call_deadline(deadline))
            .await?;
        Ok(list
            .iter()
            .any(|s| s.content_type == ct.as_str() && s.status == "enabled"))
    }
}
