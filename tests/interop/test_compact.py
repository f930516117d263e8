"""`lakeaug compact`: fewer parts, the same rows and values, runs go on incrementally.

A lake of many small input files (one part per input file and scheme) is compacted; every
value (image bytes included) is compared with pyarrow before and after, `lakeaug query`
must count the same, and later runs (a new file, a changed file, a rerun with nothing to
do) must end with exactly the values of an output built without compaction from the same
inputs. Killed compactions (LAKEAUG_CRASH_AT) leave no stray or missing part.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, lakeaug_bin

sys.path.insert(0, str(ROOT / "python"))
import lakeaug_loader as ll  # noqa: E402

# Columns that name the run that wrote a row rather than its values.
RUN_COLUMNS = {"run_id", "lakeaug_version", "created_at"}
KEY = ["source_file", "source_row", "scheme", "aug_copy"]


def make_lake(lake: Path, files: int, rows: int = 3) -> None:
    photos = pq.read_table(ROOT / "sample_data/photos.parquet")
    lake.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        take = [(f * rows + i) % photos.num_rows for i in range(rows)]
        pq.write_table(photos.take(take), lake / f"small-{f:03d}.parquet")


def lakeaug(*args, env=None, check=True) -> subprocess.CompletedProcess:
    return subprocess.run([lakeaug_bin(), *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, check=check, env={**os.environ, **(env or {})})


def run(lake: Path, out: Path, check=True) -> subprocess.CompletedProcess:
    return lakeaug("run", "--input", lake, "--output", out, "--quiet", check=check)


def snapshot_table(out: Path) -> pa.Table:
    """Every row of the snapshot, run columns dropped, sorted by its key; `scheme` from
    the folder."""
    tables = []
    for part in ll.snapshot_parts(out):
        t = pq.read_table(out / part)
        t = t.drop_columns([c for c in t.column_names if c in RUN_COLUMNS])
        scheme = part.split("/")[0].split("=", 1)[1]
        tables.append(t.append_column("scheme", pa.array([scheme] * t.num_rows)))
    table = pa.concat_tables(tables)
    return table.sort_by([(k, "ascending") for k in KEY])


def parts_on_disk(out: Path) -> list:
    return sorted(str(p.relative_to(out)) for p in out.glob("scheme=*/*.parquet"))


def query_count(out: Path) -> dict:
    res = lakeaug("query", out, "SELECT scheme, count(*) AS n, sum(source_row) AS s "
                  "FROM augmented GROUP BY scheme ORDER BY scheme", "--format", "json")
    return {r["scheme"]: (r["n"], r["s"]) for r in json.loads(res.stdout)}


@pytest.fixture()
def small_lake(tmp_path) -> tuple:
    lake, out = tmp_path / "lake", tmp_path / "out"
    make_lake(lake, files=12)
    run(lake, out)
    return lake, out


def test_compaction_keeps_every_row_and_value(small_lake):
    lake, out = small_lake
    before_parts = ll.snapshot_parts(out)
    assert len(before_parts) == 12 * 3
    before = snapshot_table(out)
    counts = query_count(out)
    schema = pq.read_schema(out / before_parts[0])

    res = lakeaug("compact", out)
    assert "compacted 36 parts" in res.stderr, res.stderr
    after_parts = ll.snapshot_parts(out)
    assert len(after_parts) == 3  # one per scheme
    assert parts_on_disk(out) == after_parts  # the small parts are gone, nothing stray
    assert snapshot_table(out).equals(before)
    assert query_count(out) == counts
    # The same schema, metadata included.
    assert pq.read_schema(out / after_parts[0]) == schema
    assert pq.read_schema(out / after_parts[0]).metadata == schema.metadata
    # Nothing left to do: exit 3; a rerun of the same inputs too.
    assert lakeaug("compact", out, check=False).returncode == 3
    assert run(lake, out, check=False).returncode == 3


def test_runs_after_compaction_match_an_uncompacted_output(small_lake, tmp_path):
    lake, out = small_lake
    lakeaug("compact", out)
    # A new file, and a changed one whose rows sit in the compacted parts.
    make_lake(tmp_path / "extra", files=1, rows=5)
    shutil.copy(tmp_path / "extra" / "small-000.parquet", lake / "new-file.parquet")
    photos = pq.read_table(ROOT / "sample_data/photos.parquet")
    pq.write_table(photos.take([14, 13, 12, 11]), lake / "small-004.parquet")
    run(lake, out)
    assert run(lake, out, check=False).returncode == 3
    reference = tmp_path / "reference"
    run(lake, reference)
    assert snapshot_table(out).equals(snapshot_table(reference))
    assert query_count(out) == query_count(reference)
    assert parts_on_disk(out) == ll.snapshot_parts(out)
    # small-004's old rows are gone with its old version: its new 4 rows, 3 schemes.
    table = snapshot_table(out)
    changed = [f for f in table.column("source_file").to_pylist() if f.endswith("small-004.parquet")]
    assert len(changed) == 4 * 3
    # Compacting again merges the new parts with the compacted ones.
    lakeaug("compact", out)
    assert len(ll.snapshot_parts(out)) == 3
    assert snapshot_table(out).equals(snapshot_table(reference))


@pytest.mark.parametrize("point", ["compact-before-publish", "compact-before-commit",
                                   "compact-after-commit"])
def test_killed_compaction_leaves_a_consistent_output(small_lake, point):
    lake, out = small_lake
    before = snapshot_table(out)
    res = lakeaug("compact", out, env={"LAKEAUG_CRASH_AT": point}, check=False)
    assert res.returncode != 0 and "aborting here" in res.stderr
    # Readers of the snapshot see every row once, whatever the moment of the crash.
    assert snapshot_table(out).equals(before)
    # The next run (nothing to do) finishes the step: no part outside the snapshot stays.
    assert run(lake, out, check=False).returncode == 3
    assert parts_on_disk(out) == ll.snapshot_parts(out)
    assert snapshot_table(out).equals(before)
    compacted = point == "compact-after-commit"
    assert (len(ll.snapshot_parts(out)) == 3) == compacted
