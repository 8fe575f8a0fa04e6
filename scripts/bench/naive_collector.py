#!/usr/bin/env python3
"""The naive baseline of `make bench`: what typical collectors do with a content blob.

json.loads the whole blob, add the provenance fields to every record, json.dumps each record as
one line, gzip the lines at level 6 (and zstd level 1 when the `zstandard` module is present).
Prints one JSON object: input bytes, seconds, MB/s of input, peak RSS, output bytes.
"""
import argparse
import datetime
import gzip
import io
import json
import resource
import sys
import time


def normalize(blob: bytes, tenant: str, content_type: str, content_id: str) -> bytes:
    records = json.loads(blob)
    fetched = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    out = io.StringIO()
    for rec in records:
        rec["_o365"] = {
            "tenant_id": tenant,
            "content_type": content_type,
            "content_id": content_id,
            "fetched_at": fetched,
            "event_time": (rec.get("CreationTime") or "") + "Z",
            "record_type": rec.get("RecordType"),
            "user_type": rec.get("UserType"),
            "client_ip": rec.get("ClientIP"),
            "collector_version": "naive",
        }
        out.write(json.dumps(rec))
        out.write("\n")
    return out.getvalue().encode("utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("blob", help="a JSON array of audit records")
    ap.add_argument("--codec", choices=["gzip6", "zstd1"], default="gzip6")
    ap.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = ap.parse_args()
    with open(args.blob, "rb") as f:
        blob = f.read()
    if args.codec == "zstd1":
        try:
            import zstandard  # type: ignore
        except ImportError:
            print(json.dumps({"codec": args.codec, "error": "zstandard not installed"}))
            return 0
        compress = lambda b: zstandard.ZstdCompressor(level=1).compress(b)  # noqa: E731
    else:
        compress = lambda b: gzip.compress(b, compresslevel=6)  # noqa: E731
    best = None
    out_len = 0
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        lines = normalize(blob, "00000000-0000-0000-0000-000000000001", "Audit.General", "naive")
        out_len = len(compress(lines))
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "codec": args.codec,
        "input_bytes": len(blob),
        "seconds": best,
        "mb_per_s": len(blob) / 1e6 / best,
        "output_bytes": out_len,
        "peak_rss_kib": peak_kib,
        "python": sys.version.split()[0],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
