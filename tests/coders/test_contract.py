"""Every registered coder passes the shared contract (chimeqda.testing.check_coder)."""

from __future__ import annotations

import pytest

from chimeqda.coders import CODERS, DEFAULT_CODER, available_coders, get_coder
from chimeqda.errors import UnknownCoder
from chimeqda.model import LabelledText, Segment
from chimeqda.testing import DEFAULT_SEGMENTS, check_coder


def test_registry_lists_builtin_coders():
    assert {"lexicon", "similarity", "supervised", "ensemble"} <= set(available_coders())
    assert DEFAULT_CODER in CODERS


def test_unknown_coder_names_the_available_ones():
    with pytest.raises(UnknownCoder) as info:
        get_coder("oracle")
    assert "lexicon" in str(info.value) and "oracle" in str(info.value)


def test_unknown_parameter_is_a_value_error():
    with pytest.raises(ValueError, match="min_hits"):
        get_coder("lexicon", nonsense=1)


OFFLINE_CODERS = sorted(name for name, cls in CODERS.items() if not getattr(cls, "needs_server", False))


# Coders that need a model server (llm) run the same contract against a real local
# server in tests/llm/test_llm_e2e.py.
@pytest.mark.parametrize("name", OFFLINE_CODERS)
def test_contract_on_synthetic_codebook(name, codebook):
    check_coder(CODERS[name], codebook)


@pytest.mark.parametrize("name", ["supervised", "ensemble", "similarity"])
def test_contract_with_decisions(name, codebook):
    decisions = [
        LabelledText("My neighbour brings me soup.", frozenset({"connectedness"}), complete=False, source="d1"),
        LabelledText("I bought a car.", frozenset(), complete=False, rejected=frozenset({"hope"}), source="d1"),
    ]
    check_coder(CODERS[name], codebook, labelled=decisions)


@pytest.mark.parametrize("name", ["supervised", "ensemble"])
def test_same_random_state_same_scores(name, codebook):
    segments = list(DEFAULT_SEGMENTS)
    a = get_coder(name, random_state=3).fit(codebook).predict_proba(segments)
    b = get_coder(name, random_state=3).fit(codebook).predict_proba(segments)
    assert a == b


def test_info_records_provenance(codebook):
    coder = get_coder("supervised").fit(codebook)
    info = coder.info()
    assert info.name == "supervised" and info.params["encoder"] == "minilm"
    assert info.params["bank_size"] == len(codebook.bank)
    assert info.training_size == 0


def test_sub_code_level_all(codebook):
    coder = get_coder("lexicon", level="all").fit(codebook)
    assert "connectedness.peer_support" in coder.codes_
    segment = Segment("The fellowship carried me.", lang="en")
    hits = coder.matches([segment])[0]
    assert "connectedness.peer_support" in hits
    assert "connectedness" not in hits  # at level "all" sub-code patterns stay with the sub-code
    scores = coder.predict_proba([segment])[0]
    assert scores["connectedness.peer_support"] > scores["connectedness"]


@pytest.mark.parametrize("name", ["ensemble", "supervised", "similarity", "lexicon"])
def test_evidence_of_a_batch_is_each_suggestions_own(name, codebook):
    """``suggest`` explains a batch's suggestions together (the default coder scores them once):
    each suggestion's evidence is what ``explain`` says of it alone, whatever else is in the batch."""
    coder = get_coder(name).fit(codebook)
    segments = list(DEFAULT_SEGMENTS) + [
        Segment("My sister calls me and I trust the people at the meeting.", lang="en", key="s6"),
        Segment("Ik bid elke ochtend en ik geloof dat het beter wordt.", lang="nl", key="s7"),
    ]
    low = [dict.fromkeys(coder.codes_, 0.0) for _ in segments]  # every code of every segment: a full batch
    found = coder.suggest(segments, limits=low)
    assert len(found) == len(segments) * len(coder.codes_)
    by_key = {s.key: s for s in segments}
    assert [s.evidence for s in found] == [coder.explain(by_key[s.segment_key], s.code_id) for s in found]
    assert all(s.evidence for s in found)
    if name == "ensemble":  # each part named with its score, and the nearest training passage
        assert all(s.evidence.startswith("probability ") and "supervised " in s.evidence for s in found)
        assert any("most like " in s.evidence for s in found)
