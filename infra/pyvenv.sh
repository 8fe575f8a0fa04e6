#!/usr/bin/env bash
# Installs one pinned requirements file into a Python venv (created if missing), again only when
# the file has changed since the last install. Used for checkov (.venv-checkov), the SAM CLI
# (.venv-sam) and cargo-lambda (into .venv), whose pins conflict with one another.
# Usage: infra/pyvenv.sh VENV_DIR REQUIREMENTS_FILE
set -euo pipefail
VENV=$1
REQ=$2
NAME=$(basename "$REQ" .txt)
STAMP="$VENV/.infra-$NAME-$(sha256sum "$REQ" | cut -c1-16)"
if [ -f "$STAMP" ]; then exit 0; fi
if [ ! -x "$VENV/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
"$VENV/bin/python" -m pip install --quiet -r "$REQ"
rm -f "$VENV/.infra-$NAME-"*
touch "$STAMP"
