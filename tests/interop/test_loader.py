"""The streaming PyTorch loader (python/lakeaug_loader.py) with real torch and torchvision.

One output of several thousand rows (30 input files, 2 copies, 448x448 images) is read
through `torch.utils.data.DataLoader` with 2 workers and a simulated world of 2 ranks.
Expected rows come from reading the part files with pyarrow directly, never from the
loader.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
import torch
from torch.utils.data import DataLoader

from conftest import ROOT, cls_id, lakeaug_bin

sys.path.insert(0, str(ROOT / "python"))
import lakeaug_loader as ll  # noqa: E402

KEY = ["source_file", "source_row", "scheme", "aug_copy"]
FILES, ROWS_PER_FILE, COPIES, SIZE = 30, 40, 2, 448


@pytest.fixture(scope="session")
def big_out(tmp_path_factory) -> Path:
    """30 input files of 40 rows (the 15 sample photos, repeated), 3 schemes x 2 copies:
    7,200 output rows in 90 part files."""
    tmp = tmp_path_factory.mktemp("big")
    photos = pq.read_table(ROOT / "sample_data/photos.parquet")
    lake = tmp / "lake"
    lake.mkdir()
    for f in range(FILES):
        rows = [(f * ROWS_PER_FILE + i) % photos.num_rows for i in range(ROWS_PER_FILE)]
        table = photos.take(rows).set_column(0, "id", pa.array(
            range(f * ROWS_PER_FILE, (f + 1) * ROWS_PER_FILE), pa.int64()))
        pq.write_table(table, lake / f"part-{f:03d}.parquet")
    config = tmp / "config.toml"
    config.write_text(f"copies = {COPIES}\n\n[image]\nsize = {SIZE}\n")
    out = tmp / "out"
    subprocess.run([lakeaug_bin(), "run", "--input", str(lake), "--output", str(out),
                    "--config", str(config), "--quiet"], check=True, cwd=ROOT)
    return out


def expected_keys(out: Path, scheme=None, copies=None) -> list:
    """(source_file, source_row, scheme, aug_copy) of every row of the part files."""
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table(columns=KEY)
    keys = list(zip(*(table.column(c).to_pylist() for c in KEY)))
    return [k for k in keys
            if (scheme is None or k[2] == scheme) and (copies is None or k[3] in copies)]


def loader_keys(data: ll.LakeaugIterableDataset, workers: int = 2) -> list:
    loader = DataLoader(data, batch_size=16, num_workers=workers, collate_fn=ll.collate)
    keys = []
    for batch in loader:
        keys.extend(zip(batch["source_file"], batch["source_row"].tolist(), batch["scheme"],
                        batch["aug_copy"].tolist()))
    return keys


def world_of_two(out: Path, monkeypatch, epoch: int = 0, seed: int = 7, **kw) -> list:
    """Rows yielded by rank 0 then rank 1 (RANK/WORLD_SIZE set as a launcher would)."""
    per_rank = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        data = ll.LakeaugIterableDataset(out, columns=KEY, decode=False, seed=seed,
                                         shuffle_buffer=64, **kw)
        assert (data.rank, data.world_size) == (rank, 2)
        data.set_epoch(epoch)
        per_rank.append(loader_keys(data))
    return per_rank


def test_two_ranks_two_workers_yield_every_row_exactly_once(big_out, monkeypatch):
    expected = expected_keys(big_out)
    assert len(expected) == FILES * ROWS_PER_FILE * 3 * COPIES == len(set(expected))
    rank0, rank1 = world_of_two(big_out, monkeypatch)
    both = rank0 + rank1
    assert len(both) == len(set(both)), "a row was yielded twice"
    assert set(both) == set(expected)
    # Both ranks did work, whole row groups each (every part has rows of one file).
    assert rank0 and rank1 and not set(rank0) & set(rank1)


def test_order_depends_on_seed_and_epoch_only(big_out, monkeypatch):
    first = world_of_two(big_out, monkeypatch, epoch=0)
    again = world_of_two(big_out, monkeypatch, epoch=0)
    other_epoch = world_of_two(big_out, monkeypatch, epoch=1)
    other_seed = world_of_two(big_out, monkeypatch, epoch=0, seed=8)
    assert first == again
    for r in (0, 1):
        assert other_epoch[r] != first[r] and other_seed[r] != first[r]
    # Another order of the same rows.
    assert set(other_epoch[0] + other_epoch[1]) == set(first[0] + first[1])
    # Rows are mixed across row groups, not only row groups reordered: within rank 0's
    # first 64 rows (one shuffle buffer) several input files appear.
    assert len({k[0] for k in first[0][:64]}) > 1


def test_scheme_and_copy_filters(big_out, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("RANK", "0")
    data = ll.LakeaugIterableDataset(big_out, columns=KEY, decode=False,
                                     schemes=["aligned"], copies=[1])
    got = loader_keys(data)
    want = expected_keys(big_out, scheme="aligned", copies={1})
    assert want and sorted(got) == sorted(want)
    # Pushdown: only aligned parts were listed, and copy 0's rows were filtered out.
    assert {p.split("/")[0] for p, _ in data.units} == {"scheme=aligned"}


def test_batches_have_documented_shapes_and_dtypes(big_out):
    data = ll.LakeaugIterableDataset(big_out, columns=["image", "input_ids", "caption"],
                                     schemes=["pseudo_label"], rank=0, world_size=1)
    loader = DataLoader(data, batch_size=8, num_workers=2, collate_fn=ll.collate)
    batch = next(iter(loader))
    assert batch["pixel_values"].dtype == torch.uint8
    assert batch["pixel_values"].shape == (8, 3, SIZE, SIZE)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.dtype == mask.dtype == torch.int64
    assert ids.shape == mask.shape and ids.shape[0] == 8
    lengths = mask.sum(dim=1)
    assert lengths.max() == ids.shape[1]  # padded to the longest, no further
    assert (ids[:, 0] == cls_id()).all()
    assert (ids[mask == 0] == ll.PAD_ID).all()
    assert batch["scheme"] == ["pseudo_label"] * 8 and len(batch["caption"]) == 8
    # The decoded pixels are the stored JPEG's, as Pillow decodes it independently.
    from PIL import Image
    import io
    import numpy as np
    first = next(iter(ll.LakeaugIterableDataset(big_out, columns=["image"], shuffle=False,
                                                decode=False, schemes=["pseudo_label"])))
    pil = np.asarray(Image.open(io.BytesIO(first["image"])).convert("RGB"))
    tensor = ll.decode(first["image"]).permute(1, 2, 0).numpy()
    assert tensor.shape == pil.shape
    assert np.abs(tensor.astype(int) - pil.astype(int)).mean() < 2  # same libjpeg-turbo family


def test_hugging_face_layout_images_decode(out_hf):
    data = ll.LakeaugIterableDataset(out_hf, columns=["image", "input_ids"], rank=0,
                                     world_size=1)
    rows = list(data)
    assert len(rows) == len(expected_keys(out_hf))
    assert all(r["pixel_values"].shape == (3, 224, 224) for r in rows)


def test_snapshot_lists_committed_files_only(big_out, tmp_path):
    """A part on disk that no committed record names (what a run in flight or a killed one
    leaves) is not read."""
    parts = ll.snapshot_parts(big_out)
    assert len(parts) == FILES * 3
    on_disk = sorted(str(p.relative_to(big_out)) for p in big_out.glob("scheme=*/*.parquet"))
    assert parts == on_disk
    stray = big_out / "scheme=aligned" / "part-ffffffffffffffff-g1-00000.parquet"
    stray.write_bytes((big_out / parts[0]).read_bytes())
    try:
        assert ll.snapshot_parts(big_out) == parts
    finally:
        stray.unlink()


MEMORY_PROBE = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, sys.argv[2])
    import lakeaug_loader as ll
    from torch.utils.data import DataLoader

    def status(field):
        for line in open("/proc/self/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

    def reset_peak():
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS

    class Probe(ll.LakeaugIterableDataset):
        def __iter__(self):
            # Warm up first: the first decode maps torchvision's image library, a one-time
            # cost that does not depend on the output.
            first = next(iter(ll.LakeaugIterableDataset(
                sys.argv[1], columns=["image"], decode=False, shuffle=False, rank=0,
                world_size=1)))
            ll.decode(first["image"])
            reset_peak()
            start = status("VmRSS")
            yield from super().__iter__()
            with open(os.path.join(sys.argv[3], f"worker-{os.getpid()}.json"), "w") as f:
                json.dump({"growth": status("VmHWM") - start}, f)

    data = Probe(sys.argv[1], columns=["image", "input_ids"], shuffle_buffer=128, rank=0,
                 world_size=1)
    loader = DataLoader(data, batch_size=8, num_workers=2, collate_fn=ll.collate)
    reset_peak()
    start = status("VmRSS")
    rows = 0
    for batch in loader:
        rows += batch["pixel_values"].shape[0]
    print(json.dumps({"rows": rows, "growth": status("VmHWM") - start}))
""")


def test_memory_stays_bounded(big_out, tmp_path):
    """Peak memory growth of the main process and of each worker while streaming the whole
    output stays under a third of the output's image bytes (loading it whole would take
    more than all of them)."""
    image_bytes = sum(pc.sum(pc.binary_length(
        pq.read_table(big_out / p, columns=["image"]).column("image"))).as_py()
        for p in ll.snapshot_parts(big_out))
    # Big enough to mean something: the growth measured (one row group, the shuffle buffer,
    # batches in flight, allocator slack) is about 70 MiB per worker whatever the output's size.
    assert image_bytes > 400 * 2**20, image_bytes
    res = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(big_out), str(ROOT / "python"),
                          str(tmp_path)], check=True, capture_output=True, text=True)
    import json
    main = json.loads(res.stdout.strip().splitlines()[-1])
    workers = [json.loads(p.read_text()) for p in tmp_path.glob("worker-*.json")]
    assert main["rows"] == FILES * ROWS_PER_FILE * 3 * COPIES
    assert len(workers) == 2
    print(f"image bytes {image_bytes / 2**20:.0f} MiB; peak growth: main "
          f"{main['growth'] / 2**20:.0f} MiB, workers "
          f"{[round(w['growth'] / 2**20) for w in workers]} MiB")
    for growth in [main["growth"]] + [w["growth"] for w in workers]:
        assert growth < image_bytes / 3
