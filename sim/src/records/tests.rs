use super::*;
use chrono::TimeZone;
use rand::SeedableRng;

#[test]
fn records_are_deterministic_and_carry_the_common_fields() {
    let t = TenantCtx::new("00000000-0000-0000-0000-000000000001", 0);
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 4, 41, 7).unwrap();
    for ct in ContentType::ALL {
        for i in 0..50u64 {
            let a = generate(&mut StdRng::seed_from_u64(i), ct, &t, "id-1", at);
            let b = generate(&mut StdRng::seed_from_u64(i), ct, &t, "id-1", at);
            assert_eq!(a, b);
            let v: Value = serde_json::from_str(&a).unwrap();
            assert_eq!(v["Id"], "id-1");
            assert_eq!(v["CreationTime"], "2026-03-01T04:41:07");
            assert_eq!(v["OrganizationId"], t.tenant_id);
            assert!(
                v.get("RecordType").is_some()
                    && v.get("Operation").is_some()
                    && v.get("UserKey").is_some()
            );
        }
    }
}
