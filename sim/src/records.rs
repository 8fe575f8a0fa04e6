//! Realistic audit records (§11–13) for every content type, with the wire quirks collectors meet.

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};

use crate::content_type::ContentType;
use crate::timefmt;

/// What a generated record needs to know about its tenant.
#[derive(Debug, Clone)]
pub struct TenantCtx {
    /// Tenant GUID, written to `OrganizationId`.
    pub tenant_id: String,
    /// The tenant's default domain, used in UPNs and site URLs.
    pub domain: String,
    /// Short name used in SharePoint host names.
    pub short: String,
}

impl TenantCtx {
    /// Derives a stable fake domain from the tenant's position in the configuration.
    pub fn new(tenant_id: &str, index: usize) -> Self {
        let short = format!("contoso{:02}", index + 1);
        Self {
            tenant_id: tenant_id.to_string(),
            domain: format!("{short}.onmicrosoft.com"),
            short,
        }
    }
}

const USERS: &[&str] = &[
    "ada",
    "grace",
    "alan",
    "linus",
    "margaret",
    "ken",
    "barbara",
    "dennis",
    "katherine",
    "edsger",
    "frances",
    "donald",
];
const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)",
    "OneDriveMpc-Transform_Thumbnail/1.0",
    "Microsoft SkyDriveSync 24.201.1006.0005 ship; Windows NT 10.0 (19045)",
];
const FILES: &[(&str, &str)] = &[
    ("plan", "xlsx"),
    ("budget", "xlsx"),
    ("notes", "docx"),
    ("roadmap", "pptx"),
    ("contract", "pdf"),
    ("photo", "jpg"),
    ("export", "csv"),
    ("readme", "txt"),
];

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn guid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .to_string()
}

fn upn(rng: &mut StdRng, t: &TenantCtx) -> String {
    format!("{}@{}", pick(rng, USERS), t.domain)
}

fn puid(rng: &mut StdRng) -> String {
    format!("10032000{:08X}", rng.random::<u32>())
}

fn ipv4(rng: &mut StdRng) -> String {
    let net = pick(rng, &["203.0.113", "198.51.100", "192.0.2"]);
    format!("{}.{}", net, rng.random_range(1..255))
}

/// A `ClientIP` in one of the spellings seen on the wire (§13), or `null` when `allow_null`.
fn client_ip(rng: &mut StdRng, allow_null: bool) -> Value {
    let roll = rng.random_range(0..100);
    match roll {
        0..=59 => json!(ipv4(rng)),
        60..=69 => json!(format!("2001:db8::{:x}", rng.random_range(1..0xffff))),
        70..=74 => json!(format!("{}:{}", ipv4(rng), rng.random_range(1024..65535))),
        75..=79 => json!(format!(
            "[2001:db8::{:x}]:{}",
            rng.random_range(1..0xffff),
            rng.random_range(1024..65535)
        )),
        80..=84 => json!(format!("::ffff:{}", ipv4(rng))),
        85..=86 => json!("::1"),
        87..=91 => json!(""),
        _ if allow_null => Value::Null,
        _ => json!(ipv4(rng)),
    }
}

fn base(
    t: &TenantCtx,
    id: &str,
    at: DateTime<Utc>,
    op: &str,
    record_type: i64,
    user_type: i64,
    workload: &str,
) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("CreationTime".into(), json!(timefmt::record(at)));
    m.insert("Id".into(), json!(id));
    m.insert("Operation".into(), json!(op));
    m.insert("OrganizationId".into(), json!(t.tenant_id));
    m.insert("RecordType".into(), json!(record_type));
    m.insert("UserKey".into(), Value::Null);
    m.insert("UserType".into(), json!(user_type));
    m.insert("Version".into(), json!(1));
    m.insert("Workload".into(), json!(workload));
    m
}

fn set(m: &mut serde_json::Map<String, Value>, key: &str, v: Value) {
    m.insert(key.to_string(), v);
}

/// One record of `ct` with the given `Id` and `CreationTime`, as compact JSON text.
pub fn generate(
    rng: &mut StdRng,
    ct: ContentType,
    t: &TenantCtx,
    id: &str,
    at: DateTime<Utc>,
) -> String {
    let m = match ct {
        ContentType::AzureActiveDirectory => aad(rng, t, id, at),
        ContentType::Exchange => exchange(rng, t, id, at),
        ContentType::SharePoint => sharepoint(rng, t, id, at),
        ContentType::General => general(rng, t, id, at),
        ContentType::DlpAll => dlp(rng, t, id, at),
    };
    Value::Object(m).to_string()
}

fn aad(
    rng: &mut StdRng,
    t: &TenantCtx,
    id: &str,
    at: DateTime<Utc>,
) -> serde_json::Map<String, Value> {
    let user = upn(rng, t);
    let user_guid = guid(rng);
    let roll = rng.random_range(0..100);
    if roll < 70 {
        let failed = rng.random_bool(0.2);
        let op = if failed {
            "UserLoginFailed"
        } else {
            "UserLoggedIn"
        };
        let mut m = base(t, id, at, op, 15, 0, "AzureActiveDirectory");
        let ip = ipv4(rng);
        set(&mut m, "UserKey", json!(user_guid));
        set(
            &mut m,
            "ResultStatus",
            json!(if rng.random_bool(0.9) {
                "Succeeded"
            } else {
                "Success"
            }),
        );
        set(&mut m, "ClientIP", json!(ip));
        set(
            &mut m,
            "ObjectId",
            json!("00000003-0000-0000-c000-000000000000"),
        );
        set(&mut m, "UserId", json!(user));
        set(&mut m, "AzureActiveDirectoryEventType", json!(1));
        set(
            &mut m,
            "ExtendedProperties",
            json!([
                {"Name": "ResultStatusDetail", "Value": if failed { "UserError" } else { "Success" }},
                {"Name": "UserAgent", "Value": pick(rng, AGENTS)},
                {"Name": "RequestType", "Value": pick(rng, &["OAuth2:Token", "Login:login", "Kmsi:kmsi", "SAS:ProcessAuth"])},
                {"Name": "KeepMeSignedIn", "Value": if rng.random_bool(0.5) { "true" } else { "false" }}
            ]),
        );
        set(&mut m, "ModifiedProperties", json!([]));
        set(
            &mut m,
            "Actor",
            json!([{"ID": user_guid, "Type": 0}, {"ID": user, "Type": 5}]),
        );
        set(&mut m, "ActorContextId", json!(t.tenant_id));
        set(&mut m, "ActorIpAddress", json!(ip));
        set(&mut m, "InterSystemsId", json!(guid(rng)));
        set(&mut m, "IntraSystemId", json!(guid(rng)));
        set(&mut m, "SupportTicketId", json!(""));
        set(
            &mut m,
            "Target",
            json!([{"ID": "00000003-0000-0000-c000-000000000000", "Type": 0}]),
        );
        set(&mut m, "TargetContextId", json!(t.tenant_id));
        set(&mut m, "ApplicationId", json!(guid(rng)));
        set(
            &mut m,
            "DeviceProperties",
            json!([{"Name": "OS", "Value": pick(rng, &["Windows10", "MacOs", "Ios", "Android"])}, {"Name": "BrowserType", "Value": pick(rng, &["Edge", "Chrome", "Safari"])}, {"Name": "DeviceTrustType", "Value": "1"}]),
        );
        if failed {
            let (code, why) = *pick(
                rng,
                &[
                    ("50126", "InvalidUserNameOrPassword"),
                    ("50074", "UserStrongAuthClientAuthNRequired"),
                    ("50140", "KmsiInterrupt"),
                ],
            );
            set(&mut m, "ErrorCode", json!(code));
            set(&mut m, "LogonError", json!(why));
        } else {
            set(&mut m, "ErrorCode", json!("0"));
        }
        m
    } else if roll < 95 {
        let op = *pick(
            rng,
            &[
                "Add user.",
                "Update user.",
                "Add member to group.",
                "Update application.",
                "Reset user password.",
                "Add service principal.",
            ],
        );
        let mut m = base(t, id, at, op, 8, 0, "AzureActiveDirectory");
        let admin = format!("admin@{}", t.domain);
        set(
            &mut m,
            "UserKey",
            json!(format!("{}@{}", puid(rng), t.domain)),
        );
        set(
            &mut m,
            "ResultStatus",
            json!(pick(rng, &["Success", "Succeeded", "success"])),
        );
        set(&mut m, "ClientIP", client_ip(rng, true));
        set(&mut m, "ObjectId", json!(user));
        set(&mut m, "UserId", json!(admin));
        set(&mut m, "AzureActiveDirectoryEventType", json!(1));
        set(
            &mut m,
            "ExtendedProperties",
            json!([{"Name": "additionalDetails", "Value": "{\"User-Agent\":\"Microsoft Azure Graph Client Library 1.0\"}"}, {"Name": "extendedAuditEventCategory", "Value": "User"}]),
        );
        set(
            &mut m,
            "ModifiedProperties",
            json!([
                {"Name": "AccountEnabled", "NewValue": "[\r\n  true\r\n]", "OldValue": "[]"},
                {"Name": "Included Updated Properties", "NewValue": "AccountEnabled", "OldValue": ""}
            ]),
        );
        set(
            &mut m,
            "Actor",
            json!([{"ID": admin, "Type": 5}, {"ID": puid(rng), "Type": 3}, {"ID": format!("User_{}", guid(rng)), "Type": 2}]),
        );
        set(&mut m, "ActorContextId", json!(t.tenant_id));
        set(&mut m, "InterSystemsId", json!(guid(rng)));
        set(&mut m, "IntraSystemId", json!(guid(rng)));
        set(&mut m, "SupportTicketId", json!(""));
        set(
            &mut m,
            "Target",
            json!([{"ID": format!("User_{user_guid}"), "Type": 2}, {"ID": user, "Type": 5}]),
        );
        set(&mut m, "TargetContextId", json!(t.tenant_id));
        m
    } else {
        let mut m = base(t, id, at, "UserLoggedIn", 9, 0, "AzureActiveDirectory");
        set(&mut m, "UserKey", json!(puid(rng)));
        set(&mut m, "ResultStatus", json!("Succeeded"));
        set(&mut m, "ClientIP", client_ip(rng, true));
        set(&mut m, "ObjectId", json!(user));
        set(&mut m, "UserId", json!(user));
        set(&mut m, "AzureActiveDirectoryEventType", json!(0));
        set(&mut m, "Application", json!("Office 365"));
        set(&mut m, "Client", json!("Exchange"));
        set(&mut m, "LoginStatus", json!(0));
        set(&mut m, "UserDomain", json!(t.domain));
        m
    }
}

fn originating_server(rng: &mut StdRng) -> String {
    let s = format!(
        "XX1PR01MB{:04} (15.20.{}.{})",
        rng.random_range(0..9999),
        rng.random_range(7000..9000),
        rng.random_range(1..40)
    );
    if rng.random_bool(0.3) {
        format!("{s}\r\n")
    } else {
        s
    }
}

fn exchange(
    rng: &mut StdRng,
    t: &TenantCtx,
    id: &str,
    at: DateTime<Utc>,
) -> serde_json::Map<String, Value> {
    let user = upn(rng, t);
    let roll = rng.random_range(0..100);
    if roll < 40 {
        let cmdlet = *pick(
            rng,
            &[
                "Set-Mailbox",
                "New-InboxRule",
                "Set-InboxRule",
                "Add-MailboxPermission",
                "Set-TransportRule",
                "New-ManagementRoleAssignment",
                "Set-OrganizationConfig",
            ],
        );
        let mut m = base(t, id, at, cmdlet, 1, 2, "Exchange");
        set(
            &mut m,
            "ResultStatus",
            json!(pick(rng, &["True", "True", "True", "False", "TRUE"])),
        );
        set(&mut m, "UserKey", json!(puid(rng)));
        set(&mut m, "ClientIP", client_ip(rng, false));
        set(&mut m, "ObjectId", json!(user));
        set(&mut m, "UserId", json!(format!("admin@{}", t.domain)));
        set(&mut m, "AppId", json!(""));
        set(&mut m, "ClientAppId", json!(""));
        set(&mut m, "ExternalAccess", json!(rng.random_bool(0.1)));
        set(&mut m, "OrganizationName", json!(t.domain));
        set(&mut m, "OriginatingServer", json!(originating_server(rng)));
        set(
            &mut m,
            "Parameters",
            json!([{"Name": "Identity", "Value": user}, {"Name": "AuditEnabled", "Value": "True"}]),
        );
        set(&mut m, "TokenObjectId", json!(guid(rng)));
        set(&mut m, "TokenTenantId", json!(t.tenant_id));
        m
    } else if roll < 65 {
        let op = *pick(rng, &["Send", "SoftDelete", "Update", "Create", "SendAs"]);
        let mut m = mailbox_base(rng, t, id, at, op, 2, &user);
        set(
            &mut m,
            "Item",
            json!({"Id": format!("RgAAAAD{:016X}", rng.random::<u64>()), "InternetMessageId": format!("<MSG{:08}@XX1PR01MB0001.prod.outlook.com>", rng.random_range(0..99_999_999)), "ParentFolder": {"Id": "LgAAAAAf", "Path": "\\Sent Items"}, "SizeInBytes": rng.random_range(1_000..5_000_000), "Subject": pick(rng, &["Quarterly numbers", "Re: lunch", "Invoice 2026-03", "Fwd: roadmap"])}),
        );
        m
    } else if roll < 75 {
        let mut m = mailbox_base(rng, t, id, at, "MoveToDeletedItems", 3, &user);
        set(
            &mut m,
            "Folder",
            json!({"Id": "LgAAAAAf", "Path": "\\Inbox"}),
        );
        set(
            &mut m,
            "DestFolder",
            json!({"Id": "LgAAAAAg", "Path": "\\Deleted Items"}),
        );
        set(&mut m, "CrossMailboxOperation", json!(false));
        set(
            &mut m,
            "AffectedItems",
            json!([{"Id": format!("RgAAAAD{:016X}", rng.random::<u64>()), "ParentFolder": {"Id": "LgAAAAAf", "Path": "\\Inbox"}, "Subject": "Newsletter"}]),
        );
        m
    } else if roll < 95 {
        let mut m = mailbox_base(rng, t, id, at, "MailItemsAccessed", 50, &user);
        let n = rng.random_range(1..40);
        set(&mut m, "OperationCount", json!(n));
        set(
            &mut m,
            "OperationProperties",
            json!([{"Name": "MailAccessType", "Value": "Bind"}, {"Name": "IsThrottled", "Value": "False"}]),
        );
        set(
            &mut m,
            "Folders",
            json!([{"FolderItems": [{"InternetMessageId": format!("<MSG{:08}@example.prod.outlook.com>", rng.random_range(0..99_999_999))}], "Id": "LgAAAAAf", "Path": "\\Inbox"}]),
        );
        m
    } else {
        let mut m = mailbox_base(rng, t, id, at, "MessageBind", 19, &user);
        set(&mut m, "OperationCount", json!(rng.random_range(1..10)));
        m
    }
}

fn mailbox_base(
    rng: &mut StdRng,
    t: &TenantCtx,
    id: &str,
    at: DateTime<Utc>,
    op: &str,
    record_type: i64,
    user: &str,
) -> serde_json::Map<String, Value> {
    let mut m = base(t, id, at, op, record_type, 0, "Exchange");
    set(
        &mut m,
        "ResultStatus",
        json!(pick(
            rng,
            &["Succeeded", "Succeeded", "PartiallySucceeded", "Failed"]
        )),
    );
    set(&mut m, "UserKey", json!(puid(rng)));
    set(&mut m, "ClientIP", client_ip(rng, false));
    set(&mut m, "UserId", json!(user));
    set(
        &mut m,
        "AppId",
        json!("00000002-0000-0ff1-ce00-000000000000"),
    );
    set(&mut m, "ClientAppId", json!(""));
    set(&mut m, "ClientIPAddress", json!(ipv4(rng)));
    set(
        &mut m,
        "ClientInfoString",
        json!(pick(
            rng,
            &[
                "Client=OWA;Action=ViaProxy",
                "Client=MSExchangeRPC",
                "Client=REST;Client=RESTSystem;"
            ]
        )),
    );
    set(&mut m, "ExternalAccess", json!(false));
    set(&mut m, "InternalLogonType", json!(0));
    set(&mut m, "LogonType", json!(*pick(rng, &[0, 0, 0, 1, 2])));
    set(
        &mut m,
        "LogonUserSid",
        json!(format!(
            "S-1-5-21-{}-{}-{}-{}",
            rng.random::<u32>(),
            rng.random::<u32>(),
            rng.random::<u32>(),
            rng.random_range(1000..99999)
        )),
    );
    set(&mut m, "MailboxGuid", json!(guid(rng)));
    set(&mut m, "MailboxOwnerUPN", json!(user));
    set(&mut m, "OrganizationName", json!(t.domain));
    set(&mut m, "OriginatingServer", json!(originating_server(rng)));
    set(&mut m, "SessionId", json!(guid(rng)));
    m
}

fn sharepoint(
    rng: &mut StdRng,
    t: &TenantCtx,
    id: &str,
    at: DateTime<Utc>,
) -> serde_json::Map<String, Value> {
    let user = upn(rng, t);
    let (name, ext) = *pick(rng, FILES);
    let onedrive = rng.random_bool(0.3);
    let workload = if onedrive { "OneDrive" } else { "SharePoint" };
    let site_url = if onedrive {
        format!(
            "https://{}-my.sharepoint.com/personal/{}/",
            t.short,
            user.replace(['@', '.'], "_")
        )
    } else {
        format!(
            "https://{}.sharepoint.com/sites/{}/",
            t.short,
            pick(rng, &["ops", "finance", "hr", "engineering"])
        )
    };
    let roll = rng.random_range(0..100);
    let (op, record_type, item_type) = if roll < 50 {
        (
            *pick(
                rng,
                &[
                    "FileAccessed",
                    "FileModified",
                    "FileDownloaded",
                    "FileUploaded",
                    "FilePreviewed",
                    "FileDeleted",
                ],
            ),
            6,
            "File",
        )
    } else if roll < 62 {
        ("PageViewed", 4, "Page")
    } else if roll < 72 {
        (
            *pick(
                rng,
                &[
                    "SharingSet",
                    "AnonymousLinkCreated",
                    "SharingInvitationCreated",
                    "AddedToSecureLink",
                ],
            ),
            14,
            "File",
        )
    } else if roll < 80 {
        (*pick(rng, &["ListCreated", "ListUpdated"]), 36, "List")
    } else if roll < 88 {
        (
            *pick(rng, &["ListItemCreated", "ListItemUpdated"]),
            54,
            "ListItem",
        )
    } else if roll < 92 {
        ("ContentTypeUpdated", 55, "List")
    } else if roll < 96 {
        ("FieldUpdated", 56, "List")
    } else if roll < 98 {
        ("CommentCreated", 37, "File")
    } else {
        ("FileSyncDownloadedFull", 7, "File")
    };
    let user_type = if rng.random_bool(0.05) { 10 } else { 0 };
    let mut m = base(t, id, at, op, record_type, user_type, workload);
    let object = format!("{site_url}Shared Documents/{name}.{ext}");
    set(
        &mut m,
        "UserKey",
        json!(format!(
            "i:0h.f|membership|{}@live.com",
            puid(rng).to_lowercase()
        )),
    );
    if rng.random_bool(0.2) {
        set(&mut m, "ResultStatus", json!("Succeeded"));
    }
    set(&mut m, "ClientIP", client_ip(rng, false));
    set(
        &mut m,
        "ObjectId",
        json!(if item_type == "Page" {
            format!("{site_url}SitePages/Home.aspx")
        } else {
            object
        }),
    );
    set(&mut m, "UserId", json!(user));
    set(&mut m, "CorrelationId", json!(guid(rng)));
    set(
        &mut m,
        "EventSource",
        json!(if rng.random_bool(0.9) {
            "SharePoint"
        } else {
            "ObjectModel"
        }),
    );
    set(&mut m, "ItemType", json!(item_type));
    set(&mut m, "ListId", json!(guid(rng)));
    set(&mut m, "ListItemUniqueId", json!(guid(rng)));
    set(&mut m, "Site", json!(guid(rng)));
    set(&mut m, "UserAgent", json!(pick(rng, AGENTS)));
    set(&mut m, "WebId", json!(guid(rng)));
    if item_type == "File" {
        set(&mut m, "SiteUrl", json!(site_url));
        set(&mut m, "SourceFileExtension", json!(ext));
        set(&mut m, "SourceFileName", json!(format!("{name}.{ext}")));
        set(&mut m, "SourceRelativeUrl", json!("Shared Documents"));
    }
    if record_type == 14 {
        set(
            &mut m,
            "TargetUserOrGroupName",
            json!(format!("partner{}@example.org", rng.random_range(1..50))),
        );
        set(
            &mut m,
            "TargetUserOrGroupType",
            json!(pick(rng, &["Member", "Guest", "SecurityGroup", "Partner"])),
        );
        set(
            &mut m,
            "EventData",
            json!("<PermissionsGranted>Contribute</PermissionsGranted>"),
        );
        set(&mut m, "UniqueSharingId", json!(guid(rng)));
    }
    if matches!(record_type, 36 | 54 | 55 | 56) {
        set(
            &mut m,
            "ListTitle",
            json!(pick(rng, &["Documents", "Tasks", "Issues"])),
        );
        set(&mut m, "ListBaseType", json!(*pick(rng, &[0, 1])));
        set(&mut m, "IsHiddenList", json!(false));
    }
    m
}

fn general(
    rng: &mut StdRng,
    t: &TenantCtx,
    id: &str,
    at: DateTime<Utc>,
) -> serde_json::Map<String, Value> {
    let user = upn(rng, t);
    let roll = rng.random_range(0..100);
    let (op, record_type, workload) = if roll < 30 {
        (
            *pick(
                rng,
                &[
                    "MessageSent",
                    "TeamCreated",
                    "MemberAdded",
                    "ChannelAdded",
                    "MeetingParticipantDetail",
                ],
            ),
            25,
            "MicrosoftTeams",
        )
    } else if roll < 45 {
        (
            *pick(rng, &["ViewReport", "ExportReport", "CreateArtifact"]),
            20,
            "PowerBI",
        )
    } else if roll < 53 {
        (
            *pick(rng, &["CreateForm", "ViewResponses"]),
            66,
            "MicrosoftForms",
        )
    } else if roll < 61 {
        (
            *pick(rng, &["PlanCreated", "TaskModified"]),
            *pick(rng, &[188, 190]),
            "Planner",
        )
    } else if roll < 66 {
        ("PostMessage", 22, "Yammer")
    } else if roll < 71 {
        ("GetUserActivity", 52, "SecurityComplianceCenter")
    } else if roll < 81 {
        ("CopilotInteraction", 261, "Copilot")
    } else if roll < 86 {
        ("TIMailData", 28, "ThreatIntelligence")
    } else if roll < 91 {
        ("CreateFlow", 30, "MicrosoftFlow")
    } else {
        // Record types newer than any table the collector knows.
        (
            "NewWorkloadActivity",
            *pick(rng, &[117, 9999, 412]),
            "FutureWorkload",
        )
    };
    let mut m = base(
        t,
        id,
        at,
        op,
        record_type,
        if rng.random_bool(0.1) { 5 } else { 0 },
        workload,
    );
    set(&mut m, "UserKey", json!(guid(rng)));
    set(
        &mut m,
        "ResultStatus",
        json!(pick(
            rng,
            &["Succeeded", "Succeeded", "Success", "Failed", "InProgress"]
        )),
    );
    set(&mut m, "ClientIP", client_ip(rng, true));
    set(&mut m, "ObjectId", json!(guid(rng)));
    set(&mut m, "UserId", json!(user));
    match record_type {
        25 => {
            set(
                &mut m,
                "TeamName",
                json!(pick(rng, &["Ops", "Finance", "All Company"])),
            );
            set(
                &mut m,
                "TeamGuid",
                json!(format!("19:{:032x}@thread.skype", rng.random::<u128>())),
            );
            set(&mut m, "CommunicationType", json!("Team"));
            set(
                &mut m,
                "Members",
                json!([{"DisplayName": pick(rng, USERS), "Role": 1, "UPN": user}]),
            );
        }
        20 => {
            set(&mut m, "Activity", json!(op));
            set(&mut m, "WorkSpaceName", json!("Sales"));
            set(&mut m, "ReportName", json!("Pipeline"));
            set(
                &mut m,
                "OperationProperties",
                json!("[{\"Name\":\"SystemArtifactType\",\"Value\":\"None\"}]"),
            );
        }
        261 => {
            set(
                &mut m,
                "CopilotEventData",
                json!({"AppHost": "Word", "Contexts": [{"Id": format!("https://{}.sharepoint.com/sites/ops/plan.docx", t.short), "Type": "docx"}], "ThreadId": format!("19:{:016x}@thread.v2", rng.random::<u64>())}),
            );
        }
        _ => {
            set(
                &mut m,
                "ExtendedProperties",
                json!([{"Name": "Source", "Value": "sim"}]),
            );
        }
    }
    if rng.random_bool(0.02) {
        // Some feeds carry numbers as strings (§13); a collector must not choke on them.
        for key in ["RecordType", "UserType", "Version"] {
            if let Some(v) = m.get(key).cloned() {
                set(&mut m, key, json!(v.to_string()));
            }
        }
    }
    m
}

fn dlp(
    rng: &mut StdRng,
    t: &TenantCtx,
    id: &str,
    at: DateTime<Utc>,
) -> serde_json::Map<String, Value> {
    let user = upn(rng, t);
    let roll = rng.random_range(0..100);
    let rule = json!({
        "RuleId": guid(rng),
        "RuleName": pick(rng, &["External sharing of card numbers", "SSN in documents", "Bulk PII"]),
        "Actions": [pick(rng, &["NotifyUser", "BlockAccess", "GenerateIncidentReport"])],
        "Severity": pick(rng, &["Low", "Medium", "High"]),
        "RuleMode": pick(rng, &["Enable", "Enforce", "Audit"]),
        "ConditionsMatched": {"SensitiveInformation": [{"Confidence": 85, "Count": rng.random_range(1..20), "Location": "Message Body", "SensitiveType": pick(rng, &["3f4e2a1b-9c8d-4e7f-a6b5-0c1d2e3f4a5b", "8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c2d"]), "UniqueCount": 1}]}
    });
    let policy = json!([{"PolicyId": guid(rng), "PolicyName": "Financial data", "Rules": [rule]}]);
    let (record_type, workload) = if roll < 35 {
        (11, "SharePoint")
    } else if roll < 70 {
        (13, "Exchange")
    } else if roll < 85 {
        (33, "SharePoint")
    } else {
        (63, "Endpoint")
    };
    let op = if record_type == 11 && rng.random_bool(0.1) {
        *pick(rng, &["DlpRuleUndo", "DlpInfo"])
    } else {
        "DlpRuleMatch"
    };
    let mut m = base(t, id, at, op, record_type, 4, workload);
    if record_type == 13 {
        set(
            &mut m,
            "UserKey",
            json!(format!(
                "{}",
                1_153_801_116_540_000_000u64 + rng.random_range(0..999_999)
            )),
        );
        set(
            &mut m,
            "ObjectId",
            json!(format!(
                "<MSG{:04}@XX1PR01MB0001.example.prod.outlook.com>",
                rng.random_range(0..9999)
            )),
        );
        set(&mut m, "UserId", json!("DlpAgent"));
        set(&mut m, "IncidentId", json!(guid(rng)));
        set(&mut m, "SensitiveInfoDetectionIsIncluded", json!(false));
        set(
            &mut m,
            "ExchangeMetaData",
            json!({"MessageID": "<MSG0001@XX1PR01MB0001.example.prod.outlook.com>", "From": user, "To": ["partner@example.org"], "CC": [], "BCC": [], "Subject": "Quarterly numbers", "Sent": timefmt::record(at), "RecipientCount": 1}),
        );
    } else {
        set(&mut m, "UserKey", json!("DlpAgent"));
        set(&mut m, "ClientIP", client_ip(rng, true));
        set(
            &mut m,
            "ObjectId",
            json!(format!(
                "https://{}.sharepoint.com/sites/finance/Shared Documents/cards.xlsx",
                t.short
            )),
        );
        set(&mut m, "UserId", json!(user));
        set(&mut m, "IncidentId", json!(guid(rng)));
        set(&mut m, "SensitiveInfoDetectionIsIncluded", json!(false));
        if record_type == 63 {
            set(
                &mut m,
                "EndpointMetaData",
                json!({"DeviceName": format!("LAPTOP-{:04}", rng.random_range(0..9999)), "EnforcementMode": rng.random_range(1..6), "FileExtension": "xlsx", "FileType": "Excel"}),
            );
        } else {
            set(
                &mut m,
                "SharePointMetaData",
                json!({"From": user, "itemCreationTime": timefmt::record(at), "SiteCollectionGuid": guid(rng), "SiteCollectionUrl": format!("https://{}.sharepoint.com/sites/finance", t.short), "FileName": "cards.xlsx", "FileOwner": user, "FilePathUrl": format!("https://{}.sharepoint.com/sites/finance/Shared Documents/cards.xlsx", t.short), "DocumentLastModifier": user, "UniqueId": guid(rng), "IsViewableByExternalUsers": false}),
            );
        }
    }
    set(&mut m, "PolicyDetails", policy);
    m
}

#[cfg(test)]
mod tests;
