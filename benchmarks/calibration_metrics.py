"""Calibration, selective coding and review effort of a coder on held-out stories (used by eval_coders.py).

For each passage × code pair of a labelled file, the coder's calibrated
probability (codebook only: fitted on the codebook; trained: grouped k-fold
cross-validation by story, so every probability is for a story the coder never
saw) and the human label. From them:

* expected calibration error (10 equal-width bins over the pairs), per language and per code;
* precision reached by ``--precision 0.8 / 0.9`` (a code is suggested where its calibrated
  probability is at least the target, as ``chimeqda code --precision`` does), with the share of
  passages left for the researcher;
* review effort: the share of the pairs, ranked by probability, a person must look at to find
  50 / 80 / 90 % of the human codings;
* the reliability table per code (predicted vs observed per bin) for the diagram.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from chimeqda.classify import classify_records, make_coder, to_labelled
from chimeqda.coders.calibration import (
    expected_calibration_error,
    reliability,
    selective_thresholds,
    unsettled,
)
from chimeqda.evaluation import grouped_folds, macro_kappa

TARGETS = (0.8, 0.9)
SHARES = (0.5, 0.8, 0.9)


def _inputs(records):
    return [{"id": r["id"], "text": r["text"], "lang": r.get("lang")} for r in records]


def held_out_probabilities(name, records, codebook, params, folds, seed, trained=True):
    """(probabilities: list of {code: p}, default labels, fold of each passage) on held-out stories."""
    probs: list[dict] = [{} for _ in records]
    labels: list[list[str]] = [[] for _ in records]
    fold_of = np.zeros(len(records), dtype=int)
    if not trained:
        rows = classify_records(_inputs(records), codebook, name, params=params)
        return [r["scores"] for r in rows], [list(r["labels"]) for r in rows], fold_of
    groups = [r["doc"] for r in records]
    for f, (train_idx, test_idx) in enumerate(grouped_folds(groups, folds, seed)):
        coder = make_coder(name, params=params)
        coder.fit(codebook, to_labelled([records[i] for i in train_idx], codebook, source="train"))
        rows = classify_records(_inputs([records[i] for i in test_idx]), codebook, name, coder=coder)
        for i, row in zip(test_idx, rows):
            probs[i], labels[i], fold_of[i] = row["scores"], list(row["labels"]), f
    return probs, labels, fold_of


def review_effort(p: np.ndarray, y: np.ndarray) -> dict[float, float]:
    """Share of pairs, most probable first, needed to find each share of the positives."""
    order = np.argsort(-p, kind="stable")
    found = np.cumsum(y[order]) / max(1, y.sum())
    return {s: float((np.searchsorted(found, s - 1e-12) + 1) / len(p)) for s in SHARES}


def measure(probs, labels, records, codes, fold_of) -> dict:
    langs = np.array(["nl" if (r.get("lang") or "en") == "nl" else "en" for r in records])
    truth = [set(r.get("labels") or []) for r in records]
    P = np.array([[row.get(c, 0.0) for c in codes] for row in probs])
    Y = np.array([[int(c in t) for c in codes] for t in truth])
    out: dict = {"ece": {}, "ece_code": {}, "reliability": {}, "selective": {}, "effort": {}}
    out["ece"]["all"] = expected_calibration_error(P.ravel(), Y.ravel())
    for lang in ("en", "nl"):
        rows = langs == lang
        out["ece"][lang] = expected_calibration_error(P[rows].ravel(), Y[rows].ravel())
        out["ece_code"][lang] = {c: expected_calibration_error(P[rows, j], Y[rows, j]) for j, c in enumerate(codes)}
    for j, c in enumerate(codes):
        out["ece_code"].setdefault("all", {})[c] = expected_calibration_error(P[:, j], Y[:, j])
        out["reliability"][c] = reliability(P[:, j], Y[:, j])
    out["reliability"]["all"] = reliability(P.ravel(), Y.ravel())
    en = langs == "en"
    out["kappa_en"] = macro_kappa([sorted(truth[i]) for i in np.flatnonzero(en)],
                                  [labels[i] for i in np.flatnonzero(en)], codes)
    default = np.array([[int(c in labels[i]) for c in codes] for i in range(len(records))])
    out["default_precision"] = float((default & Y).sum() / max(1, default.sum()))
    out["default_recall"] = float((default & Y).sum() / max(1, Y.sum()))
    for target in TARGETS:
        chosen = np.zeros_like(Y)
        left = 0
        for f in np.unique(fold_of):
            rows = np.flatnonzero(fold_of == f)
            limits = selective_thresholds(codes, target)
            for i in rows:
                lim = limits[langs[i]]
                chosen[i] = [int(P[i, j] >= lim[c]) for j, c in enumerate(codes)]
                left += unsettled(dict(zip(codes, P[i])), lim, target)
        hits = (chosen & Y).sum(axis=0)
        made = chosen.sum(axis=0)
        out["selective"][target] = {
            "precision": float(hits.sum() / max(1, made.sum())),
            "suggestions": int(made.sum()),
            "recall": float(hits.sum() / max(1, Y.sum())),
            "per_code": {c: (int(hits[j]), int(made[j])) for j, c in enumerate(codes)},
            "per_lang": {lang: (int((chosen & Y)[langs == lang].sum()), int(chosen[langs == lang].sum()))
                         for lang in ("en", "nl")},
            "left": left,
        }
    out["effort"] = review_effort(P.ravel(), Y.ravel())
    out["pairs"] = int(Y.size)
    out["positives"] = int(Y.sum())
    return out


def markdown(results: dict, codes: Sequence[str], n_by_lang: dict) -> list[str]:
    """The calibration section of docs/benchmarks-coders.md."""
    lines = ["## Calibration, selective coding and review effort (held-out stories)", "",
             "Expected calibration error (ECE, 10 equal-width bins over passage × code pairs; target ≤ 0.05), "
             "precision reached by `--precision` (a code suggested where its calibrated probability is at "
             "least the target), passages left for the researcher (some code neither suggested nor "
             "below 1 − target), and review effort (share of the pairs, most probable first, that holds "
             "50 / 80 / 90 % of the human codings).", "",
             "| coder | setting | ECE all | ECE en | ECE nl | en macro κ (default labels) | default labels precision / recall "
             "| `--precision 0.8`: precision, suggestions, recall, left | `--precision 0.9`: precision, suggestions, recall, left "
             "| effort 50 / 80 / 90 % |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    n = sum(n_by_lang.values())
    for (name, setting), r in results.items():
        sel = [f"{s['precision']:.2f}, {s['suggestions']}, {s['recall']:.2f}, {s['left']}/{n}"
               for s in (r["selective"][t] for t in TARGETS)]
        eff = " / ".join(f"{r['effort'][s]:.2f}" for s in SHARES)
        lines.append(f"| {name} | {setting} | {r['ece']['all']:.3f} | {r['ece']['en']:.3f} | {r['ece']['nl']:.3f} "
                     f"| {r['kappa_en']:.2f} | {r['default_precision']:.2f} / {r['default_recall']:.2f} "
                     f"| {sel[0]} | {sel[1]} | {eff} |")
    for (name, setting), r in results.items():
        lines += ["", f"**{name} — {setting}: per code**", "",
                  "| code | ECE | ECE en | ECE nl | `--precision 0.9` correct / suggested |", "|---|---|---|---|---|"]
        for c in codes:
            hit, made = r["selective"][0.9]["per_code"][c]
            lines.append(f"| {c} | {r['ece_code']['all'][c]:.3f} | {r['ece_code']['en'][c]:.3f} "
                         f"| {r['ece_code']['nl'][c]:.3f} | {hit} / {made} |")
        lines += ["", "Reliability (predicted → observed, pairs per bin), all codes: "
                  + "; ".join(f"{b['predicted']:.2f} → {b['observed']:.2f} ({b['count']})"
                              for b in r["reliability"]["all"])]
    return lines


def reliability_svg(table: dict, codes: Sequence[str], title: str) -> str:
    """A small SVG reliability diagram: observed share against mean predicted probability, one line per code."""
    from chimeqda.report.reliability import reliability_svg as draw

    return draw({c: table[c] for c in codes}, title=title)


def timed(func, *args, **kwargs):
    t0 = time.perf_counter()
    value = func(*args, **kwargs)
    return value, time.perf_counter() - t0
