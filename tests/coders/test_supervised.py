"""The supervised coder learns from bank, examples and human decisions."""

from __future__ import annotations

import numpy as np

from chimeqda.coders import get_coder
from chimeqda.coders.lexicon import rolled_labels
from chimeqda.coders.similarity import build_references, label_matrices
from chimeqda.model import LabelledText, Segment
from chimeqda.testing import DEFAULT_SEGMENTS

CODES = ("connectedness", "hope", "identity", "meaning", "empowerment", "difficulties")


def test_partial_decisions_only_constrain_known_codes(codebook):
    accepted = LabelledText("x", frozenset({"connectedness.peer_support"}), complete=False, rejected=frozenset({"hope"}))
    pos, neg = rolled_labels(codebook, accepted, CODES)
    assert pos == {"connectedness"} and neg == {"hope"}
    complete = LabelledText("y", frozenset({"hope"}), complete=True)
    pos, neg = rolled_labels(codebook, complete, CODES)
    assert pos == {"hope"} and neg == set(CODES) - {"hope"}


def test_reference_matrix_marks_unknown(codebook):
    decision = LabelledText("z", frozenset(), complete=False, rejected=frozenset({"meaning"}))
    refs = build_references(codebook, CODES, [decision])
    y, known = label_matrices(refs, CODES)
    last = CODES.index("meaning")
    assert known[-1].sum() == 1 and known[-1, last] and y[-1].sum() == 0
    counter = [i for i, r in enumerate(refs) if r.kind == "counter"][0]
    assert known[counter].sum() == 1 and y[counter].sum() == 0


def test_decisions_move_scores(codebook):
    # A new idea the codebook lacks: gardening as meaning. Accepting decisions teaches it.
    target = Segment("Working in my allotment garden every morning.", lang="en")
    before = get_coder("supervised", cv_folds=0, nl_encoder=None).fit(codebook).predict_proba([target])[0]["meaning"]
    decisions = [
        LabelledText(text, frozenset({"meaning"}), complete=False, source=f"d{i}")
        for i, text in enumerate(
            [
                "Gardening gives my days a reason.",
                "Growing vegetables in the allotment is what I live for now.",
                "The garden gives my life meaning.",
                "I tend my plants every morning and it feels worthwhile.",
            ]
        )
    ] + [
        LabelledText("I was drunk in the garden.", frozenset(), complete=False, rejected=frozenset({"meaning"}), source="d9")
    ]
    coder = get_coder("supervised", cv_folds=0, labelled_weight=5.0, nl_encoder=None).fit(codebook, decisions)
    after = coder.predict_proba([target])[0]["meaning"]
    assert after > before
    assert coder.training_size_ == len(decisions)
    assert coder.info().training_size == len(decisions)
    evidence = coder.explain(target, "meaning")
    assert "labelled" in evidence and "cos" in evidence


def test_complete_labelled_passages_count_as_negatives(codebook):
    passages = [LabelledText(f"We had dinner at seven number {i}.", frozenset(), complete=True, source="s") for i in range(3)]
    coder = get_coder("supervised", cv_folds=0, nl_encoder=None).fit(codebook, passages)
    rows = [r for r in coder.refs_ if r.kind == "labelled"]
    assert len(rows) == 3 and all(len(r.negative) == len(CODES) for r in rows)


def test_thresholds_are_folded_into_scores(codebook):
    coder = get_coder("supervised").fit(codebook)
    segments = list(DEFAULT_SEGMENTS)
    # Calibration moves every score by an increasing map, so the labels are those of the
    # uncalibrated score's decision point 0.5, in each language.
    expected = [[c for c, s in zip(coder.codes_, row) if s >= 0.5] for row in coder.scores(segments)]
    assert coder.predict(segments) == expected
    assert coder.thresholds("en") != coder.thresholds("nl")
    for limits in coder.raw_thresholds_.values():
        assert np.all((limits > 0) & (limits < 1))


def test_multi_sentence_passages_add_sentence_negatives(codebook):
    passage = LabelledText("We ate at six. My sponsor called me after.", frozenset({"connectedness"}), lang="en",
                           source="story-1")
    refs = build_references(codebook, CODES, [passage])
    sentences = [r for r in refs if r.kind == "sentence"]
    assert [r.text for r in sentences] == ["We ate at six.", "My sponsor called me after."]
    y, known = label_matrices(refs, CODES)
    j = CODES.index("connectedness")
    for i, ref in enumerate(refs):
        if ref.kind == "sentence":
            # Absent codes are absent from every sentence; where the present code sits is unknown.
            assert not known[i, j] and known[i].sum() == len(CODES) - 1 and y[i].sum() == 0
            assert ref.group == "story-1" and ref.context  # kept with its story, the other sentence as context
    single = build_references(codebook, CODES, [LabelledText("One sentence only.", frozenset(), lang="en")])
    assert not any(r.kind == "sentence" for r in single)


def test_dutch_thresholds_are_tuned_on_dutch_rows():
    """The multilingual encoder trains on both languages but codes Dutch: its thresholds suit Dutch rows."""
    from chimeqda.codebook.loader import builtin_codebook
    from chimeqda.coders.similarity import best_thresholds
    from chimeqda.evaluation import code_metrics

    # The built-in bank has enough Dutch positives of every code to tune on (the tiny test codebook has not).
    coder = get_coder("supervised", cv_folds=3).fit(builtin_codebook())
    rows = np.flatnonzero(coder.masks_["e5"])
    refs = [coder.refs_[i] for i in rows]
    dutch = coder.routing_.coded_language_rows("e5", refs)
    assert dutch.sum() == sum(r.lang == "nl" for r in refs) and 0 < dutch.sum() < len(refs)
    assert (coder.routing_.coded_language_rows("minilm", refs) == ~dutch).all()
    pooled_rows = np.array([r.kind == "bank" for r in refs])  # both languages
    bank = pooled_rows & dutch
    oof, y = coder.oof_["e5"][bank], coder.y_[rows][bank]

    def kappa_on_dutch(threshold: float, j: int) -> float:
        truth = [["x"] if t else [] for t in y[:, j]]
        predicted = [["x"] if s >= threshold else [] for s in oof[:, j]]
        return code_metrics(truth, predicted, "x")["kappa"]

    differs = 0
    for j, code in enumerate(coder.codes_):
        pooled = best_thresholds(
            coder.oof_["e5"][pooled_rows][:, [j]], coder.y_[rows][pooled_rows][:, [j]], np.ones((pooled_rows.sum(), 1), bool), [code]
        )[code]
        chosen = coder.raw_thresholds_["e5"][j]
        assert kappa_on_dutch(chosen, j) >= kappa_on_dutch(pooled, j) - 1e-9, code
        differs += abs(chosen - pooled) > 1e-6
    assert differs, "Dutch-row thresholds should differ from pooled ones for some code"
