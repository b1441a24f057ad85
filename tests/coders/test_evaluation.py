from __future__ import annotations

import pytest

from chimeqda.evaluation import code_metrics, evaluate, grouped_folds, markdown_table


def test_perfect_and_empty_agreement():
    truth = [["hope"], [], ["hope", "meaning"]]
    m = code_metrics(truth, truth, "hope")
    assert m["kappa"] == 1.0 and m["f1"] == 1.0 and m["support"] == 2
    none = code_metrics([[], []], [[], []], "hope")
    assert none["kappa"] == 1.0 and none["support"] == 0


def test_known_kappa():
    truth = [["a"], ["a"], [], []]
    pred = [["a"], [], ["a"], []]
    assert code_metrics(truth, pred, "a")["kappa"] == pytest.approx(0.0)
    res = evaluate(truth, pred, ["a"], langs=["en", "en", "nl", "nl"], bootstrap=50, groups=["x", "x", "y", "y"])
    assert set(res["by_lang"]) == {"en", "nl"}
    low, high = res["macro_kappa_ci"]
    assert low <= high
    assert "| a |" in markdown_table(res, "t")


def test_grouped_folds_keep_groups_together():
    groups = [f"d{i % 7}" for i in range(50)]
    folds = grouped_folds(groups, 5, seed=1)
    seen = []
    for train, test in folds:
        assert not {groups[i] for i in train} & {groups[i] for i in test}
        seen += list(test)
    assert sorted(seen) == list(range(50))
    again = grouped_folds(groups, 5, seed=1)
    assert all((a[1] == b[1]).all() for a, b in zip(folds, again))
    with pytest.raises(ValueError):
        grouped_folds(groups, 8)
