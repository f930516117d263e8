"""Feed lakeaug output to training code: a map-style Dataset and a DataLoader.

The dataset follows the PyTorch `Dataset` protocol (`__len__`, `__getitem__`) and
`collate_fn` pads `input_ids` to the longest sequence in the batch. When `torch` is
installed, batches come from `torch.utils.data.DataLoader` as tensors; otherwise a
small stand-in with the same call signature yields NumPy arrays, so the example runs
with only pyarrow, numpy and pillow.

    python examples/pytorch_loader.py OUT_DIR [--scheme aligned] [--batch-size 4]
"""

from __future__ import annotations

import argparse
import io
import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from PIL import Image

PAD_ID = 0  # BERT [PAD]


class LakeaugDataset:
    """Rows of a lakeaug output folder: decoded image, token ids, lineage.

    pyarrow.dataset skips `_rejects/` and `_lakeaug/` (names starting with `_`) and
    turns `scheme=<name>/` folders into a `scheme` column.
    """

    def __init__(self, root: str, scheme: str | None = None, image_column: str = "image"):
        dataset = ds.dataset(root, format="parquet", partitioning="hive")
        flt = pc.field("scheme") == scheme if scheme else None
        cols = [image_column, "input_ids", "caption", "scheme", "source_file", "source_row"]
        table = dataset.to_table(columns=cols, filter=flt)
        images = table.column(image_column)
        if pa.types.is_struct(images.type):  # Hugging Face layout: struct<bytes, path>
            images = pc.struct_field(images, "bytes")
        self.images = images.to_pylist()
        self.input_ids = table.column("input_ids").to_pylist()
        self.captions = table.column("caption").to_pylist()
        self.schemes = table.column("scheme").to_pylist()
        self.lineage = list(zip(table.column("source_file").to_pylist(),
                                table.column("source_row").to_pylist()))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        img = Image.open(io.BytesIO(self.images[i])).convert("RGB")
        pixels = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255.0  # CHW
        return {
            "pixel_values": pixels,
            "input_ids": np.asarray(self.input_ids[i] or [], dtype=np.int64),
            "caption": self.captions[i],
            "scheme": self.schemes[i],
            "source": self.lineage[i],
        }


def collate_fn(items: list[dict]) -> dict:
    """Stacks images and pads `input_ids` with [PAD] to the longest in the batch."""
    longest = max(len(x["input_ids"]) for x in items)
    ids = np.full((len(items), longest), PAD_ID, dtype=np.int64)
    mask = np.zeros((len(items), longest), dtype=np.int64)
    for row, x in enumerate(items):
        n = len(x["input_ids"])
        ids[row, :n] = x["input_ids"]
        mask[row, :n] = 1
    return {
        "pixel_values": np.stack([x["pixel_values"] for x in items]),
        "input_ids": ids,
        "attention_mask": mask,
        "captions": [x["caption"] for x in items],
        "schemes": [x["scheme"] for x in items],
    }


class SimpleDataLoader:
    """The subset of `torch.utils.data.DataLoader` used here, without torch."""

    def __init__(self, dataset, batch_size=1, shuffle=False, collate_fn=collate_fn, seed=0):
        self.dataset, self.batch_size, self.shuffle = dataset, batch_size, shuffle
        self.collate_fn, self.rng = collate_fn, random.Random(seed)

    def __len__(self) -> int:
        return (len(self.dataset) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        order = list(range(len(self.dataset)))
        if self.shuffle:
            self.rng.shuffle(order)
        for start in range(0, len(order), self.batch_size):
            yield self.collate_fn([self.dataset[i] for i in order[start:start + self.batch_size]])


def make_loader(dataset, batch_size: int, shuffle: bool = True):
    """A torch DataLoader (tensors) when torch is installed, else SimpleDataLoader."""
    try:
        import torch
        from torch.utils.data import DataLoader
    except ImportError:
        return SimpleDataLoader(dataset, batch_size=batch_size, shuffle=shuffle)

    def torch_collate(items):
        batch = collate_fn(items)
        for key in ("pixel_values", "input_ids", "attention_mask"):
            batch[key] = torch.from_numpy(batch[key])
        return batch

    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=torch_collate)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", help="output folder of `lakeaug run`")
    ap.add_argument("--scheme", help="only this scheme (partition pruning)")
    ap.add_argument("--batch-size", type=int, default=4)
    args = ap.parse_args()

    dataset = LakeaugDataset(args.root, scheme=args.scheme)
    loader = make_loader(dataset, args.batch_size)
    rows = 0
    for batch in loader:
        rows += batch["input_ids"].shape[0]
        print(f"batch pixel_values={tuple(batch['pixel_values'].shape)} "
              f"input_ids={tuple(batch['input_ids'].shape)} "
              f"schemes={sorted(set(batch['schemes']))}")
    print(f"rows={rows} batches={len(loader)}")


if __name__ == "__main__":
    main()
