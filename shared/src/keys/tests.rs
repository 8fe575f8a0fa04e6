use super::*;
use chrono::TimeZone;

fn msg() -> QueueMessage {
    QueueMessage {
        format_version: 1,
        tenant_id: "00000000-0000-0000-0000-000000000001".parse().unwrap(),
        content_type: ContentType::Exchange,
        content_id:
            "20260301101500120000001$20260301103318440000002$audit_exchange$Audit_Exchange$na0001"
                .into(),
        content_uri: "https://manage.office.com/api/v1.0/x/activity/feed/audit/y".into(),
        content_created: Utc.with_ymd_and_hms(2026, 3, 1, 7, 33, 18).unwrap(),
        content_expiration: Utc.with_ymd_and_hms(2026, 3, 8, 7, 33, 18).unwrap(),
    }
}

#[test]
fn data_key_is_the_contract() {
    let k = KeyLayout::new("/o365/").data_key(&msg(), Compression::default());
    assert_eq!(
        k,
        "o365/tenant_id=00000000-0000-0000-0000-000000000001/content_type=Audit.Exchange/dt=2026-03-01/hour=07/20260301101500120000001$20260301103318440000002$audit_exchange$Audit_Exchange$na0001.json.gz"
    );
    let root = KeyLayout::new("").data_key(&msg(), Compression::Zstd { level: 1 });
    assert!(root.starts_with("tenant_id=") && root.ends_with(".json.zst"));
}

#[test]
fn state_gap_and_error_keys() {
    let l = KeyLayout::new("p");
    let m = msg();
    assert_eq!(
        l.checkpoint_key(&m.tenant_id, m.content_type),
        "p/_state/tenant_id=00000000-0000-0000-0000-000000000001/content_type=Audit.Exchange/checkpoint.json"
    );
    let g = l.gap_key(
        &m.tenant_id,
        m.content_type,
        m.content_created,
        m.content_expiration,
    );
    assert_eq!(g, "p/_gaps/tenant_id=00000000-0000-0000-0000-000000000001/content_type=Audit.Exchange/20260301T073318Z_20260308T073318Z.json");
    assert!(l.error_key(&m).starts_with("p/_errors/tenant_id="));
    assert!(l
        .error_key(&m)
        .starts_with(&l.errors_pair_prefix(&m.tenant_id, m.content_type)));
    assert_eq!(
        l.rejected_message_key(m.content_created, "ab/../c d"),
        "p/_errors/rejected/dt=2026-03-01/ab____c_d.json"
    );
    assert_eq!(
        l.claim_key(&m),
        format!("p/_ids/tenant_id=00000000-0000-0000-0000-000000000001/content_type=Audit.Exchange/{}.json", m.content_id)
    );
}

#[test]
fn every_key_parses_back() {
    let m = msg();
    let data = DataKey::for_message(&m, Compression::default());
    for prefix in ["", "p", "a/b"] {
        let l = KeyLayout::new(prefix);
        let keys = [
            l.data_key(&m, Compression::default()),
            l.data_key(&m, Compression::Zstd { level: 3 }),
            l.checkpoint_key(&m.tenant_id, m.content_type),
            l.gap_key(
                &m.tenant_id,
                m.content_type,
                m.content_created,
                m.content_expiration,
            ),
            l.error_key(&m),
            l.rejected_message_key(m.content_created, "abc-1"),
            l.listing_error_key(&m.tenant_id, m.content_type, m.content_created, "{\"x\":1}"),
            l.quarantine_key(&data),
            l.claim_key(&m),
            l.manifest_key(&l.data_key(&m, Compression::default()))
                .unwrap(),
            l.tenant_health_key(&m.tenant_id),
            l.audit_key(&m.tenant_id, m.content_created),
        ];
        for k in keys {
            let parsed = l.parse(&k).unwrap_or_else(|| panic!("{k} does not parse"));
            assert_eq!(l.key(&parsed), k);
            if !matches!(
                parsed,
                ObjectKey::Rejected(_) | ObjectKey::TenantHealth(_) | ObjectKey::Audit(_)
            ) {
                assert_eq!(parsed.pair().unwrap().tenant_id, m.tenant_id);
            }
        }
    }
    let l = KeyLayout::new("p");
    match l.parse(&l.data_key(&m, Compression::default())) {
        Some(ObjectKey::Data(d)) => {
            assert_eq!(d, data);
            assert_eq!(d.partition(), "2026-03-01/07");
            assert_eq!(d.content_id, m.content_id);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn listing_error_key_is_the_contract() {
    let l = KeyLayout::new("p");
    let m = msg();
    let k = l.listing_error_key(&m.tenant_id, m.content_type, m.content_created, "{}");
    let digest = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    assert_eq!(
        k,
        format!(
            "p/_errors/listing/tenant_id={}/content_type={}/dt=2026-03-01/{digest}.json",
            m.tenant_id, m.content_type
        )
    );
    match l.parse(&k) {
        Some(ObjectKey::ListingError(e)) => {
            assert_eq!(e.digest, digest);
            assert_eq!(e.date.to_string(), "2026-03-01");
        }
        other => panic!("{other:?}"),
    }
    // Not a digest: not ours.
    let short = k.replace(digest, "abc");
    assert_eq!(l.parse(&short), None);
}

#[test]
fn audit_key_is_the_contract() {
    let l = KeyLayout::new("p");
    let t = msg().tenant_id;
    let k = l.audit_key(&t, Utc.with_ymd_and_hms(2026, 3, 1, 7, 59, 59).unwrap());
    assert_eq!(
        k,
        "p/_audit/tenant_id=00000000-0000-0000-0000-000000000001/dt=2026-03-01/hour=07.json"
    );
    assert!(k.starts_with(&l.audit_prefix(&t)));
    match l.parse(&k) {
        Some(ObjectKey::Audit(a)) => {
            assert_eq!(
                a.start(),
                Some(Utc.with_ymd_and_hms(2026, 3, 1, 7, 0, 0).unwrap())
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(l
        .parse("p/_audit/tenant_id=00000000-0000-0000-0000-000000000001/dt=2026-03-01/hour=24.json")
        .is_none());
    assert!(l
        .parse("p/_audit/tenant_id=00000000-0000-0000-0000-000000000001/dt=2026-03-01/hour=7.json")
        .is_none());
}

#[test]
fn manifest_key_mirrors_the_data_key() {
    let l = KeyLayout::new("p");
    let data = l.data_key(&msg(), Compression::default());
    let m = l.manifest_key(&data).unwrap();
    assert_eq!(
        m,
        "p/_manifest/tenant_id=00000000-0000-0000-0000-000000000001/content_type=Audit.Exchange/dt=2026-03-01/hour=07/20260301101500120000001$20260301103318440000002$audit_exchange$Audit_Exchange$na0001.json"
    );
    let zst = l.data_key(&msg(), Compression::Zstd { level: 3 });
    assert_eq!(l.manifest_key(&zst).unwrap(), m);
    let root = KeyLayout::new("");
    let at_root = root.data_key(&msg(), Compression::default());
    assert!(root
        .manifest_key(&at_root)
        .unwrap()
        .starts_with("_manifest/tenant_id="));
    assert_eq!(l.manifest_key(&l.claim_key(&msg())), None);
    assert_eq!(l.manifest_key("q/tenant_id=x/a.json.gz"), None);
    let hour = Some(Utc.with_ymd_and_hms(2026, 3, 1, 7, 0, 0).unwrap());
    assert_eq!(l.parse(&m).and_then(|k| k.partition_hour()), hour);
    assert_eq!(l.parse(&data).and_then(|k| k.partition_hour()), hour);
    let checkpoint = l.checkpoint_key(&msg().tenant_id, ContentType::Exchange);
    assert_eq!(l.parse(&checkpoint).unwrap().partition_hour(), None);
}

#[test]
fn foreign_keys_are_not_parsed() {
    let l = KeyLayout::new("p");
    let t = "tenant_id=00000000-0000-0000-0000-000000000001";
    for k in [
        "q/_state/x".to_owned(),
        format!("p/{t}/content_type=Audit.Exchange/dt=2026-03-01/hour=7/a.json.gz"),
        format!("p/{t}/content_type=Audit.Exchange/dt=2026-03-01/hour=24/a.json.gz"),
        format!("p/{t}/content_type=Audit.Exchange/dt=2026-13-01/hour=07/a.json.gz"),
        format!("p/{t}/content_type=Audit.Exchange/dt=2026-03-01/hour=07/a.txt"),
        format!("p/{t}/content_type=audit.exchange/dt=2026-03-01/hour=07/a.json.gz"),
        format!("p/{t}/content_type=Audit.Exchange/dt=2026-03-01/a.json.gz"),
        format!("p/{t}/content_type=Audit.Exchange/dt=2026-03-01/hour=07/.json.gz"),
        "p/tenant_id=x/content_type=Audit.Exchange/dt=2026-03-01/hour=07/a.json.gz".to_owned(),
        format!("p/_state/{t}/content_type=Audit.Exchange/lease.json"),
        format!("p/_gaps/{t}/content_type=Audit.Exchange/2026.json"),
        format!("p/_ids/{t}/content_type=Audit.Exchange/a.txt"),
        "p/_manifest/whatever".to_owned(),
    ] {
        assert_eq!(l.parse(&k), None, "{k}");
    }
}
