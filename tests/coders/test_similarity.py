"""The similarity coder's calibration scores a labelled passage as if its story were unseen."""

from __future__ import annotations

import numpy as np

from chimeqda.coders import get_coder
from chimeqda.coders.passages import labelled_passage_units, max_by_owner
from chimeqda.model import LabelledText

STORY_A = [
    LabelledText("My sponsor rang me every night. We talked until I could sleep.", frozenset({"connectedness"}), source="a"),
    LabelledText("I sat alone in the flat. Nobody called for weeks.", frozenset({"difficulties"}), source="a"),
]
STORY_B = [
    LabelledText("The group let me talk without judging me. I felt at home.", frozenset({"connectedness"}), source="b"),
    LabelledText("I used again after the funeral. It was the worst month.", frozenset({"difficulties"}), source="b"),
    LabelledText("I want to finish my studies next year.", frozenset({"hope"}), source="b"),
]


def test_labelled_passage_calibration_leaves_its_whole_story_out(codebook):
    both = get_coder("similarity", nl_encoder=None, k=5).fit(codebook, STORY_A + STORY_B)
    only_b = get_coder("similarity", nl_encoder=None, k=5).fit(codebook, STORY_B)
    only_b.raw_thresholds_ = {name: np.full(len(only_b.codes_), 0.5) for name in only_b.raw_thresholds_}  # raw kNN scores

    refs = both.refs_
    passages = [i for i, r in enumerate(refs) if r.kind == "labelled" and r.group == "a"]
    assert len(passages) == 2 and sum(r.kind == "sentence" for r in refs if r.group == "a") == 4
    units, owner = labelled_passage_units(refs)
    mine = np.isin(owner, passages)
    unseen = max_by_owner(only_b.scores([u for u, m in zip(units, mine) if m]), owner[mine], len(refs))
    # Story A's out-of-fold scores equal those of a coder that never saw story A: its own
    # sentence rows and its other passage are not neighbours.
    np.testing.assert_allclose(both.oof_["minilm"][passages], unseen[passages], atol=1e-6)
