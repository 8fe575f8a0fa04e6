//! The mutable state of the service: tenants, their subscriptions and listing entries, and every
//! blob by content id.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::Blob;
use crate::config::{SimConfig, TenantSpec};
use crate::content_type::ContentType;
use crate::records::TenantCtx;

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
