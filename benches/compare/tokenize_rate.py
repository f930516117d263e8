#!/usr/bin/env python3
"""Captions per second of the Python `tokenizers` batch encoder on the same 256 captions as
`cargo bench --bench text_kernels` (encode_batch/256): the fixture's untruncated texts, cycled.
BERT uncased, truncation at 512, padding to the longest (scheme 3 as the original code ran it).
Set TOKENIZERS_PARALLELISM=false to measure one thread (the library's default is a thread pool).
Prints one JSON line.
"""

import json
import os
import time
from pathlib import Path

from tokenizers import Tokenizer

REPO = Path(__file__).resolve().parents[2]


def main():
    cases = json.loads((REPO / "tests/fixtures/tokenizers/bert_uncased.json").read_text())["cases"]
    texts = [c["text"] for c in cases if c.get("max_length") is None]
    caps = [texts[i % len(texts)] for i in range(256)]
    tok = Tokenizer.from_file(str(REPO / "sample_data/tokenizer/bert-base-uncased/tokenizer.json"))
    tok.enable_truncation(512)
    tok.enable_padding()
    tok.encode_batch(caps)  # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 3.0:
        tok.encode_batch(caps)
        n += 1
    secs = time.perf_counter() - start
    print(json.dumps({"captions_per_sec": n * len(caps) / secs, "us_per_caption":
                      secs / (n * len(caps)) * 1e6,
                      "parallelism": os.environ.get("TOKENIZERS_PARALLELISM", "default")}))


if __name__ == "__main__":
    main()
