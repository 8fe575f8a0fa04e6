"""The auditor's place in the stack, offline: its role grants exactly what the audit needs
(read stored data, read and write `_audit/` reports, send recovered blobs to the main queue,
read the tenants secret, write its own logs) and nothing the other functions own; its schedule
and settle delay are parameters that reach its environment.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))

import sam_translate  # noqa: E402


def _template() -> dict[str, Any]:
    return sam_translate.load_template(REPO / "infra" / "template.yaml")


def _statements() -> list[dict[str, Any]]:
    """The auditor role's statements, both branches of a conditional one."""
    role = _template()["Resources"]["AuditorRole"]["Properties"]
    out = []
    for policy in role["Policies"]:
        for st in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in st:
                out.extend(b for b in st["Fn::If"][1:] if isinstance(b, dict) and "Action" in b)
            else:
                out.append(st)
    return out


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _grants() -> set[tuple[str, str]]:
    """(action, resource as written) of every Allow statement."""
    out = set()
    for st in _statements():
        assert st["Effect"] == "Allow"
        for action in _as_list(st["Action"]):
            for res in _as_list(st["Resource"]):
                out.add((action, str(res)))
    return out


def test_the_auditor_role_is_least_privilege() -> None:
    sub = lambda s: str({"Fn::Sub": s})  # noqa: E731
    assert _grants() == {
        ("logs:CreateLogStream", str({"Fn::GetAtt": ["AuditorLogGroup", "Arn"]})),
        ("logs:PutLogEvents", str({"Fn::GetAtt": ["AuditorLogGroup", "Arn"]})),
        ("secretsmanager:GetSecretValue", str({"Ref": "TenantsSecretArn"})),
        ("kms:Decrypt", str({"Ref": "TenantsSecretKmsKeyArn"})),
        ("sqs:SendMessage", str({"Fn::GetAtt": ["Queue", "Arn"]})),
        ("s3:GetObject", sub("${Bucket.Arn}/${Prefix}/tenant_id=*")),
        ("s3:GetObject", sub("${Bucket.Arn}/${Prefix}/_audit/*")),
        ("s3:PutObject", sub("${Bucket.Arn}/${Prefix}/_audit/*")),
        ("s3:ListBucket", str({"Fn::GetAtt": ["Bucket", "Arn"]})),
        ("kms:Decrypt", str({"Fn::GetAtt": ["Key", "Arn"]})),
        ("kms:GenerateDataKey", str({"Fn::GetAtt": ["Key", "Arn"]})),
    }
    # The tenants key is usable only through Secrets Manager.
    secret_key = next(st for st in _statements() if st.get("Sid") == "DecryptTenantsSecret")
    assert "kms:ViaService" in secret_key["Condition"]["StringEquals"]


def test_the_auditor_writes_only_under_audit() -> None:
    writes = {res for action, res in _grants() if action.startswith("s3:Put")}
    assert writes == {str({"Fn::Sub": "${Bucket.Arn}/${Prefix}/_audit/*"})}
    assert not any(action.startswith("sqs:Receive") or action.startswith("sqs:Delete")
                   for action, _ in _grants())


def test_schedule_and_settle_reach_the_function() -> None:
    t = _template()
    params = t["Parameters"]
    # Daily: a run reads the partitions from its first hour to its last + the settle delay, so
    # hourly runs (one new hour each) would read every stored object ~50 times (BENCHMARKS §8).
    assert params["AuditorSchedule"]["Default"] == "rate(1 day)"
    fn = t["Resources"]["AuditorFunction"]
    props = fn["Properties"]
    assert fn["Metadata"]["BuildProperties"]["Binary"] == "o365-auditor"
    assert props["Events"]["Schedule"]["Properties"]["Schedule"] == {"Ref": "AuditorSchedule"}
    env = props["Environment"]["Variables"]
    assert env["AUDIT_SETTLE_HOURS"] == {"Ref": "AuditSettleHours"}
    assert env["QUEUE_URL"] == {"Ref": "Queue"}
    assert env["CONTENT_TYPES"] == {"Ref": "ContentTypes"}
    # Its re-listing spends each tenant's request budget like the lister's runs.
    assert env["API_RATE_PER_MINUTE"] == {"Ref": "ApiRatePerMinute"}
    # Settled means before the 7-day reach ends, so what the audit finds is still recoverable.
    assert params["AuditSettleHours"]["MaxValue"] < 7 * 24
    assert props["ReservedConcurrentExecutions"] == 1
    assert props["Role"] == {"Fn::GetAtt": ["AuditorRole", "Arn"]}
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": "AuditorLogGroup"}


def test_build_script_builds_the_auditor() -> None:
    build = (REPO / "infra" / "build.sh").read_text()
    assert "--package o365-auditor" in build
    members = (REPO / "Cargo.toml").read_text()
    assert '"functions/auditor"' in members
