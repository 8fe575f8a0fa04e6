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
    assert lake_resources == {"SecurityLakeCrawlerRole"}
    for lid in lake_resources:
        assert t["Resources"][lid].get("Condition") == "SecurityLakeOn", lid
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
