"""Runs parliament (an IAM policy linter) over every policy of the translated template: the
roles' inline policies, the bucket, queue and topic policies and the KMS key policy.

CloudFormation intrinsics are rendered first into realistic ARNs for one account, region and
stack (every optional statement included), so that parliament can match actions to resource
types and condition keys to actions. Exits 1 on any finding not listed in ALLOWED below, each
with the reason it is not a problem.

Usage (from infra/lint.sh): .venv-parliament/bin/python infra/policy_lint.py TEMPLATE.cfn.json
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from parliament import analyze_policy_string

ACCOUNT = "123456789012"
REGION = "us-east-1"
STACK = "o365-collector"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": STACK,
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/abc-def",
}
ARN_BY_TYPE = {
    "AWS::S3::Bucket": "arn:aws:s3:::o365-collector-bucket",
    "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{{lid}}",
    "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{{lid}}:*",
    "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000",
    "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{{lid}}",
    "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{{lid}}",
    "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{{lid}}",
}
PARAMETER_VALUES = {
    "TenantsSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:o365-collector/tenants-AbCdEf",
    "TenantsSecretKmsKeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-1111-1111-1111-111111111111",
    "Prefix": "o365",
}
POLICY_PROPERTIES = {
    "AWS::IAM::Role": lambda p: [x["PolicyDocument"] for x in p.get("Policies", [])],
    "AWS::S3::BucketPolicy": lambda p: [p["PolicyDocument"]],
    "AWS::SQS::QueuePolicy": lambda p: [p["PolicyDocument"]],
    "AWS::SNS::TopicPolicy": lambda p: [p["PolicyDocument"]],
    "AWS::KMS::Key": lambda p: [p["KeyPolicy"]],
}
# (issue, logical id, text in the finding) -> why it is not a problem.
ALLOWED: dict[tuple[str, str, str], str] = {
    ("RESOURCE_STAR", "Key", ""): "in a key policy, Resource * is the key itself",
    ("PERMISSIONS_MANAGEMENT_ACTIONS", "Key", ""): (
        "the account-root statement of AWS's default key policy: IAM policies decide who administers the key"
    ),
    ("UNKNOWN_CONDITION_FOR_ACTION", "Key", "kms:EncryptionContext:aws:logs:arn"): (
        "CloudWatch Logs' documented statement grants kms:Describe* beside the encryption-context calls"
    ),
    ("MISMATCHED_TYPE", "Key", "ArnLike requires a value of type Arn but given String"): (
        "CloudWatch Logs documents ArnLike on kms:EncryptionContext:aws:logs:arn, whose value is a log group ARN"
    ),
    ("MISMATCHED_TYPE", "BucketPolicy", "s3:TlsVersion requires a value of type Numeric"): (
        "parliament's numeric pattern takes integers only; AWS documents NumericLessThan s3:TlsVersion 1.2"
    ),
    ("UNKNOWN_CONDITION_FOR_ACTION", "BucketPolicy", "s3:TlsVersion"): (
        "the TLS statements deny s3:* below TLS 1.2, AWS's documented form; actions without the key are unaffected"
    ),
}

NO_VALUE = object()


class Renderer:
    """Turns CloudFormation values into plain JSON with placeholders for one stack."""

    def __init__(self, template: dict[str, Any]) -> None:
        self.resources = template["Resources"]
        self.parameters = template.get("Parameters", {})

    def arn(self, lid: str) -> str:
        rtype = self.resources[lid]["Type"]
        return ARN_BY_TYPE.get(rtype, f"arn:aws:unknown:{REGION}:{ACCOUNT}:{{lid}}").format(lid=lid)

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO:
            return PSEUDO[name]
        if name in PARAMETER_VALUES:
            return PARAMETER_VALUES[name]
        if name in self.parameters:
            return str(self.parameters[name].get("Default", name))
        if name in self.resources:
            rtype = self.resources[name]["Type"]
            if rtype == "AWS::S3::Bucket":
                return "o365-collector-bucket"
            if rtype == "AWS::SQS::Queue":
                return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
            return self.arn(name)
        raise KeyError(f"cannot render Ref {name}")

    def sub(self, text: str, extra: dict[str, Any]) -> str:
        def one(m: "re.Match[str]") -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(self.render(extra[name]))
            if "." in name:
                lid, _attr = name.split(".", 1)
                return self.arn(lid)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def render(self, v: Any) -> Any:
        if isinstance(v, list):
            out = [self.render(x) for x in v]
            return [x for x in out if x is not NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                return self.ref(arg)
            if k == "Fn::GetAtt":
                lid, _attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.arn(lid)
            if k == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                return self.sub(arg[0], arg[1])
            if k == "Fn::If":
                # Every optional statement is checked: the condition is taken as true.
                return self.render(arg[1])
            if k == "Fn::Select":
                return self.render(arg[1])[int(arg[0])]
            if k == "Fn::Split":
                return str(self.render(arg[1])).split(arg[0])
            if k == "Fn::Join":
                return arg[0].join(str(x) for x in self.render(arg[1]))
        return {k: self.render(x) for k, x in v.items()}


def main(path: str) -> int:
    template = json.loads(Path(path).read_text(encoding="utf-8"))
    renderer = Renderer(template)
    findings = 0
    checked = 0
    noted: set[str] = set()
    for lid, res in sorted(template["Resources"].items()):
        get = POLICY_PROPERTIES.get(res["Type"])
        if get is None:
            continue
        for doc in get(res.get("Properties", {})):
            checked += 1
            policy = analyze_policy_string(json.dumps(renderer.render(doc)), include_community_auditors=True)
            seen = set()
            for f in policy.findings:
                text = f"{f.issue} - {f.detail}"
                if text in seen:
                    continue
                seen.add(text)
                why = next(
                    (w for (issue, where, part), w in ALLOWED.items()
                     if issue == f.issue and where == lid and part in str(f.detail)),
                    None,
                )
                if why:
                    note = f"  allowed in {lid}: {f.issue} ({why})"
                    if note not in noted:
                        noted.add(note)
                        print(note)
                    continue
                findings += 1
                print(f"{lid}: {text} - {f.location}")
    print(f"parliament: {checked} policies checked, {findings} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "target/infra/template.cfn.json"))
