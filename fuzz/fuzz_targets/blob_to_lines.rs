//! Fuzz target: arbitrary bytes as a content blob, normalized whole and in chunks whose size
//! the first input byte chooses. Nothing may panic; chunking may not change the result; when
//! serde_json reads the input as an array of objects, normalization must succeed and stripping
//! `_o365` must give back each record.
#![no_main]

use std::io::Read;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use o365_activity::compression::Compression;
use o365_activity::normalize::{
    o365::strip_o365, BlobNormalizer, InputFormat, Limits, NormalizeError, Provenance, O365_MEMBER,
};
use serde_json::Value;

fn run(data: &[u8], chunk: usize) -> Result<String, NormalizeError> {
    let prov = Provenance {
        tenant_id: None,
        content_type: None,
        content_id: Some("fuzz".into()),
        content_created: None,
        fetched_at: Utc.timestamp_opt(1_772_000_000, 0).unwrap(),
    };
    let limits = Limits {
        max_record_bytes: 1 << 20,
    };
    let mut n = BlobNormalizer::new(
        &prov,
        Compression::Gzip { level: 1 },
        InputFormat::JsonArray,
        limits,
    )?;
    let mut out = Vec::new();
    for part in data.chunks(chunk.max(1)) {
        n.push(part)?;
        out.extend_from_slice(&n.take_output());
    }
    let (rest, stats) = n.finish()?;
    out.extend_from_slice(&rest);
    let mut text = String::new();
    flate2::read::GzDecoder::new(&out[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text.lines().count() as u64, stats.records);
    Ok(text)
}

fuzz_target!(|input: &[u8]| {
    let Some((&first, data)) = input.split_first() else {
        return;
    };
    let whole = run(data, data.len());
    let chunked = run(data, usize::from(first % 17) + 1);
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("chunking changed the result"),
    }
    let oracle = serde_json::from_slice::<Vec<Value>>(data).ok().filter(|v| {
        v.iter()
            .all(|r| r.as_object().is_some_and(|o| !o.contains_key(O365_MEMBER)))
    });
    if let Some(records) = oracle {
        let text = whole.expect("serde_json reads this blob, so must normalization");
        for (line, rec) in text.lines().zip(&records) {
            assert_eq!(&strip_o365(line.as_bytes()).unwrap(), rec);
        }
    }
});
