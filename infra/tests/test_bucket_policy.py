"""The bucket policy's create-only and no-delete rules, evaluated against S3 request shapes.

moto does not enforce bucket policies, so this evaluates the real template's BucketPolicy
statements the way IAM does for an explicit Deny: a statement denies a request when its
action and resource match and every condition holds, with IAM's rules for absent keys
(`StringNotEquals` on an absent key holds, `Bool`/`StringEquals` do not, `Null: true` holds).
What the collector's roles allow is IAM's business; here a request not denied is allowed.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))

import sam_translate  # noqa: E402

BUCKET = "o365-collector-123456789012-us-east-1-abc"
PREFIX = "o365"
TLS = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}
DATA = f"{PREFIX}/tenant_id=t/content_type=Audit.General/dt=2026-03-01/hour=07/id.json.gz"
MANIFEST = f"{PREFIX}/_manifest/tenant_id=t/content_type=Audit.General/dt=2026-03-01/hour=07/id.json"
CHECKPOINT = f"{PREFIX}/_state/tenant_id=t/content_type=Audit.General/checkpoint.json"
AUDIT_REPORT = f"{PREFIX}/_audit/tenant_id=t/dt=2026-03-01/hour=07.json"


def _template() -> dict[str, Any]:
    return sam_translate.load_template(REPO / "infra" / "template.yaml")


def _resolve(v: Any) -> Any:
    """Renders the intrinsics the bucket policy uses, for one bucket and prefix."""
    if isinstance(v, dict) and "Fn::Sub" in v:
        text = v["Fn::Sub"]
        assert isinstance(text, str), v
        subs = {"Bucket.Arn": f"arn:aws:s3:::{BUCKET}", "Prefix": PREFIX, "Bucket": BUCKET}
        return re.sub(r"\$\{([^}]+)\}", lambda m: subs[m.group(1)], text)
    if isinstance(v, dict) and "Fn::GetAtt" in v:
        assert v["Fn::GetAtt"] == ["Bucket", "Arn"], v
        return f"arn:aws:s3:::{BUCKET}"
    if isinstance(v, list):
        return [_resolve(x) for x in v]
    return v


def _statements() -> list[dict[str, Any]]:
    doc = _template()["Resources"]["BucketPolicy"]["Properties"]["PolicyDocument"]
    return [{k: _resolve(v) for k, v in st.items()} for st in doc["Statement"]]


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _condition_holds(op: str, key: str, want: Any, ctx: dict[str, str]) -> bool:
    wants = [str(w) for w in _as_list(want)]
    have = ctx.get(key)
    if op == "Null":
        return (have is None) == (wants[0] == "true")
    if op == "StringNotEquals":
        return have is None or have not in wants
    if have is None:
        return False
    if op == "StringEquals":
        return have in wants
    if op == "Bool":
        return have.lower() == wants[0].lower()
    if op == "NumericLessThan":
        return float(have) < float(wants[0])
    raise AssertionError(f"the evaluator does not know the operator {op}: extend it")


def denied_by(action: str, key: str, ctx: dict[str, str]) -> list[str]:
    """Sids of the Deny statements that refuse `action` on `key` with request context `ctx`."""
    arn = f"arn:aws:s3:::{BUCKET}/{key}"
    full = {**TLS, **ctx}
    out = []
    for st in _statements():
        assert st["Effect"] == "Deny", f"{st['Sid']}: the bucket policy only denies"
        assert st["Principal"] == "*", f"{st['Sid']}: a deny must hold for every principal"
        if not any(fnmatch.fnmatchcase(action, a) for a in _as_list(st["Action"])):
            continue
        if not any(fnmatch.fnmatchcase(arn, r) for r in _as_list(st["Resource"])):
            continue
        conditions = st.get("Condition", {})
        if all(
            _condition_holds(op, k, want, full)
            for op, pairs in conditions.items()
            for k, want in pairs.items()
        ):
            out.append(st["Sid"])
    return out


# Request shapes: (name, IAM action, key, condition keys S3 puts in the request context).
# S3 authorizes every upload step with s3:PutObject; s3:ObjectCreationOperation is true only
# for the calls that create the object (PutObject, CompleteMultipartUpload, CopyObject).
CREATE = {"s3:ObjectCreationOperation": "true"}
STEP = {"s3:ObjectCreationOperation": "false"}
IF_NONE_MATCH = {"s3:if-none-match": "*"}
IF_MATCH = {"s3:if-match": '"0123abcd"'}

SHAPES = [
    ("PutObject, no header", "s3:PutObject", DATA, CREATE, False),
    ("PutObject, If-None-Match: *", "s3:PutObject", DATA, {**CREATE, **IF_NONE_MATCH}, True),
    ("PutObject, If-Match (overwrite)", "s3:PutObject", DATA, {**CREATE, **IF_MATCH}, False),
    ("PutObject, If-None-Match: other", "s3:PutObject", DATA, {**CREATE, "s3:if-none-match": '"x"'}, False),
    ("CreateMultipartUpload", "s3:PutObject", DATA, STEP, True),
    ("UploadPart", "s3:PutObject", DATA, STEP, True),
    ("UploadPartCopy", "s3:PutObject", DATA, STEP, True),
    ("CompleteMultipartUpload, no header", "s3:PutObject", DATA, CREATE, False),
    ("CompleteMultipartUpload, If-None-Match: *", "s3:PutObject", DATA, {**CREATE, **IF_NONE_MATCH}, True),
    ("CopyObject onto data, no header", "s3:PutObject", DATA, CREATE, False),
    ("manifest entry, no header", "s3:PutObject", MANIFEST, CREATE, False),
    ("manifest entry, If-None-Match: *", "s3:PutObject", MANIFEST, {**CREATE, **IF_NONE_MATCH}, True),
    ("error report, no header", "s3:PutObject", f"{PREFIX}/_errors/x/y.json", CREATE, False),
    ("gap report, If-None-Match: *", "s3:PutObject", f"{PREFIX}/_gaps/x/y.json", {**CREATE, **IF_NONE_MATCH}, True),
    ("content id claim, If-Match", "s3:PutObject", f"{PREFIX}/_ids/t/c/id.json", {**CREATE, **IF_MATCH}, False),
    ("checkpoint, If-Match", "s3:PutObject", CHECKPOINT, {**CREATE, **IF_MATCH}, True),
    ("checkpoint, If-None-Match: * (first)", "s3:PutObject", CHECKPOINT, {**CREATE, **IF_NONE_MATCH}, True),
    ("checkpoint, no header", "s3:PutObject", CHECKPOINT, CREATE, False),
    ("audit report, If-None-Match: * (first audit)", "s3:PutObject", AUDIT_REPORT, {**CREATE, **IF_NONE_MATCH}, True),
    ("audit report, If-Match (re-audit)", "s3:PutObject", AUDIT_REPORT, {**CREATE, **IF_MATCH}, True),
    ("audit report, no header", "s3:PutObject", AUDIT_REPORT, CREATE, False),
    ("any other key under the prefix, no header", "s3:PutObject", f"{PREFIX}/other/x", CREATE, False),
    ("Athena results (outside the prefix)", "s3:PutObject", "_athena-results/q.csv", CREATE, True),
    ("DeleteObject on data", "s3:DeleteObject", DATA, {}, False),
    ("DeleteObjectVersion on data", "s3:DeleteObjectVersion", DATA, {}, False),
    ("DeleteObject on a manifest entry", "s3:DeleteObject", MANIFEST, {}, False),
    ("GetObject on data", "s3:GetObject", DATA, {}, True),
]


@pytest.mark.parametrize("name,action,key,ctx,allowed", SHAPES, ids=[s[0] for s in SHAPES])
def test_request_shapes(name: str, action: str, key: str, ctx: dict[str, str], allowed: bool) -> None:
    sids = denied_by(action, key, ctx)
    assert (not sids) == allowed, f"{name}: denied by {sids}" if sids else f"{name}: not denied"


def test_the_evaluator_sees_the_tls_rules() -> None:
    # A sanity check of the evaluator itself on the statements that were there before.
    assert denied_by("s3:GetObject", DATA, {"aws:SecureTransport": "false"}) == ["DenyInsecureTransport"]
    assert denied_by("s3:GetObject", DATA, {"s3:TlsVersion": "1.1"}) == ["DenyTlsOlderThan12"]


def test_no_role_of_the_collector_may_delete_or_bypass() -> None:
    forbidden = re.compile(r"^s3:(\*|Delete.*|PutObjectRetention|BypassGovernanceRetention|PutBucketPolicy|"
                           r"PutLifecycleConfiguration|PutBucketVersioning|PutObjectLegalHold)$")
    resources = _template()["Resources"]
    roles = {lid: r for lid, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    assert {"ListerRole", "FetcherRole", "AuditorRole"} <= set(roles)
    for lid, role in roles.items():
        for policy in role["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                if "Fn::If" in st:  # a conditional statement: check both branches
                    branches = [b for b in st["Fn::If"][1:] if isinstance(b, dict) and "Action" in b]
                else:
                    branches = [st]
                for b in branches:
                    for action in _as_list(b["Action"]):
                        assert not forbidden.match(action), f"{lid} may {action}"


def test_every_service_principal_statement_of_the_key_is_scoped() -> None:
    statements = _template()["Resources"]["Key"]["Properties"]["KeyPolicy"]["Statement"]
    services = [st for st in statements if "Service" in st["Principal"]]
    assert services
    for st in services:
        cond = st.get("Condition", {})
        keys = {k for pairs in cond.values() for k in pairs}
        if st["Sid"] == "CloudWatchLogsEncryptsTheFunctionLogs":
            # CloudWatch Logs' documented scope: the encryption context names the log groups.
            assert "kms:EncryptionContext:aws:logs:arn" in keys, st
            continue
        assert {"aws:SourceAccount", "aws:SourceArn"} <= keys, st


def test_object_lock_is_an_option_that_turns_versioning_on() -> None:
    t = _template()
    params = t["Parameters"]
    assert params["ObjectLockMode"]["Default"] == "NONE"
    assert set(params["ObjectLockMode"]["AllowedValues"]) == {"NONE", "GOVERNANCE", "COMPLIANCE"}
    assert t["Conditions"]["VersioningOn"] == {
        "Fn::Or": [{"Fn::Equals": [{"Ref": "BucketVersioning"}, "true"]}, {"Condition": "ObjectLockOn"}]
    }
    bucket = t["Resources"]["Bucket"]["Properties"]
    assert bucket["ObjectLockEnabled"]["Fn::If"][0] == "ObjectLockOn"
    rule = bucket["ObjectLockConfiguration"]["Fn::If"][1]["Rule"]["DefaultRetention"]
    assert rule == {"Mode": {"Ref": "ObjectLockMode"}, "Days": {"Ref": "ObjectLockRetentionDays"}}


PARLIAMENT = REPO / ".venv-parliament" / "bin" / "python"


@pytest.mark.skipif(not PARLIAMENT.exists(), reason="run infra/lint.sh once to create .venv-parliament")
def test_the_policy_linter_passes_the_template_and_fails_a_bad_policy(tmp_path: Path) -> None:
    import json
    import subprocess

    template = _template()
    good = tmp_path / "good.cfn.json"
    good.write_text(json.dumps(sam_translate.translate(template)), encoding="utf-8")
    run = [str(PARLIAMENT), str(REPO / "infra" / "policy_lint.py")]
    ok = subprocess.run([*run, str(good)], capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # A role statement with an action that does not exist must fail the lint.
    statements = template["Resources"]["FetcherRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    statements.append({"Effect": "Allow", "Action": "s3:PutObjectt", "Resource": "*"})
    bad = tmp_path / "bad.cfn.json"
    bad.write_text(json.dumps(sam_translate.translate(template)), encoding="utf-8")
    failed = subprocess.run([*run, str(bad)], capture_output=True, text=True, timeout=300)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "FetcherRole: UNKNOWN_ACTION" in failed.stdout, failed.stdout
