"""Time and peak memory of `rankaudit fixtures build` (the benchmark workspace of later issues).

Usage: python benchmarks/fixtures_build.py [--users 20000] [--out bench-out/w20k]
Prints one JSON line: users, rows, wall seconds, peak resident memory (MiB) of the build process.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench-out/w20k"))
    args = parser.parse_args()
    command = [
        sys.executable, "-m", "rankaudit", "fixtures", "build",
        "--users", str(args.users), "--seed", str(args.seed), "--out", str(args.out), "--force",
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(result.stderr)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    import pyarrow.parquet as pq

    rows = sum(pq.ParquetFile(p).metadata.num_rows for p in args.out.glob("logs/*.parquet"))
    print(result.stdout)
    print(
        json.dumps(
            {
                "users": args.users,
                "rows": rows,
                "wall_s": round(wall, 1),
                "peak_rss_mib": round(peak_kib / 1024),
                "log_mb": round(sum(p.stat().st_size for p in args.out.glob("logs/*")) / 1e6, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
