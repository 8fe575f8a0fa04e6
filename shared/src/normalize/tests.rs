use std::io::Read;

use chrono::TimeZone;
use serde_json::{json, Map, Value};

use super::line::push_int;
use super::*;
use crate::record_type::RECORD_TYPES;
use crate::user_type::USER_TYPES;

fn prov() -> Provenance {
    Provenance {
        tenant_id: Some("00000000-0000-0000-0000-000000000001".parse().unwrap()),
        content_type: Some(ContentType::SharePoint),
        content_id: Some("20260301$20260301$audit_sharepoint$Audit_SharePoint$na0001".into()),
        content_created: Some(Utc.with_ymd_and_hms(2026, 3, 1, 4, 50, 0).unwrap()),
        fetched_at: Utc.with_ymd_and_hms(2026, 3, 1, 5, 0, 0).unwrap(),
    }
}

fn decode(c: Compression, bytes: &[u8]) -> String {
    let mut s = String::new();
    match c {
        Compression::Gzip { .. } => {
            flate2::read::MultiGzDecoder::new(bytes)
                .read_to_string(&mut s)
                .unwrap();
        }
        Compression::Zstd { .. } => {
            s = String::from_utf8(zstd::stream::decode_all(bytes).unwrap()).unwrap();
        }
    }
    s
}

fn run(input: &[u8]) -> Result<(Vec<String>, NormalizeStats), NormalizeError> {
    let c = Compression::Gzip { level: 1 };
    let (out, stats) =
        normalize_bytes(input, &prov(), c, InputFormat::JsonArray, Limits::default())?;
    Ok((decode(c, &out).lines().map(str::to_owned).collect(), stats))
}

fn o365(line: &str) -> Map<String, Value> {
    let v: Value = serde_json::from_str(line).unwrap();
    v[O365_MEMBER].as_object().unwrap().clone()
}

#[test]
fn splices_provenance_and_normalized_values_in_a_fixed_order() {
    let (lines, stats) = run(br#"[{"CreationTime":"2026-03-01T04:41:07","Id":"x","RecordType":6,"UserType":0,"ClientIP":"203.0.113.24:8443","ResultStatus":"Succeeded","ObjectId":"https:\/\/a\/b"}]"#).unwrap();
    assert_eq!(stats.records, 1);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with(r#"{"CreationTime":"2026-03-01T04:41:07","Id":"x","RecordType":6,"UserType":0,"ClientIP":"203.0.113.24:8443","ResultStatus":"Succeeded","ObjectId":"https:\/\/a\/b","_o365":{"#));
    let o = o365(&lines[0]);
    let keys: Vec<&str> = o.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "tenant_id",
            "content_type",
            "content_id",
            "content_created",
            "fetched_at",
            "collector_version",
            "event_time",
            "record_type",
            "record_type_id",
            "user_type",
            "user_type_id",
            "client_ip",
            "client_port",
            "outcome"
        ]
    );
    assert_eq!(
        Value::Object(o),
        json!({
            "tenant_id": "00000000-0000-0000-0000-000000000001",
            "content_type": "Audit.SharePoint",
            "content_id": "20260301$20260301$audit_sharepoint$Audit_SharePoint$na0001",
            "content_created": "2026-03-01T04:50:00.000Z",
            "fetched_at": "2026-03-01T05:00:00.000Z",
            "collector_version": crate::COLLECTOR_VERSION,
            "event_time": "2026-03-01T04:41:07Z",
            "record_type": "SharePointFileOperation",
            "record_type_id": 6,
            "user_type": "Regular",
            "user_type_id": 0,
            "client_ip": "203.0.113.24",
            "client_port": 8443,
            "outcome": "success"
        })
    );
    assert_eq!(
        stats.earliest_event().unwrap(),
        Utc.with_ymd_and_hms(2026, 3, 1, 4, 41, 7).unwrap()
    );
}

#[test]
fn leaves_out_what_cannot_be_normalized() {
    let (lines, _) = run(br#"[{"CreationTime":"soon","RecordType":"x","UserType":12,"ClientIP":"proxy.example.com","Extra":1},
        {"CreationTime":7,"RecordType":[6],"UserType":null,"ClientIP":null,"ResultStatus":null},
        {"RecordType":"25","UserType":"2","ResultStatus":"InProgress","ClientIP":""},
        {"RecordType":99999,"ResultStatus":true,"ClientIp":"::ffff:10.0.0.1"}]"#)
    .unwrap();
    let prov_keys = 6;
    let o: Vec<Map<String, Value>> = lines.iter().map(|l| o365(l)).collect();
    assert_eq!(o[0].len(), prov_keys + 1, "{:?}", o[0]);
    assert_eq!(o[0]["user_type_id"], 12);
    assert_eq!(o[1].len(), prov_keys, "{:?}", o[1]);
    assert_eq!(o[2]["record_type"], "MicrosoftTeams");
    assert_eq!(o[2]["record_type_id"], 25);
    assert_eq!(o[2]["user_type"], "Admin");
    assert_eq!(o[2]["outcome"], "unknown");
    assert!(!o[2].contains_key("client_ip"));
    assert!(!o[3].contains_key("record_type"));
    assert_eq!(o[3]["record_type_id"], 99999);
    assert_eq!(o[3]["outcome"], "success");
    assert_eq!(o[3]["client_ip"], "10.0.0.1");
    assert!(!o[3].contains_key("client_port"));
}

#[test]
fn empty_objects_pretty_printing_and_empty_arrays() {
    let (lines, _) =
        run(b"[\r\n  {},\n  { },\n  {\n    \"a\": [\n      1\n    ]\n  }\n]\n").unwrap();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("{\"_o365\":{\"tenant_id\""));
    assert!(lines[1].starts_with("{ \"_o365\":{"));
    assert!(lines[2].starts_with("{     \"a\": [       1     ]   ,\"_o365\":{"));
    for l in &lines {
        let _: Value = serde_json::from_str(l).unwrap();
    }
    let (none, stats) = run(b" [ ] ").unwrap();
    assert!(none.is_empty());
    assert_eq!(stats.records, 0);
    assert_eq!(stats.bytes_in, 5);
}

#[test]
fn bad_blobs_are_clear_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"{\"a\":1}", "'[' expected at byte 0"),
        (b"[1]", "record 1 (at byte 1) is not a JSON object"),
        (b"[{},[]]", "record 2 (at byte 4) is not a JSON object"),
        (b"[{\"a\":1}", "truncated after 1 complete records"),
        (b"[{\"a\":1},{\"b\":", "truncated after 1 complete records"),
        (
            b"[{\"a\":1}]x",
            "nothing but whitespace after the closing ']' expected at byte 9",
        ),
        (b"[{\"a\":01}]", "record 1 is not valid JSON"),
        (b"[{\"a\":\"\xff\"}]", "record 1 is not valid UTF-8"),
        (
            b"[{\"_o365\":{}}]",
            "already has a top-level \"_o365\" member",
        ),
        (b"", "the input is empty"),
    ];
    for (input, want) in cases {
        let e = run(input).unwrap_err();
        assert!(
            e.to_string().contains(want),
            "{e} for {:?}",
            String::from_utf8_lossy(input)
        );
        assert!(e.is_bad_input());
    }
    // A nested `_o365` is just data.
    assert_eq!(run(br#"[{"x":{"_o365":1}}]"#).unwrap().0.len(), 1);
}

#[test]
fn record_size_limit_is_configurable() {
    let input = br#"[{"a":"0123456789"}]"#;
    let small = Limits {
        max_record_bytes: 10,
    };
    let e = normalize_bytes(
        input,
        &prov(),
        Compression::default(),
        InputFormat::JsonArray,
        small,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        NormalizeError::Structure(SplitError::RecordTooLarge {
            record: 1,
            limit: 10
        })
    ));
}

#[test]
fn errors_poison_the_normalizer() {
    let mut n = BlobNormalizer::new(
        &prov(),
        Compression::default(),
        InputFormat::JsonArray,
        Limits::default(),
    )
    .unwrap();
    assert!(n.push(b"[1").is_err());
    assert!(matches!(n.push(b"]"), Err(NormalizeError::AfterError)));
    assert!(matches!(n.finish(), Err(NormalizeError::AfterError)));
}

#[test]
fn ndjson_input_and_unknown_provenance() {
    let p = Provenance {
        tenant_id: None,
        content_type: None,
        content_id: None,
        content_created: None,
        fetched_at: Utc.with_ymd_and_hms(2026, 3, 1, 5, 0, 0).unwrap(),
    };
    let c = Compression::Zstd { level: 1 };
    let (out, stats) = normalize_bytes(
        b"{\"Id\":\"a\"}\r\n\r\n{\"Id\":\"b\",\"UserType\":4}\n",
        &p,
        c,
        InputFormat::Auto,
        Limits::default(),
    )
    .unwrap();
    assert_eq!(stats.records, 2);
    let text = decode(c, &out);
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            r#"{{"Id":"a","_o365":{{"fetched_at":"2026-03-01T05:00:00.000Z","collector_version":"{}"}}}}"#,
            crate::COLLECTOR_VERSION
        )
    );
}

#[test]
fn output_is_identical_whatever_the_chunking_and_drained_midway() {
    let input =
        br#"[{"a":"x\"}","b":[{"c":"\u00e9\\"}]},{"CreationTime":"2026-03-01T04:41:07"},{}]"#;
    let c = Compression::Zstd { level: 3 };
    let (whole, _) =
        normalize_bytes(input, &prov(), c, InputFormat::JsonArray, Limits::default()).unwrap();
    let expect = decode(c, &whole);
    for size in 1..input.len() {
        let mut n =
            BlobNormalizer::new(&prov(), c, InputFormat::JsonArray, Limits::default()).unwrap();
        let mut out = Vec::new();
        for part in input.chunks(size) {
            n.push(part).unwrap();
            out.extend_from_slice(&n.take_output());
        }
        let (rest, stats) = n.finish().unwrap();
        out.extend_from_slice(&rest);
        assert_eq!(stats.bytes_out, out.len() as u64);
        assert_eq!(decode(c, &out), expect, "chunk size {size}");
    }
}

#[test]
fn table_names_need_no_json_escaping() {
    for name in RECORD_TYPES.iter().map(|(_, n)| *n).chain(USER_TYPES) {
        assert_eq!(Value::from(name).to_string(), format!("\"{name}\""));
    }
}

#[test]
fn real_fixture_records_round_trip_byte_exact() {
    let dir =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/real");
    if !dir.is_dir() {
        println!(
            "skipping: {} not found (the fixtures live next to the repo)",
            dir.display()
        );
        return;
    }
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ndjson") {
            continue;
        }
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let records: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let blob = format!("[{}]", records.join(","));
        for c in [
            Compression::Gzip { level: 6 },
            Compression::Zstd { level: 1 },
        ] {
            let (out, stats) = normalize_bytes(
                blob.as_bytes(),
                &prov(),
                c,
                InputFormat::JsonArray,
                Limits::default(),
            )
            .unwrap();
            assert_eq!(stats.records as usize, records.len());
            let lines: Vec<String> = decode(c, &out).lines().map(str::to_owned).collect();
            assert_eq!(lines.len(), records.len());
            for (line, rec) in lines.iter().zip(&records) {
                // Byte-exact: the source text up to its closing brace, then `,"_o365":{...}}`.
                let cut = rec.len() - 1;
                assert_eq!(&line[..cut], &rec[..cut], "{}", path.display());
                assert!(line[cut..].starts_with(",\"_o365\":{"));
                let mut v: Value = serde_json::from_str(line).unwrap();
                let o = v
                    .as_object_mut()
                    .unwrap()
                    .shift_remove(O365_MEMBER)
                    .unwrap();
                let orig: Value = serde_json::from_str(rec).unwrap();
                assert_eq!(v, orig);
                assert!(o.get("event_time").is_some(), "{line}");
                assert!(o.get("record_type_id").is_some(), "{line}");
            }
        }
    }
    assert!(files > 0);
}

#[test]
fn memory_stays_bounded_for_a_large_blob() {
    let record = format!(
        r#"{{"CreationTime":"2026-03-01T04:41:07","Id":"x","Payload":"{}"}}"#,
        "a".repeat(900)
    );
    let chunk: String = std::iter::repeat_n(format!("{record},"), 64).collect();
    let c = Compression::Zstd { level: 1 };
    let mut n = BlobNormalizer::new(&prov(), c, InputFormat::JsonArray, Limits::default()).unwrap();
    n.push(b"[").unwrap();
    let mut peak = 0;
    let mut pushed = 0usize;
    // 56 MiB of records pushed in chunks that cut records anywhere.
    while pushed < 56 << 20 {
        for part in chunk.as_bytes().chunks(7001) {
            n.push(part).unwrap();
            drop(n.take_output());
            peak = peak.max(n.buffered_bytes());
        }
        pushed += chunk.len();
    }
    n.push(format!("{record}]").as_bytes()).unwrap();
    let (_, stats) = n.finish().unwrap();
    assert_eq!(stats.records as usize, pushed / (record.len() + 1) + 1);
    assert!(peak < 1 << 20, "held {peak} bytes between pushes");
}

#[test]
fn integers_and_addresses_are_written_like_serde_would() {
    for n in [0i64, 7, -1, 10, 99999, i64::MIN, i64::MAX] {
        let mut out = Vec::new();
        push_int(&mut out, n);
        assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
    }
    let (lines, _) =
        run(br#"[{"ClientIP":"10.200.0.255:65535"},{"ClientIP":"2001:DB8:0:0::1"}]"#).unwrap();
    assert_eq!(o365(&lines[0])["client_ip"], "10.200.0.255");
    assert_eq!(o365(&lines[0])["client_port"], 65535);
    assert_eq!(o365(&lines[1])["client_ip"], "2001:db8::1");
}
