"""The shipped CHIME-D codebook works with every coder (no evaluation data is read)."""

from __future__ import annotations

import pytest

from chimeqda.codebook.loader import BUILTIN
from chimeqda.coders import get_coder
from chimeqda.model import Segment
from chimeqda.testing import check_coder

pytestmark = pytest.mark.skipif(not BUILTIN["chime-d"].exists(), reason="CHIME-D codebook not written yet")


@pytest.fixture(scope="module")
def chime():
    from chimeqda.codebook.loader import builtin_codebook

    return builtin_codebook("chime-d")


def test_lexicon_contract_and_every_pattern_compiles(chime):
    check_coder(get_coder("lexicon"), chime)
    coder = get_coder("lexicon").fit(chime)
    assert coder.lexicon_.size > 50
    assert {"en", "nl"} <= set(coder.lexicon_.languages)


def test_lexicon_on_invented_sentences(chime):
    coder = get_coder("lexicon").fit(chime)
    segment = Segment("My sponsor picked up the phone when I called.", lang="en", key=1)
    assert "connectedness" in [s.code_id for s in coder.suggest([segment])]
    calm = coder.predict_proba([Segment("We had soup for lunch.", lang="en")])[0]
    assert max(calm.values()) < 0.3  # no term of any code: each code unlikely, by the bank's counts


@pytest.mark.parametrize("name", ["supervised", "similarity"])
def test_embedding_coders_contract(name, chime, tmp_path, monkeypatch):
    monkeypatch.setenv("CHIMEQDA_CACHE_DIR", str(tmp_path))
    fast = {"cv_folds": 2} if name == "supervised" else {}
    check_coder(get_coder(name, nl_encoder=None, **fast), chime)
