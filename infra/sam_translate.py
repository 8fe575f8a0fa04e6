"""Translates infra/template.yaml (AWS SAM) to plain CloudFormation JSON, offline.

`sam package` would upload the function code and rewrite each local `CodeUri` to an S3 URI
before the SAM transform runs; this does the rewrite only (to a placeholder, or to the keys a
test uploaded), then runs aws-sam-translator, so that cfn-lint, checkov and the moto deploy
test see exactly the resources CloudFormation would create.

Usage: python infra/sam_translate.py [TEMPLATE] [OUTPUT]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml
from samtranslator.translator.transform import transform

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO / "infra" / "template.yaml"
DEFAULT_OUTPUT = REPO / "target" / "infra" / "template.cfn.json"
PLACEHOLDER_BUCKET = "o365-collector-artifacts-placeholder"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that understands CloudFormation's short-form tags (!Ref, !Sub, ...)."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path) -> dict[str, Any]:
    """Reads a CloudFormation/SAM YAML template into plain long-form JSON values."""
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def function_code_uris(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> local CodeUri of every AWS::Serverless::Function."""
    return {
        logical_id: res["Properties"]["CodeUri"]
        for logical_id, res in template.get("Resources", {}).items()
        if res.get("Type") == "AWS::Serverless::Function"
    }


def translate(
    template: dict[str, Any], code_locations: dict[str, tuple[str, str]] | None = None
) -> dict[str, Any]:
    """SAM -> CloudFormation, with each function's CodeUri set to s3://bucket/key.

    code_locations maps a function's logical id to (bucket, key); functions it does not name
    get a placeholder location (enough for linting).
    """
    template = json.loads(json.dumps(template))
    locations = code_locations or {}
    for logical_id in function_code_uris(template):
        bucket, key = locations.get(logical_id, (PLACEHOLDER_BUCKET, f"{logical_id}.zip"))
        template["Resources"][logical_id]["Properties"]["CodeUri"] = f"s3://{bucket}/{key}"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(template, {}, None)


def main(argv: list[str]) -> int:
    src = Path(argv[1]) if len(argv) > 1 else DEFAULT_TEMPLATE
    dst = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUTPUT
    cfn = translate(load_template(src))
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(cfn, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    types: dict[str, int] = {}
    for res in cfn["Resources"].values():
        types[res["Type"]] = types.get(res["Type"], 0) + 1
    print(f"translated {src} -> {dst}: {len(cfn['Resources'])} resources")
    for t, n in sorted(types.items()):
        print(f"  {n:2d} {t}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
