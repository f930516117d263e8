"""Existing readers load lakeaug output as-is.

Runs `lakeaug run` on sample_data (plain binary images and the Hugging Face image
layout), then reads the output with pyarrow.dataset, DuckDB, Polars, Hugging Face
`datasets` and the loader example. Expected values come from the run manifests and
from decoding the files independently (pyarrow + Pillow), never from lakeaug itself.

The binary is $LAKEAUG_BIN, else target/release/lakeaug, else target/debug/lakeaug.
"""

import glob
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SCHEMES, cls_id  # noqa: E402 (shared with test_loader.py)


def manifest_counts(out: Path) -> dict:
    """rows written per scheme, summed over the run manifests."""
    counts: dict = {}
    for f in sorted((out / "_lakeaug" / "runs").glob("*.json")):
        m = json.loads(f.read_text())
        for scheme, c in m["per_scheme"].items():
            counts[scheme] = counts.get(scheme, 0) + c["written"]
    return {s: n for s, n in counts.items() if n > 0}


def part_glob(out: Path) -> str:
    return str(out / "scheme=*" / "*.parquet")


def test_pyarrow_dataset(out_plain):
    import pyarrow.dataset as ds
    from PIL import Image

    dataset = ds.dataset(out_plain, format="parquet", partitioning="hive")
    table = dataset.to_table()
    counts = {}
    for s in table.column("scheme").to_pylist():
        counts[s] = counts.get(s, 0) + 1
    assert counts == manifest_counts(out_plain)
    assert set(counts) <= SCHEMES
    # Source lineage points into the 15-row input.
    assert set(table.column("source_row").to_pylist()) <= set(range(15))
    # Images decode, 224x224 after the resize every scheme applies.
    for b in table.column("image").to_pylist()[:10]:
        assert Image.open(io.BytesIO(b)).size == (224, 224)
    # Partition pruning through the dataset API.
    aligned = dataset.to_table(filter=ds.field("scheme") == "aligned")
    assert aligned.num_rows == counts.get("aligned", 0)
    pl_ids = [ids for ids, s in zip(table.column("input_ids").to_pylist(),
                                    table.column("scheme").to_pylist()) if s == "pseudo_label"]
    assert pl_ids and all(ids and ids[0] == cls_id() for ids in pl_ids)


def test_duckdb(out_plain):
    import duckdb

    con = duckdb.connect()
    rows = con.execute(
        "SELECT scheme, count(*) FROM read_parquet(?, hive_partitioning=true) GROUP BY scheme",
        [part_glob(out_plain)],
    ).fetchall()
    assert dict(rows) == manifest_counts(out_plain)
    n_ids = con.execute(
        "SELECT count(*) FROM read_parquet(?, hive_partitioning=true) WHERE len(input_ids) > 0",
        [part_glob(out_plain)],
    ).fetchone()[0]
    assert n_ids > 0


def test_polars(out_plain):
    import polars as pl

    lf = pl.scan_parquet(part_glob(out_plain), hive_partitioning=True)
    df = lf.group_by("scheme").agg(pl.len().alias("n")).collect()
    assert dict(zip(df["scheme"].to_list(), df["n"].to_list())) == manifest_counts(out_plain)
    assert lf.select(pl.col("input_ids").list.len().max()).collect().item() > 0


def test_hugging_face_image_feature(out_hf, tmp_path):
    import datasets

    files = sorted(glob.glob(part_glob(out_hf)))
    assert files
    dset = datasets.load_dataset("parquet", data_files={"train": files}, split="train",
                                 cache_dir=str(tmp_path / "hf-cache"))
    assert isinstance(dset.features["image"], datasets.Image)
    assert len(dset) == sum(manifest_counts(out_hf).values())
    for i in (0, len(dset) - 1):
        img = dset[i]["image"]
        assert img.size == (224, 224)
        img.load()


def test_plain_output_without_hf_features_stays_binary(out_plain, tmp_path):
    import datasets

    files = sorted(glob.glob(part_glob(out_plain)))
    dset = datasets.load_dataset("parquet", data_files={"train": files}, split="train",
                                 cache_dir=str(tmp_path / "hf-cache"))
    assert dset.features["image"] == datasets.Value("binary")


def test_hf_features_yield_pil_images(out_hf_features, tmp_path):
    """`--hf-features`: load_dataset and streaming=True yield PIL images and string captions
    without a cast, for a plain-binary input as for the Hugging Face layout one."""
    import datasets
    import pyarrow.parquet as pq
    from PIL import Image

    files = sorted(glob.glob(part_glob(out_hf_features)))
    total = sum(manifest_counts(out_hf_features).values())
    dset = datasets.load_dataset("parquet", data_files={"train": files}, split="train",
                                 cache_dir=str(tmp_path / "hf-cache"))
    assert isinstance(dset.features["image"], datasets.Image)
    assert dset.features["caption"] == datasets.Value("string")
    assert len(dset) == total
    # The same image bytes as the file holds, decoded.
    stored = pq.read_table(files[0], columns=["image"]).column("image")[0].as_py()["bytes"]
    first = dset[0]["image"]
    assert isinstance(first, Image.Image) and first.size == (224, 224)
    assert first.tobytes() == Image.open(io.BytesIO(stored)).tobytes()

    stream = datasets.load_dataset("parquet", data_files={"train": files}, split="train",
                                   streaming=True)
    n = 0
    for row in stream:
        assert isinstance(row["image"], Image.Image) and row["image"].size == (224, 224)
        assert isinstance(row["caption"], str)
        n += 1
    assert n == total


def test_loader_example_runs(out_plain):
    res = subprocess.run([sys.executable, str(ROOT / "examples/pytorch_loader.py"), str(out_plain),
                          "--batch-size", "8", "--world-size", "2"],
                         check=True, capture_output=True, text=True)
    total = sum(manifest_counts(out_plain).values())
    assert f"rows={total} " in res.stdout, res.stdout
    assert "pixel_values=(8, 3, 224, 224) torch.uint8" in res.stdout
    assert "rank=0 " in res.stdout and "rank=1 " in res.stdout
