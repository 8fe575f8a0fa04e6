//! Each tenant's connection health, kept beside its checkpoints
//! (`<prefix>/_state/tenant_id=<t>/tenant.json`), so `o365ctl status` shows a tenant that a run
//! skipped (a missing variable, refused credentials, a missing permission, an unreachable
//! endpoint) with the kind, the reason and when, even if it never had a checkpoint.

use chrono::{DateTime, Utc};
use o365_activity::keys::{KeyLayout, ObjectKey};
use o365_activity::store::{ObjectMeta, ObjectStore, PutCondition, StoreError};
use o365_activity::{ContentType, TenantId};
use serde::{Deserialize, Serialize};

use crate::config::ProblemKind;
use crate::connect::Connected;

/// How one tenant fared when the last run connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantHealth {
    /// The tenant.
    pub tenant_id: TenantId,
    /// When the run checked it.
    pub at: DateTime<Utc>,
    /// The content types it is configured for.
    pub content_types: Vec<ContentType>,
    /// Why it was skipped; `None`: it connected.
    #[serde(default)]
    pub problem: Option<Problem>,
}

/// Why a tenant was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// What kind of problem.
    pub kind: ProblemKind,
    /// One line: what failed and what to do.
    pub reason: String,
}

/// Writes the health of every tenant of `conn` (overwriting the previous run's).
pub async fn record<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
    conn: &Connected,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let healthy = conn.tenants.iter().map(|(t, _)| TenantHealth {
        tenant_id: t.tenant_id.clone(),
        at: now,
        content_types: t.content_types.clone(),
        problem: None,
    });
    let failing = conn.unreachable.iter().map(|p| TenantHealth {
        tenant_id: p.tenant_id.clone(),
        at: now,
        content_types: p.content_types.clone(),
        problem: Some(Problem {
            kind: p.kind,
            reason: p.reason.clone(),
        }),
    });
    let meta = ObjectMeta {
        content_type: "application/json".to_owned(),
        content_encoding: None,
    };
    for h in healthy.chain(failing) {
        let body = serde_json::to_vec(&h).unwrap_or_default();
        let key = layout.tenant_health_key(&h.tenant_id);
        // Conditional, as the deployed bucket's policy requires under the prefix: replace the
        // version read (If-Match) or create (If-None-Match). Losing to a concurrent run (412)
        // is fine: its document is as recent.
        let condition = match store.get(&key).await? {
            Some(current) => PutCondition::IfMatch(current.etag),
            None => PutCondition::IfNoneMatch,
        };
        store.put(&key, body.into(), &meta, condition).await?;
    }
    Ok(())
}

/// Every stored tenant health document (unreadable ones are skipped with a warning).
pub async fn load_all<S: ObjectStore>(
    store: &S,
    layout: &KeyLayout,
) -> Result<Vec<TenantHealth>, StoreError> {
    let mut out = Vec::new();
    for key in store.list(&layout.state_prefix()).await? {
        if !matches!(layout.parse(&key), Some(ObjectKey::TenantHealth(_))) {
            continue;
        }
        if let Some(obj) = store.get(&key).await? {
            match serde_json::from_slice::<TenantHealth>(&obj.body) {
                Ok(h) => out.push(h),
                Err(e) => tracing::warn!("{key} is not a tenant health document ({e}); ignored"),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let h = TenantHealth {
            tenant_id: "00000000-0000-0000-0000-000000000001".parse().unwrap(),
            at: Utc::now(),
            content_types: vec![ContentType::DlpAll],
            problem: Some(Problem {
                kind: ProblemKind::Permission,
                reason: "no".into(),
            }),
        };
        let text = serde_json::to_string(&h).unwrap();
        assert!(text.contains("\"permission\""), "{text}");
        assert_eq!(serde_json::from_str::<TenantHealth>(&text).unwrap(), h);
    }
}
