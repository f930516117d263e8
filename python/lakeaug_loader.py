"""Stream a lakeaug output into PyTorch training: an `IterableDataset` and a `collate`.

    from torch.utils.data import DataLoader
    from lakeaug_loader import LakeaugIterableDataset, collate

    data = LakeaugIterableDataset("out", schemes=["aligned"], seed=0)
    loader = DataLoader(data, batch_size=32, num_workers=2, collate_fn=collate)
    for epoch in range(3):
        data.set_epoch(epoch)
        for batch in loader:
            batch["pixel_values"], batch["input_ids"], batch["attention_mask"]

What it guarantees (tested in `tests/interop/test_loader.py` with real torch):

- **Consistent snapshot.** The files read are those of the output's committed snapshot
  (`_lakeaug/state/files.json` and the records committed since, the list `lakeaug query`
  reads), never the parts of a run still in flight, nor two versions of one input file.
- **Exactly once.** The unit of work is a Parquet *row group*. Every row group of the
  snapshot is given to exactly one (rank, DataLoader worker) pair, so in one epoch every
  row is yielded exactly once across all workers and ranks. The rank and world size come
  from `torch.distributed` when it is initialised, else from the `RANK` and `WORLD_SIZE`
  environment variables, else 0 and 1. Ranks get whole row groups, so their row counts
  differ by up to a row group: under DDP, end the epoch on the shortest rank (e.g. a fixed
  number of steps) as with any sharded stream.
- **Reproducible order.** Row-group order is shuffled by `(seed, epoch)`, and rows are
  shuffled within a buffer of `shuffle_buffer` rows by `(seed, epoch, rank, worker)`: the
  same seed, epoch, world size and `num_workers` give the same batches; another epoch gives
  another order. `shuffle=False` reads in snapshot order.
- **Bounded memory.** One row group is read at a time (pyarrow, only the columns asked for),
  and at most `shuffle_buffer` encoded rows are held, whatever the output's size.
- **Filters.** `schemes` prunes whole `scheme=<name>/` folders; `copies` is pushed down to
  Parquet: row groups whose `aug_copy` statistics exclude the copies are never read, the rest
  are filtered as they are read.

The output is read from a local (or mounted) folder; for an `s3://` output, sync it or mount
it first. torchvision 0.29 marks its image decoders deprecated in favour of TorchCodec (a
DeprecationWarning); without torchvision, Pillow decodes.

Items are dicts. `pixel_values`: the decoded image, `torch.uint8`, shape `[3, H, W]` (RGB;
torchvision's `decode_image` when torchvision is installed, else Pillow). `input_ids`:
`torch.int64`, shape `[L]` (`[CLS] ... [SEP]`, unpadded). `scheme`: str (from the folder).
Any other column asked for in `columns` comes as its Python value (str, int, float, list).
`collate` stacks `pixel_values` to `[B, 3, H, W]` uint8, pads `input_ids` with `pad_id` (0, BERT's
`[PAD]`) to `[B, L_max]` int64 with `attention_mask` `[B, L_max]` int64 (1 = token), turns
integer columns into int64 tensors `[B]` and leaves the rest as lists.
"""

from __future__ import annotations

import ctypes
import io
import json
import os
import random
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs

try:
    import torch
    from torch.utils.data import IterableDataset, get_worker_info
except ImportError as err:  # the loader is for torch training code; say so plainly
    raise ImportError("lakeaug_loader needs torch (pip install torch)") from err

try:
    from torchvision.io import ImageReadMode, decode_image
except ImportError:  # Pillow decodes instead
    decode_image = None

PAD_ID = 0  # BERT [PAD]
SNAPSHOT = "_lakeaug/state/files.json"
COMMITS = "_lakeaug/state/commits"
DEFAULT_COLUMNS = ("image", "input_ids")


def _progress(record: dict) -> tuple:
    """How far along a file record is: a later generation, then a complete record over a
    partial one, then more committed rows. Used to pick the newest of two records of one
    input file (the snapshot and a commit not yet folded into it)."""
    partial = record.get("partial")
    return (record.get("generation", 0), partial is None,
            partial["rows_done"] if partial else record.get("rows", 0))


def _visible(record: dict) -> list[str]:
    """The files of a record's last complete version (`FileRecord::visible_files`)."""
    partial = record.get("partial")
    if partial is not None:
        return list(partial.get("visible", []))
    return list(record.get("outputs", [])) + list(record.get("rejects", []))


def snapshot_parts(root: str | os.PathLike) -> list[str]:
    """The part files (relative to `root`, sorted) of the output's committed snapshot: each
    input file's last complete version, as `lakeaug query` reads it.

    The records committed since the last snapshot (`commits/`, left by a running or killed
    run) are read before the snapshot: a commit folded into the snapshot meanwhile is then
    in the snapshot read after it, and of two records of one file the newer wins."""
    root = Path(root)
    records: dict[str, dict] = {}
    commits = root / COMMITS
    for path in sorted(commits.glob("*.json")) if commits.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except FileNotFoundError:  # folded into the snapshot read below
            continue
        records[record["key"]] = record
    snapshot = root / SNAPSHOT
    if snapshot.exists():
        for record in json.loads(snapshot.read_text())["files"]:
            old = records.get(record["key"])
            if old is None or _progress(record) > _progress(old):
                records[record["key"]] = record
    elif not records:
        raise FileNotFoundError(
            f"{root} is not a lakeaug output (no {SNAPSHOT}): pass the --output folder of a "
            "finished `lakeaug run`")
    files = {f for r in records.values() for f in _visible(r)}
    return sorted(f for f in files if not f.startswith("_"))


def _scheme_of(part: str) -> str:
    folder = part.split("/", 1)[0]
    return folder[len("scheme="):] if folder.startswith("scheme=") else ""


def _rank_and_world() -> tuple[int, int]:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _image_bytes(column: pa.ChunkedArray) -> list:
    """Encoded image bytes, for either image layout (plain binary, or Hugging Face's
    struct<bytes, path>)."""
    if pa.types.is_struct(column.type):
        column = pc.struct_field(column, "bytes")
    return column.to_pylist()


def _fix_mmap_threshold() -> None:
    """In a DataLoader worker, have glibc serve blocks of 128 KiB and more (decoded images,
    Arrow buffers) from their own pages, returned when freed. By default glibc raises that
    threshold to the largest block freed so far, after which such blocks come from the heap,
    where smaller long-lived objects pin the freed space: a worker's peak memory was 1.8x
    higher (tests/interop/test_loader.py, 448x448 images). The `lakeaug` binary does the
    same (docs/performance.md). No-op where the C library has no `mallopt`."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    M_MMAP_THRESHOLD = -3
    mallopt(M_MMAP_THRESHOLD, 128 << 10)


def _fragment(path: str, row_groups=None) -> ds.ParquetFileFragment:
    return ds.ParquetFileFormat().make_fragment(path, pyarrow.fs.LocalFileSystem(),
                                                row_groups=row_groups)


def decode(data: bytes) -> torch.Tensor:
    """Encoded image -> uint8 tensor [3, H, W], RGB."""
    if decode_image is not None:
        # frombuffer shares `data`'s memory; a bytearray copy keeps it writable for torch.
        raw = torch.frombuffer(bytearray(data), dtype=torch.uint8)
        return decode_image(raw, mode=ImageReadMode.RGB)
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1).contiguous()


class LakeaugIterableDataset(IterableDataset):
    """The rows of a lakeaug output as a stream, sharded by row group (see the module doc).

    root: the `--output` folder of `lakeaug run`.
    columns: output columns to read (`image` is decoded into `pixel_values` when `decode`).
    schemes: only these schemes (None: all). copies: only these `aug_copy` values (None: all).
    seed, shuffle, shuffle_buffer: the order (see the module doc); call `set_epoch` each epoch.
    rank, world_size: override what `torch.distributed` or `RANK`/`WORLD_SIZE` say.
    tune_malloc: in DataLoader worker processes, fix glibc's mmap threshold (see
    `_fix_mmap_threshold`); the main process is never changed.
    """

    def __init__(self, root: str | os.PathLike, columns: Sequence[str] = DEFAULT_COLUMNS,
                 schemes: Iterable[str] | None = None, copies: Iterable[int] | None = None,
                 seed: int = 0, shuffle: bool = True, shuffle_buffer: int = 1024,
                 decode: bool = True, image_column: str = "image",
                 rank: int | None = None, world_size: int | None = None,
                 tune_malloc: bool = True):
        super().__init__()
        self.tune_malloc = tune_malloc
        self.root = str(root)
        self.columns = [c for c in columns if c != "scheme"]
        self.image_column = image_column
        self.decode = decode
        self.seed, self.shuffle, self.shuffle_buffer = seed, shuffle, max(1, shuffle_buffer)
        self.epoch = 0
        env_rank, env_world = _rank_and_world()
        self.rank = env_rank if rank is None else rank
        self.world_size = env_world if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is outside a world of {self.world_size}")
        wanted = set(schemes) if schemes is not None else None
        self.filter = (ds.field("aug_copy").isin(sorted(set(copies)))
                       if copies is not None else None)
        parts = [p for p in snapshot_parts(self.root)
                 if wanted is None or _scheme_of(p) in wanted]
        # The units of work, (part, row group), in a fixed order. Listing reads each part's
        # footer once, here, in the process that builds the dataset; workers inherit it.
        self.units: list[tuple[str, int]] = []
        for part in parts:
            fragment = _fragment(os.path.join(self.root, part))
            for rg in fragment.split_by_row_group(self.filter):  # statistics prune here
                self.units.append((part, rg.row_groups[0].id))

    def set_epoch(self, epoch: int) -> None:
        """Use the order of `epoch` (call before iterating, in the main process)."""
        self.epoch = epoch

    def shard(self, worker: int = 0, num_workers: int = 1) -> list[tuple[str, int]]:
        """The row groups of (this rank, `worker`) this epoch, in reading order."""
        order = list(self.units)
        if self.shuffle:
            random.Random(f"lakeaug-units/{self.seed}/{self.epoch}").shuffle(order)
        shards = self.world_size * num_workers
        return order[self.rank * num_workers + worker::shards]

    def _rows(self, units: list[tuple[str, int]]) -> Iterator[dict]:
        for part, row_group in units:
            path = os.path.join(self.root, part)
            try:
                fragment = _fragment(path, row_groups=[row_group])
                table = fragment.to_table(columns=self.columns, filter=self.filter)
            except FileNotFoundError as err:
                raise FileNotFoundError(
                    f"{path} left the output while it was read (a later run replaced its "
                    "input file's version): build the dataset again to read the new snapshot"
                ) from err
            scheme = _scheme_of(part)
            values = {c: (_image_bytes(table.column(c)) if c == self.image_column
                          else table.column(c).to_pylist()) for c in self.columns}
            for i in range(table.num_rows):
                row = {c: values[c][i] for c in self.columns}
                row["scheme"] = scheme
                yield row

    def _item(self, row: dict) -> dict:
        if self.decode and self.image_column in row:
            data = row.pop(self.image_column)
            row["pixel_values"] = decode(data) if data is not None else None
        if "input_ids" in row:
            row["input_ids"] = torch.tensor(row["input_ids"] or [], dtype=torch.int64)
        return row

    def __iter__(self) -> Iterator[dict]:
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info else (0, 1)
        if info is not None and self.tune_malloc:
            _fix_mmap_threshold()
        rows = self._rows(self.shard(worker, num_workers))
        if not self.shuffle:
            for row in rows:
                yield self._item(row)
            return
        # A shuffle buffer: encoded rows wait here; each incoming row takes a random slot's
        # place and that slot's row is yielded.
        rng = random.Random(f"lakeaug-rows/{self.seed}/{self.epoch}/{self.rank}/{worker}")
        buffer: list[dict] = []
        for row in rows:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(row)
                continue
            slot = rng.randrange(len(buffer))
            buffer[slot], row = row, buffer[slot]
            yield self._item(row)
        rng.shuffle(buffer)
        while buffer:
            yield self._item(buffer.pop())


def collate(items: list[dict], pad_id: int = PAD_ID) -> dict:
    """A batch: `pixel_values` [B, 3, H, W] uint8, `input_ids` and `attention_mask`
    [B, L_max] int64 (padded with `pad_id`), int columns as int64 [B], the rest as lists."""
    batch: dict = {}
    keys = items[0].keys()
    for key in keys:
        values = [x[key] for x in items]
        if key == "pixel_values":
            batch[key] = torch.stack(values)
        elif key == "input_ids":
            longest = max((len(v) for v in values), default=0)
            ids = torch.full((len(values), longest), pad_id, dtype=torch.int64)
            mask = torch.zeros((len(values), longest), dtype=torch.int64)
            for row, v in enumerate(values):
                ids[row, :len(v)] = v
                mask[row, :len(v)] = 1
            batch["input_ids"], batch["attention_mask"] = ids, mask
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            batch[key] = torch.tensor(values, dtype=torch.int64)
        else:
            batch[key] = values
    return batch
