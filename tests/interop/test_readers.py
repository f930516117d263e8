"""Existing readers load lakeaug output as-is.

Runs `lakeaug run` on sample_data (plain binary images and the Hugging Face image
layout), then reads the output with pyarrow.dataset, DuckDB, Polars, Hugging Face
`datasets` and the loader example. Expected values come from the run manifests and
from decoding the files independently (pyarrow + Pillow), never from lakeaug itself.

The binary is $LAKEAUG_BIN, else target/release/lakeaug, else target/debug/lakeaug.
"""

import glob
import importlib.util
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCHEMES = {"aligned", "cross_modal", "pseudo_label"}


def lakeaug_bin() -> str:
    env = os.environ.get("LAKEAUG_BIN")
    if env:
        return env
    for profile in ("release", "debug"):
        p = ROOT / "target" / profile / "lakeaug"
        if p.exists():
            return str(p)
    raise RuntimeError("build lakeaug first (cargo build --release) or set LAKEAUG_BIN")


def run_lakeaug(input_path: Path, out: Path) -> Path:
    subprocess.run(
        [lakeaug_bin(), "run", "--input", str(input_path), "--output", str(out)],
        check=True, cwd=ROOT,
    )
    return out


@pytest.fixture(scope="session")
def out_plain(tmp_path_factory) -> Path:
    return run_lakeaug(Path("sample_data/photos.parquet"), tmp_path_factory.mktemp("plain") / "out")


@pytest.fixture(scope="session")
def out_hf(tmp_path_factory) -> Path:
    return run_lakeaug(Path("sample_data/photos_hf"), tmp_path_factory.mktemp("hf") / "out")


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


def cls_id() -> int:
    vocab = (ROOT / "sample_data/tokenizer/bert-base-uncased/vocab.txt").read_text().splitlines()
    return vocab.index("[CLS]")


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


def load_example():
    spec = importlib.util.spec_from_file_location("pytorch_loader", ROOT / "examples/pytorch_loader.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_loader_example_runs(out_plain):
    res = subprocess.run([sys.executable, str(ROOT / "examples/pytorch_loader.py"), str(out_plain),
                          "--batch-size", "8"], check=True, capture_output=True, text=True)
    total = sum(manifest_counts(out_plain).values())
    assert f"rows={total} " in res.stdout, res.stdout
    assert "pixel_values=(8, 3, 224, 224)" in res.stdout


def test_loader_collate_pads(out_hf):
    mod = load_example()
    dset = mod.LakeaugDataset(str(out_hf), scheme="pseudo_label")
    items = [dset[i] for i in range(min(5, len(dset)))]
    batch = mod.SimpleDataLoader(dset).collate_fn(items)
    lengths = [len(x["input_ids"]) for x in items]
    assert batch["input_ids"].shape == (len(items), max(lengths))
    assert batch["attention_mask"].sum(axis=1).tolist() == lengths
    for row, x in enumerate(items):
        assert batch["input_ids"][row, :lengths[row]].tolist() == x["input_ids"].tolist()
        assert (batch["input_ids"][row, lengths[row]:] == mod.PAD_ID).all()
    assert batch["pixel_values"].shape[1:] == (3, 224, 224)
