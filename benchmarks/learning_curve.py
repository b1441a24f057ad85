"""Simulated active learning: macro κ on held-out stories vs number of human decisions (not a test).

Holds out 20% of the stories (grouped by ``doc``); starting from the
codebook-only default coder, repeatedly picks the ``--batch`` most uncertain
training passages (scores closest to a code's threshold, as
``chimeqda next`` does), adds their true labels as LabelledText, refits and
measures macro κ on the held-out stories. A random-order curve is printed
next to it for comparison (``--no-random`` to skip).

    PYTHONPATH=src .venv/bin/python benchmarks/learning_curve.py --data ../shared/eval/chime_dev.jsonl

The labelled file is only read; the output holds numbers only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from chimeqda.classify import passage_scores, read_jsonl, to_labelled
from chimeqda.codebook.loader import builtin_codebook
from chimeqda.coders import DEFAULT_CODER, get_coder
from chimeqda.coders.cache import fit_cached
from chimeqda.evaluation import grouped_folds, macro_kappa
from chimeqda.model import Segment
from chimeqda.services.active import _uncertainty


def _segments(records: list[dict]) -> list[Segment]:
    return [Segment(text=r["text"], index=i, lang=r.get("lang"), key=r["id"]) for i, r in enumerate(records)]


def _fit(name, book, labelled):
    coder = get_coder(name)
    return fit_cached(coder, book, []) if not labelled else coder.fit(book, labelled)


def _kappa(coder, test_segments, truth, codes) -> float:
    limits = coder.thresholds()
    scored = passage_scores(coder, test_segments)
    predicted = [[c for c, s in scores.items() if s >= limits.get(c, coder.default_threshold)] for scores in scored]
    return macro_kappa(truth, predicted, codes)


def curve(name, book, train, test, *, batch, steps, strategy, seed=0):
    rng = np.random.default_rng(seed)
    train_segments = _segments(train)
    test_segments = _segments(test)
    truth = [list(r["labels"]) for r in test]
    codes = [c.id for c in book.top_level]
    chosen: list[int] = []
    rows = []
    coder = _fit(name, book, [])
    order = list(rng.permutation(len(train)))
    while True:
        rows.append((len(chosen), _kappa(coder, test_segments, truth, codes)))
        if len(chosen) >= len(train):
            break
        if len(chosen) >= steps * batch:  # then everything
            chosen = list(range(len(train)))
        else:
            left = [i for i in range(len(train)) if i not in set(chosen)]
            if strategy == "uncertain":
                scores = passage_scores(coder, [train_segments[i] for i in left])
                limits = coder.thresholds()
                value = [_uncertainty(s, limits, coder.default_threshold)[2] for s in scores]
                picked = [left[j] for j in np.argsort(value, kind="stable")[::-1][:batch]]
            else:
                picked = [i for i in order if i in set(left)][:batch]
            chosen += picked
        coder = _fit(name, book, to_labelled([train[i] for i in chosen], book, source="train"))
    return rows


def _average(curves: list[list[tuple[int, float]]]) -> list[tuple[int, float]]:
    """Mean κ per step over folds (the last step, "all", may differ in size between folds)."""
    steps = min(len(c) for c in curves)
    return [(int(np.mean([c[i][0] for c in curves])), float(np.mean([c[i][1] for c in curves]))) for i in range(steps)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/eval/chime_dev.jsonl"))
    parser.add_argument("--coder", default=DEFAULT_CODER)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10, help="batches before training on everything")
    parser.add_argument("--holdout", type=float, default=0.2, help="share of stories held out (without --folds)")
    parser.add_argument("--folds", type=int, default=0, help="average over grouped folds instead of one holdout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-random", action="store_true")
    args = parser.parse_args(argv)

    records = read_jsonl(args.data)
    book = builtin_codebook("chime-d")
    docs = sorted({r["doc"] for r in records})
    started = time.perf_counter()
    if args.folds:
        splits = [([records[i] for i in tr], [records[i] for i in te])
                  for tr, te in grouped_folds([r["doc"] for r in records], args.folds, args.seed)]
        where = f"{args.folds}-fold cross-validation grouped by story, each fold held out in turn, κ averaged"
    else:
        rng = np.random.default_rng(args.seed)
        held = set(rng.choice(docs, size=max(1, round(len(docs) * args.holdout)), replace=False))
        splits = [([r for r in records if r["doc"] not in held], [r for r in records if r["doc"] in held])]
        where = f"{len(splits[0][1])} held-out passages from {len(held)} stories"
    curves = {"uncertain": [], "random": []}
    for train, test in splits:
        curves["uncertain"].append(curve(args.coder, book, train, test, batch=args.batch, steps=args.steps,
                                         strategy="uncertain"))
        if not args.no_random:
            curves["random"].append(curve(args.coder, book, train, test, batch=args.batch, steps=args.steps,
                                          strategy="random", seed=args.seed))
    uncertain = _average(curves["uncertain"])
    random = _average(curves["random"]) if curves["random"] else None
    print(f"**Learning curve** ({args.coder} coder; {len(records)} passages from {len(docs)} stories; {where}; "
          f"batches of {args.batch})\n")
    header = "| decisions | macro κ (most uncertain first) |" + ("" if random is None else " macro κ (random order) |")
    print(header)
    print("|---|---|" + ("" if random is None else "---|"))
    for i, (n, kappa) in enumerate(uncertain):
        label = f"{n} (all)" if i == len(uncertain) - 1 else str(n)
        extra = "" if random is None else f" {random[i][1]:.3f} |"
        print(f"| {label} | {kappa:.3f} |{extra}")
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
