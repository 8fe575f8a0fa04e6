//! Every event the mapping produces, for every test record (the repository's, this crate's
//! and the real ones when present), carries every attribute OCSF 1.1.0 requires of its class,
//! with the right type; and every class is exercised.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use o365_ocsf::{map_line, OcsfClass};

#[test]
fn every_event_carries_its_class_required_attributes() {
    let records = common::all_records("every_event_carries_its_class_required_attributes");
    let lines = common::output_lines(&records);
    assert_eq!(lines.len(), records.len());
    let mut per_class: BTreeMap<OcsfClass, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (line, rec) in lines.iter().zip(&records) {
        let ev = map_line(line).unwrap();
        *per_class.entry(ev.class).or_default() += 1;
        for p in common::problems(&ev.event) {
            failures.push(format!(
                "{} {}: {p}",
                rec.file,
                &rec.text[..rec.text.len().min(90)]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for c in OcsfClass::ALL {
        assert!(
            per_class.get(&c).copied().unwrap_or(0) > 0,
            "no record became {c:?}: {per_class:?}"
        );
    }
}

#[test]
fn the_check_catches_what_is_missing_or_mistyped() {
    let records = common::all_records("the_check_catches_what_is_missing_or_mistyped");
    let lines = common::output_lines(&records[..1]);
    let mut ev = map_line(&lines[0]).unwrap().event;
    assert!(common::problems(&ev).is_empty());
    ev["metadata"]["product"]
        .as_object_mut()
        .unwrap()
        .remove("vendor_name");
    ev["time"] = serde_json::json!("2026-03-01");
    ev["bogus"] = serde_json::json!(1);
    let p = common::problems(&ev);
    assert_eq!(p.len(), 3, "{p:?}");
}
