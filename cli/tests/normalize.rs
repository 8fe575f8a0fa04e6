#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `o365ctl normalize` on real public records: every output line is the source record plus
//! `_o365`, plain or gzip, from a blob (JSON array), NDJSON or stdin.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

/// Every record of the shared real fixtures, as text lines.
fn fixture_records() -> Vec<String> {
    // `../shared` beside the repository: the first ancestor that has it.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/fixtures/real"))
        .find(|d| d.is_dir())
        .expect("shared/fixtures/real beside the repository");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        for line in std::fs::read_to_string(&f).unwrap().lines() {
            if !line.trim().is_empty() {
                out.push(line.to_owned());
            }
        }
    }
    assert!(out.len() > 50, "fixtures found: {}", out.len());
    out
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
    let records = fixture_records();
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("blob1.json");
    std::fs::write(&blob, format!("[{}]", records.join(","))).unwrap();
    let out = bin()
        .args([
            "normalize",
            "--tenant-id",
            T,
            "--content-type",
            "Audit.Exchange",
        ])
        .arg(&blob)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_lines(&String::from_utf8(out.stdout).unwrap(), &records, "blob1");
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
    let out = bin()
        .args([
            "normalize",
            "--tenant-id",
            T,
            "--content-type",
            "Audit.Exchange",
            "--content-id",
            "x$1",
            "--gzip",
            "--out",
        ])
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
