#!/usr/bin/env python3
"""Runs a command and prints one JSON object: its peak RSS (KiB), wall and CPU seconds, exit code.

Usage: peak_rss.py CMD [ARGS...]   (the command's own output goes to stderr)
"""
import json
import resource
import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    proc = subprocess.run(sys.argv[1:], stdout=sys.stderr, stderr=sys.stderr)
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "cmd": " ".join(sys.argv[1:]),
        "exit": proc.returncode,
        "peak_rss_kib": ru.ru_maxrss,
        "wall_s": wall,
        "cpu_s": ru.ru_utime + ru.ru_stime,
    }))
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
