#!/usr/bin/env python3
"""The compaction section of BENCHMARKS.md (issue 16), from the `compaction_bench` results
`scripts/bench.sh` left in WORK (`compaction-<records>.json`, one per volume).

Usage: compaction.py WORK   (prints the section; report.py includes it)
"""
import glob
import json
import os
import sys

# Peak RSS at the largest volume over the smallest: flat means bounded (allocator noise aside).
FLAT = 1.25


def section(work):
    runs = []
    for path in glob.glob(os.path.join(work, "compaction-*.json")):
        try:
            with open(path) as f:
                runs.append(json.load(f))
        except (OSError, ValueError):
            continue
    if not runs:
        return []
    runs.sort(key=lambda r: r["ndjson_bytes"])
    r0 = runs[0]
    out = [
        "## 9. Compaction to Parquet",
        "",
        "`compact/examples/compaction_bench.rs` (`cargo run --release -p o365-compact --example compaction_bench -- RECORDS`): "
        "a child process starts `o365-sim` (one tenant, the five content types, the repository's own records spliced in, "
        "5 % of records repeated inside their blob, 60 simulated hours: three event dates), downloads every blob, normalizes "
        "it with the fetcher's code (gzip 6) and stores it under the fetcher's keys in a local store; the bench process then "
        "runs `Compactor::compact_pair` on the five pairs (the code of `o365ctl compact` and of the compactor Lambda) and checks "
        "that the Parquet rows equal the distinct record Ids the simulator published. "
        f"The compaction runs on {r0['threads']} thread (a current-thread runtime; pairs one after another), so MB/s per CPU "
        "second is MB/s per core. Peak RSS is the process's `VmHWM`: nothing but the compaction ran in it. "
        f"Defaults: batches of {r0['batch_mib']} MiB of records, parts of at most {r0['rows_per_part']:,} rows, zstd 3. "
        "Parquet bytes are the files on disk at the end; \"written\" counts parts rewritten when a later batch appends to them.",
        "",
        "| records (distinct) | NDJSON | gzip NDJSON (stored) | Parquet | Parquet / gzip | Parquet / NDJSON | Parquet written | CPU / wall | MB/s of NDJSON per core | peak RSS | load average (1/5/15 min) before → after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        out.append(
            f"| {r['records']:,} ({r['rows']:,}) | {r['ndjson_bytes'] / 1e6:,.1f} MB | {r['gzip_bytes'] / 1e6:,.1f} MB "
            f"| {r['parquet_bytes'] / 1e6:,.1f} MB | {r['parquet_bytes'] / max(r['gzip_bytes'], 1):.2f} "
            f"| {r['parquet_bytes'] / max(r['ndjson_bytes'], 1):.3f} | {r['parquet_bytes_written'] / 1e6:,.1f} MB "
            f"| {r['cpu_seconds']:.1f} s / {r['wall_seconds']:.1f} s | {r['mb_per_cpu_second']:.1f} "
            f"| {r['peak_rss_mib']:.0f} MiB | {r['load_average_before']} → {r['load_average_after']} |"
        )
    out.append("")
    if len(runs) > 1:
        lo, hi = runs[0], runs[-1]
        volume = hi["ndjson_bytes"] / max(lo["ndjson_bytes"], 1)
        rss = hi["peak_rss_mib"] / max(lo["peak_rss_mib"], 1)
        ok = rss <= FLAT
        verdict = "met" if ok else f"**missed** (peak RSS grew {rss:.2f}×, over the {FLAT}× allowed)"
        out.append(
            f"Memory bounded whatever the volume: {volume:.1f}× the NDJSON, {rss:.2f}× the peak RSS "
            f"({lo['peak_rss_mib']:.0f} → {hi['peak_rss_mib']:.0f} MiB; target ≤ {FLAT}×): {verdict}."
        )
        out.append("")
    return out


if __name__ == "__main__":
    print("\n".join(section(sys.argv[1])))
