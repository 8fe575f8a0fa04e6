#!/usr/bin/env python3
"""Freshness benchmark: how long after a blob becomes available is it stored?

Starts `o365-sim` on real time (speed 1) with a stream of blobs becoming available
continuously, runs `o365ctl run --every <period>` (the local pipeline polling at the
lister's default schedule, one minute) against it for a few minutes, stops it with SIGINT,
then matches the simulator's ledger (`available_at` of every published blob) with the
stored objects (`_o365.fetched_at` of their records).

Added latency of a blob = fetched_at - available_at. Only blobs that became available after
the pipeline's first run finished (its summary printed) and at least one period plus a margin
before the end are counted (the backlog of the first run measures catch-up, not freshness);
any of those not stored is reported as missed.

Usage: freshness.py BIN_DIR OUT.json [--minutes 5] [--period 60]
Writes one JSON object; exits non-zero only when the processes cannot be run.
"""
import argparse
import glob
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone

TENANT = "00000000-0000-0000-0000-000000000001"
CLIENT = "00000000-0000-0000-0000-000000000c01"
SECRET = "o365-sim-client-secret"  # the simulator's documented test value


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(timezone.utc)


def quantile(sorted_values, q):
    """Nearest rank, as the collector's own summaries."""
    if not sorted_values:
        return None
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 1))))
    return sorted_values[rank - 1]


def start_sim(bin_dir, log):
    args = [
        os.path.join(bin_dir, "o365-sim"),
        "--listen", "127.0.0.1:0",
        "--tenant", TENANT,
        "--subscribed",
        "--history", "1h",
        # A busy tenant: 12,000 records per hour per content type in blobs of 50 records,
        # so dozens of blobs become available every minute.
        "--records-per-hour", "12000",
        "--max-records-per-blob", "50",
        "--seed", "17",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"o365-sim did not start: {line!r}")
    base = line.split("listening on", 1)[1].strip()
    return proc, base


def ledger(base):
    with urllib.request.urlopen(f"{base}/_sim/ledger", timeout=60) as r:
        return json.load(r)


def fetched_at_by_blob(out_dir):
    """content_id -> (earliest fetched_at, records) over the stored objects."""
    found = {}
    for path in glob.glob(os.path.join(out_dir, "**", "*.json.gz"), recursive=True):
        if "/_" in path.replace(out_dir, ""):
            continue
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                o = json.loads(line)["_o365"]
                cid = o.get("content_id")
                at = parse_time(o["fetched_at"])
                prev = found.get(cid)
                found[cid] = (min(at, prev[0]) if prev else at, (prev[1] if prev else 0) + 1)
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("out")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--period", type=int, default=60)
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="o365-freshness-")
    data = os.path.join(work, "data")
    sim_log = open(os.path.join(work, "sim.log"), "w")
    ctl_log = open(os.path.join(work, "o365ctl.log"), "w")
    sim, base = start_sim(a.bin_dir, sim_log)
    ctl = None
    try:
        env = dict(os.environ)
        env.update({
            "O365_TENANT_ID": TENANT,
            "O365_CLIENT_ID": CLIENT,
            "O365_CLIENT_SECRET": SECRET,
            "O365_API_ROOT": base,
            "O365_LOGIN_ROOT": base,
        })
        started = datetime.now(timezone.utc)
        ctl = subprocess.Popen(
            [os.path.join(a.bin_dir, "o365ctl"), "run", "--every", f"{a.period}s", "--out", data],
            stdout=subprocess.PIPE, stderr=ctl_log, text=True, env=env,
        )
        # Each run prints a summary starting "o365ctl run #N"; note when each arrives.
        run_ends, out_lines = [], []

        def read():
            for line in ctl.stdout:
                if line.startswith("o365ctl run #"):
                    run_ends.append(datetime.now(timezone.utc))
                out_lines.append(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(a.minutes * 60)
        stopped = datetime.now(timezone.utc)
        ctl.send_signal(signal.SIGINT)
        try:
            ctl.wait(timeout=300)
        except subprocess.TimeoutExpired:
            ctl.kill()
        reader.join(timeout=30)
        summary_text = "".join(out_lines)
        book = ledger(base)
    finally:
        if ctl and ctl.poll() is None:
            ctl.kill()
        sim.send_signal(signal.SIGINT)
        try:
            sim.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sim.kill()

    stored = fetched_at_by_blob(data)
    # Steady state: blobs that became available after the first run (the backlog) ended, and
    # early enough for one more poll to see them.
    requests = book.get("requests", [])
    first_run_end = run_ends[0] if run_ends else stopped
    margin = a.period + 30
    counted, missed, latencies = 0, 0, []
    for b in book.get("published", []):
        if not b.get("visible", True) or b.get("fault"):
            continue
        avail = parse_time(b["available_at"])
        if avail <= first_run_end or (stopped - avail).total_seconds() < margin:
            continue
        counted += 1
        got = stored.get(b["content_id"])
        if not got:
            missed += 1
            continue
        latencies.append(max(0.0, (got[0] - avail).total_seconds()))
    latencies.sort()
    # API requests per poll when idle: every request but blob downloads and tokens, per run.
    runs = len(run_ends)
    by_op = {}
    for r in requests:
        op = r.get("operation") or "other"
        by_op[op] = by_op.get(op, 0) + 1
    # API requests of the steady runs (after the first, which lists the whole 7-day reach):
    # everything but blob downloads and tokens.
    steady = [r for r in requests
              if parse_time(r["at"]) > first_run_end and r.get("operation") not in ("blob", "token")]
    result = {
        "minutes": a.minutes,
        "period_seconds": a.period,
        "runs": runs,
        "first_run_seconds": round((first_run_end - started).total_seconds(), 1),
        "blobs_counted": counted,
        "blobs_missed": missed,
        "blobs_stored_total": len(stored),
        "records_stored_total": sum(n for _, n in stored.values()),
        "added_latency_seconds": {
            "p50": quantile(latencies, 0.50),
            "p95": quantile(latencies, 0.95),
            "max": latencies[-1] if latencies else None,
        },
        "requests_by_operation": by_op,
        "api_requests_per_steady_run": round(len(steady) / (runs - 1), 2) if runs > 1 else None,
        "last_summary": summary_text.strip().split("o365ctl run #")[-1][:2000] if summary_text else "",
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result["added_latency_seconds"]), f"{counted} blobs counted, {missed} missed")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
