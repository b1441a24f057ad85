"""Agreement statistics against Krippendorff's worked example, the krippendorff package and scikit-learn."""

from __future__ import annotations

import math
import warnings

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from chimeqda.analysis.agreement import (
    agreement_table,
    bootstrap_statistics,
    character_agreement,
    cohen_kappa,
    krippendorff_alpha,
    percent_agreement,
    unit_sums,
)

n = math.nan
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C:
# 4 observers (rows) x 12 units (columns), values 1-5, missing values.
WORKED = np.array([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
    [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
])


def test_krippendorffs_worked_example_nominal():
    assert round(krippendorff_alpha(WORKED.T), 3) == 0.743


def test_krippendorffs_worked_example_interval():
    assert round(krippendorff_alpha(WORKED.T, level="interval"), 3) == 0.849


def test_worked_example_as_a_dataframe_with_none_for_missing():
    frame = pd.DataFrame(WORKED.T, columns=list("ABCD")).astype(object).where(lambda f: f.notna(), None)
    assert krippendorff_alpha(frame) == pytest.approx(0.7434, abs=1e-4)


def test_binary_example_from_krippendorff_2011_section_a():
    # two observers, ten units, binary data: alpha = 0.095
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    assert round(krippendorff_alpha(np.array([a, b]).T), 3) == 0.095
    assert percent_agreement(np.array([a, b]).T) == pytest.approx(0.6)


def test_undefined_values_are_nan():
    assert math.isnan(krippendorff_alpha(np.array([[1, 1], [1, 1]])))
    assert math.isnan(cohen_kappa([1, 1, 1], [1, 1, 1]))
    assert math.isnan(cohen_kappa([1, None], [None, 1]))


reliability = st.integers(2, 5).flatmap(
    lambda coders: st.integers(2, 25).flatmap(
        lambda units: st.lists(
            st.lists(st.one_of(st.none(), st.integers(0, 3)), min_size=units, max_size=units),
            min_size=coders, max_size=coders,
        )
    )
)


def _as_float(rows):
    return np.array([[np.nan if v is None else float(v) for v in row] for row in rows])


def _package(data, level):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return krippendorff.alpha(reliability_data=data, level_of_measurement=level)
        except (ValueError, ZeroDivisionError):
            return math.nan


@settings(max_examples=100, deadline=None)
@given(reliability, st.sampled_from(["nominal", "interval"]))
def test_alpha_equals_the_krippendorff_package(rows, level):
    data = _as_float(rows)
    expected = _package(data, level)
    ours = krippendorff_alpha(data.T, level=level)
    assume(not math.isnan(expected) and np.isfinite(expected))
    assert abs(ours - expected) < 5e-4  # equal to 3 decimals (exact up to floating point)
    assert ours == pytest.approx(expected, abs=1e-9)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_kappa_equals_scikit_learn(pairs):
    a, b = zip(*pairs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = cohen_kappa_score(a, b)
    ours = cohen_kappa(a, b)
    if math.isnan(expected):
        assert math.isnan(ours)
    else:
        assert ours == pytest.approx(expected, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 2)), st.one_of(st.none(), st.integers(0, 2))),
                min_size=1, max_size=30))
def test_kappa_and_percent_use_only_units_both_rated(pairs):
    both = [(x, y) for x, y in pairs if x is not None and y is not None]
    a, b = zip(*pairs)
    if not both:
        assert math.isnan(cohen_kappa(a, b))
        return
    x, y = zip(*both)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = cohen_kappa_score(x, y)
    ours = cohen_kappa(a, b)
    assert (math.isnan(ours) and math.isnan(expected)) or ours == pytest.approx(expected, abs=1e-9)
    assert percent_agreement(pd.DataFrame({"a": a, "b": b})) == pytest.approx(np.mean([p == q for p, q in both]))


def test_bootstrap_interval_brackets_the_estimate_and_is_reproducible():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 300)
    other = np.where(rng.random(300) < 0.85, truth, 1 - truth)
    sums = unit_sums(np.column_stack([truth, other]), categories=[0, 1])
    first = bootstrap_statistics(sums, n_boot=300, random_state=3)
    again = bootstrap_statistics(sums, n_boot=300, random_state=3)
    assert first == again
    for name in ("alpha", "kappa", "percent_agreement"):
        assert first[f"{name}_low"] < first[name] < first[f"{name}_high"]
    assert first["alpha"] == pytest.approx(krippendorff_alpha(np.column_stack([truth, other])))


def _ratings():
    # two coders, 6 segments in 2 documents, codes hope and identity
    rows = []
    a = {(1, "hope"), (2, "hope"), (3, "identity"), (5, "hope")}
    b = {(1, "hope"), (3, "hope"), (3, "identity"), (6, "identity")}
    for unit in range(1, 7):
        for code in ("hope", "identity"):
            for coder, coded in (("ann", a), ("bot", b)):
                rows.append({"unit": unit, "document": "d1" if unit <= 3 else "d2", "code": code, "coder": coder,
                             "present": float((unit, code) in coded)})
    return pd.DataFrame(rows)


def test_agreement_table_per_code_and_overall_matches_direct_computation():
    ratings = _ratings()
    table = agreement_table(ratings, n_boot=0).set_index("code")
    hope = ratings[ratings["code"] == "hope"].pivot(index="unit", columns="coder", values="present")
    assert table.loc["hope", "kappa"] == pytest.approx(cohen_kappa_score(hope["ann"], hope["bot"]))
    assert table.loc["hope", "alpha"] == pytest.approx(krippendorff.alpha(hope.T.to_numpy(), level_of_measurement="nominal"))
    assert table.loc["hope", "coded_ann"] == 3 and table.loc["hope", "both"] == 1
    pooled = ratings.pivot_table(index=["unit", "code"], columns="coder", values="present")
    assert table.loc["(all codes)", "units"] == 12
    assert table.loc["(all codes)", "percent_agreement"] == pytest.approx((pooled["ann"] == pooled["bot"]).mean())
    by_doc = agreement_table(ratings, by="document", overall=False, n_boot=0)
    assert list(by_doc["document"]) == ["d1", "d2"] and list(by_doc["units"]) == [6, 6]


def test_missing_ratings_make_units_unpairable_for_alpha():
    ratings = _ratings()
    ratings.loc[(ratings["coder"] == "bot") & (ratings["document"] == "d2"), "present"] = np.nan
    table = agreement_table(ratings, n_boot=0).set_index("code")
    assert table.loc["(all codes)", "units"] == 6


def test_character_agreement_by_hand():
    # one region of 100 characters; ann marks 0-40, bot marks 20-60: 20 shared, 60 marked by any
    spans = pd.DataFrame([
        {"document": 1, "coder": "ann", "code": "hope", "start": 0, "end": 40},
        {"document": 1, "coder": "bot", "code": "hope", "start": 20, "end": 60},
        {"document": 1, "coder": "bot", "code": "hope", "start": 150, "end": 170},  # outside the regions
    ])
    regions = pd.DataFrame([{"document": 1, "start": 0, "end": 100}])
    row = character_agreement(spans, regions, coders=["ann", "bot"]).iloc[0]
    assert row["characters"] == 100 and row["marked_ann"] == 40 and row["marked_bot"] == 40
    assert row["jaccard"] == pytest.approx(20 / 60)
    assert row["percent_agreement"] == pytest.approx(0.6)
    units = np.zeros((100, 2))
    units[0:40, 0] = 1
    units[20:60, 1] = 1
    assert row["alpha"] == pytest.approx(krippendorff.alpha(units.T, level_of_measurement="nominal"))
