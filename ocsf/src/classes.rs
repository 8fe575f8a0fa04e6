//! The class-specific attributes of each OCSF class, read from the record's own members.

use o365_activity::normalize::o365::O365;
use serde_json::{json, Map, Value};

use crate::class::OcsfClass;
use crate::event::actor_user;
use crate::fields::{last_segment, modified_property, obj, parameter, text, xml_element};

/// The attributes a class adds to the common ones.
pub(crate) fn specific(
    class: OcsfClass,
    r: &Map<String, Value>,
    o: &O365,
) -> Vec<(&'static str, Value)> {
    match class {
        OcsfClass::Authentication => authentication(r, o),
        OcsfClass::AccountChange => vec![("user", target_user(r))],
        OcsfClass::GroupManagement => group_management(r, o),
        OcsfClass::UserAccessManagement => user_access(r),
        OcsfClass::FileHostingActivity => vec![("file", file(r))],
        OcsfClass::ApiActivity => api_activity(r),
        OcsfClass::DetectionFinding => vec![("finding_info", finding_info(r))],
    }
}

/// `severity_id` and `severity`: Informational, except findings, which carry the alert's or
/// the DLP rule's severity.
pub(crate) fn severity(class: OcsfClass, r: &Map<String, Value>) -> (i64, &'static str) {
    if class != OcsfClass::DetectionFinding {
        return (1, "Informational");
    }
    let mut names: Vec<String> = text(r, "Severity").into_iter().collect();
    for rule in dlp_rules(r) {
        names.extend(text(rule, "Severity"));
    }
    names
        .iter()
        .map(|s| match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => (1, "Informational"),
            "low" => (2, "Low"),
            "medium" => (3, "Medium"),
            "high" => (4, "High"),
            "critical" => (5, "Critical"),
            _ => (0, "Unknown"),
        })
        .max()
        .unwrap_or((0, "Unknown"))
}

fn authentication(r: &Map<String, Value>, o: &O365) -> Vec<(&'static str, Value)> {
    let mut v = vec![
        ("user", actor_user(r, o)),
        (
            "service",
            obj([
                (
                    "name",
                    Some(json!(
                        text(r, "Workload").unwrap_or_else(|| "Unknown".into())
                    )),
                ),
                ("uid", text(r, "ObjectId").map(Value::from)),
            ]),
        ),
    ];
    if let Some(err) = text(r, "LogonError") {
        v.push(("status_detail", json!(err)));
    }
    if let Some(code) = text(r, "ErrorCode") {
        v.push(("status_code", json!(code)));
    }
    v
}

/// The user a directory change is about: `ObjectId` (a UPN for user changes), else the
/// first `Target` entry.
fn target_user(r: &Map<String, Value>) -> Value {
    if let Some(name) = text(r, "ObjectId") {
        return json!({ "name": name });
    }
    let first_target = r.get("Target").and_then(Value::as_array).and_then(|t| {
        t.iter()
            .filter_map(Value::as_object)
            .find_map(|e| text(e, "ID"))
    });
    match first_target {
        Some(uid) => json!({ "uid": uid }),
        None => json!({ "name": "Unknown" }),
    }
}

fn group_management(r: &Map<String, Value>, o: &O365) -> Vec<(&'static str, Value)> {
    let name = modified_property(r, "Group.DisplayName")
        .or_else(|| text(r, "TeamName"))
        .or_else(|| text(r, "EventData").and_then(|x| xml_element(&x, "Group")));
    let uid = modified_property(r, "Group.ObjectID").or_else(|| text(r, "AADGroupId"));
    let group = match (name, uid) {
        (None, None) => match text(r, "ObjectId") {
            Some(id) => json!({ "uid": id }),
            None => json!({ "name": "Unknown" }),
        },
        (name, uid) => obj([
            ("name", name.map(Value::from)),
            ("uid", uid.map(Value::from)),
        ]),
    };
    // The member added or removed; for a group created or deleted, the user who did it.
    let member = r
        .get("Members")
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .filter_map(Value::as_object)
                .find_map(|e| text(e, "UPN"))
        })
        .or_else(|| text(r, "TargetUserOrGroupName"))
        .or_else(|| is_directory(r).then(|| text(r, "ObjectId")).flatten());
    let user = member.map_or_else(|| actor_user(r, o), |m| json!({ "name": m }));
    vec![("group", group), ("user", user)]
}

fn user_access(r: &Map<String, Value>) -> Vec<(&'static str, Value)> {
    let role = modified_property(r, "Role.DisplayName")
        .or_else(|| parameter(r, "Role"))
        .or_else(|| parameter(r, "Identity"))
        .unwrap_or_else(|| "Unknown".into());
    let user = parameter(r, "Member")
        .or_else(|| parameter(r, "User"))
        .map(|m| json!({ "name": m }))
        .unwrap_or_else(|| target_user(r));
    vec![("privileges", json!([role])), ("user", user)]
}

fn is_directory(r: &Map<String, Value>) -> bool {
    text(r, "Workload").as_deref() == Some("AzureActiveDirectory")
}

fn file(r: &Map<String, Value>) -> Value {
    let op = text(r, "Operation").unwrap_or_default();
    let path = text(r, "ObjectId");
    let name = text(r, "SourceFileName")
        .or_else(|| path.as_deref().and_then(last_segment))
        .unwrap_or_else(|| "Unknown".into());
    let item = text(r, "ItemType").unwrap_or_default();
    let (type_id, type_name) = if item.eq_ignore_ascii_case("file") || op.starts_with("File") {
        (1, "Regular File")
    } else if item.eq_ignore_ascii_case("folder") || op.starts_with("Folder") {
        (2, "Folder")
    } else {
        (0, "Unknown")
    };
    obj([
        ("name", Some(json!(name))),
        ("path", path.map(Value::from)),
        ("ext", text(r, "SourceFileExtension").map(Value::from)),
        ("uid", text(r, "ListItemUniqueId").map(Value::from)),
        ("type_id", Some(json!(type_id))),
        ("type", Some(json!(type_name))),
    ])
}

fn api_activity(r: &Map<String, Value>) -> Vec<(&'static str, Value)> {
    let api = json!({
        "operation": text(r, "Operation").unwrap_or_else(|| "Unknown".into()),
        "service": { "name": text(r, "Workload").unwrap_or_else(|| "Unknown".into()) },
    });
    let mut v = vec![("api", api)];
    if let Some(id) = text(r, "ObjectId") {
        v.push(("resources", json!([{ "uid": id }])));
    }
    v
}

/// The DLP rules matched: `PolicyDetails[].Rules[]`.
fn dlp_rules(r: &Map<String, Value>) -> impl Iterator<Item = &Map<String, Value>> {
    r.get("PolicyDetails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|p| {
            p.get("Rules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(Value::as_object)
}

fn finding_info(r: &Map<String, Value>) -> Value {
    let policy = r
        .get("PolicyDetails")
        .and_then(Value::as_array)
        .and_then(|p| {
            p.iter()
                .filter_map(Value::as_object)
                .find_map(|p| text(p, "PolicyName"))
        });
    let rule = dlp_rules(r).find_map(|rule| text(rule, "RuleName"));
    let title = match (policy, rule) {
        (Some(p), Some(rule)) => format!("{p}: {rule}"),
        (Some(p), None) => p,
        _ => text(r, "Name")
            .or_else(|| text(r, "Operation"))
            .unwrap_or_else(|| "Unknown".into()),
    };
    let uid = text(r, "AlertId")
        .or_else(|| text(r, "Id"))
        .unwrap_or_else(|| "Unknown".into());
    obj([
        ("uid", Some(json!(uid))),
        ("title", Some(json!(title))),
        ("desc", text(r, "Comments").map(Value::from)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::tests::m;

    #[test]
    fn group_role_file_and_finding_attributes() {
        let o = O365::default();
        let g = m(
            json!({"Operation":"Add member to group.","Workload":"AzureActiveDirectory","ObjectId":"bo@example.com",
            "ModifiedProperties":[{"Name":"Group.ObjectID","NewValue":"g-1","OldValue":""},{"Name":"Group.DisplayName","NewValue":"Sales","OldValue":""}]}),
        );
        let v: Map<String, Value> = specific(OcsfClass::GroupManagement, &g, &o)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        assert_eq!(v["group"], json!({"name":"Sales","uid":"g-1"}));
        assert_eq!(v["user"], json!({"name":"bo@example.com"}));
        let sp = m(
            json!({"Operation":"AddedToGroup","Workload":"SharePoint","EventData":"<Group>Site Owners</Group>","TargetUserOrGroupName":"cy@example.com"}),
        );
        let v = specific(OcsfClass::GroupManagement, &sp, &o);
        assert_eq!(v[0].1, json!({"name":"Site Owners"}));
        assert_eq!(v[1].1, json!({"name":"cy@example.com"}));
        let role = m(
            json!({"Operation":"Add-RoleGroupMember","Parameters":[{"Name":"Identity","Value":"Organization Management"},{"Name":"Member","Value":"dee"}]}),
        );
        let v = specific(OcsfClass::UserAccessManagement, &role, &o);
        assert_eq!(v[0].1, json!(["Organization Management"]));
        assert_eq!(v[1].1, json!({"name":"dee"}));
        let f = m(json!({"Operation":"FolderCreated","ObjectId":"https://x/sites/a/Docs/New"}));
        assert_eq!(
            file(&f),
            json!({"name":"New","path":"https://x/sites/a/Docs/New","type_id":2,"type":"Folder"})
        );
        let dlp = m(
            json!({"Id":"d1","PolicyDetails":[{"PolicyName":"PII","Rules":[{"RuleName":"SSN","Severity":"Low"},{"RuleName":"CC","Severity":"High"}]}]}),
        );
        assert_eq!(finding_info(&dlp), json!({"uid":"d1","title":"PII: SSN"}));
        assert_eq!(severity(OcsfClass::DetectionFinding, &dlp), (4, "High"));
        assert_eq!(severity(OcsfClass::ApiActivity, &dlp), (1, "Informational"));
    }
}
