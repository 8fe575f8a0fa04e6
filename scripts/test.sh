#!/usr/bin/env bash
# Runs the workspace's tests with one moto server on 127.0.0.1 shared by all of them
# (tests that find MOTO_ENDPOINT unset start their own). Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh

port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
log=$(mktemp -t moto.XXXXXX.log)
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
cleanup() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  if .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then echo "moto_server failed to start:"; cat "$log"; exit 1; fi
  sleep 0.2
done
export MOTO_ENDPOINT="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
echo "moto on $MOTO_ENDPOINT"

if [ "$#" -gt 0 ]; then
  cargo test "$@"
  exit 0
fi

cargo build --workspace --bins --quiet
# Both suites run even when the first fails, so one run shows every failure.
status=0
cargo test --workspace --no-fail-fast || status=$?
if [ -d infra/tests ]; then
  .venv/bin/pytest -q infra/tests || status=$?
fi
exit "$status"
