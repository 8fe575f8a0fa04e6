//! Property tests of normalization: for any records, in any spelling of JSON whitespace and
//! escapes, cut into chunks anywhere, every output line parses, is the source text byte for
//! byte up to its closing brace except that each raw CR or LF (JSON whitespace between
//! tokens) is one space, and removing `_o365` gives back the source record; and every client
//! address spelling in every member gives the expected `client_ip` / `client_port`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{TimeZone, Utc};
use o365_activity::compression::Compression;
use o365_activity::normalize::{
    normalize_bytes, o365::read_line, BlobNormalizer, InputFormat, Limits, Provenance, O365_MEMBER,
};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// How one record is spelled: whitespace between tokens and string escapes.
#[derive(Debug, Clone)]
struct Style {
    ws: Vec<&'static str>,
    escape_non_ascii: bool,
    escape_slash: bool,
    pos: usize,
}

impl Style {
    fn ws(&mut self, out: &mut String) {
        if !self.ws.is_empty() {
            out.push_str(self.ws[self.pos % self.ws.len()]);
            self.pos += 1;
        }
    }
}

fn emit_str(s: &str, st: &Style, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if st.escape_slash => out.push_str("\\/"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if !c.is_ascii() && st.escape_non_ascii => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn emit(v: &Value, st: &mut Style, out: &mut String) {
    match v {
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    st.ws(out);
                    out.push(',');
                }
                st.ws(out);
                emit(x, st, out);
            }
            st.ws(out);
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, x)) in m.iter().enumerate() {
                if i > 0 {
                    st.ws(out);
                    out.push(',');
                }
                st.ws(out);
                emit_str(k, st, out);
                st.ws(out);
                out.push(':');
                st.ws(out);
                emit(x, st, out);
            }
            st.ws(out);
            out.push('}');
        }
        Value::String(s) => emit_str(s, st, out),
        other => out.push_str(&other.to_string()),
    }
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[a-z/\\\\\"{}\\[\\],:]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn arb_known_member() -> impl Strategy<Value = (String, Value)> {
    let ct = prop_oneof![
        Just(Value::from("2026-03-01T04:41:07")),
        Just(Value::from("2026-03-01T04:41:07.123Z")),
        Just(Value::from("2026-03-01T05:41:07+01:00")),
        Just(Value::from("not a time")),
        any::<i64>().prop_map(Value::from),
    ]
    .prop_map(|v| ("CreationTime".to_owned(), v));
    let num = prop_oneof![
        (-5i64..300).prop_map(Value::from),
        (-5i64..300).prop_map(|n| Value::from(n.to_string())),
        Just(Value::from(1.5)),
        Just(Value::Null),
    ];
    let rt = num.clone().prop_map(|v| ("RecordType".to_owned(), v));
    let ut = num.prop_map(|v| ("UserType".to_owned(), v));
    let ip = prop_oneof![
        Just("1.2.3.4"),
        Just("1.2.3.4:443"),
        Just("[2001:db8::1]:443"),
        Just("2001:db8::1"),
        Just("::ffff:1.2.3.4"),
        Just("::1"),
        Just(""),
        Just("host.example"),
    ]
    .prop_map(|s| ("ClientIP".to_owned(), Value::from(s)));
    let rs = prop_oneof![
        Just("Succeeded"),
        Just("PartiallySucceeded"),
        Just("Failed"),
        Just("True"),
        Just("FALSE"),
        Just("InProgress"),
    ]
    .prop_map(|s| ("ResultStatus".to_owned(), Value::from(s)));
    prop_oneof![ct, rt, ut, ip, rs]
}

fn arb_record() -> impl Strategy<Value = Value> {
    (
        prop::collection::vec((any::<String>(), arb_value()), 0..8),
        prop::collection::vec(arb_known_member(), 0..6),
        any::<u64>(),
    )
        .prop_map(|(mut members, known, seed)| {
            for (i, kv) in known.into_iter().enumerate() {
                let at = (seed as usize).wrapping_add(i * 7) % (members.len() + 1);
                members.insert(at, kv);
            }
            let map: Map<String, Value> = members
                .into_iter()
                .filter(|(k, _)| k != O365_MEMBER)
                .collect();
            Value::Object(map)
        })
}

fn arb_style() -> impl Strategy<Value = Style> {
    (
        prop::collection::vec(
            prop_oneof![Just(""), Just(" "), Just("\n"), Just("\r\n  "), Just("\t")],
            0..5,
        ),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(ws, escape_non_ascii, escape_slash)| Style {
            ws,
            escape_non_ascii,
            escape_slash,
            pos: 0,
        })
}

fn prov() -> Provenance {
    Provenance {
        tenant_id: Some("00000000-0000-0000-0000-000000000001".parse().unwrap()),
        content_type: Some(o365_activity::ContentType::Exchange),
        content_id: Some("a$b$audit_exchange$Audit_Exchange$na0001".into()),
        content_created: Some(Utc.with_ymd_and_hms(2026, 3, 1, 4, 0, 0).unwrap()),
        fetched_at: Utc.with_ymd_and_hms(2026, 3, 1, 5, 0, 0).unwrap(),
    }
}

fn gunzip(bytes: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut s)
        .unwrap();
    s
}

/// Checks every output line against its source record text (the reference value is the text
/// parsed, as a consumer would read the source; generated floats may not survive text exactly).
fn check_lines(out: &str, texts: &[String]) {
    let lines: Vec<&str> = out.split_terminator('\n').collect();
    assert_eq!(lines.len(), texts.len());
    for (line, text) in lines.iter().zip(texts) {
        let rec: Value = serde_json::from_str(text).unwrap();
        let rec = &rec;
        let flat: String = text
            .chars()
            .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
            .collect();
        let cut = flat.len() - 1;
        assert_eq!(
            &line[..cut],
            &flat[..cut],
            "source text not kept byte for byte"
        );
        // The only bytes that differ are raw line breaks, each now exactly one space.
        let changed = line.as_bytes()[..cut]
            .iter()
            .zip(&text.as_bytes()[..cut])
            .filter(|(a, b)| a != b)
            .count();
        let breaks = text.bytes().filter(|b| *b == b'\n' || *b == b'\r').count();
        assert_eq!(changed, breaks);
        assert!(!line.contains('\r'));
        let parsed = read_line(line.as_bytes()).unwrap();
        assert!(
            line.ends_with(&format!("{}}}", parsed.o365_raw)),
            "_o365 is not the last member"
        );
        assert!(parsed.o365().unwrap().collector_version.is_some());
        let v = Value::Object(parsed.record);
        assert_eq!(&v, rec, "values differ");
        let got: Vec<&String> = v.as_object().unwrap().keys().collect();
        let want: Vec<&String> = rec.as_object().unwrap().keys().collect();
        assert_eq!(got, want, "member order differs");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn stripping_o365_gives_the_input_back(
        records in prop::collection::vec(arb_record(), 0..8),
        styles in prop::collection::vec(arb_style(), 1..4),
        outer in arb_style(),
        chunk in 1usize..64,
    ) {
        let mut texts = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let mut st = styles[i % styles.len()].clone();
            let mut s = String::new();
            emit(r, &mut st, &mut s);
            texts.push(s);
        }
        let mut st = outer;
        let mut blob = String::new();
        st.ws(&mut blob);
        blob.push('[');
        for (i, t) in texts.iter().enumerate() {
            if i > 0 {
                st.ws(&mut blob);
                blob.push(',');
            }
            st.ws(&mut blob);
            blob.push_str(t);
        }
        st.ws(&mut blob);
        blob.push(']');
        st.ws(&mut blob);

        let c = Compression::Gzip { level: 1 };
        let mut n = BlobNormalizer::new(&prov(), c, InputFormat::JsonArray, Limits::default()).unwrap();
        let mut out = Vec::new();
        for part in blob.as_bytes().chunks(chunk) {
            n.push(part).unwrap();
            out.extend_from_slice(&n.take_output());
        }
        let (rest, stats) = n.finish().unwrap();
        out.extend_from_slice(&rest);
        prop_assert_eq!(stats.records as usize, records.len());
        check_lines(&gunzip(&out), &texts);

        // The same records as NDJSON (one compact-or-not record per line is not required:
        // objects separated by any whitespace).
        let nd = texts.join("\n");
        let (out, _) = normalize_bytes(nd.as_bytes(), &prov(), c, InputFormat::Ndjson, Limits::default()).unwrap();
        check_lines(&gunzip(&out), &texts);
    }
}

/// A client address as one spelling of the feeds, with the `client_ip` / `client_port` it
/// must give (`None` for placeholders).
fn arb_address() -> impl Strategy<Value = (String, Option<(String, Option<u16>)>)> {
    let v4 = any::<[u8; 4]>().prop_map(Ipv4Addr::from);
    let v6 = any::<[u16; 8]>()
        .prop_map(|s| Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]));
    let port = 1u16..=u16::MAX;
    let v6_expected = |a: Ipv6Addr| match a.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => a.to_string(),
    };
    prop_oneof![
        v4.clone()
            .prop_map(|a| (a.to_string(), Some((a.to_string(), None)))),
        (v4.clone(), port.clone())
            .prop_map(|(a, p)| (format!("{a}:{p}"), Some((a.to_string(), Some(p))))),
        (v4.clone(), port.clone())
            .prop_map(|(a, p)| (format!("[{a}]:{p}"), Some((a.to_string(), Some(p))))),
        v4.clone()
            .prop_map(|a| (format!("[{a}]"), Some((a.to_string(), None)))),
        v6.clone()
            .prop_map(move |a| (a.to_string(), Some((v6_expected(a), None)))),
        (v6.clone(), port.clone())
            .prop_map(move |(a, p)| (format!("[{a}]:{p}"), Some((v6_expected(a), Some(p))))),
        v6.prop_map(move |a| (format!("[{a}]"), Some((v6_expected(a), None)))),
        v4.clone()
            .prop_map(|a| (format!("::ffff:{a}"), Some((a.to_string(), None)))),
        (v4, port).prop_map(|(a, p)| (format!("[::FFFF:{a}]:{p}"), Some((a.to_string(), Some(p))))),
        prop_oneof![Just(""), Just("<null>"), Just("  "), Just("<NULL>")]
            .prop_map(|s| (s.to_owned(), None)),
    ]
}

/// Every member that can carry the client address, spelled into a record.
fn address_member(which: usize, text: &str) -> (String, Value) {
    match which {
        0 => ("ClientIP".into(), Value::from(text)),
        1 => ("ClientIp".into(), Value::from(text)),
        2 => ("ClientIPAddress".into(), Value::from(text)),
        3 => ("ActorIpAddress".into(), Value::from(text)),
        _ => (
            "ExtendedProperties".into(),
            serde_json::json!([
                {"Name": "UserAgent", "Value": "Mozilla/5.0"},
                {"Name": "ClientIP", "Value": text},
                {"Name": "RequestType", "Value": "OAuth2:Token"}
            ]),
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn every_address_spelling_in_every_member_gives_ip_and_port(
        (text, want) in arb_address(),
        which in 0usize..5,
        others in prop::collection::vec(("[A-Z][a-z]{0,8}", arb_value()), 0..5),
        at in any::<usize>(),
        mut style in arb_style(),
    ) {
        let mut members: Vec<(String, Value)> = others
            .into_iter()
            .filter(|(k, _)| !matches!(k.as_str(), "ClientIp" | "ExtendedProperties"))
            .collect();
        members.insert(at % (members.len() + 1), address_member(which, &text));
        let record = Value::Object(members.into_iter().collect());
        let mut rec = String::new();
        emit(&record, &mut style, &mut rec);
        let blob = format!("[{rec}]");
        let c = Compression::Gzip { level: 1 };
        let (out, _) = normalize_bytes(blob.as_bytes(), &prov(), c, InputFormat::JsonArray, Limits::default()).unwrap();
        let line: Value = serde_json::from_str(gunzip(&out).trim_end()).unwrap();
        let o = &line[O365_MEMBER];
        let got = o.get("client_ip").map(|ip| {
            (ip.as_str().unwrap().to_owned(), o.get("client_port").map(|p| p.as_u64().unwrap() as u16))
        });
        prop_assert_eq!(&got, &want, "{}", rec);
        if let Some((ip, _)) = &got {
            prop_assert!(ip.parse::<IpAddr>().is_ok());
        }
    }
}
