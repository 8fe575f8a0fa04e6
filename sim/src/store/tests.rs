use super::*;
use crate::content_type::ContentType;
use crate::fixtures::Fixtures;
use crate::records::TenantCtx;
use crate::scenario::Scenario;
use chrono::{Duration as CDuration, TimeZone, Utc};
use std::sync::Arc;

fn generator(faults: Vec<Scenario>) -> Generator {
    Generator {
        seed: 7,
        window: CDuration::minutes(5),
        mean_per_slot: 50.0,
        max_per_blob: 20,
        expiration: CDuration::days(7),
        fixtures: crate::config::default_fixtures_dir()
            .and_then(|d| Fixtures::load(&d).ok())
            .unwrap_or_default(),
        faults: faults.into_iter().map(|s| (s.kind, s.rate)).collect(),
        base_url: "http://127.0.0.1:1".into(),
    }
}

#[test]
fn slots_are_deterministic_valid_json_and_split() {
    let g = generator(Vec::new());
    let ctx = Arc::new(TenantCtx::new("00000000-0000-0000-0000-000000000001", 0));
    let k = g.slot_of(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap());
    for ct in ContentType::ALL {
        let (mut c1, mut c2) = (0, 0);
        let a = g.slot(0, &ctx, ct, k, &mut c1);
        let b = g.slot(0, &ctx, ct, k, &mut c2);
        assert_eq!(a.len(), b.len());
        assert!(
            a.len() >= 2,
            "50±25 records at 20 per blob give several blobs"
        );
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.render(&g), y.render(&g));
            assert_eq!(x.content_id, y.content_id);
            let v: Vec<serde_json::Value> = serde_json::from_slice(&x.render(&g)).unwrap();
            assert_eq!(v.len(), x.record_count);
            assert!(x.record_count <= 20);
            for (rec, id) in v.iter().zip(&x.record_ids()) {
                assert_eq!(rec["Id"].as_str(), Some(id.as_str()));
                assert_eq!(rec["OrganizationId"], ctx.tenant_id.as_str());
            }
            assert!(x.content_created > g.slot_start(k) + g.window);
            assert_eq!(x.content_expiration, g.slot_start(k) + CDuration::days(7));
            let parts: Vec<&str> = x.content_id.split('$').collect();
            assert_eq!(parts.len(), 5);
            assert_eq!(parts[0].len(), 23);
            assert_eq!(parts[1].len(), 23);
        }
    }
}

#[test]
fn late_blobs_follow_the_configured_maximum() {
    let lateness = |faults: Vec<Scenario>| {
        let g = generator(faults);
        let ctx = Arc::new(TenantCtx::new("00000000-0000-0000-0000-000000000001", 0));
        let mut c = 0;
        (1000..1040)
            .flat_map(|k| g.slot(0, &ctx, ContentType::Exchange, k, &mut c))
            .map(|b| b.available_at - b.content_created)
            .collect::<Vec<_>>()
    };
    let default = lateness(vec![Scenario::parse("late-blobs=1").unwrap()]);
    assert!(default
        .iter()
        .all(|d| *d >= CDuration::hours(1) && *d < CDuration::hours(6)));
    let long = lateness(vec![
        Scenario::parse("late-blobs=1").unwrap(),
        Scenario::parse("late-blobs-max-hours=30").unwrap(),
    ]);
    assert!(long
        .iter()
        .all(|d| *d >= CDuration::hours(1) && *d < CDuration::hours(30)));
    assert!(long.iter().any(|d| *d > CDuration::hours(6)), "{long:?}");
}

#[test]
fn blob_faults_are_tagged() {
    let g = generator(vec![
        Scenario::parse("truncated-blobs=every:2").unwrap(),
        Scenario::parse("duplicate-records=1").unwrap(),
    ]);
    let ctx = Arc::new(TenantCtx::new("00000000-0000-0000-0000-000000000001", 0));
    let mut c = 0;
    let blobs = g.slot(0, &ctx, ContentType::Exchange, 1000, &mut c);
    let truncated = blobs
        .iter()
        .filter(|b| b.fault.as_deref().is_some_and(|f| f.contains("truncated")))
        .count();
    assert_eq!(truncated, blobs.len() / 2);
    for b in &blobs {
        assert!(b.fault.as_deref().unwrap().contains("duplicate-records"));
        let ids = b.record_ids();
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert!(unique.len() < ids.len());
        if !b.fault.as_deref().unwrap().contains("truncated") {
            assert!(serde_json::from_slice::<serde_json::Value>(&b.render(&g)).is_ok());
        } else {
            assert!(serde_json::from_slice::<serde_json::Value>(&b.render(&g)).is_err());
        }
    }
}
