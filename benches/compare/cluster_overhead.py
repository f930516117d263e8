#!/usr/bin/env python3
"""What running on Ballista costs: `lakeaug run --cluster` on a local scheduler and two
executors of one vcore each, against `lakeaug run --threads 2` on the same machine, same
data, same chunks, alternating them in one run (release binary, as in compare.py).

    cargo build --release --bin lakeaug
    python benches/compare/make_bench_data.py --rows 20000 --out /tmp/bench/coco_20000.parquet
    python benches/compare/cluster_overhead.py --data /tmp/bench/coco_20000.parquet --reps 3

Configurations (each repetition runs every one once, in the same order):
  local     `run --threads 2 --chunk-rows C` (C = rows / 10: ten chunk commits)
  cluster   `run --cluster URL --shared-fs --cluster-jobs 2 --chunk-rows C` (ten tasks)
  tiny_local, tiny_cluster  the first --tiny-rows rows (default 400) in chunks of 4 rows
            (100 chunks), locally and on the cluster: the difference over 100 tasks is the
            cost of one task on the cluster (submission, scheduling, result round trip,
            commit) in wall seconds, with two jobs in flight

The scheduler and executors are started once, before the first repetition, and stay up
(as on a real cluster); every run writes a fresh output. Both configurations augment with
the same schemes (default aligned) and write the same values (tests/it/cluster.rs checks it),
so rows/s compare like for like. Wall time is the whole `lakeaug run` process.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port_pair():
    """A free loopback port whose successor is free too (an executor's gRPC port)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
                return port
            except OSError:
                continue


def wait_for_port(port, what):
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f"{what} did not start listening on {port}")


def start_cluster(binary, work, executors):
    procs = []
    port = free_port_pair()
    procs.append(subprocess.Popen(
        [binary, "cluster", "scheduler", "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=open(work / "scheduler.log", "wb")))
    wait_for_port(port, "the scheduler")
    url = f"127.0.0.1:{port}"
    for i in range(executors):
        p = free_port_pair()
        procs.append(subprocess.Popen(
            [binary, "cluster", "executor", "--scheduler", url, "--bind", f"127.0.0.1:{p}",
             "--vcores", "1", "--work-dir", str(work / f"executor{i}")],
            stdout=subprocess.DEVNULL, stderr=open(work / f"executor{i}.log", "wb")))
        wait_for_port(p, "an executor")
    time.sleep(1)
    return url, procs


def timed(cmd):
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="input Parquet (make_bench_data.py)")
    ap.add_argument("--lakeaug", default=os.environ.get("LAKEAUG_BIN", str(
        Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release" / "lakeaug")))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--schemes", default="aligned")
    ap.add_argument("--tiny-rows", type=int, default=400)
    ap.add_argument("--work", help="folder for outputs (default: a temporary one)")
    ap.add_argument("--json", help="write all measurements here")
    args = ap.parse_args(argv)

    import pyarrow.parquet as pq
    rows = pq.ParquetFile(args.data).metadata.num_rows
    chunk = max(2, rows // 10)
    work = Path(args.work or tempfile.mkdtemp(prefix="lakeaug-cluster-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    tiny = work / "tiny.parquet"
    pq.write_table(pq.read_table(args.data).slice(0, args.tiny_rows), tiny)
    url, procs = start_cluster(args.lakeaug, work, 2)
    common = [args.lakeaug, "run", "--schemes", args.schemes, "--quiet"]
    cluster = ["--cluster", url, "--shared-fs", "--cluster-jobs", "2"]
    configs = {
        "local": ["--threads", "2", "--chunk-rows", str(chunk)],
        "cluster": [*cluster, "--chunk-rows", str(chunk)],
        "tiny_local": ["--threads", "2", "--chunk-rows", "4"],
        "tiny_cluster": [*cluster, "--chunk-rows", "4"],
    }
    tiny_tasks = -(-args.tiny_rows // 4)
    tasks = {"local": -(-rows // chunk), "cluster": -(-rows // chunk),
             "tiny_local": tiny_tasks, "tiny_cluster": tiny_tasks}
    print(json.dumps({"rows": rows, "chunk_rows": chunk, "tasks": tasks, "cpus": os.cpu_count(),
                      "load_before": os.getloadavg()}), flush=True)
    results = {c: [] for c in configs}
    try:
        for rep in range(args.reps):
            for name, extra in configs.items():
                out = work / "out"
                shutil.rmtree(out, ignore_errors=True)
                data = tiny if name.startswith("tiny") else args.data
                wall = timed([*common, "--input", str(data), "--output", str(out), *extra])
                results[name].append(wall)
                n = args.tiny_rows if name.startswith("tiny") else rows
                print(f"rep {rep + 1}/{args.reps} {name:>13}: {wall:7.2f} s, "
                      f"{n / wall:7.1f} rows/s (load {os.getloadavg()[0]:.1f})", flush=True)
    finally:
        for p in procs:
            p.kill()
            p.wait()
    med = {c: statistics.median(v) for c, v in results.items()}
    overhead = med["cluster"] / med["local"]
    per_task = (med["tiny_cluster"] - med["tiny_local"]) / tiny_tasks
    print(f"\n{rows} rows ({args.tiny_rows} for tiny_*), {args.reps} repetitions, "
          "median wall seconds (rows/s)")
    print("| configuration | tasks | seconds | rows/s |\n|---|---|---|---|")
    for c in configs:
        n = args.tiny_rows if c.startswith("tiny") else rows
        print(f"| {c} | {tasks[c]} | {med[c]:.2f} | {n / med[c]:.0f} |")
    print(f"\ncluster / local wall time: {overhead:.3f}")
    print(f"one task on the cluster costs {per_task * 1000:.0f} ms of wall time more than a "
          f"local chunk (two jobs in flight)")
    print(f"load average after {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "medians": med,
                                               "overhead": overhead, "per_task_s": per_task,
                                               "tasks": tasks}, indent=1))


if __name__ == "__main__":
    main()
