"""Large projects count in SQL: the tables equal those of the pandas functions on the same (small) project."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from chimeqda import analysis
from chimeqda.services import (
    add_coding,
    codings_frame,
    decide,
    import_files,
    participants_frame,
    pending_suggestions,
    run_coder,
    segments_frame,
)
from chimeqda.services.project import project_codebook
from chimeqda.services.sql_tables import (
    is_large,
    sql_code_frequencies,
    sql_cooccurrence,
    sql_frequencies_by_attribute,
)
from chimeqda.store import tables as t

DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
def coded(workspace, transcripts):
    """Two transcripts with suggestions, accepted and rejected ones, and a hand coding over several segments."""
    import_files(workspace, [transcripts], participants_csv=DATA / "participants.csv")
    run_coder(workspace, "lexicon")
    pending = pending_suggestions(workspace)
    assert len(pending) > 6
    decide(workspace, [p.event_id for p in pending[:4]], "accepted", by="ann")
    decide(workspace, [p.event_id for p in pending[4:6]], "rejected", by="ann")
    with workspace.session() as session:
        doc = session.scalars(select(t.Document).order_by(t.Document.id)).first()
        segments = session.scalars(select(t.Segment).where(t.Segment.document_id == doc.id)
                                   .order_by(t.Segment.index)).all()
    add_coding(workspace, doc.id, segments[1].start, segments[3].end, "connectedness.peer_support.safety_net", by="ann")
    add_coding(workspace, doc.id, segments[2].start, segments[2].end, "hope", by="ann")
    with workspace.session() as session:
        _, book = project_codebook(session, workspace.project_id)
    return workspace, book


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
