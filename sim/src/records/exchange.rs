//! Exchange records (`Audit.Exchange`): admin cmdlets and mailbox access, with the server quirks.

use super::*;

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

pub(super) fn exchange(rng: &mut StdRng, d: &Draft) -> Record {
    let (t, user) = (d.t, &d.user);
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
        let mut m = d.base(cmdlet, 1, 2, "Exchange");
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
        let mut m = mailbox_base(rng, d, op, 2);
        set(
            &mut m,
            "Item",
            json!({"Id": format!("RgAAAAD{:016X}", rng.random::<u64>()), "InternetMessageId": format!("<MSG{:08}@XX1PR01MB0001.prod.outlook.com>", rng.random_range(0..99_999_999)), "ParentFolder": {"Id": "LgAAAAAf", "Path": "\\Sent Items"}, "SizeInBytes": rng.random_range(1_000..5_000_000), "Subject": pick(rng, &["Quarterly numbers", "Re: lunch", "Invoice 2026-03", "Fwd: roadmap"])}),
        );
        m
    } else if roll < 75 {
        let mut m = mailbox_base(rng, d, "MoveToDeletedItems", 3);
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
        let mut m = mailbox_base(rng, d, "MailItemsAccessed", 50);
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
        let mut m = mailbox_base(rng, d, "MessageBind", 19);
        set(&mut m, "OperationCount", json!(rng.random_range(1..10)));
        m
    }
}

fn mailbox_base(rng: &mut StdRng, d: &Draft, op: &str, record_type: i64) -> Record {
    let (t, user) = (d.t, &d.user);
    let mut m = d.base(op, record_type, 0, "Exchange");
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
