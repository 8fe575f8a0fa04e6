//! Real public audit records (`*.ndjson`) spliced into generated blobs, text kept as published.

use std::path::Path;

use serde_json::Value;

use crate::content_type::ContentType;
use crate::error::SimError;

/// One real record, its original text and the content type it belongs to.
#[derive(Debug, Clone)]
pub struct FixtureRecord {
    /// The record exactly as found in the fixture file.
    pub text: String,
    /// Content type chosen from its `RecordType` and `Workload`.
    pub content_type: ContentType,
    id: String,
    creation_time: Option<String>,
    organization_id: Option<String>,
}

/// Real records by content type.
#[derive(Debug, Clone, Default)]
pub struct Fixtures {
    by_type: [Vec<FixtureRecord>; 5],
}

impl Fixtures {
    /// Loads every `*.ndjson` file of `dir`; lines that are not JSON objects with an `Id` are skipped.
    pub fn load(dir: &Path) -> Result<Fixtures, SimError> {
        let mut out = Fixtures::default();
        let entries = std::fs::read_dir(dir).map_err(|source| SimError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("ndjson"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).map_err(|source| SimError::Io {
                path: path.display().to_string(),
                source,
            })?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                if let Some(rec) = FixtureRecord::from_line(line) {
                    out.by_type[rec.content_type.index() as usize].push(rec);
                }
            }
        }
        Ok(out)
    }

    /// The real records of one content type.
    pub fn of(&self, ct: ContentType) -> &[FixtureRecord] {
        &self.by_type[ct.index() as usize]
    }

    /// How many records were loaded in all.
    pub fn len(&self) -> usize {
        self.by_type.iter().map(Vec::len).sum()
    }

    /// True when no record was loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn classify(v: &Value) -> ContentType {
    let record_type = match &v["RecordType"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    };
    if matches!(record_type, Some(11 | 13 | 33 | 63 | 99 | 100 | 107)) {
        return ContentType::DlpAll;
    }
    match v["Workload"].as_str() {
        Some("Exchange") => ContentType::Exchange,
        Some("SharePoint" | "OneDrive") => ContentType::SharePoint,
        Some("AzureActiveDirectory") => ContentType::AzureActiveDirectory,
        _ => ContentType::General,
    }
}

impl FixtureRecord {
    fn from_line(line: &str) -> Option<FixtureRecord> {
        let v: Value = serde_json::from_str(line).ok()?;
        let id = v.get("Id")?.as_str()?.to_string();
        let rec = FixtureRecord {
            text: line.trim().to_string(),
            content_type: classify(&v),
            id,
            creation_time: v
                .get("CreationTime")
                .and_then(Value::as_str)
                .map(str::to_string),
            organization_id: v
                .get("OrganizationId")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        // Keep only records whose values can be rewritten textually.
        rec.rewrite("x", "x", "x").map(|_| rec)
    }

    /// The original text with `Id`, `CreationTime` and `OrganizationId` values replaced.
    pub fn rewrite(&self, id: &str, creation_time: &str, organization_id: &str) -> Option<String> {
        let mut text = replace_member(&self.text, "Id", &self.id, id)?;
        if let Some(old) = &self.creation_time {
            text = replace_member(&text, "CreationTime", old, creation_time)?;
        }
        if let Some(old) = &self.organization_id {
            text = replace_member(&text, "OrganizationId", old, organization_id)?;
        }
        Some(text)
    }
}

/// Replaces the first `"key": "old"` member's value with `new`, leaving every other byte alone.
fn replace_member(text: &str, key: &str, old: &str, new: &str) -> Option<String> {
    let needle = format!("\"{key}\"");
    let quoted_old = format!("\"{old}\"");
    let mut from = 0;
    while let Some(pos) = text[from..].find(&needle) {
        let key_end = from + pos + needle.len();
        let rest = &text[key_end..];
        let after_ws = rest.trim_start();
        if let Some(after_colon) = after_ws.strip_prefix(':') {
            let value = after_colon.trim_start();
            if value.starts_with(&quoted_old) {
                let value_start = text.len() - value.len();
                let mut out = String::with_capacity(text.len() + new.len());
                out.push_str(&text[..value_start]);
                out.push('"');
                out.push_str(new);
                out.push('"');
                out.push_str(&text[value_start + quoted_old.len()..]);
                return Some(out);
            }
        }
        from = key_end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_top_level_values() {
        let line = r#"{"Item": {"Id": "nested"}, "Id" : "abc", "CreationTime":"2020-01-01T00:00:00", "OrganizationId": "org", "X": "\/path"}"#;
        let r = FixtureRecord::from_line(line).unwrap();
        let out = r
            .rewrite("new-id", "2026-03-01T00:00:00", "tenant")
            .unwrap();
        assert_eq!(
            out,
            r#"{"Item": {"Id": "nested"}, "Id" : "new-id", "CreationTime":"2026-03-01T00:00:00", "OrganizationId": "tenant", "X": "\/path"}"#
        );
    }

    #[test]
    fn skips_lines_without_an_id() {
        assert!(FixtureRecord::from_line(r#"{"CreationTime":"x"}"#).is_none());
        assert!(FixtureRecord::from_line("not json").is_none());
    }

    #[test]
    fn loads_the_repository_records() {
        let dir = crate::config::repo_records_dir().expect("shared/tests/data/records");
        let f = Fixtures::load(&dir).unwrap();
        assert!(f.len() >= 50, "loaded {}", f.len());
        for ct in ContentType::ALL {
            assert!(!f.of(ct).is_empty(), "no repository record for {ct:?}");
        }
    }

    #[test]
    fn loads_the_shared_real_records_when_present() {
        let Some(dir) = crate::config::real_fixtures_dir() else {
            // Straight to stderr, not `println!`: the test harness would swallow the line.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"skipping: ../shared/fixtures/real not found beside the repository\n",
            );
            return;
        };
        let f = Fixtures::load(&dir).unwrap();
        assert!(f.len() > 100, "loaded {}", f.len());
        assert!(!f.of(ContentType::AzureActiveDirectory).is_empty());
        assert!(!f.of(ContentType::Exchange).is_empty());
    }
}
