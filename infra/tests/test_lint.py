"""Keeps `make lint` honest: its checkov skips are needed, documented, and its tools do fail.

- Every checkov skip in the template is listed in infra/README.md with its justification, and the
  README lists no skip the template does not have.
- With the skips taken out, checkov fails exactly those checks on exactly those resources (so
  each skip is needed, and nothing else fails).
- cfn-lint rejects a template with a property CloudFormation does not know.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))

import sam_translate  # noqa: E402

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
CFN_LINT = REPO / ".venv" / "bin" / "cfn-lint"


def _template() -> dict[str, Any]:
    return sam_translate.load_template(REPO / "infra" / "template.yaml")


def _skips(template: dict[str, Any]) -> set[tuple[str, str]]:
    """(check id, logical id) of every skip in the SAM template."""
    out = set()
    for lid, res in template["Resources"].items():
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert len(skip.get("comment", "")) > 40, f"{lid} {skip['id']}: the skip needs a real justification"
            out.add((skip["id"], lid))
    return out


def test_every_skip_is_documented_in_the_readme() -> None:
    readme = (REPO / "infra" / "README.md").read_text(encoding="utf-8")
    section = readme.split("### checkov skips", 1)[1].split("\n## ", 1)[0]
    documented = set()
    for row in section.splitlines():
        m = re.match(r"\| (CKV2?_AWS_\d+) [^|]*\| ([^|]+) \|", row)
        if m:
            for lid in re.findall(r"`(\w+)`", m.group(2)):
                documented.add((m.group(1), lid))
            if "both functions" in m.group(2):
                documented |= {(m.group(1), "ListerFunction"), (m.group(1), "FetcherFunction")}
    assert documented == _skips(_template())


@pytest.mark.skipif(not CHECKOV.exists(), reason="run infra/lint.sh once to create .venv-checkov")
def test_checkov_fails_exactly_the_skipped_checks_without_their_skips(tmp_path: Path) -> None:
    template = _template()
    skips = _skips(template)
    for res in template["Resources"].values():
        res.get("Metadata", {}).pop("checkov", None)
    cfn = tmp_path / "template.cfn.json"
    cfn.write_text(json.dumps(sam_translate.translate(template)), encoding="utf-8")
    run = subprocess.run(
        [str(CHECKOV), "--file", str(cfn), "--framework", "cloudformation", "--skip-download",
         "--quiet", "--compact", "--output", "json"],
        capture_output=True, text=True, check=False, env={"BC_SKIP_MAPPING": "TRUE", "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode != 0, "checkov passed a template with findings"
    report = json.loads(run.stdout)
    failed = {(c["check_id"], c["resource"].split(".", 1)[1]) for c in report["results"]["failed_checks"]}
    assert failed == skips


def test_cfn_lint_rejects_an_unknown_property(tmp_path: Path) -> None:
    text = (REPO / "infra" / "template.yaml").read_text(encoding="utf-8")
    bad = text.replace("      ReservedConcurrentExecutions: 1\n",
                       "      ReservedConcurrentExecutions: 1\n      ReservedConcurrency: 1\n", 1)
    assert bad != text
    path = tmp_path / "template.yaml"
    path.write_text(bad, encoding="utf-8")
    run = subprocess.run([str(CFN_LINT), str(path)], capture_output=True, text=True, check=False)
    assert run.returncode != 0
    assert "ReservedConcurrency" in run.stdout
    ok = subprocess.run([str(CFN_LINT), str(REPO / "infra" / "template.yaml")],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout
