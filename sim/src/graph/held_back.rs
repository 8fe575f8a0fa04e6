//! Records the Management feed holds back while Purview (the Graph view) has them: the
//! `withhold-rate`, `never-published` and `purview-only` scenarios, applied to each aggregation
//! slot as it is generated.
//!
//! They live in the same store as every other record, in blobs of their own:
//! * withheld records leave their normal blob for a late blob under the first blob's
//!   `contentCreated`, listable `withhold-delay-hours` after it (so only a re-listing of the
//!   window, the lister's sweep, finds it), fault `withheld`;
//! * never-published records and Purview-only records go to blobs that never become listable
//!   (`available_at` is the end of time), faults `never-published` and `purview-only`.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Duration as CDuration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;

use super::record_types::PURVIEW_ONLY_TYPE;
use crate::content_type::ContentType;
use crate::ledger::{HeldBack, HeldBackRecord};
use crate::records::TenantCtx;
use crate::scenario::{Rate, ScenarioKind};
use crate::store::{mix, Blob, Cut, Generator, Planned, Recipe, Source, Store};
use crate::timefmt;

/// Fault tag of a late blob holding withheld records.
pub const WITHHELD: &str = "withheld";
/// Fault tag of the hidden blob holding records the Management API never publishes.
pub const NEVER_PUBLISHED: &str = "never-published";
/// Fault tag of the hidden blob holding records of types only Purview has.
pub const PURVIEW_ONLY: &str = "purview-only";

/// Sequence numbers of the held-back blobs' content ids (normal pieces count from 0).
const WITHHELD_SEQ: u32 = 900;
const NEVER_SEQ: u32 = 901;
const PURVIEW_SEQ: u32 = 902;

/// The records a slot's blobs lose, and where they came from.
struct Taken {
    withheld: Vec<Planned>,
    never: Vec<Planned>,
}

impl Generator {
    fn probability(&self, kind: ScenarioKind) -> Option<f64> {
        self.faults.iter().find_map(|(k, rate)| match rate {
            Rate::Probability(p) if *k == kind => Some(p.clamp(0.0, 1.0)),
            Rate::EveryNth(n) if *k == kind => Some(1.0 / (*n).max(1) as f64),
            _ => None,
        })
    }

    fn value(&self, kind: ScenarioKind) -> Option<u64> {
        self.faults.iter().find_map(|(k, rate)| match rate {
            Rate::Value(n) if *k == kind => Some(*n),
            _ => None,
        })
    }

    /// Applies the held-back scenarios to the blobs of one slot (tenant `tenant`, type `ct`,
    /// slot `k`) and returns them with the extra blobs. Without those scenarios the blobs are
    /// returned unchanged, and the other scenarios' dice are never touched.
    pub(crate) fn hold_back(
        &self,
        tenant: usize,
        ctx: &Arc<TenantCtx>,
        ct: ContentType,
        k: i64,
        mut out: Vec<Blob>,
    ) -> Vec<Blob> {
        let withhold = self.probability(ScenarioKind::WithholdRate);
        let never = self.probability(ScenarioKind::NeverPublished);
        let purview = self
            .probability(ScenarioKind::PurviewOnly)
            .filter(|_| ct == ContentType::General);
        if out.is_empty() || (withhold.is_none() && never.is_none() && purview.is_none()) {
            return out;
        }
        let mut rng = StdRng::seed_from_u64(mix(&[
            &self.seed.to_le_bytes(),
            ctx.tenant_id.as_bytes(),
            ct.as_str().as_bytes(),
            &k.to_le_bytes(),
            b"held-back",
        ]));
        let (first_created, first_available, expiration, t1_token) = {
            let b = &out[0];
            let t1_token = b
                .content_id
                .split('$')
                .next()
                .unwrap_or_default()
                .to_string();
            (
                b.content_created,
                b.available_at,
                b.content_expiration,
                t1_token,
            )
        };
        let purview_records = purview.map(|p| purview_only_records(&mut rng, &out, p));
        let taken = take(
            &mut rng,
            &mut out,
            withhold.unwrap_or(0.0),
            never.unwrap_or(0.0),
        );
        let content_id = |seq: u32| {
            format!(
                "{t1_token}${}${}$na{:04}",
                timefmt::id_token(first_created, seq),
                ct.id_spelling(),
                tenant + 1
            )
        };
        let hidden = DateTime::<Utc>::MAX_UTC;
        let delay_hours = self
            .value(ScenarioKind::WithholdDelayHours)
            .map_or(24, |h| i64::try_from(h).unwrap_or(i64::MAX).min(24 * 30));
        let blob = |planned: Vec<Planned>, seq, available, fault: &str, body: Option<Bytes>| {
            let order = (0..planned.len() as u32).collect::<Vec<_>>();
            Blob {
                tenant,
                tenant_id: ctx.tenant_id.clone(),
                content_type: ct,
                content_id: content_id(seq),
                content_created: first_created,
                available_at: available,
                content_expiration: expiration,
                body,
                record_count: order.len(),
                recipe: Some(Recipe {
                    ctx: ctx.clone(),
                    planned,
                    order,
                    cut: Cut::None,
                }),
                injected_ids: Vec::new(),
                fault: Some(fault.to_string()),
                relisted_at: Vec::new(),
            }
        };
        if !taken.withheld.is_empty() {
            let available = first_available + CDuration::hours(delay_hours);
            out.push(blob(
                taken.withheld,
                WITHHELD_SEQ,
                available,
                WITHHELD,
                None,
            ));
        }
        if !taken.never.is_empty() {
            out.push(blob(taken.never, NEVER_SEQ, hidden, NEVER_PUBLISHED, None));
        }
        if let Some(planned) = purview_records.filter(|p| !p.is_empty()) {
            let body = synthetic_probes(&mut rng, ctx, &planned);
            out.push(blob(planned, PURVIEW_SEQ, hidden, PURVIEW_ONLY, Some(body)));
        }
        out
    }
}

/// The `RecordType` of a record's JSON text, given as a number or a numeric string.
fn record_type_of(text: &str) -> Option<i64> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let rt = v.get("RecordType")?;
    rt.as_i64()
        .or_else(|| rt.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Every held-back record in the store, by tenant, then time and blob (for the ledger).
pub fn ledger_records(store: &Store, generator: &Generator) -> Vec<HeldBackRecord> {
    let mut blobs: Vec<&Arc<Blob>> = store
        .blobs
        .values()
        .filter(|b| {
            matches!(
                b.fault.as_deref(),
                Some(WITHHELD | NEVER_PUBLISHED | PURVIEW_ONLY)
            )
        })
        .collect();
    blobs.sort_by(|a, b| {
        (a.tenant, a.content_created, &a.content_id).cmp(&(
            b.tenant,
            b.content_created,
            &b.content_id,
        ))
    });
    let mut out = Vec::new();
    for blob in blobs {
        let (kind, late) = match blob.fault.as_deref() {
            Some(WITHHELD) => (HeldBack::Withheld, true),
            Some(NEVER_PUBLISHED) => (HeldBack::NeverPublished, false),
            _ => (HeldBack::PurviewOnly, false),
        };
        let Some(recipe) = &blob.recipe else {
            continue;
        };
        out.extend(
            recipe
                .planned
                .iter()
                .enumerate()
                .map(|(i, p)| HeldBackRecord {
                    tenant_id: blob.tenant_id.clone(),
                    id: p.id.to_string(),
                    creation_time: p.at,
                    kind,
                    content_type: blob.content_type.as_str().to_string(),
                    // Purview-only records are the blob's own body (syntheticProbe); the others are
                    // rendered as the Management API would have served them.
                    record_type: if kind == HeldBack::PurviewOnly {
                        Some(PURVIEW_ONLY_TYPE)
                    } else {
                        record_type_of(&blob.record_text(recipe, i, generator))
                    },
                    content_created: Some(blob.content_created),
                    content_id: late.then(|| blob.content_id.clone()),
                    available_at: late.then_some(blob.available_at),
                }),
        );
    }
    out
}

/// Takes the withheld and never-published records out of the slot's blobs (with their repeats).
fn take(rng: &mut StdRng, out: &mut [Blob], withhold: f64, never: f64) -> Taken {
    let mut taken = Taken {
        withheld: Vec::new(),
        never: Vec::new(),
    };
    for blob in out.iter_mut() {
        let Some(recipe) = blob.recipe.as_mut() else {
            continue;
        };
        let mut keep = vec![true; recipe.planned.len()];
        for (i, p) in recipe.planned.iter().enumerate() {
            if rng.random_bool(withhold) {
                taken.withheld.push(p.clone());
                keep[i] = false;
            } else if rng.random_bool(never) {
                taken.never.push(p.clone());
                keep[i] = false;
            }
        }
        if keep.iter().all(|k| *k) {
            continue;
        }
        let mut new_index = vec![u32::MAX; keep.len()];
        let mut planned = Vec::with_capacity(keep.len());
        for (i, p) in recipe.planned.drain(..).enumerate() {
            if keep[i] {
                new_index[i] = planned.len() as u32;
                planned.push(p);
            }
        }
        recipe.planned = planned;
        recipe.order = recipe
            .order
            .iter()
            .filter_map(|&i| new_index.get(i as usize).copied())
            .filter(|&i| i != u32::MAX)
            .collect();
        blob.record_count = recipe.order.len();
    }
    taken
}

/// About `rate` Purview-only records per record of the slot, at the times of the slot's records.
fn purview_only_records(rng: &mut StdRng, out: &[Blob], rate: f64) -> Vec<Planned> {
    let mut planned = Vec::new();
    for recipe in out.iter().filter_map(|b| b.recipe.as_ref()) {
        for p in &recipe.planned {
            if rng.random_bool(rate) {
                planned.push(Planned {
                    id: uuid::Builder::from_random_bytes(rng.random()).into_uuid(),
                    at: p.at,
                    source: Source::Generated(rng.random()),
                });
            }
        }
    }
    planned
}

/// The body of the Purview-only blob: one `syntheticProbe` record per planned record.
fn synthetic_probes(rng: &mut StdRng, ctx: &TenantCtx, planned: &[Planned]) -> Bytes {
    let records: Vec<serde_json::Value> = planned
        .iter()
        .map(|p| {
            json!({
                "CreationTime": timefmt::record(p.at),
                "Id": p.id.to_string(),
                "Operation": "SyntheticProbe",
                "OrganizationId": ctx.tenant_id,
                "RecordType": PURVIEW_ONLY_TYPE,
                "UserKey": format!("SyntheticProbe{:04}", rng.random_range(0..10_000)),
                "UserType": 4,
                "Version": 1,
                "Workload": "Exchange",
                "UserId": format!("syntheticprobe@{}", ctx.domain),
                "ClientIP": "",
                "ResultStatus": "Succeeded",
            })
        })
        .collect();
    Bytes::from(serde_json::Value::Array(records).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::Fixtures;
    use crate::scenario::Scenario;

    fn generator(faults: &[&str]) -> Generator {
        Generator {
            seed: 7,
            window: CDuration::minutes(5),
            mean_per_slot: 200.0,
            max_per_blob: 100,
            expiration: CDuration::days(7),
            fixtures: Fixtures::default(),
            faults: faults
                .iter()
                .map(|s| Scenario::parse(s).map(|s| (s.kind, s.rate)))
                .collect::<Result<_, _>>()
                .unwrap_or_default(),
            base_url: "http://127.0.0.1:1".into(),
        }
    }

    fn ids(blobs: &[Blob], pred: impl Fn(&Blob) -> bool) -> Vec<String> {
        blobs
            .iter()
            .filter(|b| pred(b))
            .flat_map(Blob::record_ids)
            .collect()
    }

    #[test]
    fn held_back_records_move_to_their_own_blobs_and_nothing_is_lost() {
        let ctx = Arc::new(TenantCtx::new("00000000-0000-0000-0000-000000000001", 0));
        let plain = generator(&[]);
        let held = generator(&[
            "withhold-rate=0.1",
            "never-published=0.05",
            "withhold-delay-hours=30",
        ]);
        let (mut c1, mut c2) = (0, 0);
        let a = plain.slot(0, &ctx, ContentType::Exchange, 5000, &mut c1);
        let b = held.slot(0, &ctx, ContentType::Exchange, 5000, &mut c2);
        let all = |blobs: &[Blob]| {
            let mut v = ids(blobs, |_| true);
            v.sort();
            v
        };
        assert_eq!(all(&a), all(&b), "the same records, only moved");
        let withheld = ids(&b, |x| x.fault.as_deref() == Some(WITHHELD));
        let never = ids(&b, |x| x.fault.as_deref() == Some(NEVER_PUBLISHED));
        assert!(!withheld.is_empty() && !never.is_empty());
        let late = b
            .iter()
            .find(|x| x.fault.as_deref() == Some(WITHHELD))
            .unwrap();
        assert_eq!(late.content_created, b[0].content_created);
        assert_eq!(late.available_at, b[0].available_at + CDuration::hours(30));
        let hidden = b
            .iter()
            .find(|x| x.fault.as_deref() == Some(NEVER_PUBLISHED))
            .unwrap();
        assert_eq!(hidden.available_at, DateTime::<Utc>::MAX_UTC);
        for x in &b {
            assert_eq!(x.record_count, x.record_ids().len());
        }
    }

    #[test]
    fn purview_only_records_are_synthetic_probes_of_the_general_slot() {
        let ctx = Arc::new(TenantCtx::new("00000000-0000-0000-0000-000000000001", 0));
        let g = generator(&["purview-only=0.2"]);
        let mut c = 0;
        let exchange = g.slot(0, &ctx, ContentType::Exchange, 5000, &mut c);
        assert!(exchange.iter().all(|b| b.fault.is_none()));
        let general = g.slot(0, &ctx, ContentType::General, 5000, &mut c);
        let probes = general
            .iter()
            .find(|b| b.fault.as_deref() == Some(PURVIEW_ONLY))
            .unwrap();
        let body: Vec<serde_json::Value> = serde_json::from_slice(&probes.render(&g)).unwrap();
        assert_eq!(body.len(), probes.record_count);
        assert!(body.iter().all(|r| r["RecordType"] == 5));
        assert_eq!(
            body.iter()
                .map(|r| r["Id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>(),
            probes.record_ids()
        );
    }
}
