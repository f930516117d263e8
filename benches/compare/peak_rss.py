#!/usr/bin/env python3
"""Runs one command and prints its wall time and the peak RSS of its process tree (psutil,
sampled every 20 ms), e.g. lakeaug's memory on inputs of growing size:

    python benches/compare/peak_rss.py -- target/release/lakeaug run --input big.parquet --output /tmp/o
"""

import json
import sys

from compare import run_measured


def main():
    args = sys.argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    wall, peak, _ = run_measured(args)
    print(json.dumps({"command": " ".join(args), "wall_seconds": round(wall, 2),
                      "peak_rss_mib": round(peak / 2**20, 1)}))


if __name__ == "__main__":
    main()
