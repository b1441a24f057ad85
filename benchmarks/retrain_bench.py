"""Retraining time of the default coder on N human decisions (not a test).

Builds ``--decisions`` decisions from the bundled synthetic sample study's
participant sentences (each accepts one code and rejects another, chosen by a
seeded random generator: only the amount and shape of the training data matter
for timing), then times, in this fresh process:

1. embedding the decided segments (what a new ``chimeqda next`` process pays once), and
2. ``fit`` of the default coder on the codebook plus those decisions,

with the codebook's bank embeddings already cached on disk (as after
``chimeqda prepare``). Repeats the fit ``--repeat`` times and prints the median.

    PYTHONPATH=src .venv/bin/python benchmarks/retrain_bench.py --decisions 1000
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from chimeqda.codebook.loader import builtin_codebook
from chimeqda.coders import DEFAULT_CODER, get_coder
from chimeqda.coders.encoders import get_encoder
from chimeqda.coders.similarity import build_references, embed_texts
from chimeqda.ingest.readers import read_document
from chimeqda.model import LabelledText

ROOT = Path(__file__).resolve().parents[1]


def sample_sentences() -> list[tuple[str, str]]:
    """(text, lang) of every participant sentence in the sample study, in order, de-duplicated."""
    out: dict[str, str] = {}
    for path in sorted((ROOT / "examples/sample-study/transcripts").iterdir()):
        doc = read_document(path)
        for segment in doc.segments:
            if segment.role == "participant":
                out.setdefault(segment.text, doc.language)
    return list(out.items())


def decisions(n: int, seed: int = 0) -> list[LabelledText]:
    rng = np.random.default_rng(seed)
    sentences = sample_sentences()
    sentences = [sentences[i] for i in rng.permutation(len(sentences))]  # mix the English and Dutch interviews
    codes = [c.id for c in builtin_codebook().top_level]
    items = []
    for i in range(n):
        text, lang = sentences[i % len(sentences)]
        if i >= len(sentences):  # more decisions than sentences: join neighbours into new passages
            text = text + " " + sentences[(i * 7 + 3) % len(sentences)][0]
        accepted, rejected = rng.choice(codes, size=2, replace=False)
        items.append(
            LabelledText(text=text, labels=frozenset({str(accepted)}), lang=lang, complete=False,
                         rejected=frozenset({str(rejected)}), source=f"doc{i // 40}")
        )
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--coder", default=DEFAULT_CODER)
    args = parser.parse_args()
    book = builtin_codebook()
    labelled = decisions(args.decisions)
    refs = build_references(book, [c.id for c in book.top_level])
    for name in ("minilm", "e5"):  # the bank, from the on-disk cache (prepare fills it)
        embed_texts(name, [r.text for r in refs if name == "e5" or r.lang != "nl"], persist=True)
    start = time.perf_counter()
    for name in ("minilm", "e5"):
        texts = [d.text for d in labelled if (d.lang == "nl") == (name == "e5")]
        if texts:
            get_encoder(name).encode(texts)
    embed_s = time.perf_counter() - start
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        get_coder(args.coder).fit(book, labelled)
        times.append(time.perf_counter() - start)
    print(f"coder {args.coder}: {len(labelled)} decisions ({sum(d.lang == 'nl' for d in labelled)} Dutch), "
          f"bank {len(book.bank)}; embedding the decisions {embed_s:.1f} s; "
          f"fit median {statistics.median(times):.1f} s (runs: {', '.join(f'{t:.1f}' for t in times)}); "
          f"total {embed_s + statistics.median(times):.1f} s")


if __name__ == "__main__":
    main()
