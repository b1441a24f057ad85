"""Calibration maths on synthetic scores: probabilities that mean what they say, and the thresholds built on them."""

from __future__ import annotations

import numpy as np
import pytest

from chimeqda.coders.calibration import (
    Calibration,
    check_precision,
    decisions_needed,
    expected_calibration_error,
    expected_decision_value,
    precision_lower_bound,
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


def test_each_suggestion_must_reach_the_requested_precision_itself():
    limits = selective_thresholds(CODES, 0.9)
    assert limits == {"en": {"a": 0.9, "b": 0.9}, "nl": {"a": 0.9, "b": 0.9}}


def test_the_clopper_pearson_bound_and_the_decisions_it_needs():
    assert precision_lower_bound(0, 0) == 0.0 and precision_lower_bound(0, 5) == 0.0
    assert precision_lower_bound(29, 29) == pytest.approx(0.05 ** (1 / 29))  # all right: (1 - confidence)^(1/n)
    assert precision_lower_bound(29, 29) >= 0.9 > precision_lower_bound(28, 28)
    assert decisions_needed(0.9) == 29 and decisions_needed(0.8) == 14
    assert 0.5 < precision_lower_bound(90, 100) < 0.9


class _Fitted:
    def __init__(self, calibration):
        self.calibration_ = calibration


def test_a_requested_precision_is_verified_only_on_real_rows():
    bank, bank_y = _overconfident(2000)
    known = np.ones_like(bank_y, dtype=bool)
    only_bank = Calibration.fit(bank, bank_y, known, ["en"] * len(bank), [False] * len(bank), CODES)
    check = check_precision(_Fitted(only_bank), 0.9)
    assert check.basis == "bank" and not check.verified and "Not verified on your data" in check.message()
    assert "29 decided suggestions" in check.message()
    assert check_precision(object(), 0.9).basis == "none"

    rng = np.random.default_rng(5)
    real = rng.uniform(0.01, 0.99, size=(400, 2))
    truth = (rng.uniform(size=real.shape) < real).astype(int)  # real scores that are already probabilities
    both = Calibration.fit(np.vstack([bank, real]), np.vstack([bank_y, truth]), np.ones((2400, 2), dtype=bool),
                           ["en"] * 2400, [False] * 2000 + [True] * 400, CODES)
    assert len(both.evidence["en"][0]) == 800 and "nl" not in both.evidence
    check = check_precision(_Fitted(both), 0.8)
    p = np.array(both.evidence["en"][0])
    assert check.decided == int((p >= 0.8).sum()) > 30 and check.correct <= check.decided
    assert check.lower == pytest.approx(precision_lower_bound(check.correct, check.decided))
    assert check.verified == (check.lower >= 0.8) and "decided (passage, code) pairs" in check.message()


def test_expected_value_and_unsettled():
    limits = {"a": 0.6, "b": 0.6}
    assert expected_decision_value({"a": 0.9, "b": 0.3}, limits) == pytest.approx(0.1 + 0.3)
    assert unsettled({"a": 0.3, "b": 0.05}, {"a": 0.9, "b": 0.9}, 0.9)
    assert not unsettled({"a": 0.95, "b": 0.05}, {"a": 0.9, "b": 0.9}, 0.9)


def test_bank_themes_are_runs_of_one_language_and_label_set():
    from chimeqda.coders.similarity import bank_themes
    from chimeqda.model import LabelledText

    def row(text, lang, *labels):
        return LabelledText(text, frozenset(labels), lang)

    bank = [row("a", "en", "hope"), row("b", "en", "hope"), row("c", "en", "hope", "meaning"),
            row("d", "nl", "hope", "meaning"), row("e", "nl", "hope", "meaning"), row("f", "en", "hope")]
    assert bank_themes(bank) == ["theme:0", "theme:0", "theme:1", "theme:2", "theme:2", "theme:3"]
