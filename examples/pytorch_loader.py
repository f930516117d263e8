"""Feed a lakeaug output to a PyTorch DataLoader, streaming (python/lakeaug_loader.py).

Prints each batch's tensor shapes and the rows read; with --world-size N it reads as each
of N ranks in turn (what N training processes would read, one after the other).

    python examples/pytorch_loader.py OUT_DIR [--scheme aligned] [--batch-size 8]
        [--workers 2] [--epoch 0] [--world-size 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))

from torch.utils.data import DataLoader  # noqa: E402

from lakeaug_loader import LakeaugIterableDataset, collate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="output folder of `lakeaug run`")
    ap.add_argument("--scheme", action="append", help="only this scheme (repeatable)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    ap.add_argument("--epoch", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--world-size", type=int, default=1)
    ap.add_argument("--quiet", action="store_true", help="only the totals")
    args = ap.parse_args()

    rows = batches = 0
    start = time.perf_counter()
    for rank in range(args.world_size):
        data = LakeaugIterableDataset(args.root, columns=["image", "input_ids"],
                                      schemes=args.scheme, seed=args.seed, rank=rank,
                                      world_size=args.world_size)
        data.set_epoch(args.epoch)
        loader = DataLoader(data, batch_size=args.batch_size, num_workers=args.workers,
                            collate_fn=collate)
        for batch in loader:
            rows += batch["input_ids"].shape[0]
            batches += 1
            if not args.quiet:
                print(f"rank={rank} pixel_values={tuple(batch['pixel_values'].shape)} "
                      f"{batch['pixel_values'].dtype} input_ids={tuple(batch['input_ids'].shape)} "
                      f"schemes={sorted(set(batch['scheme']))}")
    seconds = time.perf_counter() - start
    print(f"rows={rows} batches={batches} seconds={seconds:.2f} rows_per_s={rows / seconds:.0f}")


if __name__ == "__main__":
    main()
