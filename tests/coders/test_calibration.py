"""Calibration maths on synthetic scores: probabilities that mean what they say, and the thresholds built on them."""

from __future__ import annotations

import numpy as np
import pytest

from chimeqda.coders.calibration import (
    Calibration,
    expected_calibration_error,
    expected_decision_value,
    precision_threshold,
    reliability,
    selective_thresholds,
    unsettled,
)
from chimeqda.report.reliability import reliability_svg

CODES = ("a", "b")


def _overconfident(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Scores whose true probability is a flattened version of the score (an overconfident coder)."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.01, 0.99, size=(n, len(CODES)))
    truth = 1 / (1 + np.exp(-0.4 * np.log(scores / (1 - scores)) + 0.5))
    return scores, (rng.uniform(size=scores.shape) < truth).astype(int)


def test_calibration_lowers_the_error_of_an_overconfident_score_and_keeps_the_order():
    scores, y = _overconfident(4000)
    langs = ["en"] * len(scores)
    known = np.ones_like(y, dtype=bool)
    cal = Calibration.fit(scores, y, known, langs, [False] * len(scores), CODES)
    test_scores, test_y = _overconfident(4000, seed=1)
    probs = cal.apply(test_scores, langs)
    before = expected_calibration_error(test_scores.ravel(), test_y.ravel())
    after = expected_calibration_error(probs.ravel(), test_y.ravel())
    assert before > 0.1 and after < 0.03
    for j in range(len(CODES)):  # increasing: the ranking, so the default labels, never change
        order = np.argsort(test_scores[:, j])
        assert np.all(np.diff(probs[order, j]) >= 0)
    limits = cal.decision_thresholds(0.5)["en"]
    assert [(p >= limits["a"]) for p in probs[:, 0]] == [(s >= 0.5) for s in test_scores[:, 0]]


def test_a_code_with_few_rows_stays_near_its_languages_curve():
    scores, y = _overconfident(3000)
    known = np.ones_like(y, dtype=bool)
    known[5:, 1] = False  # code b: five known rows only
    y[:5, 1] = 1  # and all positive
    cal = Calibration.fit(scores, y, known, ["en"] * len(scores), [False] * len(scores), CODES)
    a_curve, b_curve = cal.bank.per_code[("en", "a")], cal.bank.per_code[("en", "b")]
    assert b_curve == pytest.approx(cal.bank.pooled["en"], abs=0.3)
    assert a_curve[0] < 0.7  # enough rows: learns the flattening


def test_real_decisions_recalibrate_on_top_of_the_bank():
    bank, bank_y = _overconfident(2000)
    rng = np.random.default_rng(3)
    real = rng.uniform(0.01, 0.99, size=(600, 2))
    real_y = (rng.uniform(size=real.shape) < 0.2).astype(int)  # real data: the score says nothing, 20 % positive
    scores = np.vstack([bank, real])
    y = np.vstack([bank_y, real_y])
    known = np.ones_like(y, dtype=bool)
    is_real = [False] * len(bank) + [True] * len(real)
    cal = Calibration.fit(scores, y, known, ["nl"] * len(scores), is_real, CODES)
    probs = cal.apply(real, ["nl"] * len(real))
    assert abs(probs.mean() - 0.2) < 0.05
    assert cal.summary()["decision_rows"]["nl"] == 600 and cal.summary()["bank_rows"]["nl"] == 2000


def test_ece_and_reliability_by_hand():
    probs = [0.05, 0.05, 0.95, 0.95]
    truth = [0, 1, 1, 1]
    table = reliability(probs, truth)
    assert [(r["count"], r["observed"]) for r in table] == [(2, 0.5), (2, 1.0)]
    assert expected_calibration_error(probs, truth) == pytest.approx(0.5 * 0.45 + 0.5 * 0.05)
    svg = reliability_svg({"a": table}, title="test")
    assert svg.startswith("<svg") and "<circle" in svg and ">a<" in svg


def test_precision_threshold_keeps_the_most_suggestions_at_the_target():
    probs = np.array([0.99, 0.95, 0.9, 0.85, 0.6, 0.2])
    t = precision_threshold(probs, 0.9)
    chosen = probs[probs >= t]
    assert chosen.mean() >= 0.9 and len(chosen) == 4
    assert precision_threshold(np.array([0.3, 0.2]), 0.9) > 0.3  # nothing reaches it: nothing suggested
    limits = selective_thresholds(np.array([[0.95, 0.1], [0.7, 0.1]]), ["en", "nl"], CODES, 0.9)
    assert limits["en"]["a"] <= 0.95 and limits["nl"]["a"] > 0.7


def test_expected_value_and_unsettled():
    limits = {"a": 0.6, "b": 0.6}
    assert expected_decision_value({"a": 0.9, "b": 0.3}, limits) == pytest.approx(0.1 + 0.3)
    assert unsettled({"a": 0.3, "b": 0.05}, {"a": 0.9, "b": 0.9}, 0.9)
    assert not unsettled({"a": 0.95, "b": 0.05}, {"a": 0.9, "b": 0.9}, 0.9)
