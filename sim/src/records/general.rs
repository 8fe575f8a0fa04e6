//! Records of the other workloads (`Audit.General`): Teams, Power BI, Forms, Copilot and more.

use super::*;

pub(super) fn general(
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
