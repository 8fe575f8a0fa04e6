#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `o365ctl run` as a new user runs it: no tenant configured, so the embedded simulator;
//! real normalized objects under the layout; a second run adds only what is new; `status`.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_run_twice_then_status() {
    let ctl = Ctl::embedded();
    let first = ctl.run_once("Audit.General").await;
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let s1 = json(&first);
    let stored1 = s1["fetch"]["blobs_stored"].as_u64().unwrap();
    assert!(stored1 > 20, "{s1}");
    assert_eq!(s1["errors"], 0);
    assert_eq!(s1["tenants"], 1);
    assert_eq!(s1["content_types"], 1);
    assert!(s1["source"].as_str().unwrap().contains("o365-sim"));
    let files1 = ctl.stored();
    assert_eq!(files1.len() as u64, stored1);
    let mut records = 0;
    for (id, path) in &files1 {
        let rel = path
            .strip_prefix(ctl.path())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            rel.starts_with(&format!(
                "o365/tenant_id={TENANT}/content_type=Audit.General/dt="
            )),
            "{rel}"
        );
        for line in lines(path) {
            let o = &line["_o365"];
            assert_eq!(o["tenant_id"], TENANT);
            assert_eq!(o["content_type"], "Audit.General");
            assert_eq!(&o["content_id"], id.as_str());
            // The partition is the blob's contentCreated in UTC.
            let created = o["content_created"].as_str().unwrap();
            assert!(
                rel.contains(&format!(
                    "/dt={}/hour={}/",
                    &created[..10],
                    &created[11..13]
                )),
                "{rel} {created}"
            );
            records += 1;
        }
    }
    assert_eq!(s1["fetch"]["records"], records);

    let second = ctl.run_once("Audit.General").await;
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let s2 = json(&second);
    let files2 = ctl.stored();
    let stored2 = s2["fetch"]["blobs_stored"].as_u64().unwrap();
    // Only what is new: the earlier objects stay, and the new ones are few.
    assert!(files1.keys().all(|k| files2.contains_key(k)));
    assert_eq!(files2.len() as u64, stored1 + stored2);
    assert!(
        stored2 < stored1 / 4,
        "second run stored {stored2}, first {stored1}"
    );
    assert_eq!(s2["errors"], 0);

    let st = run(ctl.cmd(&["status", "--json"])).await;
    assert_eq!(st.status.code(), Some(0), "{}", stderr(&st));
    let st = json(&st);
    let pairs = st["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 1);
    assert_eq!(pairs[0]["content_type"], "Audit.General");
    assert_eq!(pairs[0]["last_run"], "ok");
    assert!(
        pairs[0]["leased_until"].is_null(),
        "the run released its lease"
    );
    assert!(pairs[0]["checkpoint"].is_string());
    assert_eq!(pairs[0]["gaps"].as_array().unwrap().len(), 0);

    let table = run(ctl.cmd(&["status"])).await;
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("Audit.General") && text.contains("last run"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_repeats_and_text_summary_says_where_the_output_is() {
    let ctl = Ctl::embedded();
    let c = ctl.cmd(&[
        "run",
        "--every",
        "1s",
        "--max-runs",
        "2",
        "-q",
        "--content-types",
        "DLP.All",
    ]);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("o365ctl run #1") && text.contains("o365ctl run #2"),
        "{text}"
    );
    let canon = std::fs::canonicalize(ctl.path()).unwrap();
    assert!(
        text.contains(&format!("output         {}/o365", canon.display())),
        "{text}"
    );
    for word in [
        "tenants",
        "content types",
        "blobs",
        "records",
        "gaps",
        "errors",
        "lag",
    ] {
        assert!(text.contains(word), "{word}: {text}");
    }
}

#[tokio::test]
async fn status_without_data_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = bin();
    c.args(["status", "--out"]).arg(dir.path().join("nothing"));
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("o365ctl run --once"), "{}", stderr(&o));
}

#[tokio::test]
async fn help_teaches_by_example_and_documents_exit_codes() {
    let mut c = bin();
    c.arg("--help");
    let o = run(c).await;
    let text = String::from_utf8(o.stdout).unwrap();
    for s in [
        "Examples:",
        "o365ctl run --once",
        "Exit codes:",
        "3  an endpoint",
        "O365_CLIENT_SECRET",
    ] {
        assert!(text.contains(s), "{s}: {text}");
    }
    for sub in ["run", "replay", "backfill", "normalize", "status"] {
        let mut c = bin();
        c.args([sub, "--help"]);
        let o = run(c).await;
        assert_eq!(o.status.code(), Some(0));
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.contains("Examples:"), "{sub}: {text}");
    }
    let mut c = bin();
    c.args(["run", "--every", "soon"]);
    assert_eq!(run(c).await.status.code(), Some(2));
}
