from __future__ import annotations

import pytest

from chimeqda.coders import get_coder
from chimeqda.coders.lexicon import compile_pattern, guess_language
from chimeqda.errors import NotFittedError
from chimeqda.model import Segment


@pytest.fixture
def coder(codebook):
    return get_coder("lexicon").fit(codebook)


def test_wildcard_matches_word_endings_only():
    pattern = compile_pattern("relaps*")
    assert pattern.search("I relapsed twice")
    assert pattern.search("RELAPSE")
    assert not pattern.search("a prelapse")


def test_phrase_matches_across_whitespace():
    assert compile_pattern("higher power").search("my Higher  power")
    assert not compile_pattern("higher power").search("higher, then power")


def test_english_matches_and_evidence(coder):
    segment = Segment("I relapsed and lost my flat.", lang="en")
    raw = coder.hit_scores([segment])[0]
    assert raw[list(coder.codes_).index("difficulties")] == pytest.approx(0.75)  # two distinct terms
    scores = coder.predict_proba([segment])[0]
    one_term = coder.predict_proba([Segment("I relapsed.", lang="en")])[0]
    limits = coder.thresholds("en")
    assert scores["difficulties"] > one_term["difficulties"] >= limits["difficulties"]  # more terms, more likely
    assert 0 < scores["hope"] < limits["hope"]  # no term: unlikely, not impossible
    evidence = coder.explain(segment, "difficulties")
    assert "'relapsed'" in evidence and "'lost my'" in evidence


def test_dutch_patterns(coder):
    segment = Segment("Ik ben vorig jaar hervallen en voelde me alleen.", lang="nl")
    matches = coder.matches([segment])[0]
    assert matches["difficulties"] == ["hervallen", "alleen"]


def test_sub_code_keywords_roll_up(coder):
    segment = Segment("Lotgenoten helpen me.", lang="nl")
    assert coder.matches([segment])[0]["connectedness"] == ["lotgenoten"]
    assert coder.predict_proba([segment])[0]["connectedness"] >= coder.thresholds("nl")["connectedness"]


def test_cross_language_option(codebook):
    segment = Segment("Ik voelde me alone.", lang="nl")
    assert get_coder("lexicon", cross_language=True).fit(codebook).matches([segment])[0]["difficulties"] == ["alone"]
    assert "difficulties" not in get_coder("lexicon", cross_language=False).fit(codebook).matches([segment])[0]


def test_suggest_uses_min_hits(codebook):
    segment = Segment("I relapsed.", lang="en", key="k")
    assert [s.code_id for s in get_coder("lexicon").fit(codebook).suggest([segment])] == ["difficulties"]
    assert get_coder("lexicon", min_hits=2).fit(codebook).suggest([segment]) == []


def test_unfitted_and_bad_params(codebook):
    with pytest.raises(NotFittedError):
        get_coder("lexicon").predict_proba([Segment("x")])
    with pytest.raises(ValueError):
        get_coder("lexicon", min_hits=0).fit(codebook)


def test_guess_language():
    assert guess_language("Ik ben niet meer alleen en dat is fijn.") == "nl"
    assert guess_language("I am not alone any more and that is good.") == "en"
