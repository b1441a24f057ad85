"""Calibrating the ``llm`` coder's scores on the researchers' decisions.

The model's raw score for a code is the share of its sampled answers giving
the code (0 or 1 with one sample). That is not a probability: a model that
says "hope" is right some share of the time, and that share differs by code
and language. When the project has enough decisions (accepted codings and
rejected suggestions, passed to ``fit`` as ``labelled``), the model answers
those passages too (through the answer cache: once), and the same Platt
calibration as the other coders (:class:`chimeqda.coders.calibration.Calibration`,
per code and language, shrunk towards the language's curve) maps the raw
share to a probability. With too few decisions the scores stay raw shares
and the provenance says so, with the numbers.

Caveat, also recorded: decisions are mostly made on the model's own
suggestions, so "said yes" is well measured (how often an accepted code was
right), "said no" only through codings the researcher added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chimeqda.coders.calibration import Calibration
from chimeqda.coders.language import calibration_lang
from chimeqda.model import LabelledText, Segment

MIN_EACH = 5
"""Known (passage, code) pairs needed on each side: accepted and rejected."""


def decision_matrix(labelled: Sequence[LabelledText], codes: Sequence[str], roll_up) -> tuple[np.ndarray, np.ndarray]:
    """``y`` (code applies) and ``known`` (decided) per passage and code, sub-codes rolled up."""
    index = {code: j for j, code in enumerate(codes)}
    y = np.zeros((len(labelled), len(codes)))
    known = np.zeros((len(labelled), len(codes)), dtype=bool)
    for i, item in enumerate(labelled):
        if item.complete:
            known[i, :] = True
        for label, value in [(x, 1.0) for x in item.labels] + [(x, 0.0) for x in item.rejected]:
            j = index.get(roll_up(label))
            if j is None:
                continue
            known[i, j] = True
            y[i, j] = max(y[i, j], value)
    return y, known


def calibrate_llm(coder: Any, labelled: Sequence[LabelledText], roll_up) -> dict[str, Any]:
    """Fit ``coder.calibration_`` on its own answers to decided passages, or say why not; the provenance entry."""
    codes = list(coder.codes_)
    chosen = list(labelled)[-int(coder.calibration_max):] if coder.calibration_max else []
    y, known = decision_matrix(chosen, codes, roll_up)
    decided = int(known.any(axis=1).sum())
    positives, negatives = int((y * known).sum()), int((known & (y == 0)).sum())
    raw = ("scores are the share of the model's answers giving the code "
           f"({coder.samples} sample{'s' if coder.samples != 1 else ''} per passage), not calibrated probabilities")
    if coder.calibrate == "off":
        return {"method": "none (calibrate=off)", "scores": raw}
    if decided < coder.calibration_min or positives < MIN_EACH or negatives < MIN_EACH:
        return {
            "method": "none: not enough researcher decisions yet",
            "decided_passages": decided, "accepted_pairs": positives, "rejected_pairs": negatives,
            "needed": f"{coder.calibration_min} decided passages with at least {MIN_EACH} accepted and "
                      f"{MIN_EACH} rejected codes",
            "scores": raw,
        }
    rows = [i for i in range(len(chosen)) if known[i].any()]
    segments = [Segment(chosen[i].text, lang=chosen[i].lang, context=tuple(chosen[i].context),
                        key=chosen[i].source or f"decision:{i}") for i in rows]
    scores = np.array([[row[c] for c in codes] for row in coder.raw_scores(segments)], dtype=float)
    langs = [calibration_lang(s.lang) for s in segments]
    coder.calibration_ = Calibration.fit(scores, y[rows], known[rows], langs, [True] * len(rows), codes)
    coder.thresholds_by_lang_ = coder.calibration_.decision_thresholds(0.5)
    coder.thresholds_ = dict(coder.thresholds_by_lang_["en"])
    return {
        "method": "Platt per code and language on the model's answers to passages the researchers decided",
        "decided_passages": len(rows), "accepted_pairs": positives, "rejected_pairs": negatives,
        "per_language": {lang: langs.count(lang) for lang in sorted(set(langs))},
        "scores": "calibrated probabilities (raw: the share of the model's answers giving the code)",
        "caveat": "decisions are mostly on the model's own suggestions: a 'yes' is well measured, "
                  "a 'no' only through codings the researchers added",
    }
