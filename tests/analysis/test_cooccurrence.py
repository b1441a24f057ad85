from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chimeqda.analysis import cooccurrence, cooccurrence_matrix, most_linked


def pair(df: pd.DataFrame, a: str, b: str) -> pd.Series:
    row = df[((df.code_a == a) & (df.code_b == b)) | ((df.code_a == b) & (df.code_b == a))]
    assert len(row) == 1
    return row.iloc[0]


def test_same_segment(codings, codebook):
    co = cooccurrence(codings, codebook)
    assert len(co) == 6  # 4 top-level codes, every unordered pair
    assert list(co.columns[:2]) == ["code_a", "code_b"]
    ch = pair(co, "connectedness", "hope")
    assert (ch.n_a, ch.n_b, ch.n_ab) == (3, 1, 1)
    assert ch.jaccard == pytest.approx(1 / 3)
    assert ch.c_coefficient == ch.jaccard
    cd = pair(co, "connectedness", "difficulties")
    assert cd.n_ab == 1  # support + stigma on P2's segment 0
    assert pair(co, "hope", "identity").n_ab == 0
    first = co.iloc[0]
    assert (first.code_a, first.code_b, first.name_a) == ("connectedness", "hope", "Connectedness")


def test_window_links_neighbouring_segments(codings, codebook):
    co0 = cooccurrence(codings, codebook, window=0)
    assert pair(co0, "connectedness", "identity").n_ab == 0
    co1 = cooccurrence(codings, codebook, window=1)
    # P1: connectedness at 0 and 1, identity at 3 -> unit 2 ([1..3]) holds both
    assert pair(co1, "connectedness", "identity").n_ab == 1
    # units are positions 0..3 in doc 1 (highest coded index) and 0..0 in doc 2
    ci = pair(co1, "connectedness", "identity")
    assert ci.n_a == 3 + 1  # doc 1 units 0,1,2 ; doc 2 unit 0
    assert ci.n_b == 2  # doc 1 units 2,3


def test_window_with_segments_uses_document_edges(codings, codebook):
    segments = pd.DataFrame(
        {"document_id": [1] * 5 + [2] * 5, "segment_index": list(range(5)) * 2}
    )
    segments["segment_id"] = segments.document_id * 1000 + segments.segment_index
    co = cooccurrence(codings, codebook, window=1, segments=segments)
    ci = pair(co, "connectedness", "identity")
    assert ci.n_a == 3 + 2  # doc 2 now has unit 1 too (window of segment 1 holds segment 0)
    assert ci.n_b == 3  # doc 1 units 2, 3, 4


def test_window_must_be_non_negative(codings, codebook):
    with pytest.raises(ValueError):
        cooccurrence(codings, codebook, window=-1)


def test_include_suggested(codings, codebook):
    co = cooccurrence(codings, codebook, include_suggested=True, window=1)
    assert pair(co, "hope", "difficulties").n_ab == 1  # P2 stigma at 0, hope (suggested) at 2: unit 1


def test_matrix_is_symmetric_with_frequencies_on_diagonal(codings, codebook):
    matrix = cooccurrence_matrix(codings, codebook)
    assert list(matrix.index) == list(matrix.columns)
    assert (matrix.to_numpy() == matrix.to_numpy().T).all()
    assert matrix.loc["connectedness", "connectedness"] == 3
    assert matrix.loc["connectedness", "hope"] == 1


def test_empty_codings(codebook, make_codings):
    empty = make_codings([]).reindex(columns=["document_id", "segment_id", "code", "status"])
    co = cooccurrence(empty, codebook, window=1)
    assert len(co) == 6 and (co.n_ab == 0).all() and (co.jaccard == 0).all()


def test_code_level_and_all_level(codings, codebook):
    co = cooccurrence(codings, codebook, level="code")
    assert len(co) == 7 * 6 // 2
    assert pair(co, "connectedness.support", "difficulties.stigma").n_ab == 1
    co_all = cooccurrence(codings, codebook, level="all")
    linked = pair(co_all, "connectedness", "connectedness.support")
    assert linked.n_ab == linked.n_b == 2  # a sub-code always co-occurs with its parent


def test_most_linked(codings, codebook):
    co = cooccurrence(codings, codebook)
    linked = most_linked(co, "connectedness")
    assert list(linked.columns) == [
        "code", "name", "n_code", "n_other", "n_ab", "jaccard", "c_coefficient", "share_of_code"
    ]
    assert set(linked.code) == {"hope", "identity", "difficulties"}
    assert linked.iloc[-1].code == "identity"
    assert (linked.n_code == 3).all()
    # hope (1/3) and difficulties (1/3) tie: codebook order
    assert list(linked.code[:2]) == ["hope", "difficulties"]
    from_hope = most_linked(co, "hope", by="n_ab")
    assert from_hope.iloc[0].code == "connectedness"
    with pytest.raises(ValueError):
        most_linked(co, "nonsense")
    with pytest.raises(ValueError):
        most_linked(co, "hope", by="lift")


CODES = [  # the ids of the conftest codebook
    "connectedness",
    "connectedness.support",
    "connectedness.support.sponsor",
    "hope",
    "identity",
    "difficulties",
    "difficulties.stigma",
]
coding_rows = st.lists(
    st.tuples(
        st.integers(1, 3),
        st.integers(0, 12),
        st.sampled_from(CODES),
        st.sampled_from(["accepted", "suggested"]),
    ),
    max_size=60,
)


def frame(rows):
    return pd.DataFrame(
        {
            "document_id": [r[0] for r in rows],
            "segment_id": [r[0] * 100 + r[1] for r in rows],
            "segment_index": [r[1] for r in rows],
            "code": [r[2] for r in rows],
            "status": [r[3] for r in rows],
            "participant": [f"P{r[0]}" for r in rows],
        },
        columns=["document_id", "segment_id", "segment_index", "code", "status", "participant"],
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=coding_rows,
    window=st.integers(0, 3),
    level=st.sampled_from(["root", "code", "all"]),
    include_suggested=st.booleans(),
)
def test_properties(codebook, rows, window, level, include_suggested):
    assert [code.id for code in codebook.codes] == CODES
    codings = frame(rows)
    kwargs = dict(window=window, level=level, include_suggested=include_suggested)
    co = cooccurrence(codings, codebook, **kwargs)
    assert ((co.jaccard >= 0) & (co.jaccard <= 1)).all()
    assert ((co.c_coefficient >= 0) & (co.c_coefficient <= 1)).all()
    assert (co.n_ab <= np.minimum(co.n_a, co.n_b)).all()
    matrix = cooccurrence_matrix(codings, codebook, **kwargs).to_numpy()
    assert (matrix == matrix.T).all()
    # swapping the order of the rows changes nothing
    again = cooccurrence(codings.iloc[::-1], codebook, **kwargs)
    pd.testing.assert_frame_equal(co, again)
    if window == 0:
        assert (co.n_a.groupby(co.code_a).first() <= len(set(codings.segment_id))).all()
    wider = cooccurrence(codings, codebook, **{**kwargs, "window": window + 1})
    assert (wider.n_ab.to_numpy() >= co.n_ab.to_numpy()).all()
