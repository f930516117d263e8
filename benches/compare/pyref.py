#!/usr/bin/env python3
"""Python reference pipelines for the comparison: the three original schemes as the original
scheme code would run them, reading Parquet with pyarrow and writing Parquet.

Pipelines (--pipeline):
  torchvision     PIL decode -> torchvision transforms on PIL images -> PIL JPEG encode
  albumentations  OpenCV decode -> albumentations (OpenCV) transforms -> OpenCV JPEG encode
  floor           OpenCV decode at half size (IMREAD_REDUCED_COLOR_2) -> resize -> encode:
                  nothing else (no augmentation, no caption work): the bare floor

Schemes (--scheme; /work/shared/REFERENCE.md "The three schemes of the original comparison"):
  aligned       Resize(224,224); RandomHorizontalFlip(0.5); ColorJitter(brightness=0.2,
                contrast=0.2); RandomRotation(15, nearest, fill 0); caption: p=0.3 one word ->
                "random_word"
  cross_modal   Resize; a square of side int(0.2*min(h,w)) set to 0 at a uniform position inside
                the image; caption: if > 5 words, len//3 distinct words deleted
  pseudo_label  Resize only; caption tokenized with BERT uncased (Hugging Face `tokenizers`),
                padded to the longest in the batch, truncated at 512

--workers N processes (forked after the imports, as a DataLoader's workers are) take the
input's row groups round-robin and each write their own part file. Prints one JSON line:
rows, seconds (from the fork to the last worker's end: interpreter start-up and imports are
NOT counted, which favours Python), pipeline, scheme, workers, and peak_rss_kib: the sum of
each process's own peak RSS (VmHWM; the parent's and every worker's).
"""

import argparse
import io
import json
import multiprocessing as mp
import os
import random
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# Each worker is one process; keep the libraries' own thread pools out of the comparison so
# "2 workers" means 2 cores (OpenCV and torch would otherwise start a thread per core).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import torch  # noqa: E402
import albumentations as A  # noqa: E402
import torchvision.transforms as T  # noqa: E402
from PIL import Image  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

cv2.setNumThreads(1)
torch.set_num_threads(1)

SIZE = 224
BATCH = 128


# ----------------------------------------------------------------------------- captions
def replace_one_word(caption, rng):
    words = caption.split()
    if words and rng.random() < 0.3:
        words[rng.randrange(len(words))] = "random_word"
        return " ".join(words)
    return caption


def delete_words(caption, rng):
    words = caption.split()
    if len(words) > 5:
        drop = set(rng.sample(range(len(words)), len(words) // 3))
        return " ".join(w for i, w in enumerate(words) if i not in drop)
    return caption


# ----------------------------------------------------------------------------- images
def erase_square(a, rng):
    """Scheme 2's patch on an HxWxC array, in place."""
    h, w = a.shape[:2]
    s = int(0.2 * min(h, w))
    x = rng.randint(0, w - s)
    y = rng.randint(0, h - s)
    a[y:y + s, x:x + s] = 0
    return a


class TorchvisionPipeline:
    def __init__(self, scheme, quality):
        self.scheme, self.quality = scheme, quality
        self.resize = T.Resize((SIZE, SIZE))  # bilinear, antialiased on PIL images
        self.aligned = T.Compose([
            T.RandomHorizontalFlip(p=0.5),
            T.ColorJitter(brightness=0.2, contrast=0.2),
            T.RandomRotation(degrees=15),  # nearest, expand=False, fill 0
        ])

    def image(self, data, rng):
        im = Image.open(io.BytesIO(data)).convert("RGB")
        im = self.resize(im)
        if self.scheme == "aligned":
            im = self.aligned(im)
        elif self.scheme == "cross_modal":
            im = Image.fromarray(erase_square(np.array(im), rng))
        out = io.BytesIO()
        im.save(out, "JPEG", quality=self.quality)
        return out.getvalue()


class AlbumentationsPipeline:
    def __init__(self, scheme, quality):
        self.scheme, self.quality = scheme, quality
        # INTER_AREA: OpenCV's antialiased downscale (torchvision's Resize antialiases too)
        ops = [A.Resize(SIZE, SIZE, interpolation=cv2.INTER_AREA)]
        if scheme == "aligned":
            ops += [
                A.HorizontalFlip(p=0.5),
                A.ColorJitter(brightness=0.2, contrast=0.2, saturation=0, hue=0, p=1.0),
                A.Rotate(limit=15, interpolation=cv2.INTER_NEAREST,
                         border_mode=cv2.BORDER_CONSTANT, fill=0, p=1.0),
            ]
        elif scheme == "cross_modal":
            s = int(0.2 * SIZE)
            ops += [A.CoarseDropout(num_holes_range=(1, 1), hole_height_range=(s, s),
                                    hole_width_range=(s, s), fill=0, p=1.0)]
        self.transform = A.Compose(ops)

    def image(self, data, rng):
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # ColorJitter's contrast uses RGB weights
        rgb = self.transform(image=rgb)["image"]
        ok, enc = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        return enc.tobytes()


class FloorPipeline:
    def __init__(self, scheme, quality):
        self.quality = quality

    def image(self, data, rng):
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_2)
        bgr = cv2.resize(bgr, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        ok, enc = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        return enc.tobytes()


PIPELINES = {
    "torchvision": TorchvisionPipeline,
    "albumentations": AlbumentationsPipeline,
    "floor": FloorPipeline,
}


def process_batch(pipe, scheme, batch, rng, tokenizer, is_floor):
    images = [pipe.image(b, rng) for b in batch.column("image").to_pylist()]
    captions = batch.column("caption").to_pylist()
    cols = {"id": batch.column("id"), "image": pa.array(images, pa.binary())}
    if is_floor:
        cols["caption"] = batch.column("caption")
    elif scheme == "aligned":
        cols["caption"] = pa.array([replace_one_word(c, rng) for c in captions], pa.string())
    elif scheme == "cross_modal":
        cols["caption"] = pa.array([delete_words(c, rng) for c in captions], pa.string())
    else:
        cols["caption"] = batch.column("caption")
        enc = tokenizer.encode_batch(captions)
        cols["input_ids"] = pa.array([e.ids for e in enc], pa.list_(pa.int32()))
    return pa.table(cols)


def worker(args, index, row_groups):
    rng = random.Random(args.seed * 1000 + index)
    pipe = PIPELINES[args.pipeline](args.scheme, args.quality)
    tokenizer = None
    if args.scheme == "pseudo_label" and args.pipeline != "floor":
        tokenizer = Tokenizer.from_file(args.tokenizer)
        tokenizer.enable_truncation(512)
        tokenizer.enable_padding()  # to the longest in the batch
    pf = pq.ParquetFile(args.input)
    rows = 0
    writer = None
    out_path = os.path.join(args.output, f"part-{index:03d}.parquet")
    for batch in pf.iter_batches(batch_size=BATCH, row_groups=row_groups):
        table = process_batch(pipe, args.scheme, batch, rng, tokenizer, args.pipeline == "floor")
        if writer is None:
            writer = pq.ParquetWriter(out_path, table.schema, compression={
                name: ("NONE" if name == "image" else "ZSTD") for name in table.schema.names})
        writer.write_table(table)
        rows += table.num_rows
    if writer is not None:
        writer.close()
    return rows, os.getpid(), peak_rss_kib()


def peak_rss_kib():
    """This process's peak RSS so far: VmHWM, in KiB. (Not ru_maxrss: Linux carries the
    spawning process's peak over into a child's ru_maxrss at exec.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv=None):
    ap = argparse.ArgumentParser(description="Python reference pipelines")
    ap.add_argument("--pipeline", choices=sorted(PIPELINES), required=True)
    ap.add_argument("--scheme", choices=["aligned", "cross_modal", "pseudo_label"],
                    default="aligned")
    ap.add_argument("--input", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tokenizer", default=os.path.join(
        os.path.dirname(__file__), "..", "..", "sample_data", "tokenizer", "bert-base-uncased",
        "tokenizer.json"))
    args = ap.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    groups = pq.ParquetFile(args.input).num_row_groups
    shards = [list(range(i, groups, args.workers)) for i in range(args.workers)]

    start = time.perf_counter()
    if args.workers == 1:
        rows, _, _ = worker(args, 0, shards[0])
        peak = peak_rss_kib()
    else:
        ctx = mp.get_context("fork")
        with ctx.Pool(args.workers) as pool:
            done = pool.starmap(worker, [(args, i, s) for i, s in enumerate(shards)])
        rows = sum(r for r, _, _ in done)
        # A pool process that ran two shards reports twice: count each process once.
        peaks = {pid: kib for _, pid, kib in done}
        peak = peak_rss_kib() + sum(peaks.values())
    seconds = time.perf_counter() - start
    print(json.dumps({"pipeline": args.pipeline, "scheme": args.scheme,
                      "workers": args.workers, "rows": rows, "seconds": seconds,
                      "peak_rss_kib": peak}))


if __name__ == "__main__":
    sys.exit(main())
