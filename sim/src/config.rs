//! Configuration of one simulator run: tenants, credentials, clock, content volume, scenarios.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::content_type::ContentType;
use crate::error::SimError;
use crate::scenario::Scenario;

/// Tenant the simulator serves when none is configured (the spec's example tenant).
pub const DEFAULT_TENANT_ID: &str = "00000000-0000-0000-0000-000000000001";
/// Application (client) id the token endpoints accept when none is configured.
pub const DEFAULT_CLIENT_ID: &str = "00000000-0000-0000-0000-000000000c01";
/// Client secret the token endpoints accept when none is configured (test-only value).
pub const DEFAULT_CLIENT_SECRET: &str = "o365-sim-client-secret";
/// Address the `o365-sim` binary listens on when `--listen` is not given.
pub const DEFAULT_CLI_LISTEN: &str = "127.0.0.1:8365";

/// One simulated customer tenant.
#[derive(Debug, Clone)]
pub struct TenantSpec {
    /// Tenant (directory) GUID, as it appears in URLs and in the token's `tid`.
    pub tenant_id: String,
    /// Whether the app was granted `ActivityFeed.ReadDlp` in this tenant (needed for `DLP.All`).
    pub dlp_permission: bool,
    /// Content types whose subscription already exists and is enabled when the run starts.
    pub enabled_types: Vec<ContentType>,
    /// Content types whose subscription exists but was disabled by an admin (AF20023).
    pub disabled_types: Vec<ContentType>,
}

impl TenantSpec {
    /// A tenant with the DLP permission and no subscriptions yet.
    pub fn new(tenant_id: impl Into<String>) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            dlp_permission: true,
            enabled_types: Vec::new(),
            disabled_types: Vec::new(),
        }
    }
}

/// Everything that shapes one run of the simulator; `Default` gives a usable sim.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to bind; must be a loopback address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Tenants served, each with its own subscriptions and content.
    pub tenants: Vec<TenantSpec>,
    /// Client id the token endpoints accept.
    pub client_id: String,
    /// Client secret the token endpoints accept.
    pub client_secret: String,
    /// PEM certificate whose key verifies `client_assertion` JWTs (RS256, `x5t` = SHA-1 thumbprint).
    pub certificate_pem: Option<String>,
    /// Seed of every random choice, so a run is reproducible.
    pub seed: u64,
    /// Fault scenarios switched on for this run.
    pub scenarios: Vec<Scenario>,
    /// Simulated time at start-up.
    pub clock_start: DateTime<Utc>,
    /// Simulated seconds per real second.
    pub clock_speed: f64,
    /// How much content was already produced before `clock_start`.
    pub history: Duration,
    /// Records generated per tenant per content type per simulated hour.
    pub records_per_hour: u32,
    /// Maximum entries per listing page before a `NextPageUri` is sent.
    pub page_size: usize,
    /// Lifetime of issued access tokens (simulated time).
    pub token_lifetime: Duration,
    /// Directory of real records (`*.ndjson`) spliced into generated blobs.
    pub fixtures_dir: Option<PathBuf>,
    /// `contentExpiration` = the blob's aggregation window start (T1) plus this.
    pub content_expiration: Duration,
    /// Width of one aggregation window (one blob, or several when it holds many records).
    pub blob_window: Duration,
    /// Largest number of records in one blob; a busier window is split into several blobs.
    pub max_records_per_blob: usize,
    /// Requests per minute per tenant before AF429 (token bucket in real time).
    pub throttle_per_minute: u32,
    /// Cool-down between two successful `start` calls (per tenant and content type).
    pub start_cooldown: Duration,
    /// Grace beyond 7 days before a `startTime` is rejected as too old.
    pub lookback_grace: Duration,
    /// Memory budget for rendered blob bodies kept for re-downloads (bodies are re-rendered,
    /// byte-identical, when evicted).
    pub body_cache_bytes: usize,
    /// The Graph audit log query API (Purview's view of the same records).
    pub graph: crate::graph::GraphConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tenants: vec![TenantSpec::new(DEFAULT_TENANT_ID)],
            client_id: DEFAULT_CLIENT_ID.to_string(),
            client_secret: DEFAULT_CLIENT_SECRET.to_string(),
            certificate_pem: None,
            seed: 1,
            scenarios: Vec::new(),
            clock_start: Utc::now(),
            clock_speed: 1.0,
            history: Duration::from_secs(24 * 3600),
            records_per_hour: 120,
            page_size: 100,
            token_lifetime: Duration::from_secs(3599),
            fixtures_dir: default_fixtures_dir(),
            content_expiration: Duration::from_secs(7 * 24 * 3600),
            blob_window: Duration::from_secs(300),
            max_records_per_blob: 2000,
            throttle_per_minute: 2000,
            start_cooldown: Duration::from_secs(15 * 60),
            lookback_grace: Duration::from_secs(10 * 60),
            body_cache_bytes: 256 * 1024 * 1024,
            graph: crate::graph::GraphConfig::default(),
        }
    }
}

impl SimConfig {
    /// Checks the settings that would make the simulator misbehave and says which to fix.
    pub fn validate(&self) -> Result<(), SimError> {
        if !self.listen.ip().is_loopback() {
            return Err(SimError::NotLoopback(self.listen));
        }
        if self.tenants.is_empty() {
            return Err(SimError::Config("at least one tenant is needed".into()));
        }
        for t in &self.tenants {
            if !crate::timefmt::is_guid(&t.tenant_id) {
                return Err(SimError::Config(format!(
                    "tenant id {:?} is not a GUID; use the form 00000000-0000-0000-0000-000000000001",
                    t.tenant_id
                )));
            }
        }
        if crate::clock::clamp(self.clock_start) != self.clock_start {
            return Err(SimError::Config(
                "clock start must be between the years 1971 and 2999".into(),
            ));
        }
        if !(self.clock_speed.is_finite() && self.clock_speed >= 0.0) {
            return Err(SimError::Config(
                "clock speed must be a finite number >= 0".into(),
            ));
        }
        if self.page_size == 0 || self.max_records_per_blob == 0 {
            return Err(SimError::Config(
                "page size and max records per blob must be at least 1".into(),
            ));
        }
        if self.blob_window < Duration::from_secs(1) {
            return Err(SimError::Config(
                "blob window must be at least one second".into(),
            ));
        }
        Ok(())
    }
}

/// The real public records (`shared/fixtures/real` in an ancestor of the workspace or of the
/// working directory, i.e. `../shared` beside the repository), when present. They are not ours to
/// ship, so nothing may depend on them: callers fall back to [`repo_records_dir`].
pub fn real_fixtures_dir() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let mut starts = vec![manifest];
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    for start in starts {
        for dir in start.ancestors() {
            let candidate = dir.join("shared").join("fixtures").join("real");
            if candidate.is_dir() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The repository's own test records (`shared/tests/data/records`, written by us from the
/// documented schema), when the source tree is there.
pub fn repo_records_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/data/records");
    dir.is_dir().then_some(dir)
}

/// Records spliced into generated blobs by default: the real public records when present,
/// else the repository's own, so the simulator serves varied records in a clean clone too.
pub fn default_fixtures_dir() -> Option<PathBuf> {
    real_fixtures_dir().or_else(repo_records_dir)
}
