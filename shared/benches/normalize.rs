//! Throughput of the normalize path on a generated ~10 MB blob, against a reference that does
//! the least any normalizer must do: split the array into raw records (serde_json `RawValue`),
//! read `CreationTime` and `Id`, splice a fixed object in as text, and compress.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput};
use o365_activity::compression::Compression;
use o365_activity::normalize::encode::Encoder;
use o365_activity::normalize::fields::read_fields;
use o365_activity::normalize::split::Splitter;
use o365_activity::normalize::{normalize_bytes, InputFormat, Limits, Provenance, SplitError};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A blob of realistic records (SharePoint, Exchange, Entra shapes) of about `target` bytes.
fn blob(target: usize) -> Vec<u8> {
    let ips = [
        "203.0.113.24",
        "2001:db8::24",
        "198.51.100.7:443",
        "[2001:db8::9]:8443",
        "",
    ];
    let status = ["Succeeded", "True", "Failed", "PartiallySucceeded"];
    let mut out = String::from("[");
    let mut i = 0u64;
    while out.len() < target {
        if i > 0 {
            out.push(',');
        }
        let k = (i % 4) as usize;
        let op = [
            "FileModified",
            "UserLoggedIn",
            "Set-Mailbox",
            "MailItemsAccessed",
        ][k];
        let rt = [6, 15, 1, 2][k];
        let ip = ips[(i % 5) as usize];
        let st = status[k];
        let rec = serde_json::json!({
            "CreationTime": format!("2026-03-01T{:02}:{:02}:{:02}", (i / 3600) % 24, (i / 60) % 60, i % 60),
            "Id": format!("{:08x}-4a5b-4c6d-8e7f-{:012x}", i, i * 7919),
            "Operation": op,
            "OrganizationId": "b86ab9d4-fcf1-4b11-8a06-7a8f91b47fbd",
            "RecordType": rt,
            "UserKey": format!("i:0h.f|membership|1003200{i:09}@live.com"),
            "UserType": i % 3,
            "Version": 1,
            "Workload": "SharePoint",
            "ClientIP": ip,
            "ResultStatus": st,
            "ObjectId": format!("https:\\/\\/contoso-my.sharepoint.com\\/personal\\/user{i}\\/Documents\\/plan{i}.xlsx"),
            "UserId": format!("user{}@contoso.onmicrosoft.com", i % 97),
            "UserAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
            "ExtendedProperties": [{"Name": "RequestType", "Value": "OAuth2:Authorize"}, {"Name": "ResultStatusDetail", "Value": "Success"}],
            "Site": "2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901",
            "SourceFileName": format!("plan{i}.xlsx"),
        });
        out.push_str(&rec.to_string().replace("\\\\/", "\\/"));
        i += 1;
    }
    out.push(']');
    out.into_bytes()
}

fn prov() -> Provenance {
    Provenance {
        tenant_id: Some("b86ab9d4-fcf1-4b11-8a06-7a8f91b47fbd".parse().unwrap()),
        content_type: Some(o365_activity::ContentType::SharePoint),
        content_id: Some("20260301101500120000001$20260301103318440000002$audit_sharepoint$Audit_SharePoint$na0001".into()),
        content_created: Some(Utc.with_ymd_and_hms(2026, 3, 1, 10, 33, 18).unwrap()),
        fetched_at: Utc.with_ymd_and_hms(2026, 3, 1, 10, 40, 0).unwrap(),
    }
}

#[derive(Deserialize)]
struct Few<'a> {
    #[serde(rename = "CreationTime", borrow)]
    creation_time: Option<&'a str>,
    #[serde(rename = "Id", borrow)]
    id: Option<&'a str>,
}

const FIXED: &[u8] = br#","_o365":{"tenant_id":"b86ab9d4-fcf1-4b11-8a06-7a8f91b47fbd","content_type":"Audit.SharePoint","content_id":"20260301101500120000001$20260301103318440000002$audit_sharepoint$Audit_SharePoint$na0001","content_created":"2026-03-01T10:33:18.000Z","fetched_at":"2026-03-01T10:40:00.000Z","collector_version":"0.1.0","event_time":"2026-03-01T04:41:07Z","record_type":"SharePointFileOperation","record_type_id":6,"user_type":"Regular","user_type_id":0,"client_ip":"203.0.113.24","outcome":"success"}}"#;

/// Our path: the normalizer over the whole blob.
fn ours(input: &[u8], codec: Compression) -> (Vec<u8>, o365_activity::normalize::NormalizeStats) {
    normalize_bytes(
        input,
        &prov(),
        codec,
        InputFormat::JsonArray,
        Limits::default(),
    )
    .unwrap()
}

/// The reference: split, read two fields, splice fixed text, compress.
fn reference(input: &[u8], c: Compression) -> usize {
    let records: Vec<&RawValue> = serde_json::from_slice(input).unwrap();
    let mut enc = Encoder::new(c).unwrap();
    let mut staging = Vec::with_capacity(256 << 10);
    let mut out = 0;
    for r in records {
        let text = r.get();
        let few: Few = serde_json::from_str(text).unwrap();
        black_box((few.creation_time, few.id));
        staging.extend_from_slice(&text.as_bytes()[..text.len() - 1]);
        staging.extend_from_slice(FIXED);
        staging.push(b'\n');
        if staging.len() >= 128 << 10 {
            enc.write_all(&staging).unwrap();
            staging.clear();
            out += enc.take_output().len();
        }
    }
    enc.write_all(&staging).unwrap();
    out + enc.finish().unwrap().len()
}

/// Best-of-N wall time of ours and the reference, run alternately so that machine load hits
/// both alike; prints MB/s and the ratio (the figure issue 9 holds the normalizer to).
fn interleaved_ratio(input: &[u8], codec: Compression, rounds: usize) {
    let mut best = [Duration::MAX; 2];
    for _ in 0..rounds {
        let t = std::time::Instant::now();
        black_box(ours(input, codec));
        best[0] = best[0].min(t.elapsed());
        let t = std::time::Instant::now();
        black_box(reference(input, codec));
        best[1] = best[1].min(t.elapsed());
    }
    let mbs = |d: Duration| input.len() as f64 / d.as_secs_f64() / 1e6;
    println!(
        "{codec}: normalize {:.0} MB/s, reference {:.0} MB/s, ratio {:.1}% (best of {rounds}, interleaved)",
        mbs(best[0]),
        mbs(best[1]),
        100.0 * best[1].as_secs_f64() / best[0].as_secs_f64()
    );
}

/// Best-of-N wall time of several closures run alternately (diagnostics of the parts).
fn interleaved(label: &str, bytes: usize, rounds: usize, fs: &mut [(&str, &mut dyn FnMut())]) {
    let mut best = vec![Duration::MAX; fs.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in fs.iter_mut().enumerate() {
            let t = std::time::Instant::now();
            f();
            best[i] = best[i].min(t.elapsed());
        }
    }
    let parts: Vec<String> = fs
        .iter()
        .zip(&best)
        .map(|((name, _), d)| format!("{name} {:.0} MB/s", bytes as f64 / d.as_secs_f64() / 1e6))
        .collect();
    println!("{label}: {}", parts.join(", "));
}

/// `O365_BENCH_ONLY=normalize:zstd:1` or `reference:gzip:6` runs that path 20 times and
/// exits (`none:gzip` only builds the input, the baseline to subtract),
/// for `perf stat -e task-clock` (CPU time) comparisons that machine load skews far less.
fn only(input: &[u8]) -> bool {
    let Ok(spec) = std::env::var("O365_BENCH_ONLY") else {
        return false;
    };
    let (path, codec) = spec.split_once(':').unwrap();
    let codec: Compression = codec.parse().unwrap();
    for _ in 0..20 {
        match path {
            "normalize" => {
                black_box(ours(input, codec));
            }
            "reference" => {
                black_box(reference(input, codec));
            }
            _ => {}
        }
    }
    true
}

/// The blobs to measure: `blob-{1,10,50}mb.json` from `O365_BENCH_BLOB_DIR` (made by
/// `make bench` with o365-sim's record generator), else one generated 10 MiB blob.
fn inputs() -> Vec<(String, Vec<u8>)> {
    if let Some(dir) = std::env::var_os("O365_BENCH_BLOB_DIR") {
        let dir = std::path::PathBuf::from(dir);
        let found: Vec<(String, Vec<u8>)> = [1, 10, 50]
            .iter()
            .filter_map(|mb| {
                let bytes = std::fs::read(dir.join(format!("blob-{mb}mb.json"))).ok()?;
                Some((format!("normalize-{mb}MB"), bytes))
            })
            .collect();
        if !found.is_empty() {
            return found;
        }
    }
    vec![("normalize".to_string(), blob(10 << 20))]
}

fn benches(c: &mut Criterion) {
    let inputs = inputs();
    if inputs.first().is_some_and(|(_, input)| only(input)) {
        return;
    }
    for (group, input) in &inputs {
        bench_blob(c, group, input);
    }
}

fn bench_blob(c: &mut Criterion, group: &str, input: &[u8]) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.warm_up_time(Duration::from_secs(1));
    g.bench_function("split_and_read_only", |b| {
        b.iter(|| {
            let mut s = Splitter::new(InputFormat::JsonArray, 32 << 20);
            let mut n = 0usize;
            s.push(input, &mut |r: &[u8]| -> Result<(), SplitError> {
                let f = read_fields(std::str::from_utf8(r).unwrap()).unwrap();
                n += f.members;
                Ok(())
            })
            .unwrap();
            black_box(n)
        })
    });
    for comp in ["gzip:6", "gzip:1", "zstd:1"] {
        let codec: Compression = comp.parse().unwrap();
        let (out, _) = ours(input, codec);
        let ref_out = reference(input, codec);
        interleaved_ratio(input, codec, 15);
        println!(
            "{comp}: input {} bytes, normalized {} bytes (ratio {:.2}), reference {} bytes",
            input.len(),
            out.len(),
            input.len() as f64 / out.len() as f64,
            ref_out
        );
        g.bench_function(format!("normalize/{comp}"), |b| {
            b.iter(|| ours(input, codec).0.len())
        });
        g.bench_function(format!("reference/{comp}"), |b| {
            b.iter(|| reference(input, codec))
        });
    }
    // Where the time goes: compressing the lines each path produces, without any JSON work.
    let codec = Compression::Zstd { level: 1 };
    let (our_out, _) = ours(input, codec);
    let our_lines = zstd::stream::decode_all(&our_out[..]).unwrap();
    let mut ref_lines = Vec::new();
    for r in serde_json::from_slice::<Vec<&RawValue>>(input).unwrap() {
        let t = r.get().as_bytes();
        ref_lines.extend_from_slice(&t[..t.len() - 1]);
        ref_lines.extend_from_slice(FIXED);
        ref_lines.push(b'\n');
    }
    interleaved(
        "split/read (input MB/s)",
        input.len(),
        15,
        &mut [
            ("splitter", &mut || {
                let mut s = Splitter::new(InputFormat::JsonArray, 32 << 20);
                let mut n = 0usize;
                s.push(input, &mut |r: &[u8]| -> Result<(), SplitError> {
                    n += r.len();
                    Ok(())
                })
                .unwrap();
                black_box(n);
            }),
            ("splitter+read_fields", &mut || {
                let mut s = Splitter::new(InputFormat::JsonArray, 32 << 20);
                let mut n = 0usize;
                s.push(input, &mut |r: &[u8]| -> Result<(), SplitError> {
                    n += read_fields(std::str::from_utf8(r).unwrap())
                        .unwrap()
                        .members;
                    Ok(())
                })
                .unwrap();
                black_box(n);
            }),
            ("rawvalue split", &mut || {
                let records: Vec<&RawValue> = serde_json::from_slice(input).unwrap();
                black_box(records.len());
            }),
            ("rawvalue split+Few", &mut || {
                let records: Vec<&RawValue> = serde_json::from_slice(input).unwrap();
                let mut n = 0usize;
                for r in records {
                    let few: Few = serde_json::from_str(r.get()).unwrap();
                    n += few.id.map_or(0, str::len);
                }
                black_box(n);
            }),
        ],
    );
    for comp in ["gzip:6", "zstd:1"] {
        let codec: Compression = comp.parse().unwrap();
        let compress = |lines: &[u8]| {
            let mut enc = Encoder::new(codec).unwrap();
            for block in lines.chunks(128 << 10) {
                enc.write_all(block).unwrap();
            }
            black_box(enc.finish().unwrap().len());
        };
        interleaved(
            &format!("compress only {comp} (line MB/s)"),
            our_lines.len(),
            9,
            &mut [
                ("our lines", &mut || compress(&our_lines)),
                ("reference lines", &mut || compress(&ref_lines)),
            ],
        );
        for (name, lines) in [("ours", &our_lines), ("reference", &ref_lines)] {
            g.bench_function(format!("compress_only/{name}/{comp}"), |b| {
                b.iter(|| {
                    let mut enc = Encoder::new(codec).unwrap();
                    for block in lines.chunks(128 << 10) {
                        enc.write_all(block).unwrap();
                    }
                    enc.finish().unwrap().len()
                })
            });
        }
    }
    g.bench_function("reference_split_and_read_only", |b| {
        b.iter(|| {
            let records: Vec<&RawValue> = serde_json::from_slice(input).unwrap();
            let mut n = 0usize;
            for r in records {
                let few: Few = serde_json::from_str(r.get()).unwrap();
                n += few.id.map_or(0, str::len);
            }
            black_box(n)
        })
    });
    g.finish();
}

/// Runs every benchmark of this file (what `criterion_group!`/`criterion_main!` would
/// write, with doc comments).
fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
