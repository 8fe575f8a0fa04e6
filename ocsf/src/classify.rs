//! Which OCSF class and activity a record becomes, from its `RecordType`, `Workload` and
//! `Operation`. The table in `docs/ocsf.md` is this module written down.

use serde_json::{Map, Value};

use crate::class::OcsfClass;

/// A record's class and activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// The OCSF class.
    pub class: OcsfClass,
    /// `activity_id` within the class (99 = Other).
    pub activity_id: i64,
    /// `activity_name`: the class's caption for the id, or the operation for Other.
    pub activity_name: String,
}

/// Record types (`RecordType` numbers) of DLP matches and compliance alerts.
const DLP_RECORD_TYPES: [i64; 6] = [11, 13, 33, 63, 99, 107];
const ALERT_RECORD_TYPES: [i64; 2] = [40, 47];
/// Sign-ins: AzureActiveDirectoryAccountLogon (9) and AzureActiveDirectoryStsLogon (15).
const SIGN_IN_RECORD_TYPES: [i64; 2] = [9, 15];

/// Classifies one record. `record_type_id` is the normalized number from `_o365` (the raw
/// member may be a string).
pub fn classify(record: &Map<String, Value>, record_type_id: Option<i64>) -> Classified {
    let op = record
        .get("Operation")
        .and_then(Value::as_str)
        .unwrap_or("");
    let workload = record.get("Workload").and_then(Value::as_str).unwrap_or("");
    let rt = record_type_id.unwrap_or(-1);
    let lower = op.to_ascii_lowercase();
    let pick = |class: OcsfClass, id: i64| make(class, id, op);

    if DLP_RECORD_TYPES.contains(&rt) || lower.starts_with("dlprule") || lower == "dlpinfo" {
        let id = if lower == "dlpruleundo" { 3 } else { 1 };
        return pick(OcsfClass::DetectionFinding, id);
    }
    if ALERT_RECORD_TYPES.contains(&rt) || lower.starts_with("alert") {
        let id = match lower.as_str() {
            "alertupdated" => 2,
            "alertclosed" | "alertresolved" => 3,
            _ => 1,
        };
        return pick(OcsfClass::DetectionFinding, id);
    }
    if SIGN_IN_RECORD_TYPES.contains(&rt) {
        let id = if lower.contains("logoff") || lower.contains("loggedout") {
            2
        } else {
            1
        };
        return pick(OcsfClass::Authentication, id);
    }
    if let Some(c) = directory(&lower) {
        return pick(c.0, c.1);
    }
    if let Some(c) = group_or_role_elsewhere(&lower) {
        return pick(c.0, c.1);
    }
    if matches!(workload, "SharePoint" | "OneDrive") {
        if let Some(id) = file_activity(op) {
            return pick(OcsfClass::FileHostingActivity, id);
        }
    }
    pick(OcsfClass::ApiActivity, api_activity(op))
}

/// Entra ID directory operations (`Add user.`, `Add member to group.`, …).
fn directory(lower: &str) -> Option<(OcsfClass, i64)> {
    use OcsfClass::{AccountChange as A, GroupManagement as G, UserAccessManagement as R};
    Some(match lower {
        "add user." => (A, 1),
        "enable account." => (A, 2),
        "change user password." => (A, 3),
        "reset user password." | "set force change user password." => (A, 4),
        "disable account." => (A, 5),
        "delete user." | "hard delete user." => (A, 6),
        "update user." | "restore user." | "change user license." => (A, 99),
        "add group." => (G, 6),
        "delete group." | "hard delete group." => (G, 5),
        "add member to group." | "add owner to group." => (G, 3),
        "remove member from group." | "remove owner from group." => (G, 4),
        "update group." => (G, 99),
        "add member to role." | "add eligible member to role." => (R, 1),
        "add scoped member to role." => (R, 1),
        "remove member from role." | "remove eligible member from role." => (R, 2),
        "remove scoped member from role." => (R, 2),
        _ => return None,
    })
}

/// Group and role changes outside Entra ID: SharePoint groups, Teams membership, Exchange
/// role groups and management role assignments.
fn group_or_role_elsewhere(lower: &str) -> Option<(OcsfClass, i64)> {
    use OcsfClass::{GroupManagement as G, UserAccessManagement as R};
    Some(match lower {
        "addedtogroup" | "memberadded" => (G, 3),
        "removedfromgroup" | "memberremoved" => (G, 4),
        "groupadded" | "teamcreated" => (G, 6),
        "groupremoved" | "teamdeleted" => (G, 5),
        "add-rolegroupmember" | "new-managementroleassignment" => (R, 1),
        "remove-rolegroupmember" | "remove-managementroleassignment" => (R, 2),
        _ => return None,
    })
}

/// SharePoint / OneDrive file and folder operations to File Hosting Activity ids.
pub(crate) fn file_activity(op: &str) -> Option<i64> {
    Some(match op {
        "FileUploaded" | "FileSyncUploadedFull" | "FileSyncUploadedPartial" => 1,
        "FileDownloaded" | "FileSyncDownloadedFull" | "FileSyncDownloadedPartial" => 2,
        "FileModified" | "FileModifiedExtended" => 3,
        "FileDeleted"
        | "FileRecycled"
        | "FileDeletedFirstStageRecycleBin"
        | "FileDeletedSecondStageRecycleBin"
        | "FolderDeleted"
        | "FolderRecycled" => 4,
        "FileRenamed" | "FolderRenamed" => 5,
        "FileCopied" | "FolderCopied" => 6,
        "FileMoved" | "FolderMoved" => 7,
        "FileRestored" | "FolderRestored" => 8,
        "FilePreviewed" => 9,
        "FileCheckedOut" => 10,
        "FileCheckedIn" | "FileCheckOutDiscarded" => 11,
        "SharingSet"
        | "SharingInvitationCreated"
        | "AnonymousLinkCreated"
        | "CompanyLinkCreated"
        | "SecureLinkCreated"
        | "AddedToSecureLink"
        | "SharingInheritanceBroken" => 12,
        "SharingRevoked"
        | "AnonymousLinkRemoved"
        | "CompanyLinkRemoved"
        | "SecureLinkDeleted"
        | "RemovedFromSecureLink" => 13,
        "FileAccessed" | "FileAccessedExtended" => 14,
        "FolderCreated" => 99,
        _ => return None,
    })
}

/// API Activity ids (1 Create, 2 Read, 3 Update, 4 Delete, 99 Other) from an operation: the
/// verb of an Exchange cmdlet, or a known mailbox / workload operation.
fn api_activity(op: &str) -> i64 {
    if let Some((verb, _)) = op.split_once('-') {
        return match verb {
            "New" | "Add" | "Install" | "Enable" => 1,
            "Get" | "Search" | "Test" | "Export" => 2,
            "Set" | "Update" | "Start" | "Stop" => 3,
            "Remove" | "Disable" | "Uninstall" => 4,
            _ => 99,
        };
    }
    match op {
        "Send" | "SendAs" | "SendOnBehalf" | "Create" | "Copy" | "New-InboxRule" => 1,
        "MailItemsAccessed" | "FolderBind" | "MessageBind" | "SearchQueryInitiated" => 2,
        "Update"
        | "Move"
        | "MoveToDeletedItems"
        | "UpdateInboxRules"
        | "UpdateFolderPermissions" => 3,
        "SoftDelete" | "HardDelete" => 4,
        _ => verb_of_operation(op),
    }
}

/// The activity a past-tense operation name implies (`ListCreated`, `ReportViewed`, …).
fn verb_of_operation(op: &str) -> i64 {
    const CREATE: [&str; 4] = ["Created", "Added", "Sent", "Posted"];
    const READ: [&str; 5] = ["Viewed", "Accessed", "Read", "Downloaded", "Searched"];
    const UPDATE: [&str; 4] = ["Updated", "Modified", "Changed", "Edited"];
    const DELETE: [&str; 2] = ["Deleted", "Removed"];
    let ends = |words: &[&str]| words.iter().any(|w| op.ends_with(w));
    if ends(&CREATE) || op.starts_with("Create") || op.starts_with("Add") {
        1
    } else if ends(&READ) || op.starts_with("View") || op.starts_with("Get") {
        2
    } else if ends(&UPDATE) || op.starts_with("Update") || op.starts_with("Set") {
        3
    } else if ends(&DELETE) || op.starts_with("Delete") || op.starts_with("Remove") {
        4
    } else {
        99
    }
}

fn make(class: OcsfClass, activity_id: i64, op: &str) -> Classified {
    let caption = activity_caption(class, activity_id);
    Classified {
        class,
        activity_id,
        activity_name: caption.map_or_else(|| op.to_owned(), str::to_owned),
    }
}

/// The schema's caption of an activity id (None for Other).
fn activity_caption(class: OcsfClass, id: i64) -> Option<&'static str> {
    const AUTH: [&str; 2] = ["Logon", "Logoff"];
    const ACCOUNT: [&str; 11] = [
        "Create",
        "Enable",
        "Password Change",
        "Password Reset",
        "Disable",
        "Delete",
        "Attach Policy",
        "Detach Policy",
        "Lock",
        "MFA Factor Enable",
        "MFA Factor Disable",
    ];
    const GROUP: [&str; 6] = [
        "Assign Privileges",
        "Revoke Privileges",
        "Add User",
        "Remove User",
        "Delete",
        "Create",
    ];
    const ACCESS: [&str; 2] = ["Assign Privileges", "Revoke Privileges"];
    const FILE: [&str; 16] = [
        "Upload", "Download", "Update", "Delete", "Rename", "Copy", "Move", "Restore", "Preview",
        "Lock", "Unlock", "Share", "Unshare", "Open", "Sync", "Unsync",
    ];
    const API: [&str; 4] = ["Create", "Read", "Update", "Delete"];
    const FINDING: [&str; 3] = ["Create", "Update", "Close"];
    let names: &[&str] = match class {
        OcsfClass::Authentication => &AUTH,
        OcsfClass::AccountChange => &ACCOUNT,
        OcsfClass::GroupManagement => &GROUP,
        OcsfClass::UserAccessManagement => &ACCESS,
        OcsfClass::FileHostingActivity => &FILE,
        OcsfClass::ApiActivity => &API,
        OcsfClass::DetectionFinding => &FINDING,
    };
    let i = usize::try_from(id.checked_sub(1)?).ok()?;
    names.get(i).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(v: Value, rt: i64) -> Classified {
        let Value::Object(m) = v else { unreachable!() };
        classify(&m, Some(rt))
    }

    #[test]
    fn each_family_lands_in_its_class() {
        let c = of(json!({"Operation":"UserLoginFailed"}), 15);
        assert_eq!(
            (c.class, c.activity_id, c.activity_name.as_str()),
            (OcsfClass::Authentication, 1, "Logon")
        );
        let c = of(json!({"Operation":"Add user."}), 8);
        assert_eq!((c.class, c.activity_id), (OcsfClass::AccountChange, 1));
        let c = of(json!({"Operation":"Update user."}), 8);
        assert_eq!(
            (c.class, c.activity_id, c.activity_name.as_str()),
            (OcsfClass::AccountChange, 99, "Update user.")
        );
        let c = of(json!({"Operation":"Add member to group."}), 8);
        assert_eq!(
            (c.class, c.activity_id, c.activity_name.as_str()),
            (OcsfClass::GroupManagement, 3, "Add User")
        );
        let c = of(json!({"Operation":"Remove member from role."}), 8);
        assert_eq!(
            (c.class, c.activity_id),
            (OcsfClass::UserAccessManagement, 2)
        );
        let c = of(
            json!({"Operation":"AddedToGroup","Workload":"SharePoint"}),
            14,
        );
        assert_eq!(c.class, OcsfClass::GroupManagement);
        let c = of(
            json!({"Operation":"FileDownloaded","Workload":"OneDrive"}),
            6,
        );
        assert_eq!(
            (c.class, c.activity_id, c.activity_name.as_str()),
            (OcsfClass::FileHostingActivity, 2, "Download")
        );
        let c = of(
            json!({"Operation":"SharingSet","Workload":"SharePoint"}),
            14,
        );
        assert_eq!(
            (c.class, c.activity_id),
            (OcsfClass::FileHostingActivity, 12)
        );
        let c = of(
            json!({"Operation":"DlpRuleMatch","Workload":"Exchange"}),
            13,
        );
        assert_eq!((c.class, c.activity_id), (OcsfClass::DetectionFinding, 1));
        let c = of(json!({"Operation":"AlertTriggered"}), 40);
        assert_eq!(c.class, OcsfClass::DetectionFinding);
    }

    #[test]
    fn everything_else_is_api_activity_with_a_verb() {
        let api = |op: &str, rt| {
            let c = of(json!({"Operation":op,"Workload":"Exchange"}), rt);
            assert_eq!(c.class, OcsfClass::ApiActivity, "{op}");
            c.activity_id
        };
        assert_eq!(api("Set-Mailbox", 1), 3);
        assert_eq!(api("New-TransportRule", 1), 1);
        assert_eq!(api("Get-Mailbox", 1), 2);
        assert_eq!(api("Remove-MailboxPermission", 1), 4);
        assert_eq!(api("MailItemsAccessed", 50), 2);
        assert_eq!(api("SoftDelete", 19), 4);
        assert_eq!(api("ListCreated", 36), 1);
        assert_eq!(api("FutureOperation", 9999), 99);
        let c = of(json!({"Operation":"FutureOperation"}), 9999);
        assert_eq!(c.activity_name, "FutureOperation");
        // A SharePoint operation that is not about files stays API Activity.
        let c = of(
            json!({"Operation":"SiteCollectionAdminAdded","Workload":"SharePoint"}),
            4,
        );
        assert_eq!((c.class, c.activity_id), (OcsfClass::ApiActivity, 1));
    }
}
