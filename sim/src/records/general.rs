//! Records of the other workloads (`Audit.General`): Teams, Power BI, Forms, Copilot and more.

use super::*;

/// The workloads of `Audit.General`, by share of the records (out of 100).
const KINDS: &[(i32, Kind)] = &[
    (
        30,
        kind(
            &[
                "MessageSent",
                "TeamCreated",
                "MemberAdded",
                "ChannelAdded",
                "MeetingParticipantDetail",
            ],
            &[25],
            "MicrosoftTeams",
        ),
    ),
    (
        45,
        kind(
            &["ViewReport", "ExportReport", "CreateArtifact"],
            &[20],
            "PowerBI",
        ),
    ),
    (
        53,
        kind(&["CreateForm", "ViewResponses"], &[66], "MicrosoftForms"),
    ),
    (
        61,
        kind(&["PlanCreated", "TaskModified"], &[188, 190], "Planner"),
    ),
    (66, kind(&["PostMessage"], &[22], "Yammer")),
    (
        71,
        kind(&["GetUserActivity"], &[52], "SecurityComplianceCenter"),
    ),
    (81, kind(&["CopilotInteraction"], &[261], "Copilot")),
    (86, kind(&["TIMailData"], &[28], "ThreatIntelligence")),
    (91, kind(&["CreateFlow"], &[30], "MicrosoftFlow")),
];

/// Record types newer than any table the collector knows.
const NEWER: Kind = kind(
    &["NewWorkloadActivity"],
    &[117, 9999, 412],
    "FutureWorkload",
);

pub(super) fn general(rng: &mut StdRng, d: &Draft) -> Record {
    let (t, user) = (d.t, &d.user);
    let (op, record_type, workload) = choose(rng, KINDS, NEWER);
    let user_type = either(rng, 0.1, 5, 0);
    let mut m = d.base(op, record_type, user_type, workload);
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
