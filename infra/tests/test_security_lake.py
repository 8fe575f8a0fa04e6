"""The Security Lake option (off by default): what it adds, that it adds nothing when off, the
crawler role Security Lake requires, and that the registration command names one custom source
per OCSF class the export writes (ocsf/src/class.rs). The option on is deployed by
test_deploy.py (every option on), off by test_pipeline.py (defaults)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))

import sam_translate  # noqa: E402


def _template() -> dict[str, Any]:
    return sam_translate.load_template(REPO / "infra" / "template.yaml")


def _slugs_in_source() -> set[str]:
    text = (REPO / "ocsf" / "src" / "class.rs").read_text(encoding="utf-8")
    body = text.split("pub fn slug(self)", 1)[1].split("\n    }\n", 1)[0]
    return set(re.findall(r'=> "([a-z-]+)"', body))


def test_off_by_default_and_everything_it_adds_is_guarded() -> None:
    t = _template()
    assert t["Parameters"]["SecurityLakeCustomSources"]["Default"] == "false"
    assert t["Conditions"]["SecurityLakeOn"] == {"Fn::Equals": [{"Ref": "SecurityLakeCustomSources"}, "true"]}
    lake_resources = {lid for lid in t["Resources"] if lid.startswith("SecurityLake")}
    assert lake_resources == {"SecurityLakeCrawlerRole", "SecurityLakeExportPolicy"}
    for lid in lake_resources:
        assert t["Resources"][lid].get("Condition") in ("SecurityLakeOn", "SecurityLakeExportOn"), lid
    assert t["Resources"]["OcsfExportFailuresAlarm"]["Condition"] == "SecurityLakeExportOn"
    lake_outputs = {k for k in t["Outputs"] if k.startswith("SecurityLake")}
    assert lake_outputs == {"SecurityLakeCrawlerRoleArn", "SecurityLakeRegisterSources"}
    for k in lake_outputs:
        assert t["Outputs"][k].get("Condition") == "SecurityLakeOn", k
    # Nothing else refers to the role, so turning the option off cannot break another resource.
    for lid, res in t["Resources"].items():
        if lid not in lake_resources:
            assert "SecurityLakeCrawlerRole" not in repr(res), lid


def test_crawler_role_is_the_one_security_lake_requires() -> None:
    role = _template()["Resources"]["SecurityLakeCrawlerRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "glue.amazonaws.com"}]
    assert trust[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSGlueServiceRole"}
    ]
    (stmt,) = role["Policies"][0]["PolicyDocument"]["Statement"]
    assert sorted(stmt["Action"]) == ["s3:GetObject", "s3:PutObject"]
    # Only the custom sources' own prefixes of the Security Lake bucket.
    assert stmt["Resource"]["Fn::Sub"].endswith("/ext/${SecurityLakeSourcePrefix}-*")


def test_registration_names_one_source_per_exported_class() -> None:
    t = _template()
    command = t["Outputs"]["SecurityLakeRegisterSources"]["Value"]["Fn::Sub"]
    pairs = re.findall(r"([a-z-]+):([A-Z_]+)", command)
    assert {slug for slug, _ in pairs} == _slugs_in_source()
    assert len(pairs) == len(_slugs_in_source()) == 7
    assert "--source-name ${SecurityLakeSourcePrefix}-" in command
    # The prefix rule matches the export's (LakeTarget::new: 1..=46 of [A-Za-z0-9_-]).
    assert t["Parameters"]["SecurityLakeSourcePrefix"]["AllowedPattern"] == "^[A-Za-z0-9_-]{1,46}$"


def _condition(t: dict[str, Any], name: str, params: dict[str, str]) -> bool:
    """Evaluates one of the template's conditions for the given parameter values."""
    values = {k: str(v.get("Default", "")) for k, v in t["Parameters"].items()} | params

    def ev(x: Any) -> Any:
        if isinstance(x, dict):
            ((fn, arg),) = x.items()
            if fn == "Ref":
                return values[arg]
            if fn == "Condition":
                return ev(t["Conditions"][arg])
            if fn == "Fn::Equals":
                return ev(arg[0]) == ev(arg[1])
            if fn == "Fn::Not":
                return not ev(arg[0])
            if fn == "Fn::And":
                return all(ev(a) for a in arg)
            if fn == "Fn::Or":
                return any(ev(a) for a in arg)
            raise AssertionError(f"unexpected {fn}")
        return x

    return bool(ev(t["Conditions"][name]))


LAKE_BUCKET = "aws-security-data-lake-eu-west-1-abcdef"


def test_export_is_on_only_with_the_option_and_a_lake_bucket() -> None:
    t = _template()
    on = {"SecurityLakeCustomSources": "true", "SecurityLakeBucketName": LAKE_BUCKET}
    assert _condition(t, "SecurityLakeExportOn", on)
    assert not _condition(t, "SecurityLakeExportOn", {})
    assert not _condition(t, "SecurityLakeExportOn", {**on, "SecurityLakeCustomSources": "false"})
    assert not _condition(t, "SecurityLakeExportOn", {**on, "SecurityLakeBucketName": ""})
    assert re.fullmatch(t["Parameters"]["SecurityLakeBucketName"]["AllowedPattern"], LAKE_BUCKET)
    assert re.fullmatch(t["Parameters"]["SecurityLakeBucketName"]["AllowedPattern"], "")
    assert not re.fullmatch(t["Parameters"]["SecurityLakeBucketName"]["AllowedPattern"], "my-collector-bucket")


def test_compactor_gets_the_lake_settings_only_with_the_export_on() -> None:
    t = _template()
    env = t["Resources"]["CompactorFunction"]["Properties"]["Environment"]["Variables"]
    lake_vars = {k: v for k, v in env.items() if k.startswith("SECURITY_LAKE_")}
    # What the compactor reads (functions/compactor/src/lake.rs); the Region is AWS_REGION.
    source = (REPO / "functions" / "compactor" / "src" / "lake.rs").read_text(encoding="utf-8")
    read = set(re.findall(r'"(SECURITY_LAKE_[A-Z_]+)"', source))
    assert set(lake_vars) == read - {"SECURITY_LAKE_REGION"}
    for k, v in lake_vars.items():
        cond, then, otherwise = v["Fn::If"]
        assert cond == "SecurityLakeExportOn", k
        assert otherwise == {"Ref": "AWS::NoValue"}, k
    assert lake_vars["SECURITY_LAKE_BUCKET"]["Fn::If"][1] == {"Ref": "SecurityLakeBucketName"}
    assert lake_vars["SECURITY_LAKE_ACCOUNT_ID"]["Fn::If"][1] == {"Ref": "AWS::AccountId"}


def test_export_grants_only_the_sources_prefixes_and_the_ledger() -> None:
    t = _template()
    policy = t["Resources"]["SecurityLakeExportPolicy"]
    assert policy["Condition"] == "SecurityLakeExportOn"
    assert policy["Properties"]["Roles"] == [{"Ref": "CompactorRole"}]
    grants = {
        (tuple(sorted([s["Action"]] if isinstance(s["Action"], str) else s["Action"])), s["Resource"]["Fn::Sub"])
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    }
    assert grants == {
        (("s3:GetObject", "s3:PutObject"),
         "arn:${AWS::Partition}:s3:::${SecurityLakeBucketName}/ext/${SecurityLakeSourcePrefix}-*"),
        (("s3:ListBucket",), "arn:${AWS::Partition}:s3:::${SecurityLakeBucketName}"),
        (("s3:GetObject", "s3:PutObject"), "${Bucket.Arn}/${Prefix}/_ocsf/*"),
    }
    (listing,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"]["StringLike"]["s3:prefix"] == {"Fn::Sub": "ext/${SecurityLakeSourcePrefix}-*"}
    # With the export off, the compactor's own role grants nothing on the lake or the ledger.
    role = repr(t["Resources"]["CompactorRole"])
    assert "SecurityLake" not in role and "_ocsf" not in role
    alarm = t["Resources"]["OcsfExportFailuresAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("O365Collector", "OcsfExportFailures")
