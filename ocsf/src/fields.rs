//! Small readers of record members, shared by the per-class builders.

use serde_json::{Map, Value};

/// A member as a non-empty string (numbers are written out), or None.
pub(crate) fn text(record: &Map<String, Value>, key: &str) -> Option<String> {
    match record.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A value as a string for `unmapped` (map<string,string>): strings as they are, anything
/// else as compact JSON text, so nothing is lost.
pub(crate) fn flat(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON object from members, leaving out the absent ones (OCSF omits unknown attributes).
pub(crate) fn obj<const N: usize>(members: [(&str, Option<Value>); N]) -> Value {
    let mut m = Map::new();
    for (k, v) in members {
        if let Some(v) = v {
            m.insert(k.to_owned(), v);
        }
    }
    Value::Object(m)
}

/// The value of a named entry in a `[{"Name":…,"NewValue":…,"OldValue":…}]` list
/// (`ModifiedProperties`), new value first, then old (a removal only has the old one).
pub(crate) fn modified_property(record: &Map<String, Value>, name: &str) -> Option<String> {
    let list = record.get("ModifiedProperties")?.as_array()?;
    let entry = list
        .iter()
        .filter_map(Value::as_object)
        .find(|e| e.get("Name").and_then(Value::as_str) == Some(name))?;
    ["NewValue", "OldValue"]
        .iter()
        .filter_map(|k| entry.get(*k).and_then(Value::as_str))
        .map(clean_property)
        .find(|s| !s.is_empty())
}

/// Entra ID writes property values as JSON text, often a one-element array: `["Sales"]`.
fn clean_property(s: &str) -> String {
    let t = s.trim();
    if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(t) {
        if let Some(Value::String(first)) = items.first() {
            return first.trim().to_owned();
        }
    }
    t.trim_matches('"').to_owned()
}

/// The value of a named cmdlet parameter in `Parameters: [{"Name":…,"Value":…}]`.
pub(crate) fn parameter(record: &Map<String, Value>, name: &str) -> Option<String> {
    record
        .get("Parameters")?
        .as_array()?
        .iter()
        .filter_map(Value::as_object)
        .find(|p| {
            p.get("Name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|p| p.get("Value").and_then(Value::as_str))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The text between `<tag>` and `</tag>` in a small XML fragment (SharePoint `EventData`).
pub(crate) fn xml_element(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)?.checked_add(open.len())?;
    let rest = xml.get(start..)?;
    let end = rest.find(&format!("</{tag}>"))?;
    let inner = rest.get(..end)?.trim();
    (!inner.is_empty()).then(|| inner.to_owned())
}

/// The last path segment of a URL or path (`…/Shared Documents/plan.docx` → `plan.docx`).
pub(crate) fn last_segment(s: &str) -> Option<String> {
    let seg = s.trim_end_matches('/').rsplit('/').next()?.trim();
    (!seg.is_empty()).then(|| seg.to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// The record of a JSON object (the tests of every OCSF class build theirs so).
    pub(crate) fn m(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn readers() {
        let r = m(json!({
            "A": " ", "N": 5,
            "ModifiedProperties": [{"Name":"Role.DisplayName","NewValue":"[\"Global Administrator\"]","OldValue":""},
                                   {"Name":"Group.DisplayName","NewValue":"","OldValue":"\"Sales\""}],
            "Parameters": [{"Name":"Identity","Value":" Org Admins "}]
        }));
        assert_eq!(text(&r, "A"), None);
        assert_eq!(text(&r, "N").as_deref(), Some("5"));
        assert_eq!(
            modified_property(&r, "Role.DisplayName").as_deref(),
            Some("Global Administrator")
        );
        assert_eq!(
            modified_property(&r, "Group.DisplayName").as_deref(),
            Some("Sales")
        );
        assert_eq!(modified_property(&r, "Nope"), None);
        assert_eq!(parameter(&r, "identity").as_deref(), Some("Org Admins"));
        assert_eq!(
            xml_element("<Group>Site Members</Group>", "Group").as_deref(),
            Some("Site Members")
        );
        assert_eq!(xml_element("<Group></Group>", "Group"), None);
        assert_eq!(
            last_segment("https://x/a/b.docx").as_deref(),
            Some("b.docx")
        );
        assert_eq!(flat(&json!({"a":1})), "{\"a\":1}");
        assert_eq!(obj([("a", None), ("b", Some(json!(1)))]), json!({"b":1}));
    }
}
