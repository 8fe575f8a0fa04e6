//! The Microsoft Graph audit log query API (Purview audit search), served from the same store
//! and ledger as the Management Activity API: `POST/GET /{v1.0|beta}/security/auditLog/queries`,
//! `GET …/queries/{id}` and `GET …/queries/{id}/records`, with Graph-audience tokens only.

use std::time::Duration;

pub mod held_back;
pub mod queries;
pub mod query_body;
pub mod record_types;
pub mod routes;
pub mod view;

use crate::scenario::{Rate, Scenario, ScenarioKind};

/// The audience (and `scope` without `/.default`) of Graph tokens.
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";
/// Graph's application id, also accepted as a scope (`00000003-…/.default`).
pub const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
/// The application role a Graph token carries (`AuditLogsQuery.Read.All`).
pub const GRAPH_ROLE: &str = "AuditLogsQuery.Read.All";

/// Whether a token request's `scope` (without `/.default`) or `resource` names Graph.
pub fn is_graph_resource(target: &str) -> bool {
    let t = target.trim_end_matches('/');
    t.eq_ignore_ascii_case(GRAPH_AUDIENCE) || t.eq_ignore_ascii_case(GRAPH_APP_ID)
}

/// Settings of the Graph view; scenarios (`record-count-limit`, `graph-page-size`,
/// `graph-concurrent-queries`, `graph-query-seconds`) override them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphConfig {
    /// How long a query stays `notStarted` (simulated time).
    pub queued: Duration,
    /// How long it then stays `running` before `succeeded`.
    pub running: Duration,
    /// Most records a query returns (`recordCountLimit`); more sets `isRecordCountLimitExceeded`.
    pub record_count_limit: usize,
    /// Records per page of `…/records` (a request's `$top` may ask for fewer, up to 1000).
    pub page_size: usize,
    /// Queries per tenant not yet done; one more is refused with 429.
    pub max_concurrent_queries: usize,
    /// Submissions per tenant in any 24 simulated hours (`None`: unlimited); more are 429.
    pub max_queries_per_day: Option<usize>,
}

impl Default for GraphConfig {
    fn default() -> Self {
        Self {
            queued: Duration::from_secs(2),
            running: Duration::from_secs(8),
            record_count_limit: 50_000,
            page_size: 150,
            max_concurrent_queries: 10,
            max_queries_per_day: None,
        }
    }
}

/// The Graph view's state: its settings after scenarios, and every query submitted.
#[derive(Debug)]
pub struct GraphState {
    /// Query timings.
    pub timing: queries::Timing,
    /// `recordCountLimit`.
    pub record_count_limit: usize,
    /// Default page size.
    pub page_size: usize,
    /// Submission limits per tenant.
    pub limits: queries::Limits,
    /// Share of records Purview returns twice (`purview-duplicates`).
    pub duplicate_rate: Option<f64>,
    /// Every query submitted.
    pub book: queries::QueryBook,
}

impl GraphState {
    /// The state a run starts with.
    pub fn new(config: &GraphConfig, scenarios: &[Scenario]) -> GraphState {
        let value = |k: ScenarioKind| {
            scenarios.iter().find_map(|s| match s.rate {
                Rate::Value(n) if s.kind == k => Some(usize::try_from(n).unwrap_or(usize::MAX)),
                _ => None,
            })
        };
        let duplicate_rate = scenarios.iter().find_map(|s| match s.rate {
            _ if s.kind != ScenarioKind::PurviewDuplicates => None,
            Rate::Probability(p) => Some(p.clamp(0.0, 1.0)),
            Rate::EveryNth(n) => Some(1.0 / n.max(1) as f64),
            Rate::Value(_) | Rate::On => Some(1.0),
        });
        GraphState {
            timing: queries::Timing::new(
                config,
                value(ScenarioKind::GraphQuerySeconds).map(|n| n as u64),
            ),
            record_count_limit: value(ScenarioKind::RecordCountLimit)
                .unwrap_or(config.record_count_limit),
            page_size: value(ScenarioKind::GraphPageSize)
                .unwrap_or(config.page_size)
                .max(1),
            limits: queries::Limits {
                concurrent: value(ScenarioKind::GraphConcurrentQueries)
                    .unwrap_or(config.max_concurrent_queries),
                daily: value(ScenarioKind::GraphDailyQueries).or(config.max_queries_per_day),
            },
            duplicate_rate,
            book: queries::QueryBook::default(),
        }
    }
}
