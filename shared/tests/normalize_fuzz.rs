//! A short, stable-toolchain fuzz run of the blob → lines path (the long run is the cargo-fuzz
//! target in `fuzz/`): random mutations of the repository's records, the real ones when present, and generated blobs, each normalized whole and
//! in random chunks. Nothing may panic, chunking may not change the result, and whenever
//! serde_json can read the input as an array of objects, normalization must succeed and give
//! the same records back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;

use chrono::{TimeZone, Utc};
use o365_activity::compression::Compression;
use o365_activity::normalize::{
    normalize_bytes, o365::strip_o365, BlobNormalizer, InputFormat, Limits, NormalizeError,
    Provenance, O365_MEMBER,
};
use o365_activity::testing::records;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

fn prov() -> Provenance {
    Provenance {
        tenant_id: None,
        content_type: None,
        content_id: Some("fuzz".into()),
        content_created: None,
        fetched_at: Utc.with_ymd_and_hms(2026, 3, 1, 5, 0, 0).unwrap(),
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = vec![
        br#"[{"CreationTime":"2026-03-01T04:41:07","Id":"a","RecordType":"6","ClientIP":"[::1]:80","ResultStatus":"True","N":{"x":[1,2.5e3,"\u00e9\/"]}},{}]"#.to_vec(),
        b"[\n  {\n    \"a\": \"b\\\"}\"\n  }\n]".to_vec(),
    ];
    // Six records of each records file: the repository's own, and the real ones when present.
    let mut lines = records::repo_records().unwrap();
    if let Some(real) = records::real_records_or_skip("real-record fuzz seeds").unwrap() {
        lines.extend(real);
    }
    let mut by_file: Vec<(String, Vec<String>)> = Vec::new();
    for line in lines {
        match by_file.last_mut() {
            Some((file, recs)) if *file == line.file => recs.push(line.text),
            _ => by_file.push((line.file, vec![line.text])),
        }
    }
    for (_, recs) in by_file {
        let some: Vec<&str> = recs.iter().take(6).map(String::as_str).collect();
        out.push(format!("[{}]", some.join(",")).into_bytes());
    }
    for (_, pretty) in records::repo_pretty_blobs().unwrap() {
        out.push(pretty.into_bytes());
    }
    out
}

const INTERESTING: &[u8] = b"{}[]\",:\\ \n0-eE.tfnu\xff\xc3\xa9";

fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..rng.random_range(1..4) {
        let len = v.len();
        match rng.random_range(0..6) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                v[i] = rng.random();
            }
            1 => {
                let i = rng.random_range(0..=len);
                v.insert(i, INTERESTING[rng.random_range(0..INTERESTING.len())]);
            }
            2 if len > 0 => {
                let i = rng.random_range(0..len);
                let j = rng.random_range(i..=len.min(i + 16));
                v.drain(i..j);
            }
            3 if len > 0 => {
                let i = rng.random_range(0..len);
                let j = rng.random_range(i..=len.min(i + 32));
                let part = v[i..j].to_vec();
                let at = rng.random_range(0..=v.len());
                v.splice(at..at, part);
            }
            4 if len > 0 => v.truncate(rng.random_range(0..len)),
            _ => {
                let i = rng.random_range(0..=len);
                v.insert(i, INTERESTING[rng.random_range(0..INTERESTING.len())]);
            }
        }
    }
    v
}

fn gunzip(b: &[u8]) -> String {
    let mut s = String::new();
    flate2::read::GzDecoder::new(b)
        .read_to_string(&mut s)
        .unwrap();
    s
}

fn run_chunked(input: &[u8], rng: &mut StdRng) -> Result<String, NormalizeError> {
    let c = Compression::Gzip { level: 1 };
    let mut n = BlobNormalizer::new(&prov(), c, InputFormat::JsonArray, Limits::default())?;
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let k = rng.random_range(1..=rest.len().min(40));
        n.push(&rest[..k])?;
        out.extend_from_slice(&n.take_output());
        rest = &rest[k..];
    }
    let (tail, _) = n.finish()?;
    out.extend_from_slice(&tail);
    Ok(gunzip(&out))
}

#[test]
fn mutated_blobs_never_panic_and_agree_with_serde_json() {
    let mut rng = StdRng::seed_from_u64(0x0365);
    let seeds = seeds();
    let (mut ok, mut err) = (0u32, 0u32);
    for round in 0..4000 {
        let input = mutate(&mut rng, &seeds[round % seeds.len()]);
        let c = Compression::Gzip { level: 1 };
        let whole = normalize_bytes(
            &input,
            &prov(),
            c,
            InputFormat::JsonArray,
            Limits::default(),
        )
        .map(|(out, _)| gunzip(&out));
        let chunked = run_chunked(&input, &mut rng);
        match (&whole, &chunked) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            _ => panic!("chunking changed the result: {whole:?} vs {chunked:?}"),
        }
        let oracle: Option<Vec<Value>> =
            serde_json::from_slice::<Vec<Value>>(&input)
                .ok()
                .filter(|v| {
                    v.iter()
                        .all(|r| r.as_object().is_some_and(|o| !o.contains_key(O365_MEMBER)))
                });
        match (&whole, oracle) {
            (Ok(text), Some(records)) => {
                let lines: Vec<&str> = text.lines().collect();
                assert_eq!(lines.len(), records.len());
                for (line, rec) in lines.iter().zip(&records) {
                    assert_eq!(&strip_o365(line.as_bytes()).unwrap(), rec);
                }
                ok += 1;
            }
            (Err(e), Some(_)) => panic!(
                "serde_json reads {:?} but normalization failed: {e}",
                String::from_utf8_lossy(&input)
            ),
            (Ok(_), None) => ok += 1,
            (Err(e), None) => {
                assert!(!e.to_string().is_empty());
                err += 1;
            }
        }
    }
    println!("{ok} inputs normalized, {err} rejected");
    assert!(
        ok > 100 && err > 100,
        "mutations should produce both ({ok} ok, {err} errors)"
    );
}
