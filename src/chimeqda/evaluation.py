"""Measure a coder against labelled passages: per-code P/R/F1/κ, macro, per language.

Pure functions over label sets, so the benchmark script, the CLI and tests use
the same arithmetic (scikit-learn's). ``grouped_folds`` gives cross-validation
folds that keep each story (``doc``) together, as every learning coder's
evaluation must.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Labels = Sequence[str]


def code_metrics(truth: Sequence[Labels], predicted: Sequence[Labels], code: str) -> dict[str, float]:
    """Precision, recall, F1, Cohen's κ, support and predicted count for one code."""
    from sklearn.metrics import cohen_kappa_score, f1_score, precision_score, recall_score

    y = np.array([code in set(t) for t in truth], dtype=int)
    p = np.array([code in set(q) for q in predicted], dtype=int)
    if len(y) == 0:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "kappa": 0.0, "support": 0, "predicted": 0}
    if (y == p).all():
        kappa = 1.0
    elif len(set(y)) == 1 and len(set(p)) == 1:
        kappa = 0.0
    else:
        kappa = float(cohen_kappa_score(y, p))
        if np.isnan(kappa):
            kappa = 0.0
    return {
        "precision": float(precision_score(y, p, zero_division=0)),
        "recall": float(recall_score(y, p, zero_division=0)),
        "f1": float(f1_score(y, p, zero_division=0)),
        "kappa": kappa,
        "support": int(y.sum()),
        "predicted": int(p.sum()),
    }


def evaluate(
    truth: Sequence[Labels],
    predicted: Sequence[Labels],
    codes: Sequence[str],
    *,
    langs: Sequence[str] | None = None,
    bootstrap: int = 0,
    groups: Sequence[str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-code metrics, macro averages, and (with ``langs``) the same per language.

    With ``bootstrap > 0`` a 95% interval of the macro κ is added, resampling
    ``groups`` (stories) when given, else passages.
    """
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted must have the same length")
    per_code = {code: code_metrics(truth, predicted, code) for code in codes}
    result: dict[str, Any] = {"n": len(truth), "codes": per_code, "macro": _macro(per_code)}
    if langs is not None:
        result["by_lang"] = {}
        for lang in sorted(set(langs)):
            rows = [i for i, l in enumerate(langs) if l == lang]
            sub_t = [truth[i] for i in rows]
            sub_p = [predicted[i] for i in rows]
            codes_l = {code: code_metrics(sub_t, sub_p, code) for code in codes}
            result["by_lang"][lang] = {"n": len(rows), "codes": codes_l, "macro": _macro(codes_l)}
    if bootstrap:
        result["macro_kappa_ci"] = bootstrap_ci(truth, predicted, codes, n=bootstrap, groups=groups, seed=seed)
    return result


def _macro(per_code: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    keys = ("precision", "recall", "f1", "kappa")
    if not per_code:
        return {k: 0.0 for k in keys}
    return {k: float(np.mean([m[k] for m in per_code.values()])) for k in keys}


def macro_kappa(truth: Sequence[Labels], predicted: Sequence[Labels], codes: Sequence[str]) -> float:
    return float(np.mean([code_metrics(truth, predicted, c)["kappa"] for c in codes]))


def bootstrap_ci(
    truth: Sequence[Labels],
    predicted: Sequence[Labels],
    codes: Sequence[str],
    *,
    n: int = 500,
    groups: Sequence[str] | None = None,
    seed: int = 0,
) -> tuple[float, float]:
    """95% percentile interval of macro κ, resampling groups (stories) or passages."""
    rng = np.random.default_rng(seed)
    keys = list(groups) if groups is not None else [str(i) for i in range(len(truth))]
    names = sorted(set(keys))
    members = {name: [i for i, k in enumerate(keys) if k == name] for name in names}
    values = []
    for _ in range(n):
        pick = rng.choice(len(names), size=len(names), replace=True)
        rows = [i for p in pick for i in members[names[p]]]
        values.append(macro_kappa([truth[i] for i in rows], [predicted[i] for i in rows], codes))
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def grouped_folds(groups: Sequence[str], n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index arrays with every group (story) wholly in one test fold.

    Groups are shuffled by ``seed`` and dealt to folds so fold sizes stay close.
    """
    names = sorted(set(groups))
    if n_splits < 2 or n_splits > len(names):
        raise ValueError(f"need 2 <= n_splits <= number of groups ({len(names)})")
    rng = np.random.default_rng(seed)
    rng.shuffle(names)
    sizes = {name: sum(1 for g in groups if g == name) for name in names}
    load = [0] * n_splits
    fold_of: dict[str, int] = {}
    for name in sorted(names, key=lambda x: -sizes[x]):  # largest first, to the lightest fold
        fold = int(np.argmin(load))
        fold_of[name] = fold
        load[fold] += sizes[name]
    assign = np.array([fold_of[g] for g in groups])
    everything = np.arange(len(groups))
    return [(everything[assign != f], everything[assign == f]) for f in range(n_splits)]


def markdown_table(result: Mapping[str, Any], title: str | None = None) -> str:
    """Per-code P/R/F1/κ with support, then the macro row (and per-language macro κ)."""
    lines = []
    if title:
        lines += [f"**{title}**", ""]
    lines += ["| code | precision | recall | F1 | κ | support | predicted |", "|---|---|---|---|---|---|---|"]
    for code, m in result["codes"].items():
        lines.append(
            f"| {code} | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | {m['kappa']:.2f} | {m['support']} | {m['predicted']} |"
        )
    macro = result["macro"]
    ci = result.get("macro_kappa_ci")
    ci_text = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else ""
    lines.append(
        f"| **macro** (n={result['n']}) | {macro['precision']:.2f} | {macro['recall']:.2f} | {macro['f1']:.2f} | **{macro['kappa']:.2f}**{ci_text} | | |"
    )
    for lang, sub in (result.get("by_lang") or {}).items():
        m = sub["macro"]
        lines.append(
            f"| macro {lang} (n={sub['n']}) | {m['precision']:.2f} | {m['recall']:.2f} | {m['f1']:.2f} | {m['kappa']:.2f} | | |"
        )
    return "\n".join(lines)
