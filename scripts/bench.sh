#!/usr/bin/env bash
# `make bench`: every benchmark of o365-collector in one run, results written to BENCHMARKS.md.
#  1. normalize path (criterion, shared/benches/normalize.rs) with its floor reference, on
#     blobs of 1, 10 and 50 MB made by o365-sim's record generator;
#  2. peak RSS of `o365ctl normalize` on the 50 MB blob, and of o365-fetcher handling it;
#  3. the naive Python baseline (json.loads / json.dumps / gzip 6, and zstd 1);
#  4. end to end: o365-sim + moto + lister + fetcher harness over 100,000+ records;
#  5. cold start and zipped size of the Lambda binaries;
#  6. freshness: o365-sim on real time + `o365ctl run --every 60s` for a few minutes
#     (FRESHNESS_MINUTES, default 5), available -> stored per blob from the ledger.
#  7. quota-aware catch-up: o365-sim's token bucket (burst B, rate R) over a 2-day backlog,
#     1 and 10 tenants, 1 process and 4 fetcher processes on one queue (about a minute each,
#     CATCHUP_REPEATS runs a row, default 3, the rows in turn; the median run is reported).
#  9. compaction to Parquet (issue 16): throughput, peak RSS at two volumes 4x apart, sizes.
# Set BENCH_QUICK=1 for a short smoke run (smaller end-to-end run, fewer samples).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/venv.sh
.venv/bin/python -m pip install --quiet -r scripts/bench/requirements.txt \
  || echo "warning: zstandard not installed; the Python zstd baseline is skipped"

TARGET=${CARGO_TARGET_DIR:-target}
WORK="$TARGET/bench-work"
mkdir -p "$WORK"
RECORDS=${BENCH_RECORDS:-120000}
if [ -n "${BENCH_QUICK:-}" ]; then RECORDS=${BENCH_RECORDS:-20000}; fi

# moto on 127.0.0.1 for the end-to-end and fetcher runs.
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$WORK/moto.log" 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if .venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; then break; fi
  sleep 0.2
done
export MOTO_ENDPOINT="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1

echo "== building release binaries"
cargo build --release --quiet -p o365-e2e --bin o365-e2e-bench --bin o365-catchup-bench
cargo build --release --quiet -p o365-fetcher -p o365-lister -p o365ctl -p o365-sim
BIN="$TARGET/release"
export O365_E2E_BIN_DIR="$(cd "$BIN" && pwd)"
B="$BIN/o365-e2e-bench"

echo "== blobs from o365-sim's record generator"
for mb in 1 10 50; do
  f="$WORK/blob-${mb}mb.json"
  if [ ! -s "$f" ]; then "$B" gen-blob $((mb * 1000000)) "$f" > "$WORK/gen-${mb}mb.json"; fi
done

echo "== 1. normalize (criterion)"
rm -rf "$TARGET"/criterion/normalize*
O365_BENCH_BLOB_DIR="$(cd "$WORK" && pwd)" cargo bench --quiet -p o365-activity --bench normalize --  \
  2>&1 | tee "$WORK/criterion.log"

echo "== 2. memory"
.venv/bin/python scripts/bench/peak_rss.py "$BIN/o365ctl" normalize "$WORK/blob-50mb.json" \
  --out "$WORK/blob-50mb.ndjson.gz" --gzip > "$WORK/rss-o365ctl.json" || true
"$B" fetch-blob "$WORK/blob-50mb.json" > "$WORK/rss-fetcher.json" || true
# Bounded memory (issue 13): 10 blobs of one 30 MiB record each, 10 downloads asked for, 512 MB.
"$B" fetch-batch 10 30 512 10 > "$WORK/rss-fetch-batch.json" || true

echo "== 3. naive Python baseline"
for mb in 1 10 50; do
  for codec in gzip6 zstd1; do
    .venv/bin/python scripts/bench/naive_collector.py --codec "$codec" --repeat 2 "$WORK/blob-${mb}mb.json" \
      > "$WORK/naive-${mb}mb-${codec}.json"
  done
done

echo "== 4. end to end ($RECORDS records)"
.venv/bin/python scripts/bench/peak_rss.py "$B" e2e "$RECORDS" "$WORK/e2e.json" > "$WORK/e2e-rss.json"

echo "== 5. cold start and sizes"
for f in o365-fetcher o365-lister; do
  "$B" cold-start "$f" "$f" 7 > "$WORK/cold-$f.json"
  .venv/bin/python - "$BIN/$f" "$WORK/$f.zip" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.write(sys.argv[1], "bootstrap")
PY
done

echo "== 6. freshness (${FRESHNESS_MINUTES:-5} minutes on real time)"
.venv/bin/python scripts/bench/freshness.py "$BIN" "$WORK/freshness.json" --minutes "${FRESHNESS_MINUTES:-5}" --period 60 || true

echo "== 7. quota-aware catch-up (R=${CATCHUP_RATE:=300}/min, B=${CATCHUP_BURST:=20}, ${CATCHUP_HOURS:=48} h backlog, ${CATCHUP_REPEATS:=3} runs a row)"
rm -f "$WORK"/catchup-*.json
for run in $(seq 1 "$CATCHUP_REPEATS"); do
  for tenants in 1 10; do
    for processes in 1 4; do
      out="$WORK/catchup-$tenants-$processes-$run.json"
      "$BIN/o365-catchup-bench" "$tenants" "$processes" "$CATCHUP_RATE" "$CATCHUP_BURST" "$CATCHUP_HOURS" \
        > "$out" || rm -f "$out"
    done
  done
done

echo "== 9. compaction to Parquet (o365-compact's compaction_bench; two volumes 4x apart)"
for n in ${COMPACTION_RECORDS:-200000 800000}; do cargo run --release --quiet -p o365-compact --example compaction_bench -- "$n" "$WORK/compaction-store" > "$WORK/compaction-$n.json" || rm -f "$WORK/compaction-$n.json"; done

.venv/bin/python scripts/bench/report.py "$WORK" "$TARGET" > BENCHMARKS.md
echo "wrote BENCHMARKS.md"
