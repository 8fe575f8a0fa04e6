#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `o365ctl normalize` on the repository's records (and the real public ones when present): every output line is the source record plus
//! `_o365`, plain or gzip, from a blob (JSON array), NDJSON or stdin.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use o365_activity::testing::records;
use serde_json::Value;

const T: &str = "00000000-0000-0000-0000-000000000001";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_o365ctl"));
    // The tests decide tenants themselves.
    for v in [
        "O365_TENANT_ID",
        "O365_CLIENT_ID",
        "O365_CLIENT_SECRET",
        "RUST_LOG",
    ] {
        c.env_remove(v);
    }
    c
}

/// `o365ctl normalize` for tenant `T` and Audit.Exchange.
fn normalize_exchange() -> Command {
    let mut c = bin();
    c.args([
        "normalize",
        "--tenant-id",
        T,
        "--content-type",
        "Audit.Exchange",
    ]);
    c
}

/// The repository's own records (`shared/tests/data/records`), as text lines.
fn fixture_records() -> Vec<String> {
    let out: Vec<String> = records::repo_records()
        .unwrap()
        .into_iter()
        .map(|r| r.text)
        .collect();
    assert!(out.len() > 50, "records found: {}", out.len());
    out
}

/// Writes `blob` (a JSON array's text) to `<content_id>.json`, normalizes it and checks that
/// every output line is one of `sources` plus `_o365`.
fn blob_round_trip(blob: &str, sources: &[String], content_id: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{content_id}.json"));
    std::fs::write(&path, blob).unwrap();
    let out = normalize_exchange().arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{content_id}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_lines(&String::from_utf8(out.stdout).unwrap(), sources, content_id);
}

/// [`blob_round_trip`] of records joined into one compact blob.
fn records_round_trip(records: &[String]) {
    blob_round_trip(&format!("[{}]", records.join(",")), records, "blob1");
}

fn check_lines(output: &str, sources: &[String], content_id: &str) {
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), sources.len());
    for (line, src) in lines.iter().zip(sources) {
        let mut v: Value = serde_json::from_str(line).unwrap();
        let o = v.as_object_mut().unwrap().remove("_o365").unwrap();
        assert_eq!(o["tenant_id"], T);
        assert_eq!(o["content_type"], "Audit.Exchange");
        assert_eq!(o["content_id"], content_id);
        let src: Value = serde_json::from_str(src).unwrap();
        assert_eq!(v, src, "removing _o365 gives back the source record");
    }
}

#[test]
fn blob_to_plain_ndjson_on_stdout() {
    records_round_trip(&fixture_records());
}

/// The same over the real public records beside the repository, when they are there.
#[test]
fn real_records_blob_when_present() {
    let Some(real) = records::real_records_or_skip("real_records_blob_when_present").unwrap()
    else {
        return;
    };
    let real: Vec<String> = real.into_iter().map(|r| r.text).collect();
    assert!(real.len() > 50, "real records found: {}", real.len());
    records_round_trip(&real);
}

/// Pretty-printed blobs (LF and CRLF): one line per record, equal to the source record.
#[test]
fn pretty_printed_blobs() {
    let blobs = records::repo_pretty_blobs().unwrap();
    assert!(blobs.len() >= 2);
    for (i, (_, text)) in blobs.into_iter().enumerate() {
        let sources: Vec<String> = serde_json::from_str::<Vec<Value>>(&text)
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect();
        blob_round_trip(&text, &sources, &format!("pretty{i}"));
    }
}

#[test]
fn several_files_to_a_gzip_file_with_explicit_content_id() {
    let records = fixture_records();
    let (a, b) = records.split_at(records.len() / 2);
    let dir = tempfile::tempdir().unwrap();
    let fa = dir.path().join("a.json");
    let fb = dir.path().join("b.ndjson");
    std::fs::write(&fa, format!("[\n{}\n]", a.join(",\n"))).unwrap();
    std::fs::write(&fb, b.join("\n")).unwrap();
    let gz = dir.path().join("out.ndjson.gz");
    let out = normalize_exchange()
        .args(["--content-id", "x$1", "--gzip", "--out"])
        .arg(&gz)
        .arg(&fa)
        .arg(&fb)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&gz).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    check_lines(&text, &records, "x$1");
}

#[test]
fn stdin_input() {
    let records = fixture_records();
    let mut child = bin()
        .args([
            "normalize",
            "-",
            "--tenant-id",
            T,
            "--content-type",
            "Audit.Exchange",
            "--content-id",
            "from-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input = records.join("\n");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    check_lines(
        &String::from_utf8(out.stdout).unwrap(),
        &records,
        "from-stdin",
    );
}

#[test]
fn bad_input_is_exit_1_and_bad_flags_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &good,
        r#"[{"Id":"a","CreationTime":"2026-03-01T04:41:07"}]"#,
    )
    .unwrap();
    std::fs::write(&bad, r#"[{"Id":"a"},{"Id": tru"#).unwrap();
    let out = bin()
        .args(["normalize", "--tenant-id", T])
        .arg(&bad)
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.json"), "{stderr}");
    // The good file is still normalized; nothing partial from the bad one.
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    assert!(stdout.contains(r#""event_time":"2026-03-01T04:41:07Z""#));

    let out = bin()
        .args(["normalize", "--tenant-id", "contoso"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tenant id"));
    let out = bin()
        .args(["normalize", "--content-type", "Audit.Teams"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bin()
        .args(["normalize"])
        .arg(dir.path().join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
}
