//! Per-tenant state: subscriptions and the blob store, and the deterministic content generator
//! that fills it as simulated time passes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration as CDuration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::config::{SimConfig, TenantSpec};
use crate::content_type::ContentType;
use crate::fixtures::Fixtures;
use crate::records::{self, TenantCtx};
use crate::scenario::{Rate, ScenarioKind};
use crate::timefmt;

/// One content blob: listing metadata, record ids, and how to render its body.
#[derive(Debug)]
pub struct Blob {
    /// Index of the tenant in the configuration.
    pub tenant: usize,
    /// Tenant GUID.
    pub tenant_id: String,
    /// Content type.
    pub content_type: ContentType,
    /// `contentId`.
    pub content_id: String,
    /// `contentCreated` of the first listing.
    pub content_created: DateTime<Utc>,
    /// When it becomes listable.
    pub available_at: DateTime<Utc>,
    /// `contentExpiration`.
    pub content_expiration: DateTime<Utc>,
    /// The body of an injected blob, served verbatim.
    pub body: Option<Bytes>,
    /// How to render the body of a generated blob.
    pub recipe: Option<Recipe>,
    /// Record ids in body order, for injected blobs (generated blobs derive them from the recipe).
    pub injected_ids: Vec<String>,
    /// Number of records in the body.
    pub record_count: usize,
    /// Fault tags applied.
    pub fault: Option<String>,
    /// Extra listings (same blob, later `contentCreated`).
    pub relisted_at: Vec<DateTime<Utc>>,
}

/// Where a planned record's text comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// Generated from this seed.
    Generated(u64),
    /// A real fixture record of the blob's content type (index), rewritten.
    Fixture(usize),
}

/// One record of a blob, planned but not rendered.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Record `Id` (kept as 16 bytes; a big run holds millions).
    pub id: uuid::Uuid,
    /// Record `CreationTime`.
    pub at: DateTime<Utc>,
    /// Text source.
    pub source: Source,
}

/// Damage applied to a rendered body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// None.
    None,
    /// Cut in the middle.
    Truncated,
    /// Bytes that are neither JSON nor UTF-8 spliced into the middle.
    Malformed,
}

/// Everything needed to render a blob's body deterministically.
#[derive(Debug)]
pub struct Recipe {
    /// Tenant names.
    pub ctx: Arc<TenantCtx>,
    /// Distinct records.
    pub planned: Vec<Planned>,
    /// Body order as indexes into `planned` (repeats are duplicate records).
    pub order: Vec<u32>,
    /// Damage.
    pub cut: Cut,
}

impl Blob {
    /// Record ids in body order (a duplicated record appears twice).
    pub fn record_ids(&self) -> Vec<String> {
        match &self.recipe {
            Some(r) => r
                .order
                .iter()
                .map(|&i| r.planned[i as usize].id.to_string())
                .collect(),
            None => self.injected_ids.clone(),
        }
    }

    /// The text of the `i`-th distinct planned record (the body's record, whatever damage the
    /// body suffers; the Graph view serves it as `auditData`).
    pub fn record_text(&self, recipe: &Recipe, i: usize, generator: &Generator) -> String {
        let p = &recipe.planned[i];
        let text = match p.source {
            Source::Fixture(f) => generator
                .fixtures
                .of(self.content_type)
                .get(f)
                .and_then(|f| {
                    f.rewrite(
                        &p.id.to_string(),
                        &timefmt::record(p.at),
                        &recipe.ctx.tenant_id,
                    )
                }),
            Source::Generated(_) => None,
        };
        text.unwrap_or_else(|| {
            let seed = match p.source {
                Source::Generated(seed) => seed,
                Source::Fixture(f) => f as u64,
            };
            records::generate(
                &mut StdRng::seed_from_u64(seed),
                self.content_type,
                &recipe.ctx,
                &p.id.to_string(),
                p.at,
            )
        })
    }

    /// The JSON array served at `contentUri` (the same bytes every time).
    pub fn render(&self, generator: &Generator) -> Bytes {
        if let Some(body) = &self.body {
            return body.clone();
        }
        let Some(recipe) = &self.recipe else {
            return Bytes::new();
        };
        let mut texts: Vec<Option<(usize, usize)>> = vec![None; recipe.planned.len()];
        let mut body: Vec<u8> = Vec::with_capacity(recipe.order.len() * 1100 + 2);
        body.push(b'[');
        for (n, &i) in recipe.order.iter().enumerate() {
            if n > 0 {
                body.push(b',');
            }
            let i = i as usize;
            if let Some((s, e)) = texts[i] {
                body.extend_from_within(s..e);
                continue;
            }
            let text = self.record_text(recipe, i, generator);
            let start = body.len();
            body.extend_from_slice(text.as_bytes());
            texts[i] = Some((start, body.len()));
        }
        body.push(b']');
        match recipe.cut {
            Cut::None => {}
            Cut::Truncated => body.truncate(body.len() / 2),
            Cut::Malformed => {
                let mid = body.len() / 2;
                body.splice(mid..mid, b"\xff\xfe}{not json".iter().copied());
            }
        }
        Bytes::from(body)
    }
}

/// One listing entry: a blob under one `contentCreated`.
#[derive(Debug, Clone)]
pub struct Listing {
    /// `contentCreated` shown in this entry.
    pub content_created: DateTime<Utc>,
    /// When this entry becomes listable.
    pub available_at: DateTime<Utc>,
    /// Insertion order, the tie-breaker of availability order.
    pub order: u64,
    /// The blob.
    pub blob: Arc<Blob>,
}

/// Subscription status as `subscriptions/list` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubStatus {
    /// Enabled: content can be listed and fetched.
    Enabled,
    /// Stopped by the client: shows as `disabled`, content answers AF20022.
    Stopped,
    /// Disabled by an admin: content answers AF20023.
    AdminDisabled,
}

/// A subscription of one tenant to one content type.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Current status.
    pub status: SubStatus,
    /// Webhook as given to `start` (`null` when none).
    pub webhook: serde_json::Value,
    /// Content created before this is hidden (set when a stopped subscription is restarted).
    pub visible_from: Option<DateTime<Utc>>,
}

/// State of one tenant × content type.
#[derive(Debug, Default)]
pub struct TypeState {
    /// Subscription, if one was ever created.
    pub subscription: Option<Subscription>,
    /// Listing entries keyed by (`contentCreated`, order).
    pub listings: BTreeMap<(DateTime<Utc>, u64), Listing>,
    /// Next aggregation slot to generate.
    pub next_slot: i64,
    /// Blobs generated so far (drives `every:N` blob faults).
    pub blob_counter: u64,
    /// Last successful `start`.
    pub last_start: Option<DateTime<Utc>>,
}

/// State of one tenant.
#[derive(Debug)]
pub struct TenantState {
    /// The configured tenant.
    pub spec: TenantSpec,
    /// Names used in generated records.
    pub ctx: Arc<TenantCtx>,
    /// One entry per content type, indexed by `ContentType::index`.
    pub types: [TypeState; 5],
    /// Last successful `start` of any type (per-tenant cool-down scenario).
    pub last_start_any: Option<DateTime<Utc>>,
}

/// Everything mutable about the simulated service.
#[derive(Debug)]
pub struct Store {
    /// Tenants in configuration order.
    pub tenants: Vec<TenantState>,
    /// Every blob by content id.
    pub blobs: HashMap<String, Arc<Blob>>,
    /// Next listing order number.
    pub next_order: u64,
    /// Counter for injected blobs' ids.
    pub injected: u32,
}

impl Store {
    /// Fresh state: subscriptions as configured, nothing generated yet.
    pub fn new(config: &SimConfig, first_slot: i64, all_enabled: bool) -> Store {
        let tenants = config
            .tenants
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let mut types: [TypeState; 5] = Default::default();
                for ct in ContentType::ALL {
                    let ts = &mut types[ct.index() as usize];
                    ts.next_slot = first_slot;
                    let status = if spec.disabled_types.contains(&ct) {
                        Some(SubStatus::AdminDisabled)
                    } else if all_enabled || spec.enabled_types.contains(&ct) {
                        Some(SubStatus::Enabled)
                    } else {
                        None
                    };
                    ts.subscription = status.map(|status| Subscription {
                        status,
                        webhook: serde_json::Value::Null,
                        visible_from: None,
                    });
                }
                TenantState {
                    spec: spec.clone(),
                    ctx: Arc::new(TenantCtx::new(&spec.tenant_id, i)),
                    types,
                    last_start_any: None,
                }
            })
            .collect();
        Store {
            tenants,
            blobs: HashMap::new(),
            next_order: 0,
            injected: 0,
        }
    }

    /// Index of a configured tenant.
    pub fn tenant_index(&self, tenant_id: &str) -> Option<usize> {
        self.tenants
            .iter()
            .position(|t| t.spec.tenant_id.eq_ignore_ascii_case(tenant_id))
    }

    /// Adds generated or injected blobs and their listings.
    pub fn insert(&mut self, blobs: Vec<Blob>) {
        for blob in blobs {
            let blob = Arc::new(blob);
            let ts = &mut self.tenants[blob.tenant].types[blob.content_type.index() as usize];
            let mut entries = vec![(blob.content_created, blob.available_at)];
            entries.extend(blob.relisted_at.iter().map(|t| (*t, *t)));
            for (created, available) in entries {
                let order = self.next_order;
                self.next_order += 1;
                ts.listings.insert(
                    (created, order),
                    Listing {
                        content_created: created,
                        available_at: available,
                        order,
                        blob: blob.clone(),
                    },
                );
            }
            self.blobs.insert(blob.content_id.clone(), blob);
        }
    }

    /// Whether a client may currently list/fetch content created at `created` for this subscription.
    pub fn visible(&self, tenant: usize, ct: ContentType, created: DateTime<Utc>) -> bool {
        match &self.tenants[tenant].types[ct.index() as usize].subscription {
            Some(Subscription {
                status: SubStatus::Enabled,
                visible_from,
                ..
            }) => visible_from.is_none_or(|from| created >= from),
            _ => false,
        }
    }

    /// Listing entries of a window, in availability order.
    pub fn list(
        &self,
        tenant: usize,
        ct: ContentType,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Vec<Listing> {
        if start >= end {
            return Vec::new();
        }
        let ts = &self.tenants[tenant].types[ct.index() as usize];
        let mut out: Vec<Listing> = ts
            .listings
            .range((start, 0)..(end, 0))
            .map(|(_, l)| l)
            .filter(|l| l.available_at <= now && self.visible(tenant, ct, l.content_created))
            .cloned()
            .collect();
        out.sort_by_key(|l| (l.available_at, l.order));
        out
    }
}

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

/// A stable 64-bit mix (FNV-1a then splitmix), so seeds do not depend on std's hasher.
pub fn mix(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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

#[cfg(test)]
mod tests;
