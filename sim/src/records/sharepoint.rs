//! SharePoint and OneDrive records (`Audit.SharePoint`): file, sharing and site operations.

use super::*;

/// The operations of `Audit.SharePoint` with their record and item types, by share (out of 100).
const KINDS: &[(i32, Kind)] = &[
    (
        50,
        kind(
            &[
                "FileAccessed",
                "FileModified",
                "FileDownloaded",
                "FileUploaded",
                "FilePreviewed",
                "FileDeleted",
            ],
            &[6],
            "File",
        ),
    ),
    (62, kind(&["PageViewed"], &[4], "Page")),
    (
        72,
        kind(
            &[
                "SharingSet",
                "AnonymousLinkCreated",
                "SharingInvitationCreated",
                "AddedToSecureLink",
            ],
            &[14],
            "File",
        ),
    ),
    (80, kind(&["ListCreated", "ListUpdated"], &[36], "List")),
    (
        88,
        kind(&["ListItemCreated", "ListItemUpdated"], &[54], "ListItem"),
    ),
    (92, kind(&["ContentTypeUpdated"], &[55], "List")),
    (96, kind(&["FieldUpdated"], &[56], "List")),
    (98, kind(&["CommentCreated"], &[37], "File")),
];

/// The rarest: a full sync download.
const SYNC: Kind = kind(&["FileSyncDownloadedFull"], &[7], "File");

pub(super) fn sharepoint(rng: &mut StdRng, d: &Draft) -> Record {
    let (t, user) = (d.t, &d.user);
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
    let (op, record_type, item_type) = choose(rng, KINDS, SYNC);
    let user_type = either(rng, 0.05, 10, 0);
    let mut m = d.base(op, record_type, user_type, workload);
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
        json!(either(rng, 0.9, "SharePoint", "ObjectModel")),
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
