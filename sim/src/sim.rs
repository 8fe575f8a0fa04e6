//! The simulated service's shared core: clock, store, generator, ledger and fault dice.

use std::collections::VecDeque;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use bytes::Bytes;
use chrono::{DateTime, Duration as CDuration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::auth::Auth;
use crate::clock::SimClock;
use crate::config::SimConfig;
use crate::content_type::ContentType;
use crate::error::SimError;
use crate::fixtures::Fixtures;
use crate::ledger::{Ledger, PublishedBlob, RequestRecord};
use crate::scenario::{Rate, ScenarioKind};
use crate::store::{Blob, Generator, Store};
use crate::timefmt;

/// Request-level fault dice and `every:N` counters.
#[derive(Debug)]
struct Dice {
    rng: StdRng,
    counters: HashMap<ScenarioKind, u64>,
}

/// A per-tenant token bucket in real time: `burst` tokens at most, refilled at
/// `rate_per_minute / 60` per second.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Rendered bodies, oldest evicted first once over the byte budget.
#[derive(Debug, Default)]
struct BodyCache {
    bodies: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
}

#[derive(Debug, Default)]
struct LedgerState {
    requests: Vec<RequestRecord>,
    served: BTreeMap<String, u64>,
}

/// The whole simulated service.
#[derive(Debug)]
pub struct Sim {
    /// The configuration it was started with.
    pub config: SimConfig,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Simulated clock.
    pub clock: SimClock,
    /// Token issuer.
    pub auth: Auth,
    /// Content generator.
    pub generator: Generator,
    /// Mutable state.
    pub store: RwLock<Store>,
    gen_lock: Mutex<()>,
    ledger: Mutex<LedgerState>,
    dice: Mutex<Dice>,
    buckets: Mutex<HashMap<String, Bucket>>,
    bodies: Mutex<BodyCache>,
    /// Listing page size after scenarios.
    pub page_size: usize,
    /// Requests per minute per tenant after scenarios.
    pub rate_per_minute: u32,
    /// Size of each tenant's token bucket (`rate-burst`, else one minute's worth).
    pub burst: u32,
    /// The Graph audit log query API's settings and queries.
    pub graph: crate::graph::GraphState,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Sim {
    /// Builds the service for `base_url`; content is generated lazily by `catch_up`.
    pub fn new(config: SimConfig, base_url: String) -> Result<Sim, SimError> {
        config.validate()?;
        let auth = Auth::new(&config)?;
        let fixtures = match &config.fixtures_dir {
            Some(dir) if dir.is_dir() => Fixtures::load(dir)?,
            _ => Fixtures::default(),
        };
        if fixtures.is_empty() {
            tracing::debug!("no fixture records: generated records only");
        } else {
            tracing::debug!(records = fixtures.len(), dir = ?config.fixtures_dir, "fixture records loaded");
        }
        let window = CDuration::from_std(config.blob_window)
            .map_err(|e| SimError::Config(format!("blob window: {e}")))?;
        let scen = |k: ScenarioKind| {
            config
                .scenarios
                .iter()
                .find(|s| s.kind == k)
                .map(|s| s.rate)
        };
        let page_size = match scen(ScenarioKind::SmallPages) {
            Some(Rate::Value(n)) => n as usize,
            _ => config.page_size,
        };
        let rate_per_minute = match scen(ScenarioKind::RateLimit) {
            Some(Rate::Value(n)) => n.min(u64::from(u32::MAX)) as u32,
            _ => config.throttle_per_minute,
        };
        let burst = match scen(ScenarioKind::RateBurst) {
            Some(Rate::Value(n)) => n.min(u64::from(u32::MAX)) as u32,
            _ => rate_per_minute,
        };
        let generator = Generator {
            seed: config.seed,
            window,
            mean_per_slot: f64::from(config.records_per_hour) * config.blob_window.as_secs_f64()
                / 3600.0,
            max_per_blob: config.max_records_per_blob,
            expiration: CDuration::from_std(config.content_expiration)
                .unwrap_or(CDuration::days(7)),
            fixtures,
            faults: config.scenarios.iter().map(|s| (s.kind, s.rate)).collect(),
            base_url: base_url.clone(),
        };
        let history = CDuration::from_std(config.history).unwrap_or(CDuration::days(1));
        let first_slot = generator.slot_of(config.clock_start - history);
        let all_enabled = scen(ScenarioKind::AlreadyEnabled).is_some();
        let store = Store::new(&config, first_slot, all_enabled);
        Ok(Sim {
            clock: SimClock::new(config.clock_start, config.clock_speed),
            dice: Mutex::new(Dice {
                rng: StdRng::seed_from_u64(config.seed ^ 0xd1ce),
                counters: HashMap::new(),
            }),
            base_url,
            auth,
            generator,
            store: RwLock::new(store),
            gen_lock: Mutex::new(()),
            ledger: Mutex::new(LedgerState::default()),
            buckets: Mutex::new(HashMap::new()),
            bodies: Mutex::new(BodyCache::default()),
            page_size,
            rate_per_minute,
            burst,
            graph: crate::graph::GraphState::new(&config.graph, &config.scenarios),
            config,
        })
    }

    /// Current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Read access to the store.
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Write access to the store.
    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether some aggregation window has closed without its blobs being generated.
    pub fn needs_generation(&self) -> bool {
        let target = self.generator.slot_of(self.now());
        self.read()
            .tenants
            .iter()
            .any(|t| t.types.iter().any(|ts| ts.next_slot < target))
    }

    /// Generates every blob whose aggregation window closed before now.
    pub fn catch_up(&self) {
        let _g = lock(&self.gen_lock);
        let now = self.now();
        let target = self.generator.slot_of(now);
        let plan: Vec<_> = {
            let store = self.read();
            store
                .tenants
                .iter()
                .enumerate()
                .flat_map(|(ti, t)| {
                    ContentType::ALL.into_iter().map(move |ct| {
                        (
                            ti,
                            ct,
                            t.types[ct.index() as usize].next_slot,
                            t.types[ct.index() as usize].blob_counter,
                            t.ctx.clone(),
                        )
                    })
                })
                .filter(|(_, _, next, _, _)| *next < target)
                .collect()
        };
        if plan.is_empty() {
            return;
        }
        let mut produced = Vec::new();
        let mut progress = Vec::new();
        // Content that could never be listed any more (created over 9 days ago) is skipped.
        let floor = self.generator.slot_of(now - CDuration::days(9));
        for (ti, ct, next, mut counter, ctx) in plan {
            for k in next.max(floor)..target {
                produced.extend(self.generator.slot(ti, &ctx, ct, k, &mut counter));
            }
            progress.push((ti, ct, counter));
        }
        let mut store = self.write();
        for (ti, ct, counter) in progress {
            let ts = &mut store.tenants[ti].types[ct.index() as usize];
            ts.next_slot = target;
            ts.blob_counter = counter;
        }
        store.insert(produced);
    }

    /// Generates what is due, off the async threads.
    pub async fn ensure_generated(self: &Arc<Self>) {
        if self.needs_generation() {
            let me = self.clone();
            let _ = tokio::task::spawn_blocking(move || me.catch_up()).await;
        }
    }

    /// Rolls the dice for a request-level scenario.
    pub fn fires(&self, kind: ScenarioKind) -> bool {
        let Some(rate) = self
            .config
            .scenarios
            .iter()
            .find(|s| s.kind == kind)
            .map(|s| s.rate)
        else {
            return false;
        };
        let mut d = lock(&self.dice);
        let n = {
            let c = d.counters.entry(kind).or_insert(0);
            *c += 1;
            *c
        };
        match rate {
            Rate::Probability(p) => d.rng.random_bool(p.clamp(0.0, 1.0)),
            Rate::EveryNth(every) => n % every.max(1) == 0,
            Rate::Value(_) | Rate::On => true,
        }
    }

    /// Whether a switch scenario is on.
    pub fn switch(&self, kind: ScenarioKind) -> bool {
        self.config.scenarios.iter().any(|s| s.kind == kind)
    }

    /// A random number from the request dice.
    pub fn roll(&self, range: std::ops::Range<u64>) -> u64 {
        lock(&self.dice).rng.random_range(range)
    }

    /// Takes one request from a bucket (a tenant, or a publisher in legacy mode); false when it
    /// is empty (AF429).
    pub fn take_token(&self, key: &str) -> bool {
        let rate = f64::from(self.rate_per_minute.max(1)) / 60.0;
        let cap = f64::from(self.burst.max(1));
        let mut buckets = lock(&self.buckets);
        let b = buckets.entry(key.to_ascii_lowercase()).or_insert(Bucket {
            tokens: cap,
            at: Instant::now(),
        });
        let now = Instant::now();
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(cap);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The body of a blob: from the cache, or rendered (off the async threads) and cached.
    pub async fn blob_body(self: &Arc<Self>, blob: &Arc<Blob>) -> Bytes {
        if let Some(body) = &blob.body {
            return body.clone();
        }
        if let Some(body) = lock(&self.bodies).bodies.get(&blob.content_id) {
            return body.clone();
        }
        let (me, b) = (self.clone(), blob.clone());
        let body = match tokio::task::spawn_blocking(move || b.render(&me.generator)).await {
            Ok(body) => body,
            Err(_) => blob.render(&self.generator),
        };
        let cap = self.config.body_cache_bytes;
        let mut cache = lock(&self.bodies);
        if body.len() <= cap && !cache.bodies.contains_key(&blob.content_id) {
            cache.bytes += body.len();
            cache.bodies.insert(blob.content_id.clone(), body.clone());
            cache.order.push_back(blob.content_id.clone());
            while cache.bytes > cap {
                let Some(old) = cache.order.pop_front() else {
                    break;
                };
                if let Some(b) = cache.bodies.remove(&old) {
                    cache.bytes -= b.len();
                }
            }
        }
        body
    }

    /// A blob's body if it is in the cache of rendered bodies (the Graph view reads records
    /// from it instead of rendering them again).
    pub fn cached_body(&self, content_id: &str) -> Option<Bytes> {
        lock(&self.bodies).bodies.get(content_id).cloned()
    }

    /// Appends a request to the ledger.
    pub fn record(&self, rec: RequestRecord) {
        lock(&self.ledger).requests.push(rec);
    }

    /// Counts a full download of a blob.
    pub fn count_served(&self, content_id: &str) {
        *lock(&self.ledger)
            .served
            .entry(content_id.to_string())
            .or_insert(0) += 1;
    }

    /// A snapshot of the ledger (generates what is due first).
    pub fn ledger(&self) -> Ledger {
        self.catch_up();
        let now = self.now();
        let published = {
            let store = self.read();
            let mut blobs: Vec<&Arc<Blob>> = store
                .blobs
                .values()
                .filter(|b| b.available_at <= now)
                .collect();
            blobs.sort_by(|a, b| {
                (a.available_at, &a.content_id).cmp(&(b.available_at, &b.content_id))
            });
            blobs
                .into_iter()
                .map(|b| PublishedBlob {
                    tenant_id: b.tenant_id.clone(),
                    content_type: b.content_type.as_str().to_string(),
                    content_id: b.content_id.clone(),
                    content_uri: self.generator.content_uri(&b.tenant_id, &b.content_id),
                    content_created: b.content_created,
                    content_expiration: b.content_expiration,
                    record_ids: b.record_ids(),
                    record_count: b.record_count,
                    available_at: b.available_at,
                    fault: b.fault.clone(),
                    relisted_at: b.relisted_at.clone(),
                    visible: store.visible(b.tenant, b.content_type, b.content_created),
                })
                .collect()
        };
        let held_back = crate::graph::held_back::ledger_records(&self.read(), &self.generator);
        let l = lock(&self.ledger);
        Ledger {
            now: Some(now),
            published,
            served: l.served.clone(),
            requests: l.requests.clone(),
            held_back,
        }
    }

    /// Disables a subscription as a tenant admin would (AF20023 until the next `start`).
    pub fn admin_disable(&self, tenant_id: &str, ct: ContentType) -> Result<(), SimError> {
        let mut store = self.write();
        let tenant = store
            .tenant_index(tenant_id)
            .ok_or_else(|| SimError::Config(format!("tenant {tenant_id} is not configured")))?;
        let sub = &mut store.tenants[tenant].types[ct.index() as usize].subscription;
        match sub {
            Some(s) => s.status = crate::store::SubStatus::AdminDisabled,
            None => {
                *sub = Some(crate::store::Subscription {
                    status: crate::store::SubStatus::AdminDisabled,
                    webhook: serde_json::Value::Null,
                    visible_from: None,
                })
            }
        }
        Ok(())
    }

    /// Grants or revokes `ActivityFeed.ReadDlp` for a tenant's app, as an admin consenting
    /// (or withdrawing consent) would; tokens issued afterwards carry the change.
    pub fn set_dlp_permission(&self, tenant_id: &str, granted: bool) -> Result<(), SimError> {
        let mut store = self.write();
        let tenant = store
            .tenant_index(tenant_id)
            .ok_or_else(|| SimError::Config(format!("tenant {tenant_id} is not configured")))?;
        store.tenants[tenant].spec.dlp_permission = granted;
        Ok(())
    }

    /// Publishes an arbitrary body as a blob, listable now.
    pub fn publish_blob(
        &self,
        tenant_id: &str,
        ct: ContentType,
        body: Vec<u8>,
        record_ids: Vec<String>,
    ) -> Result<PublishedBlob, SimError> {
        self.catch_up();
        let now = self.now();
        let mut store = self.write();
        let tenant = store
            .tenant_index(tenant_id)
            .ok_or_else(|| SimError::Config(format!("tenant {tenant_id} is not configured")))?;
        store.injected += 1;
        let seq = 500_000 + store.injected;
        let tenant_id = store.tenants[tenant].spec.tenant_id.clone();
        let content_id = format!(
            "{}${}${}$na{:04}",
            timefmt::id_token(now, seq),
            timefmt::id_token(now, seq),
            ct.id_spelling(),
            tenant + 1
        );
        let blob = Blob {
            tenant,
            tenant_id: tenant_id.clone(),
            content_type: ct,
            content_id: content_id.clone(),
            content_created: now,
            available_at: now,
            content_expiration: now + self.generator.expiration,
            body: Some(Bytes::from(body)),
            recipe: None,
            record_count: record_ids.len(),
            injected_ids: record_ids,
            fault: Some("injected".into()),
            relisted_at: Vec::new(),
        };
        let published = PublishedBlob {
            tenant_id: tenant_id.clone(),
            content_type: ct.as_str().to_string(),
            content_uri: self.generator.content_uri(&tenant_id, &content_id),
            content_id,
            content_created: now,
            content_expiration: blob.content_expiration,
            record_count: blob.record_count,
            record_ids: blob.record_ids(),
            available_at: now,
            fault: blob.fault.clone(),
            relisted_at: Vec::new(),
            visible: store.visible(tenant, ct, now),
        };
        store.insert(vec![blob]);
        Ok(published)
    }
}
