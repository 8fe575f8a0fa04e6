//! Data loss prevention records (`DLP.All`): policy matches with their sensitive-information detail.

use super::*;

pub(super) fn dlp(rng: &mut StdRng, d: &Draft) -> Record {
    let (t, user) = (d.t, &d.user);
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
    let mut m = d.base(op, record_type, 4, workload);
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
            json!({"MessageID": "<MSG0001@XX1PR01MB0001.example.prod.outlook.com>", "From": user, "To": ["partner@example.org"], "CC": [], "BCC": [], "Subject": "Quarterly numbers", "Sent": timefmt::record(d.at), "RecipientCount": 1}),
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
                json!({"From": user, "itemCreationTime": timefmt::record(d.at), "SiteCollectionGuid": guid(rng), "SiteCollectionUrl": format!("https://{}.sharepoint.com/sites/finance", t.short), "FileName": "cards.xlsx", "FileOwner": user, "FilePathUrl": format!("https://{}.sharepoint.com/sites/finance/Shared Documents/cards.xlsx", t.short), "DocumentLastModifier": user, "UniqueId": guid(rng), "IsViewableByExternalUsers": false}),
            );
        }
    }
    set(&mut m, "PolicyDetails", policy);
    m
}
