from __future__ import annotations

import pytest

from chimeqda.analysis import coded_segments, exemplar_quotes

LONG = "I finally felt that the people in the room understood me and that I belonged there with them"  # 19
MEDIUM = "the meetings gave me people to call when things got hard"  # 11
SHORT = "yes"


def test_exemplars_rank_and_spread(make_codings, codebook):
    codings = make_codings(
        [
            (1, "P1", 0, "connectedness", "accepted", float("nan"), MEDIUM),
            (1, "P1", 1, "connectedness.support", "accepted", float("nan"), LONG),
            (1, "P1", 2, "connectedness", "accepted", float("nan"), SHORT),
            (2, "P2", 0, "connectedness", "suggested", 0.99, LONG + " too"),
            (3, "P3", 0, "connectedness", "accepted", 0.4, MEDIUM + " again"),
        ]
    )
    quotes = exemplar_quotes(codings, codebook, n=3, include_suggested=True)
    assert list(quotes.columns[:7]) == [
        "code", "name", "participant", "document", "text", "score", "status"
    ]
    conn = quotes[quotes.code == "connectedness"]
    # accepted first; P1's best (typical length) beats P3's scored one; one per participant
    assert list(conn.participant) == ["P1", "P3", "P2"]
    assert conn.iloc[0].text == LONG
    assert conn.iloc[2].status == "suggested"
    assert SHORT not in set(quotes.text)  # under min_words


def test_exemplars_fill_from_one_participant_when_needed(make_codings, codebook):
    codings = make_codings(
        [
            (1, "P1", 0, "hope", "accepted", float("nan"), MEDIUM),
            (1, "P1", 1, "hope", "accepted", float("nan"), LONG),
            (1, "P1", 2, "hope", "accepted", float("nan"), LONG + " and more"),
            (2, "P2", 0, "hope", "accepted", float("nan"), MEDIUM + " today"),
        ]
    )
    quotes = exemplar_quotes(codings, codebook, n=3)
    assert list(quotes.participant) == ["P1", "P2", "P1"]
    assert quotes.iloc[0].text == LONG
    assert len(exemplar_quotes(codings, codebook, n=1)) == 1


def test_exemplars_suggested_excluded_by_default(make_codings, codebook):
    codings = make_codings([(1, "P1", 0, "hope", "suggested", 0.9, LONG)])
    assert exemplar_quotes(codings, codebook).empty
    assert len(exemplar_quotes(codings, codebook, include_suggested=True)) == 1


def test_exemplars_codebook_order_and_levels(codings, codebook):
    quotes = exemplar_quotes(codings, codebook, min_words=0)
    assert list(dict.fromkeys(quotes.code)) == ["connectedness", "hope", "identity", "difficulties"]
    sub = exemplar_quotes(codings, codebook, min_words=0, level="code")
    assert "connectedness.support.sponsor" in set(sub.code)


def test_exemplars_validate_n(codings, codebook):
    with pytest.raises(ValueError):
        exemplar_quotes(codings, codebook, n=-1)
    assert exemplar_quotes(codings, codebook, n=0).empty


def test_coded_segments(codings, codebook):
    rows = coded_segments(codings, codebook, "connectedness")
    assert len(rows) == 3
    assert list(rows.segment_index) == [0, 1, 0]
    assert len(coded_segments(codings, codebook, "connectedness", participant="P2")) == 1
    assert len(coded_segments(codings, codebook, "connectedness", document="doc1")) == 2
    assert len(coded_segments(codings, codebook, "connectedness", document=1)) == 2
    assert len(coded_segments(codings, codebook)) == 6
    with pytest.raises(ValueError):
        coded_segments(codings, codebook, "connectedness.support")
