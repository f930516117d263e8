"""Shared by the interop tests: the lakeaug binary, and small outputs of the sample data.

The binary is $LAKEAUG_BIN, else target/release/lakeaug, else target/debug/lakeaug.
"""

import os
import subprocess
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


def run_lakeaug(input_path: Path, out: Path, *flags: str) -> Path:
    subprocess.run(
        [lakeaug_bin(), "run", "--input", str(input_path), "--output", str(out), *flags],
        check=True, cwd=ROOT,
    )
    return out


@pytest.fixture(scope="session")
def out_plain(tmp_path_factory) -> Path:
    return run_lakeaug(Path("sample_data/photos.parquet"), tmp_path_factory.mktemp("plain") / "out")


@pytest.fixture(scope="session")
def out_hf(tmp_path_factory) -> Path:
    return run_lakeaug(Path("sample_data/photos_hf"), tmp_path_factory.mktemp("hf") / "out")


def cls_id() -> int:
    vocab = (ROOT / "sample_data/tokenizer/bert-base-uncased/vocab.txt").read_text().splitlines()
    return vocab.index("[CLS]")


@pytest.fixture(scope="session", params=["plain", "hf_layout"])
def out_hf_features(request, tmp_path_factory) -> Path:
    """`--hf-features` outputs of the plain-binary input and of the Hugging Face layout one."""
    source = {"plain": "sample_data/photos.parquet", "hf_layout": "sample_data/photos_hf"}
    return run_lakeaug(Path(source[request.param]),
                       tmp_path_factory.mktemp(f"hf-features-{request.param}") / "out",
                       "--hf-features")
