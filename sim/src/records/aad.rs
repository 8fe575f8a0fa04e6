//! Azure Active Directory records (`Audit.AzureActiveDirectory`): sign-ins, failures, directory changes.

use super::*;

pub(super) fn aad(rng: &mut StdRng, d: &Draft) -> Record {
    let (t, user) = (d.t, &d.user);
    let user_guid = guid(rng);
    let roll = rng.random_range(0..100);
    if roll < 70 {
        let failed = rng.random_bool(0.2);
        let op = if failed {
            "UserLoginFailed"
        } else {
            "UserLoggedIn"
        };
        let mut m = d.base(op, 15, 0, "AzureActiveDirectory");
        let ip = ipv4(rng);
        set(&mut m, "UserKey", json!(user_guid));
        set(
            &mut m,
            "ResultStatus",
            json!(either(rng, 0.9, "Succeeded", "Success")),
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
        let actor = json!([{"ID": user_guid, "Type": 0}, {"ID": user, "Type": 5}]);
        let target = json!([{"ID": "00000003-0000-0000-c000-000000000000", "Type": 0}]);
        actor_and_target(rng, d, &mut m, actor, Some(&ip), target);
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
        let mut m = d.base(op, 8, 0, "AzureActiveDirectory");
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
        let actor = json!([{"ID": admin, "Type": 5}, {"ID": puid(rng), "Type": 3}, {"ID": format!("User_{}", guid(rng)), "Type": 2}]);
        let target =
            json!([{"ID": format!("User_{user_guid}"), "Type": 2}, {"ID": user, "Type": 5}]);
        actor_and_target(rng, d, &mut m, actor, None, target);
        m
    } else {
        let mut m = d.base("UserLoggedIn", 9, 0, "AzureActiveDirectory");
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

/// The members of a directory record that say who acted on what, in this tenant, under which
/// correlation ids.
fn actor_and_target(
    rng: &mut StdRng,
    d: &Draft,
    m: &mut Record,
    actor: Value,
    actor_ip: Option<&str>,
    target: Value,
) {
    set(m, "Actor", actor);
    set(m, "ActorContextId", json!(d.t.tenant_id));
    if let Some(ip) = actor_ip {
        set(m, "ActorIpAddress", json!(ip));
    }
    set(m, "InterSystemsId", json!(guid(rng)));
    set(m, "IntraSystemId", json!(guid(rng)));
    set(m, "SupportTicketId", json!(""));
    set(m, "Target", target);
    set(m, "TargetContextId", json!(d.t.tenant_id));
}
