#!/usr/bin/env python3
"""Make a reproducible COCO-like benchmark table: any number of rows of JPEG photos with captions.

Every row is a different image made from the 15 project photos (/work/shared/data/photos, or
any folder with the same layout: image files plus photos_captions.tsv):

- size as COCO's most common ones: 640x480 (50 %), 480x640 (25 %), 640x427 (25 %);
- a random crop (60-100 % of the area, the target aspect), Lanczos resize, random flip,
  small exposure change and sensor-like grain, so the JPEGs have a photo's entropy
  (about 60 KB each at the qualities below, like COCO's) instead of the smooth upscales a
  plain resize gives; 5 % stay grayscale-looking when the source is grayscale;
- JPEG quality drawn from 82..93 with 4:2:0 subsampling (Pillow = libjpeg-turbo);
- a caption of 8-15 words: one of the human captions written for the source photo.

Same --seed and --rows -> the same rows (row i depends only on (seed, i)), so the table is
never committed: make it where the benchmark runs.

    python benches/compare/make_bench_data.py --rows 2000 --out /tmp/bench/coco_2000.parquet
    # one huge row group (~500 MB) for the memory check:
    python benches/compare/make_bench_data.py --rows 8500 --row-group-rows 8500 --out big.parquet

Columns: id (int64), image (binary), caption (string).
"""

import argparse
import csv
import io
import os
import sys
from functools import partial
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

SIZES = [((640, 480), 0.50), ((480, 640), 0.25), ((640, 427), 0.25)]


def load_sources(folder: Path):
    captions = {}
    with open(folder / "photos_captions.tsv", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            captions.setdefault(row["file"], []).append(row["caption"])
    sources = []
    for name in sorted(captions):
        im = Image.open(folder / name)
        gray = im.mode == "L"
        words_ok = [c for c in captions[name] if 8 <= len(c.split()) <= 15]
        # a photo with no caption of the right length gets its captions cut to 15 words
        caps = words_ok or [" ".join(c.split()[:15]) for c in captions[name]]
        sources.append((name, im.convert("RGB"), gray, caps))
    return sources


def make_row(sources, seed: int, i: int):
    rng = np.random.default_rng([seed, i])
    name, src, gray, caps = sources[rng.integers(len(sources))]
    (tw, th) = SIZES[rng.choice(len(SIZES), p=[p for _, p in SIZES])][0]
    # crop: target aspect, 60-100 % of the largest such window
    sw, sh = src.size
    aspect = tw / th
    cw = min(sw, sh * aspect)
    ch = cw / aspect
    f = np.sqrt(rng.uniform(0.6, 1.0))
    cw, ch = cw * f, ch * f
    x0 = rng.uniform(0, sw - cw)
    y0 = rng.uniform(0, sh - ch)
    im = src.resize((tw, th), Image.LANCZOS, box=(x0, y0, x0 + cw, y0 + ch))
    if rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    a = np.asarray(im, dtype=np.float32)
    a = a * rng.uniform(0.85, 1.15)
    # grain: luminance noise plus a little chroma noise, as in a camera JPEG
    sigma = rng.uniform(0.5, 2.5)
    noise = rng.normal(0.0, sigma, size=a.shape[:2] + (1,)).astype(np.float32)
    if not gray:
        noise = noise + rng.normal(0.0, sigma / 4, size=a.shape).astype(np.float32)
    a = np.clip(a + noise, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(a, "RGB").save(out, "JPEG", quality=int(rng.integers(82, 94)), subsampling=2)
    caption = caps[rng.integers(len(caps))]
    return out.getvalue(), caption


_SOURCES = None


def _init(folder):
    global _SOURCES
    _SOURCES = load_sources(Path(folder))


def _row(seed, i):
    return make_row(_SOURCES, seed, i)


def main(argv=None):
    here = Path(__file__).resolve()
    default_src = Path(os.environ.get("LAKEAUG_PHOTOS", "/work/shared/data/photos"))
    if not default_src.exists():
        default_src = here.parents[2] / "shared" / "data" / "photos"
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--photos", default=str(default_src), help="folder of source photos")
    ap.add_argument("--row-group-rows", type=int, default=1000, help="rows per row group")
    ap.add_argument("--jobs", type=int, default=os.cpu_count(), help="worker processes")
    args = ap.parse_args(argv)

    pool = Pool(args.jobs, initializer=_init, initargs=(args.photos,))
    schema = pa.schema([("id", pa.int64()), ("image", pa.binary()), ("caption", pa.string())])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    total_bytes = 0
    with pq.ParquetWriter(args.out, schema, compression="zstd",
                          column_encoding={"image": "PLAIN"}, use_dictionary=["caption"]) as w:
        for start in range(0, args.rows, args.row_group_rows):
            ids, images, captions = [], [], []
            rows = range(start, min(args.rows, start + args.row_group_rows))
            made = pool.imap(partial(_row, args.seed), rows, chunksize=16)
            for i, (jpeg, caption) in zip(rows, made):
                ids.append(i)
                images.append(jpeg)
                captions.append(caption)
                total_bytes += len(jpeg)
            w.write_table(pa.table([ids, images, captions], schema=schema),
                          row_group_size=args.row_group_rows)
            print(f"\r{min(args.rows, start + args.row_group_rows)}/{args.rows} rows", end="",
                  file=sys.stderr)
    print(f"\n{args.out}: {args.rows} rows, mean JPEG {total_bytes / max(1, args.rows) / 1024:.1f} KiB",
          file=sys.stderr)


if __name__ == "__main__":
    main()
