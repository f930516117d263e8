#!/usr/bin/env python3
"""Build lakeaug's sample_data/ from the project's shared photos and tokenizer.

Run from the repository root:

    python sample_data/make_sample_data.py [--shared /work/shared/data]

Deterministic: rerunning with the same library versions gives byte-identical
files.  Made with (pin these to reproduce the bytes exactly):
    Python 3.11.7, pyarrow 26.0.1, Pillow 13.0.0, datasets 5.2.0
(`pip install pyarrow==26.0.1 pillow==13.0.0 datasets==5.2.0`).

Writes:
  photos.parquet                          id, image (JPEG bytes), caption, license
  photos_hf/train-00000-of-00001.parquet  same rows, Hugging Face `datasets` Image layout
  LICENSES.md                             per-photo source and licence (verbatim)
  tokenizer/bert-base-uncased/            verbatim copy of the shared tokenizer
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import sys

import datasets
import PIL
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))

# photos.parquet: every photo re-encoded as JPEG q90, longest side <= 480
MAX_SIDE = 480
JPEG_QUALITY = 90

# photos_hf: how each photo's bytes are stored (keeps the file < 1.2 MB while
# exercising PNG RGB, PNG gray, JPEG RGB and JPEG gray decoding):
#   "original" - the shared file's bytes, verbatim
#   "png320"   - PNG, downscaled so the longest side is <= 320, mode kept
#   "jpg320"   - JPEG q90, downscaled so the longest side is <= 320, mode kept
HF_ENCODING = {
    "astronaut.png": "png320",
    "chelsea.png": "png320",
    "coffee.png": "jpg320",
    "rocket.jpg": "original",
    "motorcycle_left.png": "jpg320",
    "motorcycle_right.png": "jpg320",
    "hubble_deep_field.jpg": "jpg320",
    "retina.jpg": "jpg320",
    "ihc.png": "jpg320",
    "camera.png": "png320",
    "coins.png": "original",
    "moon.png": "original",
    "text.png": "original",
    "clock_motion.png": "original",
    "grace_hopper.jpg": "original",
}


def read_tsv(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def downscale(im: Image.Image, max_side: int) -> Image.Image:
    w, h = im.size
    if max(w, h) <= max_side:
        return im.copy()
    if w >= h:
        size = (max_side, max(1, round(h * max_side / w)))
    else:
        size = (max(1, round(w * max_side / h)), max_side)
    return im.resize(size, Image.Resampling.LANCZOS)


def load_photo(path: str) -> Image.Image:
    im = Image.open(path)
    im.load()
    # keep gray photos gray; everything else as plain RGB
    return im.convert("L") if im.mode in ("L", "1", "I;16") else im.convert("RGB")


def encode_jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    # no EXIF/ICC, baseline, default 4:2:0 subsampling: deterministic
    im.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
    return buf.getvalue()


def encode_png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="/work/shared/data")
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()
    photos_dir = os.path.join(args.shared, "photos")
    out = args.out

    photos = read_tsv(os.path.join(photos_dir, "photos.tsv"))
    captions = {
        (r["file"], int(r["caption_idx"])): r["caption"]
        for r in read_tsv(os.path.join(photos_dir, "photos_captions.tsv"))
    }
    assert len(photos) == 15 and set(HF_ENCODING) == {p["file"] for p in photos}

    ids, jpegs, caps, lics = [], [], [], []
    hf_images = []
    for i, p in enumerate(photos):  # photos.tsv order; id = row index
        src = os.path.join(photos_dir, p["file"])
        im = load_photo(src)
        assert im.mode == ("L" if p["mode"] == "L" else "RGB"), (p["file"], im.mode)
        ids.append(i)
        jpegs.append(encode_jpeg(downscale(im, MAX_SIDE)))
        caps.append(captions[(p["file"], 0)])
        lics.append(p["license"])

        stem, ext = os.path.splitext(p["file"])
        how = HF_ENCODING[p["file"]]
        if how == "original":
            with open(src, "rb") as fh:
                hf_images.append({"bytes": fh.read(), "path": p["file"]})
        elif how == "png320":
            hf_images.append({"bytes": encode_png(downscale(im, 320)), "path": f"{stem}_320.png"})
        elif how == "jpg320":
            hf_images.append({"bytes": encode_jpeg(downscale(im, 320)), "path": f"{stem}_320.jpg"})
        else:
            raise ValueError(how)

    # ---- photos.parquet -------------------------------------------------
    schema = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("image", pa.binary()),
            pa.field("caption", pa.string()),
            pa.field("license", pa.string()),
        ]
    )
    table = pa.Table.from_arrays(
        [
            pa.array(ids, pa.int64()),
            pa.array(jpegs, pa.binary()),
            pa.array(caps, pa.string()),
            pa.array(lics, pa.string()),
        ],
        schema=schema,
    )
    pq.write_table(
        table,
        os.path.join(out, "photos.parquet"),
        compression="zstd",
        row_group_size=len(ids),  # one row group
        write_statistics=True,
    )

    # ---- photos_hf/ (Hugging Face datasets Image layout) ----------------
    hf_dir = os.path.join(out, "photos_hf")
    os.makedirs(hf_dir, exist_ok=True)
    ds = datasets.Dataset.from_dict(
        {"id": ids, "image": hf_images, "caption": caps, "license": lics}
    ).cast_column("image", datasets.Image())
    # library defaults, i.e. exactly what `datasets` writes (image leaves
    # uncompressed PLAIN, other columns snappy, page index, CDC pages)
    ds.to_parquet(os.path.join(hf_dir, "train-00000-of-00001.parquet"))

    # ---- tokenizer copy --------------------------------------------------
    tok_src = os.path.join(args.shared, "tokenizer", "bert-base-uncased")
    tok_dst = os.path.join(out, "tokenizer", "bert-base-uncased")
    os.makedirs(tok_dst, exist_ok=True)
    for name in ("tokenizer.json", "vocab.txt", "NOTICE"):
        shutil.copyfile(os.path.join(tok_src, name), os.path.join(tok_dst, name))

    # ---- LICENSES.md -----------------------------------------------------
    with open(os.path.join(photos_dir, "README.md"), encoding="utf-8") as fh:
        photos_readme = fh.read().strip()
    lines = [
        "# Licences of the sample photos",
        "",
        "Each row of `photos.parquet` and `photos_hf/train-00000-of-00001.parquet` is one",
        "of these photos (re-encoded or downscaled as described in README.md; `id` is the",
        "row number below, starting at 0). Source and licence lines are copied verbatim",
        "from the project's shared `data/photos/photos.tsv`.",
        "",
        "| id | file | source | licence |",
        "|---|---|---|---|",
    ]
    for i, p in enumerate(photos):
        lic = p["license"].replace("|", "\\|")
        lines.append(f"| {i} | {p['file']} | {p['source']} | {lic} |")
    lines += [
        "",
        "The captions are from the shared `data/photos/photos_captions.tsv` (caption_idx 0),",
        "written for this project.",
        "",
        "## Note of the shared photo folder (`data/photos/README.md`), verbatim",
        "",
    ]
    lines += ["> " + ln if ln else ">" for ln in photos_readme.splitlines()]
    with open(os.path.join(out, "LICENSES.md"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")

    print(
        "versions:",
        {"pyarrow": pa.__version__, "PIL": PIL.__version__, "datasets": datasets.__version__},
    )
    for rel in ("photos.parquet", "photos_hf/train-00000-of-00001.parquet"):
        print(rel, os.path.getsize(os.path.join(out, rel)), "bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
