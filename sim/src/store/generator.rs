//! The deterministic content generator: the blobs of one aggregation slot, with the blob-level
//! faults of the scenario.

use std::sync::Arc;

use chrono::{DateTime, Duration as CDuration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{mix, Blob, Cut, Planned, Recipe, Source};
use crate::content_type::ContentType;
use crate::fixtures::Fixtures;
use crate::records::TenantCtx;
use crate::scenario::{Rate, ScenarioKind};
use crate::timefmt;

/// Everything the generator needs, shared read-only.
#[derive(Debug)]
pub struct Generator {
    /// Seed of the run.
    pub seed: u64,
    /// Aggregation window width.
    pub window: CDuration,
    /// Mean records per slot.
    pub mean_per_slot: f64,
    /// Largest blob.
    pub max_per_blob: usize,
    /// `contentExpiration` offset from T1.
    pub expiration: CDuration,
    /// Real records to splice in.
    pub fixtures: Fixtures,
    /// Blob-level scenarios.
    pub faults: Vec<(ScenarioKind, Rate)>,
    /// API root for `contentUri`.
    pub base_url: String,
}

impl Generator {
    /// Slot index containing `t`.
    pub fn slot_of(&self, t: DateTime<Utc>) -> i64 {
        let w = self.window.num_milliseconds().max(1);
        t.timestamp_millis().div_euclid(w)
    }

    /// Start of slot `k`.
    pub fn slot_start(&self, k: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(k.saturating_mul(self.window.num_milliseconds()))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The `contentUri` of a blob.
    pub fn content_uri(&self, tenant_id: &str, content_id: &str) -> String {
        format!(
            "{}/api/v1.0/{}/activity/feed/audit/{}",
            self.base_url, tenant_id, content_id
        )
    }

    /// How late a late blob may be, in hours (`late-blobs-max-hours`, default 6).
    fn late_max_hours(&self) -> i64 {
        self.faults
            .iter()
            .find_map(|(k, rate)| match (k, rate) {
                (ScenarioKind::LateBlobsMaxHours, Rate::Value(n)) => Some(*n),
                _ => None,
            })
            .map_or(6, |n| i64::try_from(n).unwrap_or(i64::MAX).min(24 * 30))
    }

    fn fires(&self, kind: ScenarioKind, rng: &mut StdRng, counter: u64) -> bool {
        self.faults.iter().any(|(k, rate)| {
            *k == kind
                && match rate {
                    Rate::Probability(p) => rng.random_bool(p.clamp(0.0, 1.0)),
                    Rate::EveryNth(n) => {
                        let n = (*n).max(1);
                        counter % n == n - 1
                    }
                    Rate::Value(_) | Rate::On => true,
                }
        })
    }

    /// Availability delay after the window closes (§8.1): mostly minutes, a tail of hours.
    fn delay(rng: &mut StdRng) -> CDuration {
        let roll = rng.random_range(0..1000);
        let secs = match roll {
            0..=499 => rng.random_range(60..3600),
            500..=899 => rng.random_range(3600..5400),
            900..=989 => rng.random_range(5400..6 * 3600),
            _ => rng.random_range(6 * 3600..24 * 3600),
        };
        CDuration::seconds(secs) + CDuration::milliseconds(rng.random_range(0..1000))
    }

    /// Generates the blobs of one aggregation slot. Deterministic in (seed, tenant, type, slot);
    /// `blob_counter` is the number of blobs this tenant and type produced before.
    pub fn slot(
        &self,
        tenant: usize,
        ctx: &Arc<TenantCtx>,
        ct: ContentType,
        k: i64,
        blob_counter: &mut u64,
    ) -> Vec<Blob> {
        let slot_seed = mix(&[
            &self.seed.to_le_bytes(),
            ctx.tenant_id.as_bytes(),
            ct.as_str().as_bytes(),
            &k.to_le_bytes(),
        ]);
        let mut rng = StdRng::seed_from_u64(slot_seed);
        let mut fault_rng = StdRng::seed_from_u64(slot_seed ^ 0x5eed_fa17);
        let t1 = self.slot_start(k);
        let window_ms = self.window.num_milliseconds().max(1);
        let n = if self.mean_per_slot < 1.0 {
            usize::from(rng.random_bool(self.mean_per_slot.max(0.0)))
        } else {
            (self.mean_per_slot * rng.random_range(0.5..1.5)).round() as usize
        };
        if n == 0 {
            return Vec::new();
        }
        let pieces = n.div_ceil(self.max_per_blob);
        let t1_token = timefmt::id_token(t1, rng.random_range(0..1_000_000));
        let fixtures = self.fixtures.of(ct);
        let mut out = Vec::with_capacity(pieces);
        for piece in 0..pieces {
            let count = if piece + 1 == pieces {
                n - piece * self.max_per_blob
            } else {
                self.max_per_blob
            };
            // Plan the records now (ids and times are needed for the ledger); render text lazily.
            let mut planned: Vec<Planned> = Vec::with_capacity(count);
            let mut order: Vec<u32> = Vec::with_capacity(count);
            let mut dup = false;
            for i in 0..count {
                let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
                let mut at = t1 + CDuration::milliseconds(rng.random_range(0..window_ms));
                if rng.random_bool(0.1) {
                    at -= CDuration::seconds(rng.random_range(0..3 * 3600));
                }
                let source = if !fixtures.is_empty() && rng.random_bool(0.05) {
                    Source::Fixture(rng.random_range(0..fixtures.len()))
                } else {
                    Source::Generated(rng.random())
                };
                planned.push(Planned { id, at, source });
                order.push(i as u32);
                if self.fires(
                    ScenarioKind::DuplicateRecords,
                    &mut fault_rng,
                    (i as u64) + *blob_counter,
                ) {
                    let j = fault_rng.random_range(0..planned.len());
                    order.push(j as u32);
                    dup = true;
                }
            }
            let mut cut = Cut::None;

            let counter = *blob_counter;
            *blob_counter += 1;
            let mut faults: Vec<&str> = Vec::new();
            if dup {
                faults.push("duplicate-records");
            }
            let created = t1 + self.window + Self::delay(&mut rng);
            let mut available = created;
            if self.fires(ScenarioKind::LateBlobs, &mut fault_rng, counter) {
                let max_secs = self.late_max_hours().saturating_mul(3600).max(3601);
                available = created + CDuration::seconds(fault_rng.random_range(3600..max_secs));
                faults.push("late");
            }
            let mut expiration = t1 + self.expiration;
            if self.fires(ScenarioKind::EarlyExpiry, &mut fault_rng, counter) {
                expiration = available + CDuration::minutes(20);
                faults.push("early-expiry");
            }
            let mut relisted = Vec::new();
            if self.fires(
                ScenarioKind::DuplicateAcrossWindows,
                &mut fault_rng,
                counter,
            ) {
                relisted
                    .push(available + CDuration::seconds(fault_rng.random_range(3600..3 * 3600)));
                faults.push("relisted");
            }
            if self.fires(ScenarioKind::TruncatedBlobs, &mut fault_rng, counter) {
                cut = Cut::Truncated;
                faults.push("truncated");
            } else if self.fires(ScenarioKind::MalformedBlobs, &mut fault_rng, counter) {
                cut = Cut::Malformed;
                faults.push("malformed");
            }
            let content_id = format!(
                "{}${}${}$na{:04}",
                t1_token,
                timefmt::id_token(created, piece as u32),
                ct.id_spelling(),
                tenant + 1
            );
            out.push(Blob {
                tenant,
                tenant_id: ctx.tenant_id.clone(),
                content_type: ct,
                content_id,
                content_created: created,
                available_at: available,
                content_expiration: expiration,
                body: None,
                record_count: order.len(),
                recipe: Some(Recipe {
                    ctx: ctx.clone(),
                    planned,
                    order,
                    cut,
                }),
                injected_ids: Vec::new(),
                fault: (!faults.is_empty()).then(|| faults.join(",")),
                relisted_at: relisted,
            });
        }
        // Records the Management feed holds back (scenarios of the Graph view).
        self.hold_back(tenant, ctx, ct, k, out)
    }
}
