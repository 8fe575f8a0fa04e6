#!/usr/bin/env bash
# make lint (infra part): validates infra/template.yaml offline.
#   1. cfn-lint on the SAM template;
#   2. SAM -> CloudFormation with aws-sam-translator (catches what cfn-lint's own transform
#      lets through) into target/infra/template.cfn.json, and cfn-lint on that;
#   3. checkov on the translated template. Every skip is a `Metadata: checkov: skip:` entry on
#      the resource it concerns, with its justification (listed in infra/README.md);
#   4. parliament (IAM policy linter) over every role, bucket, queue and key policy of the
#      translated template (infra/policy_lint.py; its few allowed findings are justified there).
# Exits non-zero on any finding. Needs no network once the venvs exist.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/venv.sh >/dev/null
CHECKOV_VENV=.venv-checkov
infra/pyvenv.sh "$CHECKOV_VENV" infra/requirements-checkov.txt
PARLIAMENT_VENV=.venv-parliament
infra/pyvenv.sh "$PARLIAMENT_VENV" infra/requirements-parliament.txt

TEMPLATE=infra/template.yaml
OUT=target/infra/template.cfn.json

echo "== cfn-lint $TEMPLATE"
.venv/bin/cfn-lint "$TEMPLATE"

echo "== aws-sam-translator $TEMPLATE -> $OUT"
.venv/bin/python infra/sam_translate.py "$TEMPLATE" "$OUT"

echo "== cfn-lint $OUT"
.venv/bin/cfn-lint "$OUT"

echo "== checkov $OUT"
# --skip-download: no call to the Prisma Cloud API (offline; guideline links are omitted).
BC_SKIP_MAPPING=TRUE "$CHECKOV_VENV/bin/checkov" --file "$OUT" --framework cloudformation \
  --skip-download --quiet --compact

echo "== parliament $OUT"
"$PARLIAMENT_VENV/bin/python" infra/policy_lint.py "$OUT"

echo "infra lint: clean"
