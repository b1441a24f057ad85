"""The supervised coder learns from bank, examples and human decisions."""

from __future__ import annotations

import numpy as np

from chimeqda.coders import get_coder
from chimeqda.coders.lexicon import rolled_labels
from chimeqda.coders.similarity import build_references, label_matrices
from chimeqda.model import LabelledText, Segment

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
    assert set(coder.thresholds().values()) == {0.5}
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
