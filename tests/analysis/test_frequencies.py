from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from chimeqda.analysis import (
    bin_attribute,
    code_frequencies,
    code_participant_matrix,
    frequencies_by_attribute,
)
from chimeqda.errors import InvalidInput


def test_root_level_rolls_sub_codes_up(codings, codebook, participants):
    freq = code_frequencies(codings, codebook, participants)
    assert list(freq.index) == ["connectedness", "hope", "identity", "difficulties"]
    conn = freq.loc["connectedness"]
    assert conn["segments"] == 3  # P1 seg 0, P1 seg 1 (sponsor), P2 seg 0 (support)
    assert conn["documents"] == 2
    assert conn["participants"] == 2
    assert conn["participants_total"] == 3  # P3 has no codings but counts
    assert conn["participant_share"] == pytest.approx(2 / 3)
    assert conn["mentioned_by"] == "2 of 3 participants"
    assert conn["name"] == "Connectedness"
    assert freq.loc["hope", "segments"] == 1  # the suggestion does not count
    assert freq.loc["identity", "segments"] == 1  # the rejected coding never counts
    assert freq.loc["difficulties", "participants"] == 1


def test_include_suggested_counts_suggestions(codings, codebook, participants):
    freq = code_frequencies(codings, codebook, participants, include_suggested=True)
    assert freq.loc["hope", "segments"] == 2
    assert freq.loc["hope", "mentioned_by"] == "2 of 3 participants"
    assert freq.loc["identity", "segments"] == 1


def test_accepted_and_suggested_on_one_segment_count_once(codebook, participants, make_codings):
    codings = make_codings([(1, "P1", 0, "hope"), (1, "P1", 0, "hope", "suggested", 0.9)])
    freq = code_frequencies(codings, codebook, participants, include_suggested=True)
    assert freq.loc["hope", "segments"] == 1


def test_two_sub_codes_of_one_root_on_a_segment_count_once(codebook, participants, make_codings):
    codings = make_codings(
        [(1, "P1", 0, "connectedness.support"), (1, "P1", 0, "connectedness.support.sponsor")]
    )
    freq = code_frequencies(codings, codebook, participants)
    assert freq.loc["connectedness", "segments"] == 1


def test_code_level_keeps_codes_as_coded(codings, codebook, participants):
    freq = code_frequencies(codings, codebook, participants, level="code")
    assert list(freq.index) == [code.id for code in codebook.codes]
    assert freq.loc["connectedness", "segments"] == 1
    assert freq.loc["connectedness.support", "segments"] == 1
    assert freq.loc["connectedness.support.sponsor", "segments"] == 1
    assert freq.loc["difficulties", "segments"] == 0
    assert freq.loc["connectedness.support.sponsor", "depth"] == 2
    assert freq.loc["connectedness.support", "parent"] == "connectedness"


def test_all_level_counts_for_ancestors(codings, codebook, participants):
    freq = code_frequencies(codings, codebook, participants, level="all")
    assert freq.loc["connectedness", "segments"] == 3
    assert freq.loc["connectedness.support", "segments"] == 2
    assert freq.loc["connectedness.support.sponsor", "segments"] == 1
    assert freq.loc["difficulties", "segments"] == 1


def test_zero_codes_and_empty_codings(codebook, participants, make_codings):
    empty = make_codings([]).reindex(
        columns=["document_id", "segment_id", "code", "status", "participant"]
    )
    freq = code_frequencies(empty, codebook, participants)
    assert (freq["segments"] == 0).all()
    assert (freq["mentioned_by"] == "0 of 3 participants").all()


def test_participants_missing_from_frame_are_added_to_denominator(codebook, make_codings):
    codings = make_codings([(1, "P9", 0, "hope"), (2, None, 0, "hope")])
    freq = code_frequencies(codings, codebook, pd.DataFrame({"participant": ["P1"]}))
    assert freq.loc["hope", "participants"] == 1  # a missing id is no participant
    assert freq.loc["hope", "participants_total"] == 2
    assert freq.loc["hope", "segments"] == 2


def test_no_participants_gives_nan_share(codebook, make_codings):
    codings = make_codings([(1, None, 0, "hope")])
    freq = code_frequencies(codings, codebook, None)
    assert np.isnan(freq.loc["hope", "participant_share"])
    assert freq.loc["hope", "mentioned_by"] == "0 of 0 participants"


def test_unknown_code_is_reported(codebook, participants, make_codings):
    codings = make_codings([(1, "P1", 0, "hopelessness")])
    with pytest.raises(InvalidInput, match="hopelessness"):
        code_frequencies(codings, codebook, participants)


def test_missing_required_column_is_a_value_error(codebook, participants):
    with pytest.raises(ValueError, match="status"):
        code_frequencies(pd.DataFrame({"document_id": [], "segment_id": [], "code": []}), codebook)


def test_bad_level(codings, codebook):
    with pytest.raises(ValueError, match="level"):
        code_frequencies(codings, codebook, level="leaf")


def test_matrix_has_every_participant(codings, codebook, participants):
    matrix = code_participant_matrix(codings, codebook, participants)
    assert list(matrix.index) == ["P1", "P2", "P3"]
    assert list(matrix.columns) == ["connectedness", "hope", "identity", "difficulties"]
    assert matrix.loc["P1", "connectedness"] == 2
    assert matrix.loc["P3"].sum() == 0
    presence = code_participant_matrix(codings, codebook, participants, value="presence")
    assert presence.loc["P1", "connectedness"] == 1
    assert presence.to_numpy().max() == 1
    assert matrix.dtypes.map(lambda t: t.kind == "i").all()


def test_matrix_bad_value(codings, codebook):
    with pytest.raises(ValueError):
        code_participant_matrix(codings, codebook, value="count")


def test_by_attribute_categorical(codings, codebook, participants):
    table = frequencies_by_attribute(codings, codebook, participants, "gender")
    assert list(table["group"].cat.categories) == ["man", "woman"]
    row = table[(table["code"] == "connectedness") & (table["group"] == "woman")].iloc[0]
    assert row["participants"] == 1  # P1; P3 is a woman without codings
    assert row["participants_in_group"] == 2
    assert row["share"] == pytest.approx(0.5)
    assert row["mentioned_by"] == "1 of 2 participants"
    assert len(table) == 4 * 2


def test_by_attribute_with_bins(codings, codebook, participants):
    table = frequencies_by_attribute(
        codings, codebook, participants, "years_in_recovery", bins=[1, 5, 10]
    )
    # empty groups (1-5) are left out
    assert list(table["group"].cat.categories) == ["<1", "5-10", "10+"]
    wide = table.pivot(index="code", columns="group", values="participants")
    assert wide.loc["connectedness", "<1"] == 1
    assert wide.loc["connectedness", "10+"] == 0
    assert wide.loc["difficulties", "5-10"] == 1


def test_by_attribute_missing_values_get_a_group(codings, codebook):
    people = pd.DataFrame({"participant": ["P1", "P2"], "gender": ["woman", None]})
    table = frequencies_by_attribute(codings, codebook, people, "gender")
    assert list(table["group"].cat.categories) == ["woman", "unknown"]


def test_by_attribute_unknown_column(codings, codebook, participants):
    with pytest.raises(ValueError, match="age"):
        frequencies_by_attribute(codings, codebook, participants, "age")


def test_bin_attribute_quartiles_and_small_numeric():
    values = pd.Series(range(1, 21), name="age")
    groups = bin_attribute(values)
    assert len(groups.cat.categories) == 4
    assert groups.notna().all()
    few = bin_attribute(pd.Series([1, 2, 2, 1]))
    assert list(few.cat.categories) == ["1", "2"]
    with pytest.raises(ValueError):
        bin_attribute(pd.Series(["a", "b"]), [1, 2])


def test_bin_attribute_booleans_are_categories():
    groups = bin_attribute(pd.Series([True, False, True]))
    assert list(groups.cat.categories) == ["False", "True"]


def test_hundred_thousand_codings_are_quick(codebook):
    import time

    rng = np.random.default_rng(0)
    n = 100_000
    segment = rng.integers(0, 50_000, n)
    codings = pd.DataFrame(
        {
            "document_id": segment // 500,
            "participant": [f"P{s // 5000}" for s in segment],
            "segment_id": segment,
            "segment_index": segment % 500,
            "code": rng.choice([code.id for code in codebook.codes], n),
            "status": "accepted",
            "text": "a few words in a sentence",
        }
    ).drop_duplicates(["segment_id", "code"])
    from chimeqda.analysis import cooccurrence, exemplar_quotes

    start = time.perf_counter()
    code_frequencies(codings, codebook, level="all")
    cooccurrence(codings, codebook, window=2, level="code")
    exemplar_quotes(codings, codebook)
    assert time.perf_counter() - start < 20  # a few seconds in practice
