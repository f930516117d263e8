#!/usr/bin/env python3
"""End-to-end comparison: `lakeaug run` (release binary) against the Python reference pipelines
(pyref.py) on the same generated data, alternating them in one run, all at JPEG quality 90.

    cargo bench --no-run                      # builds target/release/lakeaug among others
    python benches/compare/make_bench_data.py --rows 2000 --out /tmp/bench/coco_2000.parquet
    python benches/compare/compare.py --data /tmp/bench/coco_2000.parquet --reps 3

Every repetition runs every configuration once, in the same interleaved order, so slow phases
of a shared machine hit all pipelines alike; medians and ratios of medians are reported.
rows/s = input rows / wall seconds. For lakeaug the wall time is the whole process (start-up,
tokenizer load, reading, writing, manifest); for Python it starts after the imports (see
pyref.py), which favours Python. Peak RSS is the kernel's high-water mark, read once a
process has ended, so nothing polls while a run is timed (sampling with psutil every 20 ms
took about 1.3 ms of CPU per sample, which slowed the 2-worker runs on 2 cores): lakeaug's
from GNU time (`/usr/bin/time -f %M`, Debian package `time`), which starts it from a small
process (Linux carries the spawning process's peak into a child's `ru_maxrss`, and this
script's is about 800 MB with torch imported); a Python pipeline's is the sum of its
processes' own peaks (VmHWM of the parent and of each worker, as pyref.py reports them).

Configurations:
  lakeaug         `lakeaug run --schemes S --threads T --quality 90` (T = 1, 2)
  lakeaug_bare    the same with a scheme that does nothing (cross_modal with patch_fraction 0
                  and no word deletion): decode -> resize -> encode + tokenize + lineage + write
  torchvision     pyref.py --pipeline torchvision --workers W (W = 1, 2)
  albumentations  pyref.py --pipeline albumentations --workers W
  floor           pyref.py --pipeline floor --workers W (OpenCV reduced decode -> resize -> encode)
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
BARE_CONFIG = """# lakeaug with no augmentation: the cross_modal scheme with an empty patch and no deletion
[cross_modal]
patch_fraction = 0.0
delete_above_words = 1000000
"""


def machine():
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions():
    out = {}
    for mod in ["numpy", "pyarrow", "PIL", "torch", "torchvision", "cv2", "albumentations",
                "tokenizers"]:
        try:
            m = __import__(mod)
            out[mod] = getattr(m, "__version__", "?")
        except Exception as e:  # a missing library is reported, not fatal here
            out[mod] = f"missing ({e.__class__.__name__})"
    return out


def run_measured(cmd, work):
    """Runs cmd under GNU time; returns (wall seconds, peak RSS bytes of the process, stdout).

    Output goes to files (not pipes), so waiting without reading cannot block the child."""
    out_path, err_path, rss_path = work / "stdout", work / "stderr", work / "maxrss"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        start = time.perf_counter()
        code = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", str(rss_path), *cmd],
                               stdout=out, stderr=err)
        wall = time.perf_counter() - start
    if code != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({code}):\n"
                           f"{err_path.read_text(errors='replace')[-3000:]}")
    return wall, int(rss_path.read_text().split()[-1]) * 1024, out_path.read_text()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="input Parquet (make_bench_data.py)")
    ap.add_argument("--lakeaug", default=os.environ.get("LAKEAUG_BIN", str(
        Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "release" / "lakeaug")))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--schemes", nargs="+", default=["aligned", "cross_modal", "pseudo_label"])
    ap.add_argument("--pipelines", nargs="+",
                    default=["lakeaug", "lakeaug_bare", "torchvision", "albumentations", "floor"])
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--json", help="write all measurements here")
    args = ap.parse_args(argv)
    if not os.access("/usr/bin/time", os.X_OK):
        sys.exit("compare.py: /usr/bin/time (GNU time) is missing; it reads lakeaug's peak "
                 "memory. Install it (Debian: apt-get install time) and rerun.")

    import pyarrow.parquet as pq
    rows = pq.ParquetFile(args.data).metadata.num_rows
    work = Path(tempfile.mkdtemp(prefix="lakeaug-compare-"))
    bare_cfg = work / "bare.toml"
    bare_cfg.write_text(BARE_CONFIG)

    configs = []
    for w in args.workers:
        for p in args.pipelines:
            if p in ("lakeaug_bare", "floor"):
                configs.append((p, "none", w))
            else:
                configs += [(p, s, w) for s in args.schemes]

    def command(p, s, w, out):
        if p == "lakeaug":
            return [args.lakeaug, "run", "--input", args.data, "--output", str(out), "--schemes",
                    s, "--threads", str(w), "--quality", str(args.quality), "--quiet"]
        if p == "lakeaug_bare":
            return [args.lakeaug, "run", "--input", args.data, "--output", str(out), "--schemes",
                    "cross_modal", "--config", str(bare_cfg), "--threads", str(w), "--quality",
                    str(args.quality), "--quiet"]
        return [sys.executable, str(HERE / "pyref.py"), "--pipeline", p, "--scheme",
                "aligned" if s == "none" else s, "--input", args.data, "--output", str(out),
                "--workers", str(w), "--quality", str(args.quality)]

    info = {"machine": machine(), "versions": versions(), "rows": rows, "data": args.data,
            "command": " ".join(sys.argv), "load_before": os.getloadavg()}
    print(json.dumps(info, indent=1), flush=True)
    for par in ["false", "true"]:
        out = subprocess.run([sys.executable, str(HERE / "tokenize_rate.py")], check=True,
                             capture_output=True, text=True,
                             env={**os.environ, "TOKENIZERS_PARALLELISM": par}).stdout
        info[f"python_tokenizers_parallelism_{par}"] = json.loads(out)
        print(f"python tokenizers encode_batch (TOKENIZERS_PARALLELISM={par}): {out.strip()}",
              flush=True)
    results = {c: [] for c in configs}
    for rep in range(args.reps):
        for c in configs:
            out = work / "out"
            shutil.rmtree(out, ignore_errors=True)
            wall, peak, stdout = run_measured(command(*c, out), work)
            seconds = wall
            if c[0] not in ("lakeaug", "lakeaug_bare"):
                report = json.loads(stdout.strip().splitlines()[-1])
                seconds, peak = report["seconds"], report["peak_rss_kib"] * 1024
            results[c].append({"seconds": seconds, "peak_rss": peak})
            print(f"rep {rep + 1}/{args.reps} {c[0]:>15} {c[1]:>12} x{c[2]}: "
                  f"{rows / seconds:8.1f} rows/s, peak RSS {peak / 2**20:7.1f} MiB "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    info["load_after"] = os.getloadavg()

    med = {c: rows / statistics.median(r["seconds"] for r in v) for c, v in results.items()}
    rss = {c: max(r["peak_rss"] for r in v) / 2**20 for c, v in results.items()}
    print(f"\n{rows} rows, {args.reps} repetitions, median rows/s (max peak RSS MiB)")
    print(f"| pipeline | scheme | " + " | ".join(f"{w} worker(s)" for w in args.workers) + " |")
    print("|---|---|" + "---|" * len(args.workers))
    for p in args.pipelines:
        for s in (["none"] if p in ("lakeaug_bare", "floor") else args.schemes):
            cells = [f"{med[(p, s, w)]:.0f} ({rss[(p, s, w)]:.0f})" for w in args.workers
                     if (p, s, w) in med]
            print(f"| {p} | {s} | " + " | ".join(cells) + " |")

    def ratio(a, b):
        return med[a] / med[b] if a in med and b in med else float("nan")

    wmax = max(args.workers)
    print(f"\nRatios at {wmax} worker(s)/thread(s):")
    ratios = {}
    for s in args.schemes:
        for peer in ["albumentations", "torchvision"]:
            ratios[f"{s}: lakeaug / {peer}"] = ratio(("lakeaug", s, wmax), (peer, s, wmax))
        ratios[f"{s}: lakeaug / python floor"] = ratio(("lakeaug", s, wmax), ("floor", "none", wmax))
        ratios[f"{s}: lakeaug / lakeaug_bare"] = ratio(("lakeaug", s, wmax),
                                                       ("lakeaug_bare", "none", wmax))
        if 1 in args.workers and wmax > 1:
            ratios[f"{s}: lakeaug {wmax} threads / 1 thread"] = ratio(("lakeaug", s, wmax),
                                                                      ("lakeaug", s, 1))
    for k, v in ratios.items():
        print(f"  {k}: {v:.2f}")
    print(f"\nload average before {info['load_before']}, after {info['load_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            **info, "ratios": ratios,
            "results": [{"pipeline": p, "scheme": s, "workers": w, "runs": v}
                        for (p, s, w), v in results.items()]}, indent=1))


if __name__ == "__main__":
    main()
