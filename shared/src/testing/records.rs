//! Audit records for tests: the repository's own (`shared/tests/data/records`, written by us,
//! always there) and the real public ones beside the repository (`../shared/fixtures/real`,
//! optional: tests that use them print one line and skip that part when they are absent).

use std::io::Write;
use std::path::{Path, PathBuf};

/// One record of a records directory: its text (one NDJSON line) and the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordLine {
    /// The file name, for assertion messages.
    pub file: String,
    /// The record's text exactly as in the file.
    pub text: String,
}

/// Why a records directory could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read test records at {path}: {source}")]
pub struct RecordsError {
    /// The directory or file.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

/// The repository's own records directory (present in every checkout).
pub fn repo_records_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/records")
}

/// The real public records beside the repository, when present (same rule as the simulator's).
pub fn real_records_dir() -> Option<PathBuf> {
    o365_sim::real_fixtures_dir()
}

/// Every record of every `*.ndjson` file of `dir` (files in name order, blank lines skipped).
pub fn ndjson_records(dir: &Path) -> Result<Vec<RecordLine>, RecordsError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RecordsError { path, source }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(err(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).map_err(err(&path))?;
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| RecordLine {
                    file: file.clone(),
                    text: l.to_owned(),
                }),
        );
    }
    Ok(out)
}

/// The repository's own NDJSON records.
pub fn repo_records() -> Result<Vec<RecordLine>, RecordsError> {
    ndjson_records(&repo_records_dir())
}

/// The real public records, or `None` after printing the one line that says `test` skipped
/// them because they are not beside the repository.
pub fn real_records_or_skip(test: &str) -> Result<Option<Vec<RecordLine>>, RecordsError> {
    match real_records_dir() {
        Some(dir) => ndjson_records(&dir).map(Some),
        None => {
            // Straight to stderr, not `println!`: the test harness would swallow the line.
            let _ = writeln!(
                std::io::stderr(),
                "skipping {test}: ../shared/fixtures/real not found beside the repository"
            );
            Ok(None)
        }
    }
}

/// The repository's pretty-printed blobs (`*.json`, each a JSON array): (file name, text).
pub fn repo_pretty_blobs() -> Result<Vec<(String, String)>, RecordsError> {
    let dir = repo_records_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|source| RecordsError {
            path: dir.clone(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).map_err(|source| RecordsError {
                path: p.clone(),
                source,
            })?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((name, text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn repo_records_cover_what_the_normalizer_reads() {
        let recs = repo_records().unwrap();
        assert!(recs.len() >= 50, "{}", recs.len());
        let values: Vec<Value> = recs
            .iter()
            .map(|r| serde_json::from_str(&r.text).unwrap())
            .collect();
        let all = |key: &str| -> Vec<&Value> { values.iter().filter_map(|v| v.get(key)).collect() };
        for r in &values {
            for key in ["Id", "CreationTime", "OrganizationId"] {
                assert!(r[key].is_string(), "{key} missing in {r}");
            }
        }
        // Every content type, by the simulator's rule (workload and DLP record types).
        let workloads: Vec<&str> = all("Workload").iter().filter_map(|v| v.as_str()).collect();
        for w in [
            "Exchange",
            "SharePoint",
            "OneDrive",
            "AzureActiveDirectory",
            "MicrosoftTeams",
        ] {
            assert!(workloads.contains(&w), "no {w} record");
        }
        let rt = all("RecordType");
        assert!(rt.iter().any(|v| v.is_number()) && rt.iter().any(|v| v.is_string()));
        for dlp in [11, 13, 33, 63] {
            assert!(rt.iter().any(|v| v.as_i64() == Some(dlp)), "no DLP {dlp}");
        }
        let ut = all("UserType");
        for n in 0..=10 {
            assert!(ut.iter().any(|v| v.as_i64() == Some(n)), "no UserType {n}");
        }
        assert!(ut.iter().any(|v| v.is_string()));
        let ips: Vec<&Value> = all("ClientIP");
        let has_ip = |s: &str| ips.iter().any(|v| v.as_str() == Some(s));
        for form in ["", "<null>", "::1"] {
            assert!(has_ip(form), "no ClientIP {form:?}");
        }
        let has = |p: &dyn Fn(&str) -> bool| ips.iter().filter_map(|v| v.as_str()).any(p);
        assert!(has(&|s| s.starts_with("::ffff:")), "IPv4-mapped");
        assert!(
            has(&|s| s.starts_with('[') && s.contains("]:")),
            "[v6]:port"
        );
        assert!(has(&|s| s.starts_with('[') && s.ends_with(']')), "[v6]");
        assert!(
            has(&|s| s.matches(':').count() == 1 && !s.contains('[')),
            "v4:port"
        );
        assert!(has(&|s| s.starts_with("2001:db8:")), "IPv6");
        assert!(ips.iter().any(|v| v.is_null()), "ClientIP null");
        let statuses: Vec<&str> = all("ResultStatus")
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        for s in [
            "Succeeded",
            "PartiallySucceeded",
            "Failed",
            "True",
            "False",
            "TRUE",
            "Success",
            "success",
            "failed",
            "InProgress",
            "",
        ] {
            assert!(statuses.contains(&s), "no ResultStatus {s:?}");
        }
        assert!(all("LogonError")
            .iter()
            .any(|v| v.as_str().is_some_and(|s| !s.is_empty())));
        assert!(
            values.iter().any(|v| v.get("ClientIp").is_some()),
            "early ClientIp"
        );
        assert!(
            values.iter().any(|v| v.get("clientIP").is_some()),
            "keys differing in case"
        );
        assert!(recs.iter().any(|r| !r.text.is_ascii()), "unicode");
        assert!(
            recs.iter().any(|r| r.text.contains("\\u")),
            "escaped unicode"
        );
        let pretty = repo_pretty_blobs().unwrap();
        assert!(pretty.len() >= 2);
        for (name, text) in pretty {
            let v: Vec<Value> = serde_json::from_str(&text).unwrap();
            assert!(
                !v.is_empty() && text.contains("\n    \""),
                "{name} pretty-printed"
            );
        }
    }
}
