"""Large projects count in SQL: the tables equal those of the pandas functions on the same (small) project."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from chimeqda import analysis
from chimeqda.services import (
    codings_frame,
    participants_frame,
    segments_frame,
)
from chimeqda.services.sql_tables import (
    is_large,
    sql_code_frequencies,
    sql_cooccurrence,
    sql_frequencies_by_attribute,
)

DATA = Path(__file__).parent.parent / "data"


@pytest.mark.parametrize("level", ["root", "code", "all"])
@pytest.mark.parametrize("include_suggested", [False, True])
def test_sql_tables_equal_the_pandas_tables(coded, level, include_suggested):
    ws, book = coded
    codings = codings_frame(ws, include_suggested=include_suggested)
    people = participants_frame(ws)
    options = {"level": level, "include_suggested": include_suggested}
    expected = analysis.code_frequencies(codings, book, people, **options)
    assert expected["segments"].sum() > 0
    pd.testing.assert_frame_equal(sql_code_frequencies(ws, book, **options), expected)
    expected = analysis.cooccurrence(codings, book, segments=segments_frame(ws), window=0, **options)
    assert expected["n_ab"].sum() > 0 or level != "all"
    pd.testing.assert_frame_equal(sql_cooccurrence(ws, book, **options), expected)
    for attribute in ("gender", "age"):
        expected = analysis.frequencies_by_attribute(codings, book, people, attribute, **options)
        pd.testing.assert_frame_equal(sql_frequencies_by_attribute(ws, book, attribute, **options), expected)


def test_the_size_limit_picks_the_sql_path(coded):
    ws, _ = coded
    assert is_large(ws, limit=5) and not is_large(ws)


def test_analyse_prints_the_sql_table_for_a_large_project(coded, monkeypatch, db_url):
    from click.testing import CliRunner

    from chimeqda.cli import main
    from chimeqda.services import sql_tables

    ws, book = coded
    args = ["analyse", "frequencies", "-p", str(ws.directory), "--db", db_url, "--include-suggested"]
    small = CliRunner().invoke(main, args)
    assert sql_tables.large_project_table(ws, book, "frequencies") is None
    monkeypatch.setenv("CHIMEQDA_LARGE_PROJECT", "5")
    large = CliRunner().invoke(main, args)
    assert small.exit_code == large.exit_code == 0, large.output
    assert large.output == small.output and "hope" in large.output
    assert sql_tables.large_project_table(ws, book, "frequencies") is not None
