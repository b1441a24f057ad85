"""Calibration, selective coding and review effort of a coder on held-out stories (used by eval_coders.py).

For each passage × code pair of a labelled file, the coder's calibrated
probability (codebook only: fitted on the codebook; trained: grouped k-fold
cross-validation by story, so every probability is for a story the coder never
saw) and the human label. From them:

* expected calibration error (10 equal-width bins over the pairs), per language and per code,
  with a story-bootstrap 95 % interval and the ECE a perfectly calibrated coder would still show
  on the same pairs (labels drawn from its own probabilities: the sampling-noise floor of the metric);
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


def ece_uncertainty(P: np.ndarray, Y: np.ndarray, groups: np.ndarray, draws: int = 500,
                    seed: int = 0) -> dict[str, tuple[float, ...]]:
    """How far an ECE on these pairs can move by chance.

    ``interval``: 2.5 and 97.5 percentiles of the ECE over story-bootstrap resamples (stories drawn
    with replacement, all their pairs with them). ``floor``: median and 95th percentile of the ECE
    of a perfectly calibrated coder with the same probabilities (each label drawn as a coin with
    the pair's probability) — an observed ECE below that 95th percentile is indistinguishable from
    perfect calibration on this many pairs.
    """
    rng = np.random.default_rng(seed)
    stories = np.unique(groups)
    rows_of = {g: np.flatnonzero(groups == g) for g in stories}
    boot = []
    for _ in range(draws):
        rows = np.concatenate([rows_of[g] for g in rng.choice(stories, size=len(stories), replace=True)])
        boot.append(expected_calibration_error(P[rows].ravel(), Y[rows].ravel()))
    floor = [expected_calibration_error(P.ravel(), (rng.random(P.size) < P.ravel()).astype(int))
             for _ in range(draws)]
    return {"interval": (float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))),
            "floor": (float(np.median(floor)), float(np.percentile(floor, 95)))}


def measure(probs, labels, records, codes, fold_of) -> dict:
    langs = np.array(["nl" if (r.get("lang") or "en") == "nl" else "en" for r in records])
    truth = [set(r.get("labels") or []) for r in records]
    P = np.array([[row.get(c, 0.0) for c in codes] for row in probs])
    Y = np.array([[int(c in t) for c in codes] for t in truth])
    groups = np.array([str(r.get("doc", i)) for i, r in enumerate(records)])
    out: dict = {"ece": {}, "ece_code": {}, "reliability": {}, "selective": {}, "effort": {}, "ece_chance": {}}
    out["ece"]["all"] = expected_calibration_error(P.ravel(), Y.ravel())
    out["ece_chance"]["all"] = ece_uncertainty(P, Y, groups)
    for lang in ("en", "nl"):
        rows = langs == lang
        out["ece"][lang] = expected_calibration_error(P[rows].ravel(), Y[rows].ravel())
        out["ece_chance"][lang] = ece_uncertainty(P[rows], Y[rows], groups[rows])
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
    lines += ["", "How much of an ECE is chance: its 95 % interval over story-bootstrap resamples, and the ECE a "
              "perfectly calibrated coder with the same probabilities would show on the same pairs (median; "
              "95th percentile) — an ECE below that percentile cannot be told from perfect calibration here.", "",
              "| coder | setting | language | pairs | ECE | 95 % interval (stories resampled) "
              "| perfectly calibrated: median; 95th pct |", "|---|---|---|---|---|---|---|"]
    for (name, setting), r in results.items():
        for lang in ("all", "en", "nl"):
            chance = r["ece_chance"][lang]
            pairs = r["pairs"] if lang == "all" else n_by_lang.get(lang, 0) * len(codes)
            lines.append(f"| {name} | {setting} | {lang} | {pairs} | {r['ece'][lang]:.3f} "
                         f"| {chance['interval'][0]:.3f}–{chance['interval'][1]:.3f} "
                         f"| {chance['floor'][0]:.3f}; {chance['floor'][1]:.3f} |")
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
