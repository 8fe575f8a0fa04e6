#!/usr/bin/env bash
# Creates (or refreshes) the project's Python venv at .venv from requirements-dev.txt.
# Idempotent: re-installs only when requirements-dev.txt changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
REQ=requirements-dev.txt
STAMP="$VENV/.installed-$(sha256sum "$REQ" | cut -c1-16)"
if [ -f "$STAMP" ]; then exit 0; fi
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r "$REQ"
rm -f "$VENV"/.installed-*
touch "$STAMP"
echo "venv ready: $VENV"
