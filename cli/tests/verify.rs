#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `o365ctl verify` after a local run: the manifest the fetcher wrote matches every stored
//! object; after one object is altered and another deleted, exactly those two are reported.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_exactly_the_altered_and_the_deleted_object() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap().to_owned();
    let mut c = bin();
    c.args([
        "run",
        "--once",
        "-q",
        "--content-types",
        "Audit.General",
        "--out",
        &out,
    ]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let files = stored(dir.path());
    assert!(files.len() > 2, "{files:?}");

    let verify = || {
        let mut c = bin();
        c.args(["verify", "--json", "--out", &out]);
        c
    };
    let clean = run(verify()).await;
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    let report = json(&clean);
    assert_eq!(report["problems"].as_array().unwrap().len(), 0, "{report}");
    assert_eq!(report["entries"], files.len() as u64);
    assert_eq!(report["objects"], files.len() as u64);

    let mut paths = files.values();
    let altered = paths.next().unwrap().clone();
    let deleted = paths.next().unwrap().clone();
    let mut bytes = std::fs::read(&altered).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&altered, bytes).unwrap();
    std::fs::remove_file(&deleted).unwrap();
    let key = |p: &std::path::Path| {
        p.strip_prefix(dir.path())
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };

    let dirty = run(verify()).await;
    assert_eq!(dirty.status.code(), Some(1), "{}", stderr(&dirty));
    let report = json(&dirty);
    let mut found: Vec<(String, String)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap().to_owned(),
                p["key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    let mut expected = vec![
        ("altered".to_owned(), key(&altered)),
        ("missing".to_owned(), key(&deleted)),
    ];
    expected.sort();
    assert_eq!(found, expected, "{report}");

    // The human form says the same, one line per problem plus the summary.
    let mut c = bin();
    c.args([
        "verify",
        "--out",
        &out,
        "--window",
        "2000-01-01..2100-01-01",
    ]);
    let text = run(c).await;
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        stdout.contains(&format!("altered   {}", key(&altered))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("missing   {}", key(&deleted))),
        "{stdout}"
    );
    assert!(stdout.contains("2 problem(s)"), "{stdout}");
}

#[tokio::test]
async fn verify_of_a_directory_that_does_not_exist_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.args(["verify", "--out"]).arg(dir.path().join("nothing"));
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
