#!/usr/bin/env python3
"""The quota-aware catch-up section of BENCHMARKS.md, from the `o365-catchup-bench` results
`scripts/bench.sh` left in WORK (`catchup-<tenants>-<processes>.json`).

Usage: catchup.py WORK   (prints the section; report.py includes it)
"""
import glob
import json
import os
import sys

TARGET_RATE = 0.95
TARGET_THROTTLED = 0.01


def section(work):
    runs = []
    for path in sorted(glob.glob(os.path.join(work, "catchup-*.json"))):
        try:
            with open(path) as f:
                runs.append(json.load(f))
        except (OSError, ValueError):
            continue
    if not runs:
        return []
    runs.sort(key=lambda r: (r["tenants"], r["processes"]))
    r0 = runs[0]
    out = [
        "## 6. Quota-aware catch-up",
        "",
        f"`o365-catchup-bench` (`tests/src/bin/o365-catchup-bench.rs`): `o365-sim` throttles each tenant with a token bucket "
        f"of burst B = {r0['burst']} refilled at R = {r0['rate_per_minute']}/min, and holds a {r0['backlog_hours']} h backlog "
        "(five content types, one blob per type and hour). The lister (in-process) lists it all into the queue (moto), then "
        "it is drained by **1 process** (the in-process fetcher, four batches at once, one budget per tenant at R) or by "
        "**4 processes** (real `o365-fetcher` binaries on the same queue, each spending R/4 per tenant: "
        "`API_RATE_PER_MINUTE`=R, `FETCHER_MAX_CONCURRENCY`=4). Ideal = (requests of the busiest tenant − B) / R; "
        "elapsed runs from the first listing call to the empty queue. Targets: ≥ 95 % of the ideal rate, < 1 % throttled. "
        "R and the backlog are small so that each run takes about a minute: the machine is shared by other builds.",
        "",
        "| tenants | processes | requests (busiest tenant) | ideal s | elapsed s | rate vs ideal | throttled | requests per stored blob | reconciled | targets |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in runs:
        rate_ok = r["rate_vs_ideal"] >= TARGET_RATE
        thr_ok = r["throttled_share"] < TARGET_THROTTLED
        misses = []
        if not rate_ok:
            misses.append(f"rate {100 * (TARGET_RATE - r['rate_vs_ideal']):.1f} points short")
        if not thr_ok:
            misses.append(f"throttled {100 * r['throttled_share']:.2f} % ≥ 1 %")
        verdict = "met" if not misses else "**missed** (" + "; ".join(misses) + ")"
        out.append(
            f"| {r['tenants']} | {r['processes']} | {r['requests']:,} ({r['busiest_tenant_requests']:,}) | "
            f"{r['ideal_seconds']:.1f} | {r['elapsed_seconds']:.1f} | {100 * r['rate_vs_ideal']:.1f} % | "
            f"{r['throttled']} ({100 * r['throttled_share']:.2f} %) | {r['requests_per_blob']:.2f} | {r['reconciled']} | {verdict} |"
        )
    out.append("")
    return out


if __name__ == "__main__":
    print("\n".join(section(sys.argv[1])))
